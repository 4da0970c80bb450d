// Benchmark (not a test): what `worker.maxCachedWorkflows` costs and saves. For each cache size it
// runs a fresh process (its own Temporal dev server and stack, the worker in process) that files
// BENCH_OPEN open approvals (default 1,500), then reports the process's RSS growth and the decide
// latency (an Update through ApprovalsClient) of the oldest approvals (evicted when the cache is
// smaller than BENCH_OPEN) against the newest (cached), interleaved.
//   node dist/bench/cache.js                 both: the SDK's default cache and 500
//   BENCH_CACHE=500,default BENCH_OPEN=3000 node dist/bench/cache.js
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { performance } from "node:perf_hooks";
import { DefaultLogger, Runtime } from "@temporalio/worker";
import { startDevServer } from "../src/temporal/dev-server.js";
import { projectRoot, refundRequest, startStack } from "../test/support/stack.js";
import { percentile } from "./stats.js";

const MiB = 1024 * 1024;

async function one(cache: number | undefined, open: number, samples: number): Promise<string> {
  Runtime.install({ logger: new DefaultLogger("ERROR") });
  const server = await startDevServer({ projectRoot });
  process.env.TEMPORAL_ADDRESS = server.address;
  const stack = await startStack(cache !== undefined ? { maxCachedWorkflows: cache } : {});
  try {
    const file = async (): Promise<string> => {
      const res = await stack.http("POST", "/v1/approvals", await stack.agentHeaders("alice"), refundRequest());
      if (res.status !== 202) throw new Error(`filing answered ${res.status}`);
      return (res.body as { id: string }).id;
    };
    // Warm-up, then the baseline.
    const warm = await file();
    await stack.decide(warm, "bob", "approve", "warm-up");
    globalThis.gc?.();
    const rss0 = process.memoryUsage().rss;
    const ids: string[] = [];
    const t0 = performance.now();
    for (let next = 0; next < open; ) {
      const batch = Math.min(8, open - next);
      ids.push(...(await Promise.all(Array.from({ length: batch }, file))));
      next += batch;
    }
    const filing = (performance.now() - t0) / 1000;
    await new Promise((r) => setTimeout(r, 2000));
    globalThis.gc?.();
    const rss1 = process.memoryUsage().rss;
    const oldest: number[] = [];
    const newest: number[] = [];
    for (let i = 0; i < samples; i++) {
      for (const [id, into] of [[ids[i], oldest], [ids[ids.length - 1 - i], newest]] as const) {
        const t = performance.now();
        const state = await stack.decide(id ?? "", "bob", "approve", "bench");
        into.push(performance.now() - t);
        if (state.status !== "approved") throw new Error(`decided ${state.status}`);
      }
    }
    const p50 = (xs: number[]) => percentile([...xs].sort((a, b) => a - b), 50).toFixed(1);
    const name = cache === undefined ? "SDK default" : String(cache);
    return `${name.padEnd(12)} ${String(open).padStart(6)} ${(rss0 / MiB).toFixed(0).padStart(8)} ${(rss1 / MiB).toFixed(0).padStart(8)} ${((rss1 - rss0) / MiB).toFixed(0).padStart(8)} ${p50(oldest).padStart(12)} ${p50(newest).padStart(12)} ${String(samples).padStart(4)} ${filing.toFixed(0).padStart(6)} s`;
  } finally {
    await stack.stop();
    await server.stop();
  }
}

async function main(): Promise<void> {
  const open = Number(process.env.BENCH_OPEN ?? 1500);
  const samples = Number(process.env.BENCH_SAMPLES ?? 10);
  const child = process.env.BENCH_CACHE_CHILD;
  if (child !== undefined) {
    console.log(await one(child === "default" ? undefined : Number(child), open, samples));
    return;
  }
  console.log(`countersign cache bench — ${new Date().toISOString()} — node ${process.version}`);
  console.log(`${"cache".padEnd(12)} ${"open".padStart(6)} ${"RSS0 MB".padStart(8)} ${"RSS MB".padStart(8)} ${"growth".padStart(8)} ${"decide old".padStart(12)} ${"decide new".padStart(12)} ${"n".padStart(4)} ${"filing".padStart(8)}`);
  for (const cache of (process.env.BENCH_CACHE ?? "default,500").split(",")) {
    const run = spawnSync(process.execPath, ["--expose-gc", fileURLToPath(import.meta.url)], { env: { ...process.env, BENCH_CACHE_CHILD: cache }, encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] });
    if (run.status !== 0) throw new Error(`cache ${cache}: exit ${run.status}`);
    process.stdout.write(run.stdout);
  }
  console.log("decide old: the oldest approvals (evicted when the cache is smaller than open); new: the newest (cached); p50 ms");
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
