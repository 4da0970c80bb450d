// Benchmark (not a test): Update storms. Many tool servers redeem one grant at the same moment; exactly
// one must get 200 and every other one 409 grant_already_redeemed, each within a few seconds. Runs the
// storm repeatedly, idle and under background CPU load, and prints counts and answer times.
// STORM_RUNS (default 8 per phase), STORM_CONCURRENCY (default 100), STORM_BURNERS (CPU-bound
// processes during the loaded phases, default 1), STORM_EDGES (edge processes racing in the
// "edges" phase, default 3) and STORM_PHASES (default "idle,loaded,edges") size it.
// Phases: idle; loaded (the burners running); edges (loaded, and the redemptions spread over several
// ApprovalsClients, as several edge replicas would send them: each has its own in-flight bounds).
import { spawn, type ChildProcess } from "node:child_process";
import { performance } from "node:perf_hooks";
import { DefaultLogger, makeTelemetryFilterString, Runtime, type LogEntry } from "@temporalio/worker";
import { loadavg } from "node:os";
import { ApprovalsClient } from "../src/client/approvals.js";
import { CountersignError, httpStatusOf } from "../src/errors.js";
import { startDevServer } from "../src/temporal/dev-server.js";
import { projectRoot, refundRequest, startStack, type TestStack } from "../test/support/stack.js";
import { percentile } from "./stats.js";

interface RunResult {
  statuses: Map<string, number>;
  latencies: number[];
  /** Answer times of the refused redemptions only. */
  refusedLatencies: number[];
  finalStatus: string;
}

/** CPU-bound child processes, ended again by `stop()` (only these processes, by their own handles). */
function burnCpu(count: number): { stop(): Promise<void> } {
  const children: ChildProcess[] = Array.from({ length: count }, () => spawn(process.execPath, ["-e", "for (;;) {}"], { stdio: "ignore" }));
  return {
    async stop() {
      await Promise.all(
        children.map(
          (child) =>
            new Promise<void>((done) => {
              if (child.exitCode !== null || child.signalCode !== null) return done();
              child.once("exit", () => done());
              child.kill("SIGKILL");
            }),
        ),
      );
    },
  };
}

/**
 * One storm: an approved grant, then `concurrency` redemptions of it at once. The first goes through
 * the HTTP edge, the others round-robin over it and the `otherEdges` (redeeming with the claims the
 * edge would have checked).
 */
async function storm(stack: TestStack, concurrency: number, otherEdges: ApprovalsClient[] = []): Promise<RunResult> {
  const body = refundRequest();
  const created = await stack.http("POST", "/v1/approvals", await stack.agentHeaders("alice"), body);
  if (created.status !== 202) throw new Error(`approval not filed: ${created.status} ${JSON.stringify(created.body)}`);
  const id = (created.body as { id: string }).id;
  await stack.decide(id, "bob", "approve");
  const grant = await stack.grantOf(id);
  const headers = await stack.toolHeaders();
  const payload = { grant, tool: "payments.refund", arguments: body.arguments };
  const state = await stack.approvals.state(id);
  const input = { jti: state.grant?.jti ?? "", tool: state.tool, argsSha256: state.argsSha256, caller: state.grant?.audience ?? "" };
  const viaHttp = async (): Promise<string> => {
    const res = await stack.http("POST", "/v1/grants/redeem", headers, payload);
    return res.status === 200 ? "200" : `${res.status} ${String((res.body as { error?: { code?: string } } | undefined)?.error?.code)}`;
  };
  const viaClient = async (edge: ApprovalsClient): Promise<string> => {
    try {
      await edge.redeem(id, input);
      return "200";
    } catch (err) {
      if (err instanceof CountersignError) return `${httpStatusOf(err.code)} ${err.code}`;
      throw err;
    }
  };
  const answers = await Promise.all(
    Array.from({ length: concurrency }, async (_, i) => {
      const t0 = performance.now();
      const edge = otherEdges[(i % (otherEdges.length + 1)) - 1];
      const code = edge === undefined ? await viaHttp() : await viaClient(edge);
      return { code, ms: performance.now() - t0 };
    }),
  );
  const statuses = new Map<string, number>();
  for (const a of answers) statuses.set(a.code, (statuses.get(a.code) ?? 0) + 1);
  return {
    statuses,
    latencies: answers.map((a) => a.ms),
    refusedLatencies: answers.filter((a) => a.code !== "200").map((a) => a.ms),
    finalStatus: (await stack.approvals.state(id)).status,
  };
}

