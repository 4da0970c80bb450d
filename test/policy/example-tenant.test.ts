// The example tenant's policies and directory behave as the README's demo promises: refunds need a
// payments approver, search does not, dropping the production database never happens, and
// nobody crosses tenants.
import assert from "node:assert/strict";
import { join } from "node:path";
import { loadPolicyEngine, type PolicyEngine } from "../../src/policy/engine.js";
import { exampleTenantDir, facts } from "./tenant-fixture.js";

describe("the example tenant's policies", () => {
  let engine: PolicyEngine;
  before(() => {
    engine = loadPolicyEngine({ policiesDir: join(exampleTenantDir, "policies"), directoryFile: join(exampleTenantDir, "directory.yaml") });
  });

  it("a refund by alice needs one payments approver within 900 seconds", () => {
    assert.deepEqual(engine.authorizeRequest(facts()), {
      decision: "allow",
      approval: "required",
      routing: { approverGroups: ["payments-approver"], quorum: 1, deadlineSeconds: 900 },
      policyVersion: engine.version(),
      policyIds: ["payments-refund"],
    });
  });

  it("a bulk refund needs two payments approvers", () => {
    const decision = engine.authorizeRequest(facts({ tool: "payments.bulk_refund" }));
    assert.equal(decision.decision === "allow" && decision.approval === "required" ? decision.routing.quorum : undefined, 2);
  });

  it("a knowledge-base search needs no approval", () => {
    const decision = engine.authorizeRequest(facts({ tool: "kb.search" }));
    assert.equal(decision.decision === "allow" ? decision.approval : undefined, "none");
  });

  it("dropping the production database is denied for everyone by a forbid", () => {
    for (const principal of ["alice", "bob", "dave"]) {
      const decision = engine.authorizeRequest(facts({ principal, tool: "prod.db.drop" }));
      assert.equal(decision.decision, "deny");
      assert.equal(decision.decision === "deny" ? decision.reason : undefined, "policy_denied");
      assert.deepEqual(decision.policyIds, ["never-drop-prod-db"]);
    }
  });

  it("a user of another tenant cannot request in acme, even a tool everyone may use", () => {
    const decision = engine.authorizeRequest(facts({ principal: "erin", tool: "kb.search" }));
    assert.equal(decision.decision, "deny");
    assert.deepEqual(decision.policyIds, ["tenant-isolation-request"]);
  });

  it("a request touching another tenant's resource is denied; one touching its own is allowed", () => {
    const foreign = engine.authorizeRequest(facts({ target: { type: "Resource", id: "globex-order-7" } }));
    assert.equal(foreign.decision, "deny");
    assert.deepEqual(foreign.policyIds, ["tenant-isolation-target"]);
    const own = engine.authorizeRequest(facts({ target: { type: "Resource", id: "acme-order-1042" } }));
    assert.equal(own.decision, "allow");
  });

  it("a target that is not in the directory, or not a Resource, is denied", () => {
    const unknown = engine.authorizeRequest(facts({ target: { type: "Resource", id: "no-such-order" } }));
    assert.equal(unknown.decision === "deny" ? unknown.reason : undefined, "policy_denied");
    const wrongType = engine.authorizeRequest(facts({ target: { type: "Tool", id: "kb.search" } }));
    assert.equal(wrongType.decision === "deny" ? wrongType.reason : undefined, "policy_denied");
  });

  it("an unknown principal is denied", () => {
    const decision = engine.authorizeRequest(facts({ principal: "mallory", tool: "kb.search" }));
    assert.equal(decision.decision === "deny" ? decision.reason : undefined, "policy_denied");
    assert.deepEqual(decision.policyIds, []);
  });

  it("bob and carol may approve alice's refund; dave may not; erin of globex may not", () => {
    assert.equal(engine.authorizeApproval({ ...facts(), approver: "bob" }).decision, "allow");
    assert.deepEqual(engine.authorizeApproval({ ...facts(), approver: "carol" }).policyIds, ["payments-approvers-approve"]);
    const dave = engine.authorizeApproval({ ...facts(), approver: "dave" });
    assert.equal(dave.decision === "deny" ? dave.reason : undefined, "approver_not_entitled");
    const erin = engine.authorizeApproval({ ...facts(), approver: "erin" });
    assert.equal(erin.decision === "deny" ? erin.reason : undefined, "approver_not_entitled");
    assert.deepEqual(erin.policyIds, ["tenant-isolation-approve"]);
  });

  it("payments approvers may not approve tools outside payments", () => {
    const decision = engine.authorizeApproval({ ...facts({ tool: "kb.search" }), approver: "bob" });
    assert.equal(decision.decision === "deny" ? decision.reason : undefined, "approver_not_entitled");
  });

  it("an approver cannot approve their own request", () => {
    const decision = engine.authorizeApproval({ ...facts({ principal: "bob" }), approver: "bob" });
    assert.equal(decision.decision === "deny" ? decision.reason : undefined, "self_approval_forbidden");
  });

  it("directory users carry their tenant, contact ids and roles; groups list their members", () => {
    assert.deepEqual(engine.user("alice"), {
      id: "alice",
      tenant: "acme",
      email: "alice@acme.example",
      slackUserId: "U0ALICE",
      displayName: "Alice Agent-Owner",
      roles: ["support"],
    });
    assert.equal(engine.user("mallory"), undefined);
    assert.deepEqual(engine.usersInGroup("payments-approver"), ["bob", "carol", "erin"]);
    assert.deepEqual(engine.usersInGroup("no-such-group"), []);
  });

  it("the version is a sha256 content hash", () => {
    assert.match(engine.version(), /^sha256:[0-9a-f]{64}$/);
  });
});
