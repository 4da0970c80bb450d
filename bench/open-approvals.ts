// Benchmark (not a test): N open approvals (issue 9: a worker's memory at 10,000 open, and whether
// deciding slows down). Files N refund requests that wait for approvers and starts N bare workflows
// that wait for their Updates, on the same dev server, then reports each worker's resident memory
// (each runs in its own process: countersign's through `countersign worker`, with the config's workflow
// cache, the bare one with the same cache) and the decide latency at N open against idle: bob
// approving at the approver endpoint, against the bare Update running one activity, on the oldest
// (evicted from the cache when N exceeds it) and the newest, all interleaved.
//   node --expose-gc dist/bench/open-approvals.js 10000
// N is required; BENCH_SAMPLES (default 20) sizes each row; --expose-gc lets this process collect
// garbage before its own RSS is read (the workers' RSS is read from /proc as it is).
import { randomUUID } from "node:crypto";
import { performance } from "node:perf_hooks";
import { Client, Connection, type WorkflowHandle } from "@temporalio/client";
import { DefaultLogger, Runtime } from "@temporalio/worker";
import { startDevServer } from "../src/temporal/dev-server.js";
import { projectRoot, startStack, type TestStack } from "../test/support/stack.js";
import { bareUpdateWithActivity, type bareWorkflow } from "./bare/workflow.js";
import { approve, bareCycle, countersignCycle, Credentials, fileRefund, startPendingBare } from "./cycles.js";
import { mib, startBareWorkerProcess, startCountersignWorker, type WorkerProcess } from "./processes.js";
import { environmentLine, latency, p50p95, type Latency } from "./stats.js";

/** How many filings (or bare starts) are in flight at once. */
const FILING_CONCURRENCY = 16;

/** `make` called `n` times, `FILING_CONCURRENCY` at a time; a progress line on stderr every 500. */
async function openMany<T>(what: string, n: number, make: () => Promise<T>): Promise<{ opened: T[]; seconds: number }> {
  const opened: T[] = new Array<T>(n);
  let next = 0;
  let done = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: FILING_CONCURRENCY }, async () => {
      while (next < n) {
        const i = next++;
        opened[i] = await make();
        if (++done % 500 === 0) console.error(`# ${what}: ${done}/${n} open, ${(done / ((performance.now() - t0) / 1000)).toFixed(1)}/s`);
      }
    }),
  );
  return { opened, seconds: (performance.now() - t0) / 1000 };
}

/** The i-th of `xs` (which the caller sized). */
function nth<T>(xs: readonly T[], i: number): T {
  const x = xs[i];
  if (x === undefined) throw new Error(`no element ${i}`);
  return x;
}

async function timed(work: () => Promise<unknown>, into: number[]): Promise<void> {
  const t = performance.now();
  await work();
  into.push(performance.now() - t);
}

/** So that N filings do not outlive the refund policy's 15-minute deadline while the rest are filed. */
function lengthenRefundDeadline(stack: TestStack): void {
  const policies = stack.readTenantFile("policies/payments.cedar");
  const lengthened = policies.replace('@deadline_seconds("900")', '@deadline_seconds("86400")');
  if (lengthened === policies) throw new Error("the example refund policy no longer reads @deadline_seconds(\"900\"): update this bench");
  stack.writeTenantFile("policies/payments.cedar", lengthened);
}