async function main(): Promise<void> {
  const runs = Number(process.env.STORM_RUNS ?? 8);
  const concurrency = Number(process.env.STORM_CONCURRENCY ?? 100);
  const burners = Number(process.env.STORM_BURNERS ?? 1);
  const edges = Number(process.env.STORM_EDGES ?? 3);
  const phases = (process.env.STORM_PHASES ?? "idle,loaded,edges").split(",").filter((p) => p === "idle" || p === "loaded" || p === "edges");
  // Count the SDK's warnings by message, the worker core's included (forwarded): "Task not found when
  // completing" means the server lost the workflow task the worker was completing (workflow-task churn).
  const warnings = new Map<string, number>();
  Runtime.install({
    logger: new DefaultLogger("WARN", (entry: LogEntry) => {
      warnings.set(entry.message, (warnings.get(entry.message) ?? 0) + 1);
      if (process.env.STORM_VERBOSE === "1") console.error(`[sdk ${entry.level}] ${entry.message} ${JSON.stringify(entry.meta ?? {})}`);
    }),
    telemetryOptions: { logging: { forward: {}, filter: makeTelemetryFilterString({ core: "WARN" }) } },
  });
  const server = await startDevServer({ projectRoot });
  process.env.TEMPORAL_ADDRESS = server.address;
  const stack = await startStack();
  const lines: string[] = [];
  try {
    await storm(stack, 5); // warm-up: bundle load, JIT, connections
    warnings.clear();
    for (const phase of phases) {
      const load = phase !== "idle" && burners > 0 ? burnCpu(burners) : undefined;
      const otherEdges = phase === "edges" ? Array.from({ length: edges - 1 }, () => new ApprovalsClient(stack.client, stack.config.temporal.taskQueue)) : [];
      const results: RunResult[] = [];
      const loadAverages: number[] = [];
      try {
        for (let i = 0; i < runs; i++) {
          results.push(await storm(stack, concurrency, otherEdges));
          loadAverages.push(loadavg()[0] ?? Number.NaN);
          if (process.env.STORM_VERBOSE === "1") {
            const r = results[results.length - 1]!;
            console.error(`[${phase} ${i + 1}/${runs}] ${[...r.statuses].map(([k, v]) => `${k}×${v}`).join(" ")} worst ${Math.max(...r.latencies).toFixed(0)} ms final ${r.finalStatus}`);
          }
        }
      } finally {
        await load?.stop();
      }
      const all = results.flatMap((r) => r.latencies).sort((a, b) => a - b);
      const count = (pred: (code: string) => boolean): number => results.reduce((n, r) => n + [...r.statuses].filter(([k]) => pred(k)).reduce((m, [, v]) => m + v, 0), 0);
      const exact = results.filter((r) => r.statuses.get("200") === 1 && r.statuses.get("409 grant_already_redeemed") === concurrency - 1 && r.finalStatus === "redeemed").length;
      const worstPerRun = results.map((r) => Math.max(...r.latencies));
      const slowRuns = worstPerRun.filter((ms) => ms > 5_000).length;
      lines.push(
        [
          `${phase === "edges" ? `${edges} edges` : phase}${phase !== "idle" ? ` +${burners} burner${burners === 1 ? "" : "s"}` : ""}`.padEnd(24),
          String(runs).padStart(5),
          `${exact}/${runs}`.padStart(7),
          String(count((k) => k === "200")).padStart(6),
          String(count((k) => k === "409 grant_already_redeemed")).padStart(6),
          String(count((k) => k !== "200" && k !== "409 grant_already_redeemed")).padStart(6),
          String(slowRuns).padStart(6),
          percentile(all, 50).toFixed(0).padStart(7),
          percentile(all, 99).toFixed(0).padStart(7),
          Math.max(...worstPerRun).toFixed(0).padStart(7),
          Math.max(...loadAverages).toFixed(1).padStart(6),
        ].join(" "),
      );
      const others = new Map<string, number>();
      for (const r of results) for (const [k, v] of r.statuses) if (k !== "200" && k !== "409 grant_already_redeemed") others.set(k, (others.get(k) ?? 0) + v);
      if (others.size > 0) lines.push(`  other answers: ${[...others].map(([k, v]) => `${k} ×${v}`).join(", ")}`);
    }
  } finally {
    await stack.stop();
    await server.stop();
  }
  console.log(`countersign storm bench — ${new Date().toISOString()} — node ${process.version}, Temporal dev server (SQLite, in memory)`);
  console.log(`${concurrency} concurrent POST /v1/grants/redeem of one grant per run; times in ms per answer; "exact": runs with 1×200, ${concurrency - 1}×409 and the approval redeemed; ">5s": runs with an answer slower than 5 s`);
  console.log(`${"phase".padEnd(24)} ${"runs".padStart(5)} ${"exact".padStart(7)} ${"200".padStart(6)} ${"409".padStart(6)} ${"other".padStart(6)} ${">5s".padStart(6)} ${"p50".padStart(7)} ${"p99".padStart(7)} ${"worst".padStart(7)} ${"load1".padStart(6)}`);
  for (const line of lines) console.log(line);
  console.log(`SDK warnings: ${warnings.size === 0 ? "none" : [...warnings].map(([m, n]) => `"${m}" ×${n}`).join(", ")}`);
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
