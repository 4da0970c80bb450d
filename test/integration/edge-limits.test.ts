// The HTTP edge's input limits against a real stack: identity lengths, oversized bodies on a
// keep-alive connection, the `wait` query parameter and the Authorization scheme.
import assert from "node:assert/strict";
import { Agent, request, type IncomingHttpHeaders } from "node:http";
import { AGENT, refundRequest, requestPendingRefund, startStack, type TestStack } from "../support/stack.js";
import { TEST_TRUST_DOMAIN } from "../support/tokens.js";

/** A syntactically valid SPIFFE ID in the test trust domain of exactly `length` characters. */
function spiffeIdOfLength(length: number): string {
  const prefix = `spiffe://${TEST_TRUST_DOMAIN}/agents/`;
  return `${prefix}${"a".repeat(length - prefix.length)}`;
}

interface RawResponse {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

/**
 * One request over `agent` with node:http (fetch hides connection reuse). `body` is sent with a
 * Content-Length, or chunked when `chunked` is set.
 */
function send(agent: Agent, url: string, method: string, headers: Record<string, string>, body?: string, chunked = false): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const lengthHeader = body !== undefined && !chunked ? { "content-length": String(Buffer.byteLength(body)) } : {};
    const req = request(url, { agent, method, headers: { ...headers, ...lengthHeader } }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (chunk: Buffer) => chunks.push(chunk));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString("utf8") }));
      res.on("error", reject);
    });
    req.on("error", (err) => reject(new Error(`${method} ${new URL(url).pathname}: ${err.message}`, { cause: err })));
    if (body === undefined) {
      req.end();
    } else if (chunked) {
      // Two writes before end: Node sends Transfer-Encoding: chunked.
      const middle = Math.floor(body.length / 2);
      req.write(body.slice(0, middle));
      req.end(body.slice(middle));
    } else {
      req.end(body);
    }
  });
}

