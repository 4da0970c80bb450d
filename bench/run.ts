// Benchmarks (not tests): latency of the approval path end to end over HTTP against a real Temporal
// dev server, and of one in-process policy decision. Run with `npm run bench`; prints a table.
// BENCH_APPROVALS (default 40) and BENCH_DECISIONS (default 5000) size the runs.
import { performance } from "node:perf_hooks";
import { DefaultLogger, Runtime } from "@temporalio/worker";
import { startDevServer } from "../src/temporal/dev-server.js";
import { projectRoot, refundRequest, startStack } from "../test/support/stack.js";
import { percentile } from "./stats.js";

function row(name: string, samples: number[]): string {
  const s = [...samples].sort((a, b) => a - b);
  const fmt = (v: number): string => (v < 1 ? v.toFixed(3) : v.toFixed(1)).padStart(8);
  return `${name.padEnd(44)} ${String(s.length).padStart(6)} ${fmt(percentile(s, 50))} ${fmt(percentile(s, 95))} ${fmt(percentile(s, 99))} ${fmt(s[s.length - 1] ?? Number.NaN)}`;
}

async function main(): Promise<void> {
  const approvals = Number(process.env.BENCH_APPROVALS ?? 40);
  const decisions = Number(process.env.BENCH_DECISIONS ?? 5000);
  Runtime.install({ logger: new DefaultLogger("ERROR") });
  const server = await startDevServer({ projectRoot });
  process.env.TEMPORAL_ADDRESS = server.address;
  const stack = await startStack();
  const create: number[] = [];
  const decide: number[] = [];
  const redeem: number[] = [];
  const total: number[] = [];
  const policy: number[] = [];
  try {
    // Warm-up: one full cycle not counted (bundle load, JIT, connections).
    for (let i = 0; i <= approvals; i++) {
      const t0 = performance.now();
      const body = refundRequest();
      const created = await stack.http("POST", "/v1/approvals", await stack.agentHeaders("alice"), body);
      const t1 = performance.now();
      const id = (created.body as { id: string }).id;
      // Through the approver endpoint: token check, edge pre-check, signed assertion, Update, verification in the workflow.
      const approver = { authorization: `Bearer ${await stack.ids.principalToken("bob", { scope: "countersign:approve" })}` };
      const t1b = performance.now();
      const decided = await stack.http("POST", `/v1/approvals/${id}/decisions`, approver, { decision: "approve" });
      const state = decided.body as { status: string };
      const t2 = performance.now();
      const grant = await stack.grantOf(id);
      const t2b = performance.now();
      const res = await stack.http("POST", "/v1/grants/redeem", await stack.toolHeaders(), { grant, tool: "payments.refund", arguments: body.arguments });
      const t3 = performance.now();
      if (created.status !== 202 || state.status !== "approved" || res.status !== 200) throw new Error(`unexpected outcome ${created.status} ${state.status} ${res.status}`);
      if (i === 0) continue;
      create.push(t1 - t0);
      decide.push(t2 - t1b);
      redeem.push(t3 - t2b);
      total.push(t3 - t0 - (t2b - t2) - (t1b - t1));
    }
    const facts = { tenant: "acme", principal: "alice", agent: "spiffe://agents.test/agents/bench", tool: "payments.refund", taskId: "t", summary: "s", argsSha256: "x" };
    for (let i = 0; i < decisions; i++) {
      const t0 = performance.now();
      const d = stack.services.policy.authorizeRequest(facts);
      policy.push(performance.now() - t0);
      if (d.decision !== "allow") throw new Error("policy denied in bench");
    }
  } finally {
    await stack.stop();
    await server.stop();
  }
  console.log(`countersign bench — ${new Date().toISOString()} — node ${process.version}, Temporal dev server (SQLite, in memory)`);
  console.log(`${"milliseconds".padEnd(44)} ${"n".padStart(6)} ${"p50".padStart(8)} ${"p95".padStart(8)} ${"p99".padStart(8)} ${"max".padStart(8)}`);
  console.log(row("POST /v1/approvals → 202 pending", create));
  console.log(row("POST …/decisions → approved (proven decision)", decide));
  console.log(row("POST /v1/grants/redeem → 200", redeem));
  console.log(row("request → approved → redeemed (sequential)", total));
  console.log(row("policy decision in process (Cedar)", policy));
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
