// The Temporal SDK's worker metrics on countersign's /metrics, next to countersign's own (real
// Temporal server; the stack's worker runs in this process, whose runtime serves them on loopback).
import assert from "node:assert/strict";
import { freePort } from "../../src/temporal/dev-server.js";
import { requestPendingRefund, runnerWorkerMetricsAddress, startStack, type TestStack } from "../support/stack.js";

async function scrape(stack: TestStack): Promise<{ status: number; contentType: string | null; text: string }> {
  const res = await fetch(`${stack.baseUrl}/metrics`);
  return { status: res.status, contentType: res.headers.get("content-type"), text: await res.text() };
}

/** The value of the one sample of `name` whose labels include all of `labels`, or undefined. */
function sample(text: string, name: string, labels: Record<string, string>): number | undefined {
  const lines = text.split("\n").filter((l) => l.startsWith(`${name}{`) && Object.entries(labels).every(([k, v]) => l.includes(`${k}="${v}"`)));
  assert.ok(lines.length <= 1, `one ${name} sample for ${JSON.stringify(labels)}:\n${lines.join("\n")}`);
  return lines[0] === undefined ? undefined : Number(lines[0].split(" ").at(-1));
}

describe("engine metrics on /metrics (real Temporal server)", function () {
  describe("with the worker's metrics endpoint answering", function () {
    let stack: TestStack;
    before(async function () {
      stack = await startStack();
    });
    after(async function () {
      await stack?.stop();
    });

    it("shows the SDK's task slots and schedule-to-start latency for this stack's task queue next to countersign's own", async function () {
      const address = runnerWorkerMetricsAddress();
      const taskQueue = stack.config.temporal.taskQueue;
      await requestPendingRefund(stack);
      const { status, contentType, text } = await scrape(stack);
      assert.equal(status, 200);
      assert.match(contentType ?? "", /^text\/plain/);
      assert.equal(sample(text, "countersign_approvals_created_total", { tool: "payments.refund" }), 1);
      assert.equal(sample(text, "countersign_worker_metrics_up", { worker_address: address }), 1);
      const queue = { worker_address: address, task_queue: taskQueue };
      for (const workerType of ["WorkflowWorker", "ActivityWorker", "LocalActivityWorker"]) {
        const available = sample(text, "temporal_worker_task_slots_available", { ...queue, worker_type: workerType });
        assert.ok(available !== undefined && available > 0, `${workerType} slots for ${taskQueue}`);
      }
      const scheduled = sample(text, "temporal_workflow_task_schedule_to_start_latency_count", queue);
      assert.ok(scheduled !== undefined && scheduled >= 1, "the request's first workflow task was counted");
      assert.notEqual(sample(text, "temporal_sticky_cache_size", queue), undefined);
      assert.match(text, /^# TYPE temporal_worker_task_slots_available gauge$/m);
      assert.match(text, /^# TYPE countersign_http_request_duration_seconds histogram$/m);
    });
  });

  describe("with the worker's metrics endpoint unreachable", function () {
    let stack: TestStack;
    let address: string;
    before(async function () {
      address = `127.0.0.1:${await freePort()}`;
      stack = await startStack({ workerMetricsAddresses: [address] });
    });
    after(async function () {
      await stack?.stop();
    });

    it("still answers 200 with countersign's metrics and reports the worker down", async function () {
      await requestPendingRefund(stack);
      const { status, text } = await scrape(stack);
      assert.equal(status, 200);
      assert.equal(sample(text, "countersign_approvals_created_total", { tool: "payments.refund" }), 1);
      assert.equal(sample(text, "countersign_worker_metrics_up", { worker_address: address }), 0);
      assert.ok(!text.includes("temporal_"), "no SDK metrics without a source");
    });
  });
});
