// Benchmark (not a test): approvals per second with C concurrent agents against the bare Temporal
// equivalent with C concurrent loops, on the same dev server in the same run (issue 9, throughput).
// A countersign cycle is a full approval over HTTP (bench/cycles.ts: file, approve at the approver
// endpoint, read the grant, redeem); a bare cycle starts bench/bare/workflow.ts (one local activity),
// sends an Update running one activity, a bare Update and a finishing one. Both workers run in
// processes of their own with the same workflow cache; the HTTP API runs in this process. Per level,
// each side runs for BENCH_SECONDS in two windows, in the order countersign, bare, bare, countersign,
// so that a drift in the machine's load falls on both alike.
//   BENCH_LEVELS (default 1,4,16,32): concurrent agents; BENCH_SECONDS (default 10): per side and level.
import { randomUUID } from "node:crypto";
import { performance } from "node:perf_hooks";
import { Client, Connection } from "@temporalio/client";
import { DefaultLogger, Runtime } from "@temporalio/worker";
import { startDevServer } from "../src/temporal/dev-server.js";
import { projectRoot, startStack } from "../test/support/stack.js";
import { bareCycle, countersignCycle, Credentials } from "./cycles.js";
import { cpuMs, devServerPid, startBareWorkerProcess, startCountersignWorker, type WorkerProcess } from "./processes.js";
import { environmentLine, latency, p50p95 } from "./stats.js";

interface Window {
  cycles: number;
  errors: number;
  elapsedMs: number;
  latencies: number[];
  firstError: string | undefined;
  /** CPU ms each watched process used during the window. */
  cpu: Record<string, number>;
}

/** The processes whose CPU time is counted per window: name → a reading in ms. */
type CpuMeters = Record<string, () => number | undefined>;

/** `concurrency` loops run `cycle` back to back until `durationMs` has passed; the last cycles finish. */
async function runWindow(concurrency: number, durationMs: number, cycle: () => Promise<void>, meters: CpuMeters = {}): Promise<Window> {
  const w: Window = { cycles: 0, errors: 0, elapsedMs: 0, latencies: [], firstError: undefined, cpu: {} };
  const before = Object.fromEntries(Object.entries(meters).map(([name, read]) => [name, read() ?? Number.NaN]));
  const start = performance.now();
  const until = start + durationMs;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < until) {
        const t = performance.now();
        try {
          await cycle();
          w.latencies.push(performance.now() - t);
          w.cycles++;
        } catch (err) {
          w.errors++;
          w.firstError ??= err instanceof Error ? err.message : JSON.stringify(err);
        }
      }
    }),
  );
  w.elapsedMs = performance.now() - start;
  for (const [name, read] of Object.entries(meters)) w.cpu[name] = (read() ?? Number.NaN) - (before[name] ?? Number.NaN);
  return w;
}

function merge(windows: Window[]): Window {
  return {
    cycles: windows.reduce((n, w) => n + w.cycles, 0),
    errors: windows.reduce((n, w) => n + w.errors, 0),
    elapsedMs: windows.reduce((n, w) => n + w.elapsedMs, 0),
    latencies: windows.flatMap((w) => w.latencies),
    firstError: windows.find((w) => w.firstError !== undefined)?.firstError,
    cpu: Object.fromEntries(Object.keys(windows[0]?.cpu ?? {}).map((name) => [name, windows.reduce((n, w) => n + (w.cpu[name] ?? Number.NaN), 0)])),
  };
}

