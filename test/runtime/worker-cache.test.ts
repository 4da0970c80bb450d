// `worker.maxCachedWorkflows` reaches the worker `countersign worker` and `dev` start (startWorker):
// it keeps no more open approvals in memory than the config says, and an approval it evicted is
// still decided (replayed from its history on its next event).
import assert from "node:assert/strict";
import type { Worker } from "@temporalio/worker";
import { startWorker } from "../../src/runtime/processes.js";
import { requestPendingRefund, startStack, temporalTargetForTests, type TestStack } from "../support/stack.js";

describe("worker.maxCachedWorkflows bounds the worker's workflow cache (real Temporal server)", function () {
  this.timeout(60_000);
  let stack: TestStack;
  let worker: Worker | undefined;
  let done: Promise<void> | undefined;
  before(async function () {
    // The stack's own worker stays off: the only worker on its task queue is the one startWorker builds from the config.
    stack = await startStack({ worker: false });
    const config = { ...stack.config, worker: { ...stack.config.worker, maxCachedWorkflows: 2 } };
    ({ worker, done } = await startWorker({ ...stack.services, config }, temporalTargetForTests()));
  });
  after(async function () {
    worker?.shutdown();
    await done;
    await stack?.stop();
  });

  it("caches no more than the configured 2 of 5 open approvals, and decides an evicted one", async function () {
    const ids: string[] = [];
    while (ids.length < 5) ids.push((await requestPendingRefund(stack)).id);
    const cached = worker?.getStatus().numCachedWorkflows;
    assert.ok(cached !== undefined && cached >= 1 && cached <= 2, `cached workflows: ${cached}`);
    // The first approval was evicted long ago: its decision replays its history, then completes as usual.
    const state = await stack.decide(ids[0] ?? "", "bob", "approve", "evicted, still decided");
    assert.equal(state.status, "approved");
    assert.ok((worker?.getStatus().numCachedWorkflows ?? 0) <= 2);
  });
});
