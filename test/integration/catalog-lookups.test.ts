// Names from requests are looked up in the tool catalog as own entries only: a tool named after an
// Object.prototype member is as unknown as any other name the catalog does not list.
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { approvalId } from "../../src/client/approvals.js";
import { AGENT, refundRequest, startStack, type TestStack } from "../support/stack.js";
import { TEST_PRINCIPAL_ISSUER } from "../support/tokens.js";

describe("tool catalog lookups (real Temporal server)", function () {
  let stack: TestStack;
  before(async function () {
    stack = await startStack();
  });
  after(async function () {
    await stack?.stop();
  });

  for (const tool of ["constructor", "toString", "__proto__", "hasOwnProperty"]) {
    it(`a request for the tool "${tool}" is refused with unknown_tool and starts no workflow`, async function () {
      const requestId = randomUUID();
      const res = await stack.http("POST", "/v1/approvals", await stack.agentHeaders("alice"), refundRequest({ requestId, tool }));
      assert.equal(res.status, 403, JSON.stringify(res.body));
      assert.equal(res.body.error.code, "unknown_tool");
      // The workflow id this request would have had, had it been started.
      const id = approvalId({ tenant: "acme", agent: AGENT, principalIssuer: TEST_PRINCIPAL_ISSUER, principal: "alice", requestId });
      await assert.rejects(stack.approvals.state(id), { code: "not_found" });
    });
  }
});
