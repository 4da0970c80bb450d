// Benchmark (not a test): how fast the edge answers, and with what, when the workers or Temporal
// itself are down. Phases: no worker polling (Temporal up); Temporal stopped under a running edge.
// Every answer must be the right code within seconds: filing 202 (or 503 with Temporal down), reads
// and Updates 503 `unavailable` with Retry-After. OUTAGE_RUNS (default 5) sizes each phase.
import { performance } from "node:perf_hooks";
import { DefaultLogger, Runtime } from "@temporalio/worker";
import { startDevServer, type DevServer } from "../src/temporal/dev-server.js";
import { projectRoot, refundRequest, requestPendingRefund, startStack, type TestStack } from "../test/support/stack.js";

interface Sample {
  call: string;
  answer: string;
  ms: number;
}

async function timed(call: string, run: () => Promise<Response>): Promise<Sample> {
  const t0 = performance.now();
  const res = await run();
  const body = (await res.json().catch(() => undefined)) as { error?: { code?: string }; status?: string } | undefined;
  const retryAfter = res.headers.get("retry-after");
  const answer = `${res.status} ${body?.error?.code ?? body?.status ?? ""}${retryAfter !== null ? ` (Retry-After ${retryAfter})` : ""}`;
  return { call, answer, ms: performance.now() - t0 };
}

/** Filing, a read, a decision and a redemption against `stack`, each timed; `id` an approval filed before. */
async function calls(stack: TestStack, pending: string, approved: { id: string; grant: string; args: unknown }): Promise<Sample[]> {
  const out: Sample[] = [];
  const agent = await stack.agentHeaders("alice");
  out.push(await timed("POST /v1/approvals", () => fetch(`${stack.baseUrl}/v1/approvals`, { method: "POST", headers: { ...agent, "content-type": "application/json" }, body: JSON.stringify(refundRequest()) })));
  out.push(await timed("GET /v1/approvals/{id}", () => fetch(`${stack.baseUrl}/v1/approvals/${pending}`, { headers: agent })));
  const bob = await stack.ids.principalToken("bob", { scope: "countersign:approve" });
  out.push(
    await timed("POST …/decisions", () =>
      fetch(`${stack.baseUrl}/v1/approvals/${pending}/decisions`, { method: "POST", headers: { authorization: `Bearer ${bob}`, "content-type": "application/json" }, body: JSON.stringify({ decision: "approve" }) }),
    ),
  );
  const tool = await stack.toolHeaders();
  out.push(
    await timed("POST /v1/grants/redeem", () =>
      fetch(`${stack.baseUrl}/v1/grants/redeem`, { method: "POST", headers: { ...tool, "content-type": "application/json", "idempotency-key": `bench-${approved.id}` }, body: JSON.stringify({ grant: approved.grant, tool: "payments.refund", arguments: approved.args }) }),
    ),
  );
  return out;
}

async function approvedGrant(stack: TestStack): Promise<{ id: string; grant: string; args: unknown }> {
  const { id, body } = await requestPendingRefund(stack);
  await stack.decide(id, "bob", "approve");
  return { id, grant: await stack.grantOf(id), args: body.arguments };
}

function summarise(phase: string, samples: Sample[]): string[] {
  const byCall = new Map<string, Sample[]>();
  for (const s of samples) byCall.set(s.call, [...(byCall.get(s.call) ?? []), s]);
  return [...byCall].map(([call, list]) => {
    const answers = [...new Set(list.map((s) => s.answer))].join(" / ");
    const worst = Math.max(...list.map((s) => s.ms));
    const best = Math.min(...list.map((s) => s.ms));
    return `${phase.padEnd(18)} ${call.padEnd(24)} ${String(list.length).padStart(4)} ${best.toFixed(0).padStart(7)} ${worst.toFixed(0).padStart(7)}  ${answers}`;
  });
}

/**
 * One phase: a dev server and a stack with `runs` approved grants and `runs` pending approvals, then
 * `outage`, then every edge call timed against each of them.
 */
async function phase(name: string, runs: number, outage: (server: DevServer, stack: TestStack) => Promise<void>): Promise<string[]> {
  const server = await startDevServer({ projectRoot });
  process.env.TEMPORAL_ADDRESS = server.address;
  const stack = await startStack();
  try {
    const approved = await Promise.all(Array.from({ length: runs }, () => approvedGrant(stack)));
    const pending = await Promise.all(Array.from({ length: runs }, async () => (await requestPendingRefund(stack)).id));
    await outage(server, stack);
    const samples: Sample[] = [];
    for (let i = 0; i < runs; i++) samples.push(...(await calls(stack, pending[i] ?? "", approved[i] ?? { id: "", grant: "", args: null })));
    return summarise(name, samples);
  } finally {
    await stack.stop().catch(() => undefined);
    await server.stop(); // a no-op once stopped
  }
}

async function main(): Promise<void> {
  const runs = Number(process.env.OUTAGE_RUNS ?? 5);
  Runtime.install({ logger: new DefaultLogger("ERROR") });
  const lines: string[] = [];

  // No worker polling while Temporal runs; then Temporal stopped under a running edge and worker.
  lines.push(...(await phase("no worker", runs, (_server, stack) => stack.stopWorker())));
  lines.push(...(await phase("Temporal down", runs, (server) => server.stop())));

  console.log(`countersign outage bench — ${new Date().toISOString()} — node ${process.version}; answer times in ms`);
  console.log(`${"phase".padEnd(18)} ${"call".padEnd(24)} ${"n".padStart(4)} ${"best".padStart(7)} ${"worst".padStart(7)}  answers`);
  for (const line of lines) console.log(line);
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
