// Workers a test starts and stops itself, beside a stack started with `worker: false`: to restart
// a worker mid-approval, or to run another workflow bundle on the stack's task queue.
import type { NativeConnection, Worker, WorkflowBundle } from "@temporalio/worker";
import { activityDeps } from "../../src/runtime/services.js";
import { connectWorker } from "../../src/temporal/connection.js";
import { createApprovalWorker, type WorkerOptions } from "../../worker/worker.js";
import { sharedBundle, temporalTargetForTests, type TestStack } from "./stack.js";

export interface RunningWorker {
  worker: Worker;
  /** Shut the worker down (in-flight activities are cancelled) and wait until it has stopped. */
  stop(): Promise<void>;
}

/** Start a worker for `stack`'s task queue with its services; the stack's bundle unless `bundle` is given. */
export async function startWorker(stack: TestStack, opts: { bundle?: WorkflowBundle; wrapActivities?: WorkerOptions["wrapActivities"] } = {}): Promise<RunningWorker> {
  const target = temporalTargetForTests();
  const connection: NativeConnection = await connectWorker(target);
  const worker = await createApprovalWorker({
    connection,
    namespace: target.namespace,
    taskQueue: stack.config.temporal.taskQueue,
    dataConverter: stack.services.workerDataConverter,
    deps: activityDeps(stack.services),
    workflowBundle: opts.bundle ?? (await sharedBundle()),
    ...(opts.wrapActivities !== undefined ? { wrapActivities: opts.wrapActivities } : {}),
  });
  const running = worker.run();
  let stopped: Promise<void> | undefined;
  return {
    worker,
    stop() {
      stopped ??= (async () => {
        if (worker.getState() === "RUNNING") worker.shutdown();
        await running;
        await connection.close();
      })();
      return stopped;
    },
  };
}
