// An upstream MCP tool server that accepts only countersign grants, built on the tool-server kit:
// one low-risk tool (payments.lookup) and two high-risk ones (payments.refund, payments.bulk_refund).
// Every tools/call must carry `Authorization: Bearer <grant>` for that exact call; the server verifies
// and redeems it before it acts, so each approved call runs exactly once. Streamable HTTP, stateless,
// on both protocol revisions the MCP SDK serves (2026-07-28 and 2025-11-25).
//   node dist/examples/tools-server.js      serve on 127.0.0.1:8788 for `countersign dev` (demo identities)
import { pathToFileURL } from "node:url";
import { resolve } from "node:path";
import { Hono } from "hono";
import { createMcpHandler, McpServer } from "@modelcontextprotocol/server";
import { z } from "zod";
import { loadConfig } from "../src/config.js";
import { demoWorkloadToken } from "../src/demo/identities.js";
import { CountersignError, createToolServerKit, type ToolServerKit } from "../src/kit/index.js";
import { readDevRecord } from "../src/runtime/dev-record.js";
import { listen } from "../src/server/serve.js";

/** One call the server acted on (after its grant was redeemed). */
export interface Execution {
  tool: string;
  arguments: unknown;
  principal: string;
  approvalId: string;
}

export interface RunningToolsServer {
  /** The MCP endpoint: `<base>/mcp`. */
  url: string;
  executions: Execution[];
  close(): Promise<void>;
}

const PaymentId = z.string().regex(/^pay_[A-Za-z0-9]{1,32}$/);

/** The grant of a request: `Authorization: Bearer <grant>`, or undefined. */
function grantOf(request: Request | undefined): string | undefined {
  const match = /^bearer ([A-Za-z0-9._~+/-]+=*)$/i.exec(request?.headers.get("authorization") ?? "");
  return match?.[1];
}

function refusal(text: string): { content: Array<{ type: "text"; text: string }>; isError: true } {
  return { content: [{ type: "text", text }], isError: true };
}

/** Serve the example tools on `host:port` (port 0: a free one), redeeming grants with `kit`. */
export async function startToolsServer(opts: { kit: ToolServerKit; host?: string; port?: number }): Promise<RunningToolsServer> {
  const executions: Execution[] = [];

  const buildServer = ({ requestInfo }: { requestInfo?: Request }): McpServer => {
    const server = new McpServer({ name: "countersign-example-tools", version: "0.1.0" }, { capabilities: { tools: {} } });
    const grant = grantOf(requestInfo);
    // Verify and redeem this call's grant, then act; a refusal is a tool error naming countersign's code.
    const guarded = <A extends Record<string, unknown>>(tool: string, act: (args: A) => string) => async (args: A) => {
      if (grant === undefined) return refusal("a countersign grant for this call is required (Authorization: Bearer <grant>)");
      try {
        const redeemed = await opts.kit.verifyAndRedeem(grant, { tool, arguments: args });
        executions.push({ tool, arguments: args, principal: redeemed.principal, approvalId: redeemed.approvalId });
        return { content: [{ type: "text" as const, text: act(args) }] };
      } catch (err) {
        if (err instanceof CountersignError) return refusal(`refused: ${err.code}`);
        throw err;
      }
    };
    server.registerTool(
      "payments.lookup",
      { description: "Look up a payment (read-only).", inputSchema: z.object({ payment_id: PaymentId }) },
      guarded("payments.lookup", (a: { payment_id: string }) => `${a.payment_id}: settled, 4200 EUR cents`),
    );
    server.registerTool(
      "payments.refund",
      {
        description: "Refund a payment (needs an approver).",
        inputSchema: z.object({ payment_id: PaymentId, amount_cents: z.number().int().positive(), currency: z.string().length(3), card_number: z.string().optional() }),
      },
      guarded("payments.refund", (a: { payment_id: string; amount_cents: number; currency: string }) => `refunded ${a.amount_cents} ${a.currency} cents on ${a.payment_id}`),
    );
    server.registerTool(
      "payments.bulk_refund",
      {
        description: "Refund many payments (needs two approvers).",
        inputSchema: z.object({ payments: z.array(z.object({ payment_id: PaymentId, amount_cents: z.number().int().positive() })).min(1).max(100), currency: z.string().length(3) }),
      },
      guarded("payments.bulk_refund", (a: { payments: unknown[]; currency: string }) => `refunded ${a.payments.length} payments in ${a.currency}`),
    );
    return server;
  };

  const handler = createMcpHandler(buildServer, { legacy: "stateless" });
  const app = new Hono();
  app.all("/mcp", (c) => handler.fetch(c.req.raw));
  const http = await listen(app, opts.host ?? "127.0.0.1", opts.port ?? 0);
  return {
    url: `${http.url}/mcp`,
    executions,
    close: async () => {
      await handler.close();
      await http.close();
    },
  };
}

// Run directly: the payments tool server of the running `countersign dev` (demo identities).
if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  const stateDir = resolve(process.env.COUNTERSIGN_STATE_DIR ?? ".countersign");
  const record = readDevRecord(stateDir);
  if (record === undefined) {
    console.error("no running `countersign dev` found (start it with `npm start`)");
    process.exit(1);
  }
  const kit = createToolServerKit({
    countersignUrl: record.serverUrl,
    issuer: loadConfig(record.configFile).issuer,
    audience: "spiffe://demo.test/tools/payments",
    workloadToken: () => demoWorkloadToken(stateDir, "tools/payments"),
  });
  const server = await startToolsServer({ kit, port: Number(process.env.PORT ?? 8788) });
  console.log(`example tools server (MCP) at ${server.url}`);
}
