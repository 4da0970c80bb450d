// The bare baseline's worker as a process of its own, so that the benchmarks can read its memory
// apart from theirs (bench/processes.ts starts it). Polls BARE_TASK_QUEUE at TEMPORAL_ADDRESS,
// caching BARE_MAX_CACHED_WORKFLOWS workflows (the SDK's default when unset); prints
// "bare worker running" once started, and stops on SIGTERM (the SDK's runtime handles the signal).
import { DefaultLogger, NativeConnection, Runtime } from "@temporalio/worker";
import { runBareWorker } from "./run.js";

async function main(): Promise<void> {
  const address = process.env.TEMPORAL_ADDRESS;
  const taskQueue = process.env.BARE_TASK_QUEUE;
  if (address === undefined || taskQueue === undefined) throw new Error("set TEMPORAL_ADDRESS and BARE_TASK_QUEUE");
  const cache = process.env.BARE_MAX_CACHED_WORKFLOWS;
  Runtime.install({ logger: new DefaultLogger("ERROR") });
  const connection = await NativeConnection.connect({ address });
  try {
    const worker = await runBareWorker({ connection, taskQueue, ...(cache !== undefined ? { maxCachedWorkflows: Number(cache) } : {}) });
    console.log("bare worker running");
    await worker.done;
  } finally {
    await connection.close();
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