async function main(): Promise<void> {
  const levels = (process.env.BENCH_LEVELS ?? "1,4,16,32").split(",").map(Number);
  const seconds = Number(process.env.BENCH_SECONDS ?? 10);
  if (levels.some((c) => !Number.isInteger(c) || c < 1) || !(seconds > 0)) throw new Error("BENCH_LEVELS: whole numbers ≥ 1, comma-separated; BENCH_SECONDS: > 0");
  Runtime.install({ logger: new DefaultLogger("ERROR") });
  const server = await startDevServer({ projectRoot });
  process.env.TEMPORAL_ADDRESS = server.address;
  const stack = await startStack({ worker: false });
  const workers: WorkerProcess[] = [];
  const bareConnection = await Connection.connect({ address: server.address });
  const rows: string[] = [];
  const errors: string[] = [];
  const cpuRows: string[] = [];
  try {
    workers.push(await startCountersignWorker(stack.configFile, server.address));
    const bareQueue = `bare-${randomUUID()}`;
    workers.push(await startBareWorkerProcess(bareQueue, server.address, stack.config.worker.maxCachedWorkflows));
    const bare = new Client({ connection: bareConnection });
    const credentials = new Credentials(stack);
    // CPU per cycle, by process: this one (HTTP API, clients), each worker, the dev server.
    const [countersignWorker, bareWorker] = workers;
    const devPid = devServerPid(server.address);
    const meters: CpuMeters = {
      "bench process (HTTP API, clients)": () => {
        const u = process.cpuUsage();
        return (u.user + u.system) / 1000;
      },
      "countersign worker": () => (countersignWorker !== undefined ? cpuMs(countersignWorker.pid) : undefined),
      "bare worker": () => (bareWorker !== undefined ? cpuMs(bareWorker.pid) : undefined),
      "Temporal dev server": () => (devPid !== undefined ? cpuMs(devPid) : undefined),
    };
    const sides = {
      countersign: () => countersignCycle(stack, credentials),
      bare: () => bareCycle(bare, bareQueue),
    };
    // Warm-up, not counted: bundles loaded, JIT, connections, caches.
    for (const cycle of [sides.countersign, sides.bare]) {
      const w = await runWindow(4, 2_000, cycle);
      if (w.cycles === 0) throw new Error(`the warm-up completed no cycle: ${w.firstError}`);
    }
    const halfMs = (seconds * 1000) / 2;
    for (const c of levels) {
      const cs1 = await runWindow(c, halfMs, sides.countersign, meters);
      const b1 = await runWindow(c, halfMs, sides.bare, meters);
      const b2 = await runWindow(c, halfMs, sides.bare, meters);
      const cs2 = await runWindow(c, halfMs, sides.countersign, meters);
      const ours = merge([cs1, cs2]);
      const theirs = merge([b1, b2]);
      const oursRate = ours.cycles / (ours.elapsedMs / 1000);
      const bareRate = theirs.cycles / (theirs.elapsedMs / 1000);
      rows.push(`| ${c} | ${oursRate.toFixed(1)} | ${bareRate.toFixed(1)} | ${(oursRate / bareRate).toFixed(2)}× | ${p50p95(latency(ours.latencies))} | ${p50p95(latency(theirs.latencies))} | ${ours.cycles} / ${theirs.cycles} | ${ours.errors} / ${theirs.errors} |`);
      const perCycle = (w: Window): string => Object.entries(w.cpu).map(([name, ms]) => `${name} ${(ms / Math.max(1, w.cycles)).toFixed(1)}`).join(", ");
      cpuRows.push(`| ${c} | ${perCycle(ours)} | ${perCycle(theirs)} |`);
      if (ours.firstError !== undefined) errors.push(`countersign at ${c}: ${ours.firstError}`);
      if (theirs.firstError !== undefined) errors.push(`bare at ${c}: ${theirs.firstError}`);
      console.error(`# level ${c} done: countersign ${oursRate.toFixed(1)}/s, bare ${bareRate.toFixed(1)}/s`);
    }
    for (const w of workers) if (w.exit() !== undefined) throw new Error(`a worker exited during the run (${JSON.stringify(w.exit())}):\n${w.tail()}`);
  } finally {
    await Promise.all(workers.map((w) => w.stop()));
    await bareConnection.close();
    await stack.stop();
    await server.stop();
  }
  console.log(`${environmentLine("countersign throughput vs bare Temporal")}, ${seconds} s per side and level in two interleaved windows, each worker in its own process (workflow cache ${stack.config.worker.maxCachedWorkflows})`);
  console.log("| agents | countersign approvals/s | bare cycles/s | ratio | countersign cycle p50 / p95 ms | bare cycle p50 / p95 ms | n (countersign / bare) | errors (countersign / bare) |");
  console.log("|---|---|---|---|---|---|---|---|");
  for (const row of rows) console.log(row);
  console.log("\nCPU ms per cycle, by process (from /proc; each side's cycles are charged everything each process did in its windows)");
  console.log("| agents | countersign cycle | bare cycle |");
  console.log("|---|---|---|");
  for (const row of cpuRows) console.log(row);
  for (const e of errors) console.log(`first error: ${e}`);
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
