// The MCP gateway at /mcp (README "MCP gateway") with the MCP SDK's real client over HTTP, on both
// protocol revisions, against a real countersign (Temporal dev server, worker) and the example tools
// server as the upstream: resource-server auth, tools/list, a low-risk call passing through with a
// grant, a high-risk call that pauses (blocking with progress, or a task) and resumes after approval,
// denial, the wait limit, restarts, and what the upstream receives.
import assert from "node:assert/strict";
import { Client, StreamableHTTPClientTransport } from "@modelcontextprotocol/client";
import { decodeJwt } from "jose";
import { z } from "zod";
import { startToolsServer, type RunningToolsServer } from "../../examples/tools-server.js";
import { createToolServerKit, type ToolServerKit } from "../../src/kit/index.js";
import { TASKS_EXTENSION } from "../../src/mcp/index.js";
import { mcpHeaders, modernPost, RESOURCE, rpcBody, textOf, type ToolResult } from "../support/mcp.js";
import { AGENT, OTHER_AGENT, PAYMENTS_SERVER, startStack, type TestStack } from "../support/stack.js";
import { signWithUnknownKey, agentClaims } from "../support/tokens.js";

const REVISIONS = [
  { label: "2026-07-28", versionNegotiation: { mode: { pin: "2026-07-28" } }, era: "modern" },
  { label: "2025-11-25", versionNegotiation: undefined, era: "legacy" },
] as const;
const TASK = { taskId: "ticket-1042", summary: "Refund the duplicate charge" };

interface Received {
  url: string;
  headers: Record<string, string>;
  body: string;
}


