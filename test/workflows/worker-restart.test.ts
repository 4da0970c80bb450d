// A deploy in the middle of an Update: the worker stops while an Update handler awaits its activity
// (the redemption re-check, an approver's entitlement check); the next worker replays the
// approval, the activity is retried there, and the Update completes once with its answer.
import assert from "node:assert/strict";
import type { temporal } from "@temporalio/proto";
import { Latches } from "../support/latches.js";
import { PAYMENTS_SERVER, requestPendingRefund, startStack, type TestStack } from "../support/stack.js";
import { startWorker, type RunningWorker } from "../support/workers.js";

type HistoryEvent = temporal.api.history.v1.IHistoryEvent;

async function eventsOf(stack: TestStack, id: string): Promise<HistoryEvent[]> {
  return (await stack.client.workflow.getHandle(id).fetchHistory()).events ?? [];
}

/** Updates of this name the workflow accepted (a validator's refusal leaves no event). */
function accepted(events: HistoryEvent[], name: string): number {
  return events.filter((e) => e.workflowExecutionUpdateAcceptedEventAttributes?.acceptedRequest?.input?.name === name).length;
}

/** The attempt of `activity`'s one scheduled (regular) execution that finally answered. */
function answeringAttempt(events: HistoryEvent[], activity: string): number {
  const scheduled = events.filter((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === activity);
  assert.equal(scheduled.length, 1, `${activity} was scheduled once`);
  const started = events.find((e) => Number(e.activityTaskStartedEventAttributes?.scheduledEventId ?? 0) === Number(scheduled[0]?.eventId ?? -1));
  return started?.activityTaskStartedEventAttributes?.attempt ?? 0;
}

describe("a worker restarted while an Update handler awaits its activity (real Temporal server)", function () {
  let stack: TestStack;
  const workers: RunningWorker[] = [];
  before(async function () {
    stack = await startStack({ worker: false });
  });
  afterEach(async function () {
    for (const w of workers.splice(0)) await w.stop();
  });
  after(async function () {
    await stack?.stop();
  });

  it("a redemption whose re-check was in flight when the worker stopped is answered 200 once, by the next worker", async function () {
    const latches = new Latches();
    const first = await startWorker(stack, { wrapActivities: latches.wrap });
    workers.push(first);
    const { id, body } = await requestPendingRefund(stack);
    await stack.decide(id, "bob", "approve");
    const recheck = latches.close("authorizeRequest", (_, local) => !local);
    const redeem = { grant: await stack.grantOf(id), tool: "payments.refund", arguments: body.arguments };
    const redemption = stack.http("POST", "/v1/grants/redeem", await stack.toolHeaders(), redeem);
    await recheck.reached;
    await first.stop();
    workers.push(await startWorker(stack));

    const res = await redemption;
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(res.body.approvalId, id);
    const again = await stack.http("POST", "/v1/grants/redeem", await stack.toolHeaders(), redeem);
    assert.equal(again.body.error?.code, "grant_already_redeemed");
    const state = await stack.approvals.state(id);
    assert.equal(state.status, "redeemed");
    assert.equal(state.redeemedBy, PAYMENTS_SERVER);
    assert.equal(state.policy.filter((p) => p.stage === "redemption").length, 1, "one re-check recorded");
    const events = await eventsOf(stack, id);
    assert.equal(accepted(events, "redeem"), 1);
    assert.ok(answeringAttempt(events, "authorizeRequest") >= 2, "the re-check was interrupted and answered by a later attempt");
  });

  it("a decision whose entitlement check was in flight when the worker stopped counts once, and the approval is granted", async function () {
    const latches = new Latches();
    const first = await startWorker(stack, { wrapActivities: latches.wrap });
    workers.push(first);
    const { id, body } = await requestPendingRefund(stack);
    const check = latches.close("authorizeDecision");
    const decision = stack.decide(id, "bob", "approve");
    await check.reached;
    await first.stop();
    workers.push(await startWorker(stack));

    const decided = await decision;
    assert.equal(decided.status, "approved");
    const state = await stack.approvals.state(id);
    assert.deepEqual(state.decisions.map((d) => [d.approver, d.decision]), [["bob", "approve"]]);
    assert.deepEqual(state.policy.map((p) => p.stage), ["request", "approve", "decision"]);
    const events = await eventsOf(stack, id);
    assert.equal(accepted(events, "decide"), 1);
    assert.ok(answeringAttempt(events, "authorizeDecision") >= 2, "the check was interrupted and answered by a later attempt");
    const res = await stack.http("POST", "/v1/grants/redeem", await stack.toolHeaders(), { grant: await stack.grantOf(id), tool: "payments.refund", arguments: body.arguments });
    assert.equal(res.status, 200);
  });
});
