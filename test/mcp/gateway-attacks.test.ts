// Attacks on the MCP gateway at /mcp (review of the first cut): each test states what the README
// promises and fails while the gateway does otherwise. Same setup as gateway.test.ts: a real countersign
// (Temporal dev server, worker), the example tools server as the upstream, raw HTTP where the SDK's
// client would not send what an attacker sends. The two "went away" tests pass on the reviewed code:
// kept as regression probes (a disconnected blocking caller starts no upstream call, on both eras).
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { startToolsServer, type RunningToolsServer } from "../../examples/tools-server.js";
import { CountersignError, createToolServerKit, type ToolServerKit } from "../../src/kit/index.js";
import { legacyPost, mcpHeaders, modernPost, rpcBody, textOf, type ToolResult } from "../support/mcp.js";
import { PAYMENTS_SERVER, requestPendingRefund, startStack, type TestStack } from "../support/stack.js";

/** A payment id unique to this run (approval ids derive from the arguments, so runs never share one). */
const RUN = randomUUID().replace(/-/g, "").slice(0, 12);
const TASK = { taskId: "ticket-1042", summary: "Refund the duplicate charge" };
const RETENTION_SECONDS = 2;


describe("MCP gateway attacks (review)", function () {
  this.timeout(60_000);
  let stack: TestStack;
  let tools: RunningToolsServer;
  let kit: ToolServerKit | undefined;
  /** When set, the upstream's next redemption fails as if countersign were briefly unreachable from it. */
  let failNextRedeem = false;

  before(async function () {
    const lateKit: ToolServerKit = {
      verifyAndRedeem: (grant, call, opts) => {
        if (failNextRedeem) {
          failNextRedeem = false;
          return Promise.reject(new CountersignError("unavailable", "countersign did not answer"));
        }
        return (kit as ToolServerKit).verifyAndRedeem(grant, call, opts);
      },
      verify: (grant, call) => (kit as ToolServerKit).verify(grant, call),
    };
    tools = await startToolsServer({ kit: lateKit });
    stack = await startStack({
      mcp: {
        waitSeconds: 4,
        progressEverySeconds: 1,
        resultRetentionSeconds: RETENTION_SECONDS,
        upstreams: { payments: { url: tools.url, audience: PAYMENTS_SERVER, tools: ["payments.lookup", "payments.refund", "payments.bulk_refund"] } },
      },
      toolExtras: { "payments.bulk_refund": { scopes: ["payments:bulk"] }, "payments.refund": { scopes: ["payments:refund"] } },
    });
    kit = createToolServerKit({ countersignUrl: stack.baseUrl, issuer: stack.config.issuer, audience: PAYMENTS_SERVER, workloadToken: () => stack.ids.agentToken(PAYMENTS_SERVER) });
  });
  after(async function () {
    await tools.close();
    await stack.stop();
  });

  const headersFor = (opts: Parameters<typeof mcpHeaders>[1] = {}): Promise<Record<string, string>> => mcpHeaders(stack, opts);

  async function openIds(tool: string): Promise<string[]> {
    return (await stack.approvals.pending("acme")).filter((a) => a.tool === tool).map((a) => a.id);
  }

  async function pendingApproval(tool: string, known: string[], tries = 100): Promise<string | undefined> {
    for (let i = 0; i < tries; i += 1) {
      const open = (await stack.approvals.pending("acme")).filter((a) => a.tool === tool && a.status === "pending" && !known.includes(a.id));
      if (open[0] !== undefined) return open[0].id;
      await new Promise((r) => setTimeout(r, 100));
    }
    return undefined;
  }

  const post = (headers: Record<string, string>, body: unknown, signal?: AbortSignal): Promise<Response> => legacyPost(stack, headers, body, signal);
  const modernRpc = (method: string, params: Record<string, unknown>, headers: Record<string, string>, name?: string, declareTasks = true, signal?: AbortSignal): Promise<Response> =>
    modernPost(stack, method, params, headers, { ...(name !== undefined ? { name } : {}), declareTasks, ...(signal !== undefined ? { signal } : {}) });

  it("refuses a tools/call wrapped in a JSON-RPC batch array without the tool's scope (403, nothing filed)", async function () {
    // README: "A tools/call of a tool whose catalog entry lists scopes needs them too: otherwise 403
    // insufficient_scope ..., before anything is filed." The gate reads only a single-object body.
    const headers = await headersFor(); // countersign:request only: no payments:bulk
    const known = await openIds("payments.bulk_refund");
    const giveUp = new AbortController();
    const call = {
      jsonrpc: "2.0",
      id: 1,
      method: "tools/call",
      params: { name: "payments.bulk_refund", arguments: { currency: "EUR", payments: [{ payment_id: `pay_b1${RUN}`, amount_cents: 1 }] }, _meta: { "countersign/intent": { ...TASK, summary: "batch bypass" } } },
    };
    const res = await post(headers, [call], giveUp.signal);
    try {
      const filed = await pendingApproval("payments.bulk_refund", known, 30);
      assert.equal(filed, undefined, `a bulk refund was filed for a caller without payments:bulk (approval ${filed})`);
      assert.equal(res.status, 403);
    } finally {
      giveUp.abort();
      await res.body?.cancel().catch(() => undefined);
    }
  });

  it("does not call a scoped tool upstream on tasks/get for a caller whose token lacks the tool's scope", async function () {
    // The per-tool scope is checked for tools/call only; tasks/get (and tasks/update) settle the
    // caller's approved approval, which calls the upstream with no scope check at all.
    const before = tools.executions.length;
    const { id } = await requestPendingRefund(stack, { arguments: { payment_id: `pay_s1${RUN}`, amount_cents: 11, currency: "EUR" } });
    await stack.decide(id, "bob", "approve");
    const headers = await headersFor(); // no payments:refund
    const polled = await rpcBody(await modernRpc("tasks/get", { taskId: id }, headers, id));
    assert.equal(tools.executions.filter((e) => e.approvalId === id).length, 0, `the gateway ran payments.refund for a token without payments:refund: ${JSON.stringify(polled)}`);
    assert.equal(tools.executions.length, before);
  });

  for (const era of ["legacy", "modern"] as const) {
    it(`a blocking caller (${era}) that went away before the approval starts no upstream call`, async function () {
      // gateway.ts follow(): "A caller that went away (or a gateway shutting down) starts no upstream call."
      const headers = await headersFor({ scope: "countersign:request payments:refund" });
      const before = tools.executions.length;
      const known = await openIds("payments.refund");
      const args = { payment_id: `pay_d${era}${RUN}`, amount_cents: 12, currency: "EUR" };
      const meta = { "countersign/intent": { ...TASK, summary: `disconnect ${era}` } };
      const giveUp = new AbortController();
      const sent =
        era === "legacy"
          ? post(headers, { jsonrpc: "2.0", id: 7, method: "tools/call", params: { name: "payments.refund", arguments: args, _meta: meta } }, giveUp.signal)
          : modernRpc("tools/call", { name: "payments.refund", arguments: args, _meta: meta }, headers, "payments.refund", false, giveUp.signal);
      const settled = sent
        .then(async (r) => {
          await r.text();
          return "answered";
        })
        .catch(() => "aborted");
      const id = await pendingApproval("payments.refund", known);
      assert.ok(id !== undefined);
      await new Promise((r) => setTimeout(r, 300));
      giveUp.abort();
      assert.equal(await settled, "aborted");
      await new Promise((r) => setTimeout(r, 300));
      await stack.decide(id, "bob", "approve");
      await new Promise((r) => setTimeout(r, 2500));
      assert.equal(tools.executions.filter((e) => e.approvalId === id).length, 0, "the upstream was called for a caller that had gone away");
      assert.equal(tools.executions.length, before);
    });
  }

  it("answers the same low-risk lookup again after the retention window (not a permanent refusal)", async function () {
    // Two calls at different times with the same arguments are folded onto one approval; once the held
    // result is gone the call is refused with grant_already_redeemed for good, for any client that does
    // not know countersign's private _meta["countersign/requestId"].
    const headers = await headersFor();
    const call = { jsonrpc: "2.0", id: 3, method: "tools/call", params: { name: "payments.lookup", arguments: { payment_id: `pay_l1${RUN}` }, _meta: { "countersign/intent": { ...TASK, summary: "lookup twice" } } } };
    const first = (await rpcBody(await post(headers, call))).result as ToolResult;
    assert.equal(textOf(first), `pay_l1${RUN}: settled, 4200 EUR cents`);
    await new Promise((r) => setTimeout(r, RETENTION_SECONDS * 1000 + 500));
    const second = (await rpcBody(await post(headers, call))).result as ToolResult;
    assert.equal(textOf(second), `pay_l1${RUN}: settled, 4200 EUR cents`, textOf(second));
  });

  it("does not hold an upstream refusal of an unspent grant as the call's result: the retry runs it", async function () {
    // The upstream refused before acting (its redemption failed: countersign briefly unreachable from
    // it), so the grant is unspent and the approval still approved. gateway.ts holds that tool error
    // for resultRetentionSeconds anyway, and every retry in that window gets it instead of the call.
    const headers = await headersFor();
    const call = { jsonrpc: "2.0", id: 4, method: "tools/call", params: { name: "payments.lookup", arguments: { payment_id: `pay_t1${RUN}` }, _meta: { "countersign/intent": { ...TASK, summary: "transient upstream" } } } };
    failNextRedeem = true;
    const first = (await rpcBody(await post(headers, call))).result as ToolResult;
    assert.equal(textOf(first), "refused: unavailable");
    const id = (first._meta?.["countersign/approval"] as { id: string }).id;
    assert.equal((await stack.approvals.state(id)).status, "approved", "the grant is unspent");
    const retry = (await rpcBody(await post(headers, call))).result as ToolResult;
    assert.equal(textOf(retry), `pay_t1${RUN}: settled, 4200 EUR cents`, "the retry of an unspent approved call runs it");
  });
});
