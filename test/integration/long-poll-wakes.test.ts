// A waiting agent's long-poll (ApprovalsClient.waitForStatusChange) wakes only on a status change:
// events that cannot change what the agent sees (a decision short of the quorum, the workflow's own
// bookkeeping) cost no state query.
import assert from "node:assert/strict";
import type { ApprovalsClient } from "../../src/client/approvals.js";
import { requestPendingRefund, startStack, type TestStack } from "../support/stack.js";

describe("long-poll wakes on status changes only (real Temporal server)", function () {
  this.timeout(30_000);
  let stack: TestStack;
  before(async function () {
    stack = await startStack();
  });
  after(async function () {
    await stack.stop();
  });

  it("a first approval of two (quorum 2) does not re-query the waiting agent's approval; the second wakes it with the grant", async function () {
    const { id } = await requestPendingRefund(stack, { tool: "payments.bulk_refund", arguments: { currency: "EUR", payments: [{ payment_id: "pay_1", amount_cents: 1 }] } });
    const approvals: ApprovalsClient = stack.approvals;
    const known = await approvals.state(id);
    let queries = 0;
    const counted = Object.create(approvals) as ApprovalsClient;
    counted.state = (which: string) => {
      queries += 1;
      return approvals.state(which);
    };
    const waiting = counted.waitForStatusChange(id, ["pending"], 20_000, known);
    await new Promise((r) => setTimeout(r, 500));
    const afterFirstPage = queries;
    await stack.decide(id, "bob", "approve");
    await new Promise((r) => setTimeout(r, 1_000));
    assert.equal(queries, afterFirstPage, "bob's approval (1 of 2) changed nothing the agent sees: no query");
    await stack.decide(id, "carol", "approve");
    const state = await waiting;
    assert.equal(state.status, "approved");
    assert.ok(state.grant !== undefined && state.grant.token !== "");
    assert.ok(queries <= afterFirstPage + 1, `one query for the status change, ${queries - afterFirstPage} made`);
  });
});
