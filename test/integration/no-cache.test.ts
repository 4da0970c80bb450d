// Payloads are bound to their approval and slot (envelope v3): every decode must see the context it
// was encoded for, also when a worker keeps no workflow cache and replays the whole history on each
// task (as after a restart or an eviction). A full approval with refusals must complete like that.
import assert from "node:assert/strict";
import { signDecision } from "../../src/decisions/assertion.js";
import { requestPendingRefund, startStack, type TestStack } from "../support/stack.js";

describe("a worker without a workflow cache (real Temporal server)", function () {
  let stack: TestStack;
  before(async function () {
    stack = await startStack({ maxCachedWorkflows: 0 });
  });
  after(async function () {
    await stack?.stop();
  });

  it("files, refuses an unentitled decision, approves with quorum 2, redeems once and replays every task from scratch", async function () {
    const { id, body } = await requestPendingRefund(stack, { tool: "payments.bulk_refund", arguments: { payment_ids: ["pay_1", "pay_2"] }, resource: { type: "Resource", id: "acme-order-1042" } });
    const asDave = await signDecision(stack.services.grantKeys, { approvalId: id, approver: "dave", decision: "approve", via: "api" }, { issuer: stack.config.issuer });
    await assert.rejects(stack.approvals.decide(id, { approver: "dave", decision: "approve", via: "api", assertion: asDave.assertion, jti: asDave.jti, expiresAtMs: asDave.expiresAtMs }), { code: "approver_not_entitled" });
    assert.equal((await stack.decide(id, "bob", "approve")).status, "pending");
    assert.equal((await stack.decide(id, "carol", "approve")).status, "approved");
    const redeem = { grant: await stack.grantOf(id), tool: "payments.bulk_refund", arguments: body.arguments, resource: body.resource };
    const first = await stack.http("POST", "/v1/grants/redeem", await stack.toolHeaders(), redeem);
    assert.equal(first.status, 200, JSON.stringify(first.body));
    assert.equal((await stack.http("POST", "/v1/grants/redeem", await stack.toolHeaders(), redeem)).status, 409);
    const state = await stack.approvals.state(id);
    assert.equal(state.status, "redeemed");
    assert.deepEqual(state.decisions.map((d) => d.approver), ["bob", "carol"]);
    assert.deepEqual(state.policy.map((p) => p.stage), ["request", "approve", "approve", "approve", "decision", "redemption"]);
  });
});