async function main(): Promise<void> {
  const open = Number(process.argv[2]);
  if (!Number.isInteger(open) || open < 2) throw new Error("usage: node dist/bench/open-approvals.js <open approvals, e.g. 10000>");
  const samples = Math.min(Number(process.env.BENCH_SAMPLES ?? 20), Math.floor(open / 2));
  Runtime.install({ logger: new DefaultLogger("ERROR") });
  const server = await startDevServer({ projectRoot });
  process.env.TEMPORAL_ADDRESS = server.address;
  const stack = await startStack({ worker: false });
  const workers: WorkerProcess[] = [];
  const bareConnection = await Connection.connect({ address: server.address });
  const lines: string[] = [];
  try {
    lengthenRefundDeadline(stack);
    const cache = stack.config.worker.maxCachedWorkflows;
    const ours = await startCountersignWorker(stack.configFile, server.address);
    workers.push(ours);
    const bareQueue = `bare-${randomUUID()}`;
    const theirs = await startBareWorkerProcess(bareQueue, server.address, cache);
    workers.push(theirs);
    const bare = new Client({ connection: bareConnection });
    const credentials = new Credentials(stack);
    const decide = (id: string) => () => approve(stack, credentials, id);
    const update = (handle: WorkflowHandle<typeof bareWorkflow>) => () => handle.executeUpdate(bareUpdateWithActivity);

    // Warm-up (not counted), then idle: approvals and bare workflows opened one by one, decided interleaved.
    for (let i = 0; i < 3; i++) {
      await countersignCycle(stack, credentials);
      await bareCycle(bare, bareQueue);
    }
    const idle = { ours: [] as number[], bare: [] as number[] };
    const idleOurs: string[] = [];
    const idleBare: Array<WorkflowHandle<typeof bareWorkflow>> = [];
    for (let i = 0; i < samples; i++) {
      idleOurs.push((await fileRefund(stack, credentials)).id);
      idleBare.push(await startPendingBare(bare, bareQueue));
    }
    for (let i = 0; i < samples; i++) {
      await timed(decide(nth(idleOurs, i)), idle.ours);
      await timed(update(nth(idleBare, i)), idle.bare);
    }
    await new Promise((r) => setTimeout(r, 2000));
    globalThis.gc?.();
    const before = { ours: ours.memory(), bare: theirs.memory(), bench: process.memoryUsage().rss };

    const filed = await openMany("countersign", open, async () => (await fileRefund(stack, credentials)).id);
    const started = await openMany("bare", open, () => startPendingBare(bare, bareQueue));
    await new Promise((r) => setTimeout(r, 2000));
    globalThis.gc?.();
    const atOpen = { ours: ours.memory(), bare: theirs.memory(), bench: process.memoryUsage().rss };

    const oldest = { ours: [] as number[], bare: [] as number[] };
    const newest = { ours: [] as number[], bare: [] as number[] };
    for (let i = 0; i < samples; i++) {
      await timed(decide(nth(filed.opened, i)), oldest.ours);
      await timed(update(nth(started.opened, i)), oldest.bare);
      await timed(decide(nth(filed.opened, open - 1 - i)), newest.ours);
      await timed(update(nth(started.opened, open - 1 - i)), newest.bare);
    }
    const after = { ours: ours.memory(), bare: theirs.memory() };
    for (const w of workers) if (w.exit() !== undefined) throw new Error(`a worker exited during the run (${JSON.stringify(w.exit())}):\n${w.tail()}`);

    const row = (name: string, o: Latency, b: Latency): string => `| ${name} | ${p50p95(o)} | ${p50p95(b)} | ${(o.p50 / b.p50).toFixed(2)}× |`;
    const growth = (o: Latency, i: Latency): string => `${(o.p50 / i.p50).toFixed(2)}×`;
    const l = {
      idle: { ours: latency(idle.ours), bare: latency(idle.bare) },
      oldest: { ours: latency(oldest.ours), bare: latency(oldest.bare) },
      newest: { ours: latency(newest.ours), bare: latency(newest.bare) },
    };
    lines.push(`${environmentLine("countersign with N open approvals vs bare Temporal")}, N = ${open} open of each, n = ${samples} decides per row, interleaved, each worker in its own process (workflow cache ${cache})`);
    lines.push("| measure | countersign | bare | ratio (p50) |");
    lines.push("|---|---|---|---|");
    lines.push(`| opening N (${FILING_CONCURRENCY} at a time) | ${filed.seconds.toFixed(0)} s, ${(open / filed.seconds).toFixed(1)}/s | ${started.seconds.toFixed(0)} s, ${(open / started.seconds).toFixed(1)}/s | |`);
    lines.push(`| worker RSS idle → at N open, MB | ${mib(before.ours?.rss)} → ${mib(atOpen.ours?.rss)} | ${mib(before.bare?.rss)} → ${mib(atOpen.bare?.rss)} | |`);
    lines.push(`| worker peak RSS (VmHWM) after the decides, MB | ${mib(after.ours?.peak)} | ${mib(after.bare?.peak)} | |`);
    lines.push(`| this process's RSS idle → at N open (HTTP API and clients), MB | ${mib(before.bench)} → ${mib(atOpen.bench)} | (same process) | |`);
    lines.push(row("decide p50 / p95 ms, idle", l.idle.ours, l.idle.bare));
    lines.push(row(`decide p50 / p95 ms, N open, oldest ${samples}`, l.oldest.ours, l.oldest.bare));
    lines.push(row(`decide p50 / p95 ms, N open, newest ${samples}`, l.newest.ours, l.newest.bare));
    lines.push(`| oldest / idle (p50) | ${growth(l.oldest.ours, l.idle.ours)} | ${growth(l.oldest.bare, l.idle.bare)} | |`);
    lines.push(`| newest / idle (p50) | ${growth(l.newest.ours, l.idle.ours)} | ${growth(l.newest.bare, l.idle.bare)} | |`);
    lines.push("decide: bob approves at the approver endpoint (countersign); an Update running one activity (bare). Targets (issue 9): worker RSS ≤ 400 MB at 10,000 open; decide at 10,000 open ≤ 1.2× idle.");
  } finally {
    await Promise.all(workers.map((w) => w.stop()));
    await bareConnection.close();
    await stack.stop();
    await server.stop();
  }
  for (const line of lines) console.log(line);
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
