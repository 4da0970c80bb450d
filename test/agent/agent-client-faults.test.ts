// The agent client under faults, with a scripted fetch or a fake server on loopback (no Temporal): timeouts, lost bodies, aborts, answers that come back at once, redirects.
import assert from "node:assert/strict";
import { createServer, type Server } from "node:http";
import { createAgentClient, CountersignError, type AgentClientOptions } from "../../src/agent/index.js";

const REQUEST = { tenant: "acme", tool: "payments.refund", arguments: { payment_id: "pay_1042" }, intent: { taskId: "t-1", summary: "refund" } };
const PENDING = { id: "appr-1", status: "pending", tenant: "acme", tool: "payments.refund" };

function client(fetchImpl: typeof fetch, overrides: Partial<AgentClientOptions> = {}) {
  return createAgentClient({ countersignUrl: "http://countersign.invalid", accessToken: () => "principal-token", workloadToken: () => "agent-jwt-svid", fetch: fetchImpl, ...overrides });
}

/** A fetch that never answers: it only rejects when its signal aborts (a stalled server or a lost answer). */
function stalled(calls: { bodies: string[] }): typeof fetch {
  return (_input, init) =>
    new Promise<Response>((_resolve, reject) => {
      calls.bodies.push(typeof init?.body === "string" ? init.body : "");
      const signal = init?.signal;
      signal?.addEventListener("abort", () => reject(signal.reason as Error), { once: true });
    });
}

describe("agent client", function () {
  this.timeout(20_000);
  const servers: Server[] = [];
  afterEach(async function () {
    await Promise.all(servers.splice(0).map((s) => new Promise((done) => s.close(done))));
  });

  it("a filing whose answer never comes is a CountersignError `unavailable`, retried under the same requestId", async function () {
    const calls = { bodies: [] as string[] };
    const err: unknown = await client(stalled(calls), { timeoutMs: 200, attempts: 2 })
      .requestApproval(REQUEST)
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    assert.ok(err instanceof CountersignError, `rejected with ${String(err)} (${(err as Error | undefined)?.name}), not a CountersignError`);
    assert.equal(err.code, "unavailable");
    assert.equal(calls.bodies.length, 2, "a timed-out (lost) answer is retried");
  });

  it("a 200 whose body is lost on the way is retried like any lost answer, not reported as `internal`", async function () {
    let posts = 0;
    const losingBody: typeof fetch = () => {
      posts++;
      if (posts === 1) {
        const body = new ReadableStream<Uint8Array>({
          start(controller) {
            controller.enqueue(new TextEncoder().encode('{"id":"appr-1","sta'));
            controller.error(new TypeError("terminated: other side closed"));
          },
        });
        return Promise.resolve(new Response(body, { status: 202, headers: { "content-type": "application/json" } }));
      }
      return Promise.resolve(Response.json(PENDING, { status: 202 }));
    };
    const filed = await client(losingBody).requestApproval(REQUEST);
    assert.equal(filed.id, "appr-1");
    assert.equal(posts, 2);
  });

  it("an abort during the retry back-off rejects promptly", async function () {
    const failing: typeof fetch = () => Promise.reject(new TypeError("fetch failed"));
    const controller = new AbortController();
    const filing = client(failing, { attempts: 6 }).requestApproval(REQUEST, { signal: controller.signal });
    // Back-offs are 250, 500, 1000, 2000 ms: at 800 ms the client sleeps until 1750 ms.
    await new Promise((done) => setTimeout(done, 800));
    const abortedAt = Date.now();
    controller.abort(new Error("the agent moved on"));
    await assert.rejects(filing, /the agent moved on/);
    const late = Date.now() - abortedAt;
    assert.ok(late < 200, `the abort took ${late} ms to reject`);
  });

  it("waitForDecision does not spin when answers come back at once (a proxy or server that does not hold the long-poll)", async function () {
    let polls = 0;
    const immediate: typeof fetch = () => {
      polls++;
      return Promise.resolve(Response.json(PENDING));
    };
    const view = await client(immediate).waitForDecision("appr-1", { timeoutMs: 1_000 });
    assert.equal(view.status, "pending");
    assert.ok(polls <= 10, `${polls} requests in one second`);
  });

  it("does not send the agent's workload identity token or proof to another origin on a redirect", async function () {
    const seen: string[] = [];
    const elsewhere = createServer((req, res) => {
      for (const h of ["workload-identity-token", "workload-proof-token", "authorization"]) if (req.headers[h] !== undefined) seen.push(h);
      res.writeHead(202, { "content-type": "application/json" });
      res.end(JSON.stringify(PENDING));
    });
    const countersign = createServer((_req, res) => {
      const address = elsewhere.address();
      const port = typeof address === "object" && address !== null ? address.port : 0;
      res.writeHead(307, { location: `http://localhost:${port}/collect` });
      res.end();
    });
    servers.push(elsewhere, countersign);
    await Promise.all([elsewhere, countersign].map((s) => new Promise<void>((done) => s.listen(0, "127.0.0.1", done))));
    const address = countersign.address();
    const port = typeof address === "object" && address !== null ? address.port : 0;
    const agent = createAgentClient({
      countersignUrl: `http://127.0.0.1:${port}`,
      accessToken: () => "principal-token",
      workloadToken: () => "agent-jwt-svid",
      proofToken: () => Promise.resolve("proof-for-countersign"),
      attempts: 1,
    });
    await agent.requestApproval(REQUEST).catch(() => undefined);
    assert.deepEqual(seen, [], `sent to another origin: ${seen.join(", ")}`);
  });
});
