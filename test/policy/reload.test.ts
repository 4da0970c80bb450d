// Reloading: the next decision after a file change sees it; a broken reload fails closed until fixed.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { loadPolicyEngine, type PolicyEngine } from "../../src/policy/engine.js";
import { defaultEntities, exampleSchemaFile, facts, makeTenant, type TenantFixture } from "./tenant-fixture.js";

const kb = '@id("kb") @approval("none") permit (principal, action == Action::"request", resource == Tool::"kb.search");';
const refund = (quorum: number) =>
  `@id("refund") @approvers("payments-approver") @quorum("${quorum}") permit (principal in Role::"support", action == Action::"request", resource == Tool::"payments.refund");`;
const approvers = '@id("approvers") permit (principal in Role::"payments-approver", action == Action::"approve", resource);';

describe("policy engine reloading", () => {
  let tenant: TenantFixture;
  let engine: PolicyEngine;
  beforeEach(() => {
    tenant = makeTenant({ "kb.cedar": kb, "payments.cedar": `${refund(1)}\n${approvers}` });
    engine = loadPolicyEngine({ policiesDir: tenant.policiesDir, directoryFile: tenant.directoryFile });
  });
  afterEach(() => tenant.cleanup());

  function quorumOf(decision: ReturnType<PolicyEngine["authorizeRequest"]>): number | undefined {
    return decision.decision === "allow" && decision.approval === "required" ? decision.routing.quorum : undefined;
  }

  it("a changed policy file is used by the next decision, under a new version", () => {
    const before = engine.version();
    assert.equal(quorumOf(engine.authorizeRequest(facts())), 1);
    // Same length as before: only the content tells the versions apart.
    tenant.writePolicy("payments.cedar", `${refund(2)}\n${approvers}`);
    const decision = engine.authorizeRequest(facts());
    assert.equal(quorumOf(decision), 2);
    assert.notEqual(decision.policyVersion, before);
    assert.equal(engine.version(), decision.policyVersion);
  });

  it("an added policy file is picked up and a removed one is dropped", () => {
    assert.equal(engine.authorizeRequest(facts({ tool: "prod.db.drop" })).decision, "deny");
    tenant.writePolicy("zz-drop.cedar", '@id("drop") @approval("none") permit (principal, action == Action::"request", resource == Tool::"prod.db.drop");');
    assert.deepEqual(engine.authorizeRequest(facts({ tool: "prod.db.drop" })).policyIds, ["drop"]);
    tenant.removePolicy("kb.cedar");
    assert.equal(engine.authorizeRequest(facts({ tool: "kb.search" })).decision, "deny");
  });

  it("a broken policy file written after start fails closed with policy_unavailable, and fixing it restores decisions", () => {
    tenant.writePolicy("kb.cedar", "permit (principal, action, resource) when {");
    const broken = engine.authorizeRequest(facts({ tool: "kb.search" }));
    assert.equal(broken.decision === "deny" ? broken.reason : undefined, "policy_unavailable");
    assert.match(broken.decision === "deny" ? broken.message : "", /kb\.cedar:1:/);
    const approval = engine.authorizeApproval({ ...facts(), approver: "bob" });
    assert.equal(approval.decision === "deny" ? approval.reason : undefined, "policy_unavailable");
    assert.equal(engine.user("alice"), undefined);
    assert.deepEqual(engine.usersInGroup("payments-approver"), []);
    assert.equal(engine.authorizeRequest(facts({ tool: "kb.search" })).decision, "deny", "stays closed while the file is broken");

    tenant.writePolicy("kb.cedar", kb);
    assert.deepEqual(engine.authorizeRequest(facts({ tool: "kb.search" })).policyIds, ["kb"]);
    assert.equal(engine.user("alice")?.tenant, "acme");
  });

  it("an invalid annotation written after start fails closed too", () => {
    tenant.writePolicy("kb.cedar", kb.replace('@approval("none")', '@approval("nope")'));
    const decision = engine.authorizeRequest(facts({ tool: "kb.search" }));
    assert.equal(decision.decision === "deny" ? decision.reason : undefined, "policy_unavailable");
    assert.match(decision.decision === "deny" ? decision.message : "", /@approval/);
  });

  it("a role removed from the directory is seen by the next approval", () => {
    assert.equal(engine.authorizeApproval({ ...facts(), approver: "bob" }).decision, "allow");
    assert.deepEqual(engine.usersInGroup("payments-approver"), ["bob", "carol", "erin"]);
    tenant.writeDirectory(defaultEntities().map((e) => (e.uid.type === "User" && e.uid.id === "bob" ? { ...e, parents: [] } : e)));
    const decision = engine.authorizeApproval({ ...facts(), approver: "bob" });
    assert.equal(decision.decision === "deny" ? decision.reason : undefined, "approver_not_entitled");
    assert.deepEqual(engine.user("bob")?.roles, []);
    assert.deepEqual(engine.usersInGroup("payments-approver"), ["carol", "erin"]);
  });

  it("a user removed from the directory can no longer request", () => {
    tenant.writeDirectory(defaultEntities().filter((e) => e.uid.id !== "alice"));
    const decision = engine.authorizeRequest(facts({ tool: "kb.search" }));
    assert.equal(decision.decision === "deny" ? decision.reason : undefined, "policy_denied");
  });

  it("a broken directory fails closed and a fixed one restores decisions; the policy version is unchanged", () => {
    const version = engine.version();
    tenant.writeDirectoryText("- uid: { type: User, id: alice }\n  attrs: {}\n");
    const decision = engine.authorizeRequest(facts({ tool: "kb.search" }));
    assert.equal(decision.decision === "deny" ? decision.reason : undefined, "policy_unavailable");
    assert.match(decision.decision === "deny" ? decision.message : "", /directory\.yaml/);
    assert.equal(decision.policyVersion, version);
    tenant.writeDirectory(defaultEntities());
    assert.equal(engine.authorizeRequest(facts({ tool: "kb.search" })).decision, "allow");
  });

  it("rewriting a policy file with the same content keeps the version", () => {
    const version = engine.version();
    tenant.writePolicy("kb.cedar", kb);
    assert.equal(engine.authorizeRequest(facts({ tool: "kb.search" })).policyVersion, version);
  });

  it("the version covers the schema too", () => {
    const version = engine.version();
    tenant.writePolicy("countersign.cedarschema", `${readFileSync(exampleSchemaFile, "utf8")}\n// edited\n`);
    const decision = engine.authorizeRequest(facts({ tool: "kb.search" }));
    assert.equal(decision.decision, "allow");
    assert.notEqual(decision.policyVersion, version);
  });
});
