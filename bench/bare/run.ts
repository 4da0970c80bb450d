// The bare baseline's worker (bench/bare/workflow.ts and a trivial activity), in whichever process
// asks: the benchmarks run it in process, bench/bare/worker.ts as a process of its own.
import { fileURLToPath } from "node:url";
import type { DataConverter } from "@temporalio/common";
import { Worker, type NativeConnection } from "@temporalio/worker";
import { bundleApart } from "../../worker/worker.js";

export interface BareWorkerOptions {
  connection: NativeConnection;
  taskQueue: string;
  /** countersign's worker data converter, for the "bare + codec" baseline; none by default. */
  dataConverter?: DataConverter;
  /** Workflows kept in the sticky cache (the SDK's default when absent). */
  maxCachedWorkflows?: number;
}

/** Create the bare worker and start it; `stop` shuts it down and resolves once it has stopped. */
export async function runBareWorker(opts: BareWorkerOptions): Promise<{ stop(): Promise<void>; done: Promise<void> }> {
  const worker = await Worker.create({
    connection: opts.connection,
    taskQueue: opts.taskQueue,
    // Bundled in a child process, as countersign's worker bundles its own: neither keeps webpack in memory.
    workflowBundle: await bundleApart({ workflowsPath: fileURLToPath(new URL("./workflow.js", import.meta.url)) }),
    activities: { step: (n: number) => Promise.resolve(n + 1) },
    ...(opts.dataConverter !== undefined ? { dataConverter: opts.dataConverter } : {}),
    ...(opts.maxCachedWorkflows !== undefined ? { maxCachedWorkflows: opts.maxCachedWorkflows } : {}),
  });
  const done = worker.run();
  return {
    done,
    async stop() {
      if (worker.getState() === "RUNNING") worker.shutdown();
      await done;
    },
  };
}