describe("MCP gateway at /mcp (SDK client, real countersign, example upstream)", function () {
  this.timeout(60_000);
  let stack: TestStack;
  let tools: RunningToolsServer;
  const received: Received[] = [];
  let kit: ToolServerKit | undefined;

  before(async function () {
    // The upstream is started first (its URL goes into the config); its kit is bound once countersign runs.
    const lateKit: ToolServerKit = {
      verifyAndRedeem: (grant, call, opts) => (kit as ToolServerKit).verifyAndRedeem(grant, call, opts),
      verify: (grant, call) => (kit as ToolServerKit).verify(grant, call),
    };
    tools = await startToolsServer({ kit: lateKit });
    const recording: typeof fetch = async (input, init) => {
      const headers: Record<string, string> = {};
      new Headers(init?.headers).forEach((v, k) => (headers[k] = v));
      received.push({ url: String(input instanceof Request ? input.url : input), headers, body: typeof init?.body === "string" ? init.body : "" });
      return fetch(input, init);
    };
    stack = await startStack({
      mcp: { waitSeconds: 4, progressEverySeconds: 1, upstreams: { payments: { url: tools.url, audience: PAYMENTS_SERVER, tools: ["payments.lookup", "payments.refund", "payments.bulk_refund"] } } },
      toolExtras: { "payments.bulk_refund": { scopes: ["payments:bulk"] } },
      upstreamFetch: recording,
    });
    kit = createToolServerKit({ countersignUrl: stack.baseUrl, issuer: stack.config.issuer, audience: PAYMENTS_SERVER, workloadToken: () => stack.ids.agentToken(PAYMENTS_SERVER) });
  });
  after(async function () {
    await tools.close();
    await stack.stop();
  });

  const headersFor = (opts: Parameters<typeof mcpHeaders>[1] = {}): Promise<Record<string, string>> => mcpHeaders(stack, opts);

  /**
   * The SDK's client with these headers. It declares the tasks extension only when asked: the SDK (2.4)
   * has no runtime for task results and refuses them, so a client that declares it must poll by hand.
   */
  async function connect(revision: (typeof REVISIONS)[number], headers?: Record<string, string>, base = stack.baseUrl, declareTasks = false): Promise<Client> {
    const sent = headers ?? (await headersFor());
    const client = new Client({ name: "countersign-test-agent", version: "0.0.1" }, {
      ...(revision.versionNegotiation !== undefined ? { versionNegotiation: revision.versionNegotiation } : {}),
      ...(declareTasks ? { capabilities: { extensions: { [TASKS_EXTENSION]: {} } } } : {}),
    });
    const withHeaders: typeof fetch = (input, init) => {
      const h = new Headers(init?.headers);
      for (const [k, v] of Object.entries(sent)) h.set(k, v);
      return fetch(input, { ...init, headers: h });
    };
    await client.connect(new StreamableHTTPClientTransport(new URL(`${base}/mcp`), { fetch: withHeaders }));
    return client;
  }

  /** Ids of the open approvals now. */
  async function openIds(): Promise<string[]> {
    return (await stack.approvals.pending("acme")).map((a) => a.id);
  }

  /** The approval of `tool` filed since `known` was read, once it waits for approvers. */
  async function pendingApproval(tool: string, known: string[]): Promise<string> {
    for (let i = 0; i < 100; i += 1) {
      const open = (await stack.approvals.pending("acme")).filter((a) => a.tool === tool && a.status === "pending" && !known.includes(a.id));
      if (open.length > 1) throw new Error(`several new approvals of ${tool}`);
      if (open[0] !== undefined) return open[0].id;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`no pending approval of ${tool}`);
  }

  /** A raw JSON-RPC request on the 2026-07-28 wire (the SDK client refuses a task result for tools/call). */
  async function modernRpc(method: string, params: Record<string, unknown>, headers: Record<string, string>, name?: string, declareTasks = true): Promise<{ status: number; body: any }> { // eslint-disable-line @typescript-eslint/no-explicit-any
    const res = await modernPost(stack, method, params, headers, { ...(name !== undefined ? { name } : {}), declareTasks });
    return { status: res.status, body: await rpcBody(res) };
  }

  describe("resource server", function () {
    it("publishes Protected Resource Metadata (RFC 9728) at the well-known path of /mcp", async function () {
      const res = await stack.http("GET", "/.well-known/oauth-protected-resource/mcp", {});
      assert.equal(res.status, 200);
      assert.equal(res.body.resource, RESOURCE);
      assert.deepEqual(res.body.authorization_servers, ["https://idp.test"]);
      assert.deepEqual(res.body.bearer_methods_supported, ["header"]);
      const scopes = res.body.scopes_supported as string[];
      assert.ok(scopes.includes("countersign:request") && scopes.includes("payments:bulk"));
    });

    async function post(headers: Record<string, string>, body: unknown = { jsonrpc: "2.0", id: 1, method: "tools/list", params: {} }): Promise<Response> {
      return fetch(`${stack.baseUrl}/mcp`, { method: "POST", headers: { ...headers, "content-type": "application/json", accept: "application/json, text/event-stream", "mcp-protocol-version": "2025-11-25" }, body: JSON.stringify(body) });
    }

    it("answers a request without a token 401 with resource_metadata, and files nothing", async function () {
      const { authorization: _a, ...withoutToken } = await headersFor();
      const res = await post(withoutToken);
      assert.equal(res.status, 401);
      assert.match(res.headers.get("www-authenticate") ?? "", /^Bearer .*resource_metadata="http:\/\/countersign\.test\/\.well-known\/oauth-protected-resource\/mcp"/);
      assert.equal(((await res.json()) as { error: { code: string } }).error.code, "token_missing");
    });

    it("refuses a token for another audience (countersign's API) with 401 invalid_token", async function () {
      const res = await post(await headersFor({ aud: "countersign" }));
      assert.equal(res.status, 401);
      assert.match(res.headers.get("www-authenticate") ?? "", /error="invalid_token".*resource_metadata=/);
      assert.equal(((await res.json()) as { error: { code: string } }).error.code, "token_audience_mismatch");
    });

    it("refuses a token without the issuer's required scope with 403 insufficient_scope naming it", async function () {
      const res = await post(await headersFor({ scope: "openid" }));
      assert.equal(res.status, 403);
      assert.match(res.headers.get("www-authenticate") ?? "", /error="insufficient_scope", scope="countersign:request"/);
    });

    it("refuses a tools/call without the tool's own scope with 403 listing the scopes, before anything is filed", async function () {
      const before = (await stack.approvals.pending("acme")).length;
      const res = await post(await headersFor(), { jsonrpc: "2.0", id: 2, method: "tools/call", params: { name: "payments.bulk_refund", arguments: { currency: "EUR", payments: [{ payment_id: "pay_1", amount_cents: 1 }] } } });
      assert.equal(res.status, 403);
      assert.match(res.headers.get("www-authenticate") ?? "", /error="insufficient_scope", scope="countersign:request payments:bulk", resource_metadata=/);
      assert.equal(((await res.json()) as { error: { code: string } }).error.code, "insufficient_scope");
      assert.equal((await stack.approvals.pending("acme")).length, before, "nothing filed");
    });

    it("refuses a missing or invalid workload identity", async function () {
      const { "workload-identity-token": _w, ...withoutIdentity } = await headersFor();
      const missing = await post(withoutIdentity);
      assert.equal(missing.status, 401);
      assert.equal(((await missing.json()) as { error: { code: string } }).error.code, "token_missing");
      const forged = await post({ ...withoutIdentity, "workload-identity-token": await signWithUnknownKey(agentClaims({ spiffeId: AGENT })) });
      assert.equal(forged.status, 401);
      assert.equal(((await forged.json()) as { error: { code: string } }).error.code, "token_key_unknown");
    });
  });

  for (const revision of REVISIONS) {
    describe(`protocol ${revision.label}`, function () {
      it("lists the upstream's catalog tools, saying which need approval", async function () {
        const client = await connect(revision);
        try {
          assert.equal(client.getProtocolEra(), revision.era);
          const { tools: listed } = await client.listTools();
          assert.deepEqual(listed.map((t) => t.name).sort(), ["payments.bulk_refund", "payments.lookup", "payments.refund"]);
          const refund = listed.find((t) => t.name === "payments.refund");
          assert.match(refund?.description ?? "", /Needs approval \(countersign\): 1 of payments-approver/);
          assert.deepEqual(refund?._meta?.["countersign/approval"], { approval: "required", approverGroups: ["payments-approver"], quorum: 1 });
          assert.deepEqual(listed.find((t) => t.name === "payments.lookup")?._meta?.["countersign/approval"], { approval: "none" });
        } finally {
          await client.close();
        }
      });

      it("passes a low-risk call through with a grant for that call, which the upstream redeems; no agent or user token reaches it", async function () {
        const headers = await headersFor();
        const client = await connect(revision, headers);
        const before = tools.executions.length;
        const mark = received.length;
        try {
          const result = (await client.callTool({ name: "payments.lookup", arguments: { payment_id: "pay_1042" }, _meta: { "countersign/intent": { ...TASK, summary: `lookup ${revision.label}` } } })) as ToolResult;
          assert.equal(textOf(result), "pay_1042: settled, 4200 EUR cents");
          assert.equal(result.isError, undefined);
          assert.equal(tools.executions.length, before + 1);
          assert.deepEqual(tools.executions.at(-1)?.arguments, { payment_id: "pay_1042" });
        } finally {
          await client.close();
        }
        const sent = received.slice(mark);
        const calls = sent.filter((r) => r.body.includes('"tools/call"'));
        assert.equal(calls.length, 1, "one upstream tools/call");
        const grant = /^Bearer (.+)$/.exec(calls[0]?.headers.authorization ?? "")?.[1] ?? "";
        const claims = decodeJwt(grant);
        assert.equal(claims.aud, PAYMENTS_SERVER);
        assert.equal(claims.tool, "payments.lookup");
        for (const r of sent) {
          const all = JSON.stringify(r);
          assert.ok(!all.includes(headers.authorization?.slice(7) ?? "x") && !all.includes(headers["workload-identity-token"] ?? "x"), "the caller's tokens never go upstream");
          assert.equal(r.headers["workload-identity-token"], undefined);
        }
        // The grant is spent: replayed, or for other arguments, the upstream refuses it.
        const replay = new Client({ name: "replay", version: "0" });
        await replay.connect(new StreamableHTTPClientTransport(new URL(tools.url), { authProvider: { token: () => Promise.resolve(grant) } }));
        try {
          assert.match(textOf((await replay.callTool({ name: "payments.lookup", arguments: { payment_id: "pay_1042" } }))), /refused: grant_already_redeemed/);
          assert.match(textOf((await replay.callTool({ name: "payments.lookup", arguments: { payment_id: "pay_9999" } }))), /refused: binding_mismatch/);
        } finally {
          await replay.close();
        }
        assert.equal(tools.executions.length, before + 1, "neither ran");
      });

      it("pauses a high-risk call with progress, and resumes with the upstream's result once approved", async function () {
        const client = await connect(revision);
        const before = tools.executions.length;
        const args = { payment_id: "pay_2001", amount_cents: 1500, currency: "EUR" };
        const progress: string[] = [];
        try {
          const known = await openIds();
          const call = client.callTool({ name: "payments.refund", arguments: args, _meta: { "countersign/intent": { ...TASK, summary: `refund ${revision.label}` } } }, { onprogress: (p) => progress.push(String(p.message)), resetTimeoutOnProgress: true });
          const id = await pendingApproval("payments.refund", known);
          await new Promise((r) => setTimeout(r, 1200));
          assert.equal(tools.executions.length, before, "nothing runs before the approval");
          await stack.decide(id, "bob", "approve");
          const result = (await call) as ToolResult;
          assert.equal(textOf(result), "refunded 1500 EUR cents on pay_2001");
          assert.deepEqual(result._meta?.["countersign/approval"], { id, status: "approved" });
          assert.ok(progress.some((m) => m.startsWith(`waiting for approval ${id}: 0 of 1 from payments-approver, deadline `)), progress.join(" | "));
          assert.equal(tools.executions.length, before + 1);
          assert.equal(tools.executions.at(-1)?.approvalId, id);
        } finally {
          await client.close();
        }
      });

      it("returns a denied call's reason and never calls the upstream", async function () {
        const client = await connect(revision);
        const before = tools.executions.length;
        const mark = received.length;
        try {
          const known = await openIds();
          const call = client.callTool({ name: "payments.refund", arguments: { payment_id: "pay_3001", amount_cents: 99, currency: "EUR" }, _meta: { "countersign/intent": { ...TASK, summary: `deny ${revision.label}` } } });
          const id = await pendingApproval("payments.refund", known);
          await stack.decide(id, "bob", "deny", "not a duplicate");
          const result = (await call) as ToolResult;
          assert.equal(result.isError, true);
          assert.match(textOf(result), /countersign refused this call: denied_by_approver: not a duplicate/);
          assert.deepEqual(result._meta?.["countersign/approval"], { id, status: "denied", code: "denied_by_approver" });
        } finally {
          await client.close();
        }
        assert.equal(tools.executions.length, before);
        assert.equal(received.slice(mark).filter((r) => r.body.includes('"tools/call"')).length, 0, "no upstream call");
      });

      it("refuses at once what policy denies (carol is no support staff), and answers an unknown tool with -32602", async function () {
        const client = await connect(revision, await headersFor({ principal: "carol" }));
        const before = tools.executions.length;
        try {
          const denied = (await client.callTool({ name: "payments.lookup", arguments: { payment_id: "pay_1042" }, _meta: { "countersign/intent": TASK } })) as ToolResult;
          assert.equal(denied.isError, true);
          assert.match(textOf(denied), /^countersign refused this call: policy_denied: /);
          await assert.rejects(client.callTool({ name: "kb.search", arguments: {} }), (err: { code?: number }) => err.code === -32602);
          // Hostile _meta is refused with a code, and files nothing.
          const bad = (await client.callTool({ name: "payments.lookup", arguments: { payment_id: "pay_1042" }, _meta: { "countersign/intent": { taskId: 7 } } })) as ToolResult;
          assert.match(textOf(bad), /^countersign refused this call: invalid_request: _meta\["countersign\/intent"\]: taskId: /);
        } finally {
          await client.close();
        }
        assert.equal(tools.executions.length, before);
      });

      it("after the wait limit answers that the same call resumes it; the retry attaches to the same approval and gets the result once", async function () {
        const client = await connect(revision);
        const before = tools.executions.length;
        const args = { payment_id: "pay_4001", amount_cents: 700, currency: "EUR" };
        const meta = { "countersign/intent": { ...TASK, summary: `limit ${revision.label}` } };
        try {
          const first = (await client.callTool({ name: "payments.refund", arguments: args, _meta: meta })) as ToolResult;
          assert.equal(first.isError, true);
          const pending = first._meta?.["countersign/approval"] as { id: string; status: string; resume: boolean };
          assert.equal(pending.status, "pending");
          assert.equal(pending.resume, true);
          assert.match(textOf(first), /The call has not run\. Call payments\.refund again with the same arguments/);
          const retry = client.callTool({ name: "payments.refund", arguments: args, _meta: meta });
          await new Promise((r) => setTimeout(r, 500));
          await stack.decide(pending.id, "bob", "approve");
          const resumed = (await retry) as ToolResult;
          assert.equal(textOf(resumed), "refunded 700 EUR cents on pay_4001");
          assert.deepEqual(resumed._meta?.["countersign/approval"], { id: pending.id, status: "approved" });
          // Retried again after it ran: the same result, not a second execution.
          assert.deepEqual(await client.callTool({ name: "payments.refund", arguments: args, _meta: meta }), resumed);
          assert.equal(tools.executions.filter((e) => e.approvalId === pending.id).length, 1);
          assert.equal(tools.executions.length, before + 1);
        } finally {
          await client.close();
        }
      });

      it("executes an approved call once when the client retries concurrently and the gateway restarts mid-wait", async function () {
        const gatewayA = await stack.startServer();
        const args = { payment_id: "pay_5001", amount_cents: 321, currency: "EUR" };
        const meta = { "countersign/intent": { ...TASK, summary: `restart ${revision.label}` } };
        const before = tools.executions.length;
        const onA = await connect(revision, undefined, gatewayA.url);
        const known = await openIds();
        // The client gives up on its call when the gateway goes away (a 2025-11-25 client would otherwise keep trying to resume its stream there).
        const giveUp = new AbortController();
        const lost = onA.callTool({ name: "payments.refund", arguments: args, _meta: meta }, { signal: giveUp.signal }).then(
          () => "answered",
          () => "lost",
        );
        const id = await pendingApproval("payments.refund", known);
        await gatewayA.close(); // the gateway process goes away mid-wait
        giveUp.abort();
        assert.equal(await lost, "lost");
        await onA.close().catch(() => undefined);
        const gatewayB = await stack.startServer();
        const c1 = await connect(revision, undefined, gatewayB.url);
        const c2 = await connect(revision);
        try {
          const both = Promise.all([c1.callTool({ name: "payments.refund", arguments: args, _meta: meta }), c2.callTool({ name: "payments.refund", arguments: args, _meta: meta })]);
          await new Promise((r) => setTimeout(r, 500));
          await stack.decide(id, "bob", "approve");
          const [r1, r2] = (await both) as ToolResult[];
          const texts = [textOf(r1 as ToolResult), textOf(r2 as ToolResult)];
          // One gateway ran it; the other, with no result of its own, says it ran once and is not run again.
          assert.ok(texts.includes("refunded 321 EUR cents on pay_5001"), texts.join(" | "));
          for (const t of texts) assert.match(t, /refunded 321 EUR cents on pay_5001|grant_already_redeemed/);
        } finally {
          await c1.close();
          await c2.close();
          await gatewayB.close();
        }
        assert.equal(tools.executions.filter((e) => e.approvalId === id).length, 1, "executed exactly once");
        assert.equal(tools.executions.length, before + 1);
      });
    });
  }

  describe("tasks (2026-07-28 with the tasks extension)", function () {
    const Loose = z.looseObject({});

    it("turns a paused call into a task that follows the approval and completes with the upstream's result, once", async function () {
      const headers = await headersFor();
      const before = tools.executions.length;
      const args = { payment_id: "pay_6001", amount_cents: 4242, currency: "EUR" };
      const created = await modernRpc("tools/call", { name: "payments.refund", arguments: args, _meta: { "countersign/intent": { ...TASK, summary: "task path" } } }, headers, "payments.refund");
      assert.equal(created.status, 200, JSON.stringify(created.body));
      const task = created.body.result;
      assert.equal(task.resultType, "task");
      assert.equal(task.status, "working");
      assert.match(task.taskId, /^appr_/);
      assert.match(task.statusMessage, new RegExp(`^waiting for approval ${task.taskId}: 0 of 1 from payments-approver`));

      const client = await connect(REVISIONS[0], headers, stack.baseUrl, true);
      try {
        const polled = await client.request({ method: "tasks/get", params: { taskId: task.taskId } }, Loose);
        assert.equal(polled.status, "working");
        // Another principal, or another agent of the same principal: the task does not exist for them.
        for (const other of [await headersFor({ principal: "carol" }), await headersFor({ agent: OTHER_AGENT })]) {
          const foreign = await modernRpc("tasks/get", { taskId: task.taskId }, other, task.taskId);
          assert.equal(foreign.body.error?.code, -32602, JSON.stringify(foreign.body));
          assert.match(foreign.body.error?.message, /Task not found/);
        }
        // Without the extension declared, tasks/get is refused.
        const undeclared = await modernRpc("tasks/get", { taskId: task.taskId }, headers, task.taskId, false);
        assert.equal(undeclared.body.error?.code, -32021);
        assert.equal(tools.executions.length, before);

        await stack.decide(task.taskId as string, "bob", "approve");
        let done: Record<string, unknown> = polled;
        for (let i = 0; i < 50 && done.status === "working"; i += 1) {
          await new Promise((r) => setTimeout(r, 200));
          done = await client.request({ method: "tasks/get", params: { taskId: task.taskId } }, Loose);
        }
        assert.equal(done.status, "completed", JSON.stringify(done));
        assert.equal(textOf(done.result as ToolResult), "refunded 4242 EUR cents on pay_6001");
        const again = await client.request({ method: "tasks/get", params: { taskId: task.taskId } }, Loose);
        assert.deepEqual(again.result, done.result);
      } finally {
        await client.close();
      }
      assert.equal(tools.executions.filter((e) => e.approvalId === task.taskId).length, 1);
      assert.equal(tools.executions.length, before + 1);
    });

    it("authorizes every task request like the call that started it: a token whose tasks no longer cover it gets 403 intent_mismatch", async function () {
      const task = (tools: string[]): unknown[] => [{ type: "agent_task", task_id: "ticket-1042", tools }];
      const covered = { ...(await headersFor()), authorization: `Bearer ${await stack.ids.principalToken("alice", { aud: RESOURCE, authorization_details: task(["payments.refund"]) })}` };
      const created = await modernRpc("tools/call", { name: "payments.refund", arguments: { payment_id: "pay_9001", amount_cents: 9, currency: "EUR" }, _meta: { "countersign/intent": { summary: "narrowed later" } } }, covered, "payments.refund");
      const taskId = created.body.result.taskId as string;
      assert.equal(created.body.result.status, "working", JSON.stringify(created.body));
      const narrowed = { ...covered, authorization: `Bearer ${await stack.ids.principalToken("alice", { aud: RESOURCE, authorization_details: task(["payments.lookup"]) })}` };
      const refused = await fetch(`${stack.baseUrl}/mcp`, {
        method: "POST",
        headers: { ...narrowed, "content-type": "application/json", accept: "application/json, text/event-stream", "mcp-protocol-version": "2026-07-28", "mcp-method": "tasks/get", "mcp-name": taskId },
        body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tasks/get", params: { taskId } }),
      });
      assert.equal(refused.status, 403);
      assert.equal(((await refused.json()) as { error: { code: string } }).error.code, "intent_mismatch");
      assert.equal((await modernRpc("tasks/cancel", { taskId }, covered, taskId)).body.result?.resultType, "complete");
    });

    it("a cancelled task revokes its approval: it ends cancelled and nothing runs", async function () {
      const headers = await headersFor();
      const before = tools.executions.length;
      const created = await modernRpc("tools/call", { name: "payments.refund", arguments: { payment_id: "pay_7001", amount_cents: 5, currency: "EUR" }, _meta: { "countersign/intent": { ...TASK, summary: "cancel me" } } }, headers, "payments.refund");
      const taskId = created.body.result.taskId as string;
      const cancelled = await modernRpc("tasks/cancel", { taskId }, headers, taskId);
      assert.equal(cancelled.body.result?.resultType, "complete", JSON.stringify(cancelled.body));
      const polled = await modernRpc("tasks/get", { taskId }, headers, taskId);
      assert.equal(polled.body.result.status, "cancelled");
      assert.equal((await stack.approvals.state(taskId)).status, "revoked");
      await assert.rejects(stack.decide(taskId, "bob", "approve"), { code: "approval_not_pending" });
      assert.equal(tools.executions.length, before);
    });

    it("a client that did not declare tasks gets the blocking path on 2026-07-28 too", async function () {
      const headers = await headersFor();
      const known = await openIds();
      const answer = modernRpc("tools/call", { name: "payments.refund", arguments: { payment_id: "pay_8001", amount_cents: 8, currency: "EUR" }, _meta: { "countersign/intent": { ...TASK, summary: "no tasks" } } }, headers, "payments.refund", false);
      const id = await pendingApproval("payments.refund", known);
      await stack.decide(id, "bob", "approve");
      const result = (await answer).body.result as ToolResult;
      assert.equal(textOf(result), "refunded 8 EUR cents on pay_8001");
    });
  });
});
