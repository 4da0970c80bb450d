// A namespace attacker without the payload key who answers an activity of an approval (by polling
// its task queue, or completing it by id) with a payload copied from the same approval's history
// is refused: envelope v3 binds each payload to its slot. Here the request-stage "allow" is offered
// as the redemption-time re-check, which must still refuse a redemption policy now forbids
// (found by a hostile review; real Temporal server).
import assert from "node:assert/strict";
import { Context } from "@temporalio/activity";
import type { temporal } from "@temporalio/proto";
import { requestPendingRefund, startStack, temporalTargetForTests, type TestStack } from "../support/stack.js";

type HistoryEvent = temporal.api.history.v1.IHistoryEvent;

describe("payloads moved between slots of one approval", function () {
  let stack: TestStack;
  let original: string;
  before(async function () {
    // The real worker, except that a *regular* (non-local) authorizeRequest is slow to answer: the
    // window in which the attacker's poller or completion-by-id gets there first.
    stack = await startStack({
      wrapActivities: (real) => ({
        ...real,
        async authorizeRequest(facts: Parameters<typeof real.authorizeRequest>[0]) {
          if (Context.current().info.isLocal) return real.authorizeRequest(facts);
          await Context.current().sleep(8_000);
          return real.authorizeRequest(facts);
        },
      }),
    });
    original = stack.readTenantFile("policies/payments.cedar");
  });
  after(async function () {
    stack?.writeTenantFile("policies/payments.cedar", original);
    await stack?.stop();
  });

  it("a redemption policy now forbids is refused even when the re-check activity is answered with a copy of the request-stage verdict", async function () {
    const { id, body } = await requestPendingRefund(stack);
    await stack.decide(id, "bob", "approve");
    const grant = await stack.grantOf(id);
    // Incident: refunds frozen after the approval. The redemption-time re-check must refuse.
    stack.writeTenantFile("policies/payments.cedar", `${original}\nforbid (principal, action == Action::"request", resource == Tool::"payments.refund");\n`);
    const redemption = stack.http("POST", "/v1/grants/redeem", await stack.toolHeaders(), { grant, tool: "payments.refund", arguments: body.arguments });

    // The attacker: raw gRPC, no payload key, no data converter.
    const service = stack.client.workflowService;
    const namespace = temporalTargetForTests().namespace;
    let activityId: string | undefined;
    let runId: string | undefined;
    for (let i = 0; i < 100 && activityId === undefined; i++) {
      const d = await service.describeWorkflowExecution({ namespace, execution: { workflowId: id } });
      runId = d.workflowExecutionInfo?.execution?.runId ?? undefined;
      activityId = d.pendingActivities?.find((a) => a.activityType?.name === "authorizeRequest")?.activityId ?? undefined;
      if (activityId === undefined) await new Promise((r) => setTimeout(r, 50));
    }
    assert.ok(activityId !== undefined, "the redemption re-check activity is pending");
    const history = await service.getWorkflowExecutionHistory({ namespace, execution: { workflowId: id } });
    const events: HistoryEvent[] = history.history?.events ?? [];
    const markers = events.filter((e) => e.markerRecordedEventAttributes?.markerName === "core_local_activity");
    // The marker's `data` (plain JSON, Temporal's own) names the activity; its `result` is the encrypted verdict.
    const metaOf = (e: HistoryEvent): { activity_type?: string } =>
      JSON.parse(Buffer.from(e.markerRecordedEventAttributes?.details?.data?.payloads?.[0]?.data ?? []).toString("utf8")) as { activity_type?: string };
    const firstPolicy = markers.find((m) => metaOf(m).activity_type === "authorizeRequest");
    const requestStage = firstPolicy?.markerRecordedEventAttributes?.details?.result?.payloads?.[0];
    assert.ok(requestStage !== undefined && requestStage !== null, "the request-stage verdict is in the history (encrypted)");
    await service.respondActivityTaskCompletedById({ namespace, workflowId: id, runId: runId ?? "", activityId, result: { payloads: [requestStage] }, identity: "attacker" });

    const res = await redemption;
    assert.notEqual(res.status, 200, `a redemption that policy forbids succeeded: ${JSON.stringify(res.body)}`);
    assert.notEqual((await stack.approvals.state(id)).status, "redeemed");
  });
});
