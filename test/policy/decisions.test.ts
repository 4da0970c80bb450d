// Decision semantics beyond routing: forbid wins, errors deny, separation of duties.
import assert from "node:assert/strict";
import { loadPolicyEngine } from "../../src/policy/engine.js";
import { facts, makeTenant, type TenantFixture } from "./tenant-fixture.js";

const approvers = `
@id("approvers")
permit (principal in Role::"payments-approver", action == Action::"approve", resource == Tool::"payments.refund")
when { principal.tenant == context.tenant };
`;

describe("policy decisions", () => {
  let tenant: TenantFixture | undefined;
  afterEach(() => tenant?.cleanup());

  function engineWith(policies: Record<string, string>) {
    tenant = makeTenant(policies);
    return loadPolicyEngine({ policiesDir: tenant.policiesDir, directoryFile: tenant.directoryFile });
  }

  it("a forbid wins over a permit that also matches", () => {
    const engine = engineWith({
      "p.cedar": `@id("allow-all") @approval("none") permit (principal, action == Action::"request", resource);
@id("no-refunds") forbid (principal, action, resource == Tool::"payments.refund");`,
    });
    const decision = engine.authorizeRequest(facts());
    assert.equal(decision.decision === "deny" ? decision.reason : undefined, "policy_denied");
    assert.deepEqual(decision.policyIds, ["no-refunds"]);
    assert.equal(engine.authorizeRequest(facts({ tool: "kb.search" })).decision, "allow");
  });

  it("no matching permit is a deny", () => {
    const engine = engineWith({ "p.cedar": approvers });
    const decision = engine.authorizeRequest(facts());
    assert.equal(decision.decision === "deny" ? decision.reason : undefined, "policy_denied");
    assert.deepEqual(decision.policyIds, []);
  });

  it("a forbid that fails to evaluate denies instead of being skipped", () => {
    // The target is not in the directory, so reading its tenant errors.
    const engine = engineWith({
      "p.cedar": `@id("allow") @approval("none") permit (principal, action == Action::"request", resource);
@id("guard") forbid (principal, action, resource) when { context has target && context.target.tenant != context.tenant };`,
    });
    const decision = engine.authorizeRequest(facts({ target: { type: "Resource", id: "missing" } }));
    assert.equal(decision.decision === "deny" ? decision.reason : undefined, "policy_denied");
    assert.deepEqual(decision.policyIds, ["guard"]);
    assert.equal(engine.authorizeRequest(facts({ target: { type: "Resource", id: "acme-order" } })).decision, "allow");
  });

  it("an entitled approver is allowed, with the determining policy recorded", () => {
    const engine = engineWith({ "p.cedar": approvers });
    assert.deepEqual(engine.authorizeApproval({ ...facts(), approver: "bob" }), {
      decision: "allow",
      policyVersion: engine.version(),
      policyIds: ["approvers"],
    });
  });

  it("an approver outside the group, in another tenant or unknown is not entitled", () => {
    const engine = engineWith({ "p.cedar": approvers });
    for (const approver of ["dave", "erin", "mallory"]) {
      const decision = engine.authorizeApproval({ ...facts(), approver });
      assert.equal(decision.decision === "deny" ? decision.reason : undefined, "approver_not_entitled", approver);
    }
  });

  it("approving one's own request is forbidden even when a policy permits it", () => {
    const engine = engineWith({ "p.cedar": approvers });
    const decision = engine.authorizeApproval({ ...facts({ principal: "bob" }), approver: "bob" });
    assert.equal(decision.decision === "deny" ? decision.reason : undefined, "self_approval_forbidden");
    assert.deepEqual(decision.policyIds, ["approvers"]);
  });

  it('self-approval is allowed when a determining permit says @allow_self_approval("true")', () => {
    const engine = engineWith({
      "p.cedar": `${approvers}
@id("self-ok") @allow_self_approval("true")
permit (principal in Role::"payments-approver", action == Action::"approve", resource == Tool::"payments.refund")
when { context.selfApproval && principal.tenant == context.tenant };`,
    });
    const decision = engine.authorizeApproval({ ...facts({ principal: "bob" }), approver: "bob" });
    assert.deepEqual(decision, { decision: "allow", policyVersion: engine.version(), policyIds: ["approvers", "self-ok"] });
  });

  it("policies see whether the approval is a self-approval", () => {
    const engine = engineWith({
      "p.cedar": `@id("others-only") permit (principal, action == Action::"approve", resource) when { !context.selfApproval };`,
    });
    assert.equal(engine.authorizeApproval({ ...facts(), approver: "bob" }).decision, "allow");
    const own = engine.authorizeApproval({ ...facts({ principal: "bob" }), approver: "bob" });
    assert.equal(own.decision === "deny" ? own.reason : undefined, "approver_not_entitled");
  });

  it("a forbid whose @id is __proto__ still forbids", () => {
    const engine = engineWith({
      "p.cedar": `@id("allow-all") @approval("none") permit (principal, action == Action::"request", resource);
@id("__proto__") forbid (principal, action, resource == Tool::"payments.refund");`,
    });
    const decision = engine.authorizeRequest(facts());
    assert.equal(decision.decision === "deny" ? decision.reason : undefined, "policy_denied");
    assert.deepEqual(decision.policyIds, ["__proto__"]);
  });
});