describe("limits at the edge (real Temporal server)", function () {
  let stack: TestStack;
  before(async function () {
    stack = await startStack();
  });
  after(async function () {
    await stack?.stop();
  });

  describe("identity lengths", function () {
    it("a principal token with a 3 000-character subject is refused with 401 token_claims_invalid, not a server error", async function () {
      const headers = {
        authorization: `Bearer ${await stack.ids.principalToken("u".repeat(3000))}`,
        "workload-identity-token": await stack.ids.agentToken(AGENT),
      };
      const res = await stack.http("POST", "/v1/approvals", headers, refundRequest());
      assert.equal(res.status, 401, JSON.stringify(res.body));
      assert.equal(res.body.error.code, "token_claims_invalid");
    });

    it("a workload identity token with a 2 040-character SPIFFE ID is refused with 401 token_claims_invalid", async function () {
      const res = await stack.http("POST", "/v1/approvals", await stack.agentHeaders("alice", spiffeIdOfLength(2040)), refundRequest());
      assert.equal(res.status, 401, JSON.stringify(res.body));
      assert.equal(res.body.error.code, "token_claims_invalid");
    });

    it("an agent with a SPIFFE ID at the 1 024-character limit files its request and it waits for approvers", async function () {
      const agent = spiffeIdOfLength(1024);
      const res = await stack.http("POST", "/v1/approvals", await stack.agentHeaders("alice", agent), refundRequest());
      assert.equal(res.status, 202, JSON.stringify(res.body));
      assert.equal(res.body.status, "pending");
      assert.equal((await stack.approvals.state(res.body.id as string)).agent, agent);
    });

    it("a principal subject at the 256-character limit starts an approval, which policy then denies as an unknown user", async function () {
      const principal = "u".repeat(256);
      const res = await stack.http("POST", "/v1/approvals", await stack.agentHeaders(principal), refundRequest());
      assert.equal(res.status, 200, JSON.stringify(res.body));
      assert.equal(res.body.status, "denied");
      assert.equal((await stack.approvals.state(res.body.id as string)).principal, principal);
    });
  });

  describe("oversized bodies", function () {
    // Far over the limit, so the client is still sending when the 413 comes back: the case that lost the connection.
    const oversized = (): string => JSON.stringify(refundRequest({ reason: "x".repeat(16 * stack.config.server.bodyLimitBytes) }));

    for (const chunked of [false, true]) {
      const how = chunked ? "sent chunked" : "declared by Content-Length";
      it(`an oversized body ${how} gets 413 with Connection: close, and the next request on the same keep-alive agent is answered`, async function () {
        const agent = new Agent({ keepAlive: true, maxSockets: 1 });
        try {
          const headers = { ...(await stack.agentHeaders("alice")), "content-type": "application/json" };
          const tooLarge = await send(agent, `${stack.baseUrl}/v1/approvals`, "POST", headers, oversized(), chunked);
          // Sent at once, as a client with a queue of requests would: it must not be lost with the connection.
          const next = await send(agent, `${stack.baseUrl}/healthz`, "GET", {});
          assert.equal(tooLarge.status, 413);
          assert.equal((JSON.parse(tooLarge.body) as { error: { code: string } }).error.code, "payload_too_large");
          assert.equal(next.status, 200);
          assert.equal((JSON.parse(next.body) as { status: string }).status, "ok");
          assert.equal(tooLarge.headers.connection, "close");
        } finally {
          agent.destroy();
        }
      });
    }
  });

  describe("the wait query parameter", function () {
    // A well-formed id nobody filed: a wait that passes validation ends in 404, one that does not in 400.
    const unknownId = `appr_${"A".repeat(32)}`;

    for (const wait of ["0x10", "1e1", " 5", "-0", "+5", "5.0", "61", "99", "007", ""]) {
      it(`wait=${JSON.stringify(wait)} is refused as an invalid request`, async function () {
        const res = await stack.http("GET", `/v1/approvals/${unknownId}?wait=${encodeURIComponent(wait)}`, await stack.agentHeaders("alice"));
        assert.equal(res.status, 400, JSON.stringify(res.body));
        assert.equal(res.body.error.code, "invalid_request");
      });
    }

    it("a wait of 0 to 60 in decimal digits passes validation (the unknown approval is then not found)", async function () {
      for (const wait of ["0", "05", "60"]) {
        const res = await stack.http("GET", `/v1/approvals/${unknownId}?wait=${wait}`, await stack.agentHeaders("alice"));
        assert.equal(res.status, 404, `wait=${wait}: ${JSON.stringify(res.body)}`);
        assert.equal(res.body.error.code, "not_found");
      }
    });
  });

  describe("the Authorization scheme", function () {
    it("the Bearer scheme is accepted in any letter case", async function () {
      const { id } = await requestPendingRefund(stack);
      const token = await stack.ids.principalToken("alice");
      const workload = await stack.ids.agentToken(AGENT);
      for (const scheme of ["bearer", "BEARER", "bEaReR"]) {
        const res = await stack.http("GET", `/v1/approvals/${id}`, { authorization: `${scheme} ${token}`, "workload-identity-token": workload });
        assert.equal(res.status, 200, `${scheme}: ${JSON.stringify(res.body)}`);
        assert.equal(res.body.status, "pending");
      }
    });

    it("anything but the scheme, one space and one token68 is refused as malformed", async function () {
      const { id } = await requestPendingRefund(stack);
      const token = await stack.ids.principalToken("alice");
      const workload = await stack.ids.agentToken(AGENT);
      for (const authorization of [`Bearer  ${token}`, `Bearer\t${token}`, `Bearer ${token} extra`, `Bearer${token}`, `Basic ${token}`, `Bearer ${token}=.`]) {
        const res = await stack.http("GET", `/v1/approvals/${id}`, { authorization, "workload-identity-token": workload });
        assert.equal(res.status, 401, JSON.stringify(authorization.slice(0, 8)));
        assert.equal(res.body.error.code, "token_malformed");
      }
    });
  });
});
