// Start-up validation: bad policies, schema, annotations or directory are config_invalid errors
// that name the file (and line), never a surprise at decision time.
import assert from "node:assert/strict";
import { join } from "node:path";
import { writeFileSync } from "node:fs";
import { loadPolicyEngine } from "../../src/policy/engine.js";
import { configErrorOf, defaultEntities, makeTenant, type TenantFixture } from "./tenant-fixture.js";

const refundScope = 'permit (principal in Role::"support", action == Action::"request", resource == Tool::"payments.refund")';

describe("policy engine start-up validation", () => {
  let tenant: TenantFixture | undefined;
  afterEach(() => tenant?.cleanup());

  function loadError(policies: Record<string, string>, entities = defaultEntities()): string {
    const t = makeTenant(policies, entities);
    tenant = t;
    return configErrorOf(() => loadPolicyEngine({ policiesDir: t.policiesDir, directoryFile: t.directoryFile }));
  }

  it('a non-numeric @quorum("abc") is rejected at load, naming the file and line', () => {
    const message = loadError({ "payments.cedar": `// refunds\n\n@approvers("payments-approver") @quorum("abc")\n${refundScope};` });
    assert.match(message, /payments\.cedar:3:1/);
    assert.match(message, /@quorum must be a positive whole number/);
  });

  it("a @deadline_seconds above approvals.maxDeadlineSeconds is rejected at load; at the maximum it loads", () => {
    const t = makeTenant({ "p.cedar": `@approvers("payments-approver") @deadline_seconds("999999999") ${refundScope};` }, defaultEntities());
    tenant = t;
    const message = configErrorOf(() => loadPolicyEngine({ policiesDir: t.policiesDir, directoryFile: t.directoryFile, maxDeadlineSeconds: 604_800 }));
    assert.match(message, /p\.cedar:1:1/);
    assert.match(message, /@deadline_seconds 999999999 exceeds approvals\.maxDeadlineSeconds \(604800\)/);
    t.cleanup();
    const ok = makeTenant({ "p.cedar": `@approvers("payments-approver") @deadline_seconds("604800") ${refundScope};` }, defaultEntities());
    tenant = ok;
    loadPolicyEngine({ policiesDir: ok.policiesDir, directoryFile: ok.directoryFile, maxDeadlineSeconds: 604_800 });
  });

  it('a zero @quorum("0") is rejected at load', () => {
    assert.match(loadError({ "p.cedar": `@approvers("x") @quorum("0") ${refundScope};` }), /@quorum/);
  });

  it("an unknown @approval value, a bad deadline, an empty approver group and a bad self-approval flag are rejected", () => {
    assert.match(loadError({ "p.cedar": `@approval("maybe") ${refundScope};` }), /@approval must be "none" or "required"/);
    tenant?.cleanup();
    assert.match(loadError({ "p.cedar": `@approvers("a") @deadline_seconds("-5") ${refundScope};` }), /@deadline_seconds/);
    tenant?.cleanup();
    assert.match(loadError({ "p.cedar": `@approvers("a,,b") ${refundScope};` }), /@approvers/);
    tenant?.cleanup();
    assert.match(loadError({ "p.cedar": `@allow_self_approval("yes") ${refundScope};` }), /@allow_self_approval/);
  });

  it("a policy with a syntax error is rejected, naming the file and line", () => {
    const message = loadError({ "good.cedar": `@approval("none") ${refundScope};`, "broken.cedar": `// oops\npermit (principal, action, resource) when { principal.tenant == };\n` });
    assert.match(message, /broken\.cedar:2:\d+/);
    assert.doesNotMatch(message, /good\.cedar/);
  });

  it("a policy that does not validate against the schema is rejected, naming the file, line and policy id", () => {
    const message = loadError({
      "p.cedar": `@approval("none") ${refundScope};\n\n@id("typo")\npermit (principal, action == Action::"request", resource) when { principal.departement == "x" };`,
    });
    assert.match(message, /p\.cedar:4:\d+/);
    assert.match(message, /`typo`/);
    assert.match(message, /departement/);
  });

  it("the same policy id in two files is rejected", () => {
    const message = loadError({ "a.cedar": `@id("same") @approval("none") ${refundScope};`, "b.cedar": `@id("same") @approval("none") ${refundScope};` });
    assert.match(message, /b\.cedar:1:1: policy id "same" is used twice/);
  });

  it("templates are rejected", () => {
    assert.match(loadError({ "t.cedar": 'permit (principal == ?principal, action == Action::"request", resource);' }), /templates/);
  });

  it("a folder without policy files, or with a second schema, is rejected", () => {
    assert.match(loadError({}), /no \*\.cedar policy file/);
    tenant?.cleanup();
    assert.match(loadError({ "p.cedar": `@approval("none") ${refundScope};`, "other.cedarschema": "entity X;" }), /exactly one \*\.cedarschema/);
  });

  it("a schema that does not parse is rejected, naming the schema file", () => {
    const t = makeTenant({ "p.cedar": `@approval("none") ${refundScope};` });
    tenant = t;
    writeFileSync(join(t.policiesDir, "countersign.cedarschema"), "entity User {\n  tenant: Tenan,\n};\n");
    const message = configErrorOf(() => loadPolicyEngine({ policiesDir: t.policiesDir, directoryFile: t.directoryFile }));
    assert.match(message, /countersign\.cedarschema:2:\d+/);
  });

  it("a missing policy folder is rejected", () => {
    const t = makeTenant({ "p.cedar": `@approval("none") ${refundScope};` });
    tenant = t;
    const message = configErrorOf(() => loadPolicyEngine({ policiesDir: join(t.root, "nope"), directoryFile: t.directoryFile }));
    assert.match(message, /cannot read the policy folder/);
  });

  it("a directory user without the tenant the schema requires is rejected, naming the file and line", () => {
    const entities = defaultEntities();
    entities.push({ uid: { type: "User", id: "zed" }, attrs: { email: "zed@example.test" } });
    const message = loadError({ "p.cedar": `@approval("none") ${refundScope};` }, entities);
    assert.match(message, /directory\.yaml:\d+/);
    assert.match(message, /User::"zed"/);
    assert.match(message, /tenant/);
  });

  it("a directory that is not an array of entities, or not YAML at all, is rejected", () => {
    const t = makeTenant({ "p.cedar": `@approval("none") ${refundScope};` });
    tenant = t;
    const load = () => loadPolicyEngine({ policiesDir: t.policiesDir, directoryFile: t.directoryFile });
    t.writeDirectoryText("- uid: { type: User }\n");
    assert.match(configErrorOf(load), /directory\.yaml:1: 0\.uid/);
    t.writeDirectoryText("- uid: [unclosed\n");
    assert.match(configErrorOf(load), /directory/);
    t.writeDirectoryText(JSON.stringify([{ uid: { type: "Role", id: "x" } }, { uid: { type: "Role", id: "x" } }]));
    assert.match(configErrorOf(load), /Role::"x" is listed twice/);
  });
});
