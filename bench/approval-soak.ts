// Soak benchmark (not a test): N full approvals (file, approve at the approver endpoint, read the
// grant, redeem) through one worker, with a few concurrent agents (issue 9: does a worker survive
// sustained load). The worker runs in its own process (`countersign worker`, as in production), so a
// crash (V8 used to abort under sustained cedar-wasm calls) is seen as its exit and reported with its
// last output; the HTTP API runs in this process, which prints a progress line every 500 approvals so
// that, should it abort itself, how far it got stays on the screen.
//   node dist/bench/approval-soak.js 10000      N is required; BENCH_AGENTS (default 4) concurrent agents.
import { performance } from "node:perf_hooks";
import { DefaultLogger, Runtime } from "@temporalio/worker";
import { startDevServer } from "../src/temporal/dev-server.js";
import { projectRoot, startStack } from "../test/support/stack.js";
import { countersignCycle, Credentials, CycleError } from "./cycles.js";
import { mib, startCountersignWorker, type WorkerProcess } from "./processes.js";
import { environmentLine, latency, p50p95 } from "./stats.js";

const PROGRESS_EVERY = 500;

async function main(): Promise<void> {
  const total = Number(process.argv[2]);
  const agents = Number(process.env.BENCH_AGENTS ?? 4);
  if (!Number.isInteger(total) || total < 1) throw new Error("usage: node dist/bench/approval-soak.js <approvals, e.g. 10000>");
  if (!Number.isInteger(agents) || agents < 1) throw new Error("BENCH_AGENTS: a whole number ≥ 1");
  Runtime.install({ logger: new DefaultLogger("ERROR") });
  const server = await startDevServer({ projectRoot });
  process.env.TEMPORAL_ADDRESS = server.address;
  const stack = await startStack({ worker: false });
  let worker: WorkerProcess | undefined;
  const lines: string[] = [];
  let crashed = false;
  try {
    worker = await startCountersignWorker(stack.configFile, server.address);
    const w = worker;
    const credentials = new Credentials(stack);
    const startMemory = w.memory();
    // Read at each progress line, so that a worker that died leaves its last reading.
    let lastMemory = startMemory;
    let attempted = 0;
    let completed = 0;
    const failures = new Map<string, number>();
    const cycleMs: number[] = [];
    const t0 = performance.now();
    const progress = (): string => {
      const m = w.memory();
      lastMemory = m ?? lastMemory;
      // Counted once a cycle ends: the ones still under way are neither.
      const failed = [...failures.values()].reduce((n, k) => n + k, 0);
      return `# ${completed + failed}/${total}: ${completed} completed, ${failed} failed, ${attempted - completed - failed} under way, ${((completed + failed) / ((performance.now() - t0) / 1000)).toFixed(1)}/s, worker RSS ${mib(m?.rss)} MB (peak ${mib(m?.peak)})${w.exit() !== undefined ? `, worker exited ${JSON.stringify(w.exit())}` : ""}`;
    };
    let finished = 0;
    await Promise.all(
      Array.from({ length: agents }, async () => {
        while (attempted < total && w.exit() === undefined) {
          attempted++;
          const t = performance.now();
          try {
            await countersignCycle(stack, credentials);
            cycleMs.push(performance.now() - t);
            completed++;
          } catch (err) {
            const key = err instanceof CycleError ? `${err.step}: HTTP ${err.status} ${err.code}` : err instanceof Error ? err.message.slice(0, 120) : "unknown";
            failures.set(key, (failures.get(key) ?? 0) + 1);
          }
          if (++finished % PROGRESS_EVERY === 0) console.log(progress());
        }
      }),
    );
    const seconds = (performance.now() - t0) / 1000;
    const endMemory = w.memory() ?? lastMemory;
    const exit = w.exit();
    crashed = exit !== undefined;
    const failed = attempted - completed;
    lines.push(`${environmentLine("countersign approval soak")}, ${total} full approvals (file, approve, read grant, redeem) by ${agents} concurrent agents through one worker in its own process (workflow cache ${stack.config.worker.maxCachedWorkflows})`);
    lines.push("| measure | value |");
    lines.push("|---|---|");
    lines.push(`| attempted / completed / failed | ${attempted} / ${completed} / ${failed} |`);
    for (const [key, n] of failures) lines.push(`| failed at ${key} | ${n} |`);
    lines.push(`| worker process | ${exit === undefined ? "running throughout (no crash)" : `exited during the run: code ${exit.code}, signal ${exit.signal}`} |`);
    lines.push(`| throughput | ${(completed / seconds).toFixed(1)} approvals/s over ${seconds.toFixed(0)} s |`);
    lines.push(`| cycle p50 / p95 ms | ${p50p95(latency(cycleMs))} |`);
    lines.push(`| worker RSS start → ${crashed ? "last progress line" : "end"} (peak, VmHWM), MB | ${mib(startMemory?.rss)} → ${mib(endMemory?.rss)} (${mib(endMemory?.peak)}) |`);
    if (crashed) lines.push(`worker's last output:\n${w.tail()}`);
  } finally {
    await worker?.stop();
    await stack.stop();
    await server.stop();
  }
  for (const line of lines) console.log(line);
  if (crashed) process.exitCode = 1;
}

main().then(
  () => process.exit(process.exitCode ?? 0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
