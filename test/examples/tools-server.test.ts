// The example MCP tools server (examples/tools-server.ts) with the MCP SDK's real client over HTTP, on
// both protocol revisions, against a real countersign: it acts only on a grant for that exact call,
// once, and tells a refusal by countersign's code.
import assert from "node:assert/strict";
import { Client, StreamableHTTPClientTransport } from "@modelcontextprotocol/client";
import { startToolsServer, type RunningToolsServer } from "../../examples/tools-server.js";
import { createToolServerKit } from "../../src/kit/index.js";
import { PAYMENTS_SERVER, refundRequest, requestPendingRefund, startStack, type TestStack } from "../support/stack.js";

const REVISIONS = [
  { label: "2026-07-28", versionNegotiation: { mode: { pin: "2026-07-28" } }, era: "modern" },
  { label: "2025-11-25", versionNegotiation: undefined, era: "legacy" },
] as const;

describe("example MCP tools server: grants only, each call once (SDK client, real countersign)", function () {
  this.timeout(30_000);
  let stack: TestStack;
  let tools: RunningToolsServer;
  before(async function () {
    stack = await startStack();
    const kit = createToolServerKit({ countersignUrl: stack.baseUrl, issuer: stack.config.issuer, audience: PAYMENTS_SERVER, workloadToken: () => stack.ids.agentToken(PAYMENTS_SERVER) });
    tools = await startToolsServer({ kit });
  });
  after(async function () {
    await tools.close();
    await stack.stop();
  });

  for (const revision of REVISIONS) {
    describe(`protocol ${revision.label}`, function () {
      /** An MCP client presenting `grant` as its bearer token (none: no Authorization header). */
      async function connect(grant?: string): Promise<Client> {
        const client = new Client({ name: "countersign-test", version: "0.0.1" }, revision.versionNegotiation !== undefined ? { versionNegotiation: revision.versionNegotiation } : {});
        await client.connect(new StreamableHTTPClientTransport(new URL(tools.url), grant !== undefined ? { authProvider: { token: () => Promise.resolve(grant) } } : {}));
        return client;
      }

      async function call(grant: string | undefined, name: string, args: Record<string, unknown>): Promise<{ text: string; isError: boolean }> {
        const client = await connect(grant);
        try {
          const result = (await client.callTool({ name, arguments: args })) as { content: Array<{ text?: string }>; isError?: boolean };
          return { text: result.content[0]?.text ?? "", isError: result.isError === true };
        } finally {
          await client.close();
        }
      }

      it("lists the three tools", async function () {
        const client = await connect();
        try {
          assert.equal(client.getProtocolEra(), revision.era, "the client speaks the revision under test");
          const { tools: listed } = await client.listTools();
          assert.deepEqual(listed.map((t) => t.name).sort(), ["payments.bulk_refund", "payments.lookup", "payments.refund"]);
        } finally {
          await client.close();
        }
      });

      it("runs a low-risk call policy allowed at once, with its grant, once", async function () {
        const args = { payment_id: "pay_1042" };
        const filed = await stack.http("POST", "/v1/approvals", await stack.agentHeaders("alice"), refundRequest({ tool: "payments.lookup", arguments: args }));
        assert.equal(filed.body.status, "approved", JSON.stringify(filed.body));
        const before = tools.executions.length;
        const first = await call(filed.body.grant as string, "payments.lookup", args);
        assert.deepEqual(first, { text: "pay_1042: settled, 4200 EUR cents", isError: false });
        assert.match((await call(filed.body.grant as string, "payments.lookup", args)).text, /refused: grant_already_redeemed/);
        assert.equal(tools.executions.length, before + 1, "executed once");
      });

      it("runs an approved refund once; refuses a missing grant, a grant for other arguments and a replayed grant", async function () {
        const args = { payment_id: "pay_1042", amount_cents: 4200, currency: "EUR" };
        const { id } = await requestPendingRefund(stack, { arguments: args });
        await stack.decide(id, "bob", "approve");
        const grant = await stack.grantOf(id);
        const before = tools.executions.length;
        assert.match((await call(undefined, "payments.refund", args)).text, /grant for this call is required/);
        assert.match((await call(grant, "payments.refund", { ...args, amount_cents: 420000 })).text, /refused: binding_mismatch/);
        assert.equal(tools.executions.length, before, "nothing ran");
        assert.deepEqual(await call(grant, "payments.refund", args), { text: "refunded 4200 EUR cents on pay_1042", isError: false });
        assert.match((await call(grant, "payments.refund", args)).text, /refused: grant_already_redeemed/);
        assert.equal(tools.executions.length, before + 1, "executed once");
        assert.deepEqual(tools.executions.at(-1), { tool: "payments.refund", arguments: args, principal: "alice", approvalId: id });
      });
    });
  }
});
