// Benchmark (not a test): what the MCP gateway adds over calling the upstream directly. Against a real
// Temporal dev server and the example tools server, interleaved per round, N rounds after a warm-up:
//   direct:  the upstream's tools/call with a valid grant (the kit verifies and redeems it)
//   agent:   POST /v1/approvals (allowed at once, grant in the answer) + that direct call: what an agent does without the gateway
//   gateway: tools/call through /mcp (file, policy, mint, then the same upstream call), one MCP client
//   list:    tools/list direct, and through the gateway (upstream list cached)
// Low-risk tool (payments.lookup: no approver), so no human is in the path. BENCH_MCP_CALLS (default 40) sizes it.
import { performance } from "node:perf_hooks";
import { Client, StreamableHTTPClientTransport } from "@modelcontextprotocol/client";
import { DefaultLogger, Runtime } from "@temporalio/worker";
import { startToolsServer } from "../examples/tools-server.js";
import { createToolServerKit, type ToolServerKit } from "../src/kit/index.js";
import { startDevServer } from "../src/temporal/dev-server.js";
import { AGENT, PAYMENTS_SERVER, projectRoot, refundRequest, startStack } from "../test/support/stack.js";
import { percentile } from "./stats.js";

const PIN = { versionNegotiation: { mode: { pin: "2026-07-28" as const } } };

function stats(samples: number[]): { p50: number; p95: number; max: number } {
  const s = [...samples].sort((a, b) => a - b);
  return { p50: percentile(s, 50), p95: percentile(s, 95), max: s[s.length - 1] ?? Number.NaN };
}

function row(name: string, samples: number[]): string {
  const { p50, p95, max } = stats(samples);
  return `${name.padEnd(52)} ${String(samples.length).padStart(5)} ${p50.toFixed(1).padStart(8)} ${p95.toFixed(1).padStart(8)} ${max.toFixed(1).padStart(8)}`;
}

async function main(): Promise<void> {
  const rounds = Number(process.env.BENCH_MCP_CALLS ?? 40);
  Runtime.install({ logger: new DefaultLogger("ERROR") });
  const server = await startDevServer({ projectRoot });
  process.env.TEMPORAL_ADDRESS = server.address;
  // The upstream starts first (its URL goes into the config); its kit is bound once countersign runs.
  const late: { kit?: ToolServerKit } = {};
  const tools = await startToolsServer({
    kit: { verifyAndRedeem: (g, c, o) => (late.kit as ToolServerKit).verifyAndRedeem(g, c, o), verify: (g, c) => (late.kit as ToolServerKit).verify(g, c) },
  });
  const stack = await startStack({ mcp: { upstreams: { payments: { url: tools.url, audience: PAYMENTS_SERVER, tools: ["payments.lookup", "payments.refund", "payments.bulk_refund"] } } } });
  late.kit = createToolServerKit({ countersignUrl: stack.baseUrl, issuer: stack.config.issuer, audience: PAYMENTS_SERVER, workloadToken: () => stack.ids.agentToken(PAYMENTS_SERVER) });

  const headers = {
    authorization: `Bearer ${await stack.ids.principalToken("alice", { aud: "http://countersign.test/mcp", expiresInSeconds: 3600 })}`,
    "workload-identity-token": await stack.ids.agentToken(AGENT, { expiresInSeconds: 3600 }),
  };
  const withHeaders: typeof fetch = (input, init) => {
    const h = new Headers(init?.headers);
    for (const [k, v] of Object.entries(headers)) h.set(k, v);
    return fetch(input, { ...init, headers: h });
  };
  const viaGateway = new Client({ name: "bench-agent", version: "0" }, PIN);
  await viaGateway.connect(new StreamableHTTPClientTransport(new URL(`${stack.baseUrl}/mcp`), { fetch: withHeaders }));
  let grant = "";
  const direct = new Client({ name: "bench-direct", version: "0" }, PIN);
  await direct.connect(new StreamableHTTPClientTransport(new URL(tools.url), { authProvider: { token: () => Promise.resolve(grant) } }));

  const samples = { direct: [] as number[], agent: [] as number[], gateway: [] as number[], listDirect: [] as number[], listGateway: [] as number[] };
  const args = { payment_id: "pay_1042" };
  const ok = (r: unknown): void => {
    const result = r as { isError?: boolean; content: Array<{ text?: string }> };
    if (result.isError === true) throw new Error(`refused: ${result.content[0]?.text ?? ""}`);
  };
  try {
    for (let i = 0; i <= rounds; i++) {
      const body = refundRequest({ tool: "payments.lookup", arguments: args });
      const t0 = performance.now();
      const filed = await stack.http("POST", "/v1/approvals", await stack.agentHeaders("alice"), body);
      const t1 = performance.now();
      const view = filed.body as { grant?: unknown };
      if (filed.status !== 200 || typeof view.grant !== "string") throw new Error(`lookup not approved at once: ${filed.status}`);
      grant = view.grant;
      ok(await direct.callTool({ name: "payments.lookup", arguments: args }));
      const t2 = performance.now();
      ok(await viaGateway.callTool({ name: "payments.lookup", arguments: args, _meta: { "countersign/intent": { taskId: "bench", summary: "bench" }, "countersign/requestId": `bench-${i}` } }));
      const t3 = performance.now();
      await direct.listTools();
      const t4 = performance.now();
      await viaGateway.listTools();
      const t5 = performance.now();
      if (i === 0) continue; // warm-up round: connections, JIT, first list
      samples.direct.push(t2 - t1);
      samples.agent.push(t2 - t0);
      samples.gateway.push(t3 - t2);
      samples.listDirect.push(t4 - t3);
      samples.listGateway.push(t5 - t4);
    }
  } finally {
    await viaGateway.close();
    await direct.close();
    await stack.stop();
    await tools.close();
    await server.stop();
  }
  const added = stats(samples.gateway).p50 - stats(samples.direct).p50;
  console.log(`countersign MCP gateway bench — ${new Date().toISOString()} — node ${process.version}, protocol 2026-07-28, load average ${(await import("node:os")).loadavg().map((l) => l.toFixed(2)).join(" ")}`);
  console.log(`${"milliseconds (payments.lookup, no approver)".padEnd(52)} ${"n".padStart(5)} ${"p50".padStart(8)} ${"p95".padStart(8)} ${"max".padStart(8)}`);
  console.log(row("direct upstream tools/call with a grant (redeemed)", samples.direct));
  console.log(row("agent API: POST /v1/approvals + direct call", samples.agent));
  console.log(row("tools/call through the gateway", samples.gateway));
  console.log(row("tools/list direct", samples.listDirect));
  console.log(row("tools/list through the gateway (cached list)", samples.listGateway));
  console.log(`gateway adds ${added.toFixed(1)} ms (p50) over the direct call, ${(stats(samples.gateway).p50 / stats(samples.direct).p50).toFixed(2)}× its time; ${(stats(samples.gateway).p50 - stats(samples.agent).p50).toFixed(1)} ms over an agent that files and calls itself`);
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
