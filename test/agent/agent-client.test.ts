// The agent client against a real countersign (HTTP server, Temporal dev server, worker): filing,
// waiting for the decision (and giving up on it), typed errors, idempotent retries.
import assert from "node:assert/strict";
import { createAgentClient, type AgentClient } from "../../src/agent/index.js";
import { AGENT, refundRequest, startStack, type TestStack } from "../support/stack.js";

describe("agent client: requestApproval and waitForDecision (real countersign)", function () {
  this.timeout(30_000);
  let stack: TestStack;
  before(async function () {
    stack = await startStack();
  });
  after(async function () {
    await stack.stop();
  });

  function client(overrides: Partial<Parameters<typeof createAgentClient>[0]> = {}): AgentClient {
    return createAgentClient({
      countersignUrl: stack.baseUrl,
      accessToken: () => stack.ids.principalToken("alice"),
      workloadToken: () => stack.ids.agentToken(AGENT),
      ...overrides,
    });
  }

  function request(overrides: Record<string, unknown> = {}): Parameters<AgentClient["requestApproval"]>[0] {
    const { requestId: _ignored, ...body } = refundRequest(overrides);
    return body as unknown as Parameters<AgentClient["requestApproval"]>[0];
  }

  it("files a request that waits for approvers, and waitForDecision returns the grant once bob approves", async function () {
    const filed = await client().requestApproval(request());
    assert.equal(filed.status, "pending");
    const waiting = client().waitForDecision(filed.id);
    await stack.decide(filed.id, "bob", "approve");
    const decided = await waiting;
    assert.equal(decided.status, "approved");
    assert.equal(typeof decided.grant, "string");
  });

  it("a request policy allows at once comes back approved, and one it forbids comes back denied", async function () {
    const kb = await client().requestApproval(request({ tool: "kb.search", arguments: { query: "refund policy" } }));
    assert.equal(kb.status, "approved");
    assert.equal(typeof kb.grant, "string");
    const drop = await client().requestApproval(request({ tool: "prod.db.drop", arguments: { table: "payments" } }));
    assert.equal(drop.status, "denied");
    assert.equal(drop.decision?.code, "policy_denied");
  });

  it("waitForDecision gives up at its timeout with the pending view, and an abort rejects at once", async function () {
    const filed = await client().requestApproval(request());
    const started = Date.now();
    const pending = await client().waitForDecision(filed.id, { timeoutMs: 1_000 });
    assert.equal(pending.status, "pending");
    assert.ok(Date.now() - started < 5_000, `gave up after ${Date.now() - started} ms`);
    const controller = new AbortController();
    const waiting = client().waitForDecision(filed.id, { signal: controller.signal });
    setTimeout(() => controller.abort(new Error("the agent moved on")), 200);
    const abortedAt = Date.now();
    await assert.rejects(waiting, /the agent moved on/);
    assert.ok(Date.now() - abortedAt < 3_000);
  });

  it("errors carry countersign's codes: a bad token, an unknown tool, a changed body under the same requestId", async function () {
    await assert.rejects(client({ accessToken: () => "not-a-token" }).requestApproval(request()), { code: "token_malformed" });
    await assert.rejects(client().requestApproval(request({ tool: "no.such.tool" })), { code: "unknown_tool" });
    const body = { ...request(), requestId: `same-${Date.now()}` };
    const first = await client().requestApproval(body);
    assert.equal((await client().requestApproval(body)).id, first.id, "the same requestId is the same approval");
    await assert.rejects(client().requestApproval({ ...body, reason: "something else" }), { code: "idempotency_conflict" });
  });

  it("a filing whose answer is lost is retried under the same requestId and files once", async function () {
    let posts = 0;
    const losing: typeof fetch = async (input, init) => {
      const res = await fetch(input, init);
      if (init?.method === "POST" && ++posts === 1) {
        await res.text();
        throw new TypeError("fetch failed: the answer was lost on the way back");
      }
      return res;
    };
    const filed = await client({ fetch: losing }).requestApproval(request());
    assert.equal(posts, 2);
    assert.equal(filed.status, "pending");
    const listed = await stack.client.workflow.count(`WorkflowId = '${filed.id}'`);
    assert.equal(listed.count, 1);
  });
});
