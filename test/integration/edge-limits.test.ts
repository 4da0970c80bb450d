// The HTTP edge's input limits against a real stack.
import assert from "node:assert/strict";
import { AGENT, refundRequest, startStack, type TestStack } from "../support/stack.js";
import { TEST_TRUST_DOMAIN } from "../support/tokens.js";

/** A syntactically valid SPIFFE ID in the test trust domain of exactly `length` characters. */
function spiffeIdOfLength(length: number): string {
  const prefix = `spiffe://${TEST_TRUST_DOMAIN}/agents/`;
  return `${prefix}${"a".repeat(length - prefix.length)}`;
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
});
