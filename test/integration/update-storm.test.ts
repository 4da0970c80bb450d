// Update storms against a real Temporal dev server: the client keeps its Updates on one workflow below
// Temporal's per-workflow in-flight limit, and a storm of redemptions costs the workflow one Update.
// (Answer times under load are measured by bench/storm.ts, not asserted here.)
import assert from "node:assert/strict";
import { Client, type WorkflowClientInterceptor } from "@temporalio/client";
import { ApprovalsClient } from "../../src/client/approvals.js";
import { CountersignError } from "../../src/errors.js";
import { redeemUpdate, revokeUpdate, type RedeemInput } from "../../workflows/definitions.js";
import { requestPendingRefund, startStack, type TestStack } from "../support/stack.js";

/** An ApprovalsClient over the stack's connection whose Update calls are counted, per Update name. */
function countingClient(stack: TestStack, opts: { maxInFlightUpdatesPerWorkflow?: number } = {}) {
  const sent = new Map<string, number>();
  let inFlight = 0;
  let mostInFlight = 0;
  const counter: WorkflowClientInterceptor = {
    async startUpdate(input, next) {
      sent.set(input.updateName, (sent.get(input.updateName) ?? 0) + 1);
      mostInFlight = Math.max(mostInFlight, ++inFlight);
      try {
        return await next(input);
      } finally {
        inFlight--;
      }
    },
  };
  const client = new Client({
    connection: stack.client.connection,
    namespace: stack.client.options.namespace,
    dataConverter: stack.services.dataConverter,
    interceptors: { workflow: [counter] },
  });
  return { approvals: new ApprovalsClient(client, stack.config.temporal.taskQueue, opts), sent, mostInFlight: () => mostInFlight };
}

describe("Update storms (real Temporal server)", function () {
  let stack: TestStack;
  before(async function () {
    stack = await startStack();
  });
  after(async function () {
    await stack?.stop();
  });

  it("50 concurrent redemptions of one grant through one client send the workflow one redeem Update; the others are refused as already redeemed", async function () {
    const { id } = await requestPendingRefund(stack);
    await stack.decide(id, "bob", "approve");
    const state = await stack.approvals.state(id);
    assert.ok(state.grant !== undefined);
    const input: RedeemInput = { jti: state.grant.jti, tool: state.tool, argsSha256: state.argsSha256, caller: state.grant.audience };
    const { approvals, sent } = countingClient(stack);
    const outcomes = await Promise.all(
      Array.from({ length: 50 }, () =>
        approvals.redeem(id, input).then(
          () => "redeemed",
          (err: unknown) => (err instanceof CountersignError ? err.code : String(err)),
        ),
      ),
    );
    assert.equal(outcomes.filter((o) => o === "redeemed").length, 1);
    assert.equal(outcomes.filter((o) => o === "grant_already_redeemed").length, 49, JSON.stringify(outcomes));
    assert.equal(sent.get(redeemUpdate.name), 1);
    assert.equal((await stack.approvals.state(id)).status, "redeemed");
  });

  it("a client keeps at most maxInFlightUpdatesPerWorkflow Updates in flight on one workflow; the rest wait their turn", async function () {
    const { id } = await requestPendingRefund(stack);
    const { approvals, sent, mostInFlight } = countingClient(stack, { maxInFlightUpdatesPerWorkflow: 2 });
    const outcomes = await Promise.all(
      Array.from({ length: 12 }, (_, i) =>
        approvals.revoke(id, { by: `ops-${i}` }).then(
          (s) => s.status,
          (err: unknown) => (err instanceof CountersignError ? err.code : String(err)),
        ),
      ),
    );
    assert.equal(sent.get(revokeUpdate.name), 12, "every revocation reached the workflow");
    assert.equal(mostInFlight(), 2);
    assert.equal(outcomes.filter((o) => o === "revoked").length, 1);
    assert.equal(outcomes.filter((o) => o === "approval_not_pending").length, 11, JSON.stringify(outcomes));
  });
});
