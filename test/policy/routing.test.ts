// Routing annotations on the determining permits of a request: approval, approvers, quorum, deadline.
import assert from "node:assert/strict";
import { loadPolicyEngine } from "../../src/policy/engine.js";
import { facts, makeTenant, type TenantFixture } from "./tenant-fixture.js";

const refundScope = 'permit (principal in Role::"support", action == Action::"request", resource == Tool::"payments.refund")';

describe("policy routing annotations", () => {
  let tenant: TenantFixture | undefined;
  afterEach(() => tenant?.cleanup());

  function engineWith(policies: Record<string, string>) {
    tenant = makeTenant(policies);
    return loadPolicyEngine({ policiesDir: tenant.policiesDir, directoryFile: tenant.directoryFile });
  }

  it('a permit annotated @approval("none") allows without a human', () => {
    const engine = engineWith({ "p.cedar": `@id("kb") @approval("none") ${refundScope};` });
    const decision = engine.authorizeRequest(facts());
    assert.deepEqual(decision, { decision: "allow", approval: "none", policyVersion: engine.version(), policyIds: ["kb"] });
  });

  it("a permit without @approval requires approval, with quorum 1 and no deadline by default", () => {
    const engine = engineWith({ "p.cedar": `@approvers("payments-approver") ${refundScope};` });
    const decision = engine.authorizeRequest(facts());
    assert.deepEqual(decision, {
      decision: "allow",
      approval: "required",
      routing: { approverGroups: ["payments-approver"], quorum: 1 },
      policyVersion: engine.version(),
      policyIds: ["p.cedar:0"],
    });
  });

  it("quorum, deadline and several approver groups are read from the annotations", () => {
    const engine = engineWith({
      "p.cedar": `@approval("required") @approvers("payments-approver, finance") @quorum("2") @deadline_seconds("600") ${refundScope};`,
    });
    const decision = engine.authorizeRequest(facts());
    assert.equal(decision.decision, "allow");
    assert.equal(decision.approval, "required");
    assert.deepEqual(decision.approval === "required" ? decision.routing : undefined, {
      approverGroups: ["payments-approver", "finance"],
      quorum: 2,
      deadlineSeconds: 600,
    });
  });

  it("two determining permits combine: union of groups, largest quorum, shortest deadline", () => {
    const engine = engineWith({
      "a.cedar": `@id("a") @approvers("payments-approver") @quorum("1") @deadline_seconds("900") ${refundScope};`,
      "b.cedar": `@id("b") @approvers("finance,payments-approver") @quorum("3") @deadline_seconds("300") ${refundScope};`,
    });
    const decision = engine.authorizeRequest(facts());
    assert.deepEqual(decision, {
      decision: "allow",
      approval: "required",
      routing: { approverGroups: ["payments-approver", "finance"], quorum: 3, deadlineSeconds: 300 },
      policyVersion: engine.version(),
      policyIds: ["a", "b"],
    });
  });

  it("approval is required when any determining permit requires it, even if another says none", () => {
    const engine = engineWith({
      "p.cedar": `@id("none") @approval("none") ${refundScope};\n@id("strict") @approvers("finance") @deadline_seconds("120") ${refundScope};`,
    });
    const decision = engine.authorizeRequest(facts());
    assert.equal(decision.decision, "allow");
    assert.equal(decision.approval, "required");
    assert.deepEqual(decision.approval === "required" ? decision.routing : undefined, { approverGroups: ["finance"], quorum: 1, deadlineSeconds: 120 });
    assert.deepEqual(decision.policyIds, ["none", "strict"]);
  });

  it("a permit that requires approval but names no approvers denies, since nobody could be asked", () => {
    const engine = engineWith({ "p.cedar": `@id("orphan") ${refundScope};` });
    const decision = engine.authorizeRequest(facts());
    assert.equal(decision.decision, "deny");
    assert.equal(decision.decision === "deny" ? decision.reason : undefined, "policy_denied");
    assert.deepEqual(decision.policyIds, ["orphan"]);
  });

  it("policies without @id are named <file>:<index> in source order, past ten policies per file", () => {
    const filler = Array.from({ length: 11 }, (_, i) => `permit (principal == User::"nobody${i}", action, resource);`).join("\n");
    const engine = engineWith({ "many.cedar": `${filler}\n@approval("none") ${refundScope};` });
    const decision = engine.authorizeRequest(facts());
    assert.equal(decision.decision, "allow");
    assert.deepEqual(decision.policyIds, ["many.cedar:11"]);
  });

  it("card annotations: critical and reason-required if any permit says so, the shortest reminder and escalation delay, the union of escalation groups", () => {
    const engine = engineWith({
      "a.cedar": `@id("a") @approvers("payments-approver") @critical("true") @remind_every_seconds("600") @escalate_to("finance") @escalate_after_seconds("900") ${refundScope};`,
      "b.cedar": `@id("b") @approvers("payments-approver") @approve_reason_required("true") @remind_every_seconds("300") @escalate_to("finance, leads") ${refundScope};`,
    });
    const decision = engine.authorizeRequest(facts());
    assert.equal(decision.decision, "allow");
    assert.ok(decision.decision === "allow" && decision.approval === "required");
    assert.deepEqual(decision.routing, {
      approverGroups: ["payments-approver"],
      quorum: 1,
      critical: true,
      approveReasonRequired: true,
      remindEverySeconds: 300,
      escalateTo: ["finance", "leads"],
      escalateAfterSeconds: 900,
    });
  });

  it("a malformed card annotation is refused when the policies load", () => {
    assert.throws(() => engineWith({ "p.cedar": `@approvers("payments-approver") @critical("yes") ${refundScope};` }), /@critical must be "true" or "false"/);
    assert.throws(() => engineWith({ "p.cedar": `@approvers("payments-approver") @remind_every_seconds("0") ${refundScope};` }), /@remind_every_seconds must be a positive whole number/);
  });
});
