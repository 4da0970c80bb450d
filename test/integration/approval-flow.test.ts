// End to end against a real Temporal dev server: request → policy → approvers → re-check → grant → redeem.
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { decodeJwt, decodeProtectedHeader } from "jose";
import { main as cli } from "../../src/cli/index.js";
import { approvalId } from "../../src/client/approvals.js";
import { argsSha256 } from "../../src/grants/args-hash.js";
import { AGENT, KB_SERVER, OTHER_AGENT, PAYMENTS_SERVER, refundRequest, requestPendingRefund, startStack, type TestStack } from "../support/stack.js";
import { TEST_PRINCIPAL_ISSUER } from "../support/tokens.js";


async function approvedGrant(stack: TestStack, id: string, principal = "alice"): Promise<string> {
  const res = await stack.http("GET", `/v1/approvals/${id}?wait=5`, await stack.agentHeaders(principal)); // answers at once: already decided
  assert.equal(res.status, 200);
  assert.equal(res.body.status, "approved", JSON.stringify(res.body));
  assert.equal(typeof res.body.grant, "string");
  return res.body.grant as string;
}

describe("approval flow (real Temporal server)", function () {
  let stack: TestStack;
  before(async function () {
    stack = await startStack();
  });
  after(async function () {
    await stack?.stop();
  });

  it("a request approved by an entitled approver yields a grant that redeems exactly once", async function () {
    const { id, body } = await requestPendingRefund(stack);
    const decided = await stack.decide(id, "bob", "approve");
    assert.equal(decided.status, "approved");

    const grant = await approvedGrant(stack, id);
    const header = decodeProtectedHeader(grant);
    assert.equal(header.typ, "countersign-grant+jwt");
    assert.equal(header.alg, "EdDSA");
    const claims = decodeJwt(grant);
    assert.equal(claims.aud, PAYMENTS_SERVER);
    assert.equal(claims.sub, "alice");
    assert.deepEqual(claims.act, { sub: AGENT });
    assert.equal(claims.tool, "payments.refund");
    assert.equal(claims.tenant, "acme");
    assert.equal(claims.args_sha256, argsSha256(body.arguments));
    assert.deepEqual((claims.approval as { approvers: string[] }).approvers, ["bob"]);
    assert.equal((claims.approval as { id: string }).id, id);
    assert.match((claims.approval as { policy_version: string }).policy_version, /^sha256:/);

    const redeem = { grant, tool: "payments.refund", arguments: body.arguments };
    const first = await stack.http("POST", "/v1/grants/redeem", await stack.toolHeaders(), redeem);
    assert.equal(first.status, 200, JSON.stringify(first.body));
    assert.deepEqual(first.body, { principal: "alice", agent: AGENT, approvalId: id });

    const second = await stack.http("POST", "/v1/grants/redeem", await stack.toolHeaders(), redeem);
    assert.equal(second.status, 409);
    assert.equal(second.body.error.code, "grant_already_redeemed");
    assert.equal((await stack.approvals.state(id)).status, "redeemed");
  });

  it("the agent sees the grant but the status view never shows it to anyone else", async function () {
    const { id } = await requestPendingRefund(stack);
    await stack.decide(id, "bob", "approve");
    const other = await stack.http("GET", `/v1/approvals/${id}`, await stack.agentHeaders("alice", OTHER_AGENT));
    assert.equal(other.status, 404);
    assert.equal(other.body.error.code, "not_found");
    const otherPrincipal = await stack.http("GET", `/v1/approvals/${id}`, await stack.agentHeaders("dave"));
    assert.equal(otherPrincipal.status, 404);
  });

  it("an approver's denial ends the approval as denied, without a grant", async function () {
    const { id } = await requestPendingRefund(stack);
    const state = await stack.decide(id, "bob", "deny", "not a duplicate");
    assert.equal(state.status, "denied");
    assert.equal(state.reasonCode, "denied_by_approver");
    const view = await stack.http("GET", `/v1/approvals/${id}`, await stack.agentHeaders("alice"));
    assert.equal(view.body.status, "denied");
    assert.equal(view.body.grant, undefined);
  });

  it("an approver without the role is refused and the approval stays pending", async function () {
    const { id } = await requestPendingRefund(stack);
    await assert.rejects(stack.decide(id, "dave", "approve"), { code: "approver_not_entitled" });
    // Another tenant's approver learns nothing about the approval: it is as if it did not exist.
    await assert.rejects(stack.decide(id, "erin", "approve"), { code: "not_found" });
    assert.equal((await stack.approvals.state(id)).status, "pending");
  });

  it("approve from the CLI decides through the approver endpoint with the approver's own token", async function () {
    const { id } = await requestPendingRefund(stack);
    const url = ["--url", stack.baseUrl];
    const daveToken = await stack.ids.principalToken("dave", { scope: "countersign:approve" });
    const refused = await cli(["node", "countersign", "--config", stack.configFile, "approve", id, "--token", daveToken, ...url]);
    assert.equal(refused, 1);
    assert.equal((await stack.approvals.state(id)).status, "pending");
    const carolToken = await stack.ids.principalToken("carol", { scope: "countersign:approve" });
    const ok = await cli(["node", "countersign", "--config", stack.configFile, "approve", id, "--token", carolToken, ...url]);
    assert.equal(ok, 0);
    const state = await stack.approvals.state(id);
    assert.equal(state.status, "approved");
    assert.equal(state.decisions[0]?.approver, "carol");
    assert.equal(state.decisions[0]?.via, "cli");
  });

  it("--as is refused unless the config trusts the demo issuer dev generated, and changes nothing", async function () {
    const { id } = await requestPendingRefund(stack);
    // The requester naming an approver: the honour system this replaced.
    const asBob = await cli(["node", "countersign", "--config", stack.configFile, "approve", id, "--as", "bob", "--url", stack.baseUrl]);
    assert.equal(asBob, 1);
    const asAlice = await cli(["node", "countersign", "--config", stack.configFile, "approve", id, "--as", "alice", "--url", stack.baseUrl]);
    assert.equal(asAlice, 1);
    const state = await stack.approvals.state(id);
    assert.equal(state.status, "pending");
    assert.deepEqual(state.decisions, []);
  });

  it("quorum 2 needs two different approvers", async function () {
    const { id } = await requestPendingRefund(stack, { tool: "payments.bulk_refund", arguments: { payment_ids: ["pay_1", "pay_2"] } });
    const afterFirst = await stack.decide(id, "bob", "approve");
    assert.equal(afterFirst.status, "pending");
    await assert.rejects(stack.decide(id, "bob", "approve"), { code: "already_decided" });
    const afterSecond = await stack.decide(id, "carol", "approve");
    assert.equal(afterSecond.status, "approved");
    assert.equal(afterSecond.grant?.token, "", "the decision's answer carries no grant");
    const claims = decodeJwt(await stack.grantOf(id));
    assert.deepEqual((claims.approval as { approvers: string[] }).approvers, ["bob", "carol"]);
  });

  it("after a denial every later decision is refused with already_decided; after a revocation with approval_not_pending", async function () {
    const denied = await requestPendingRefund(stack);
    await stack.decide(denied.id, "bob", "deny", "not needed");
    await assert.rejects(stack.decide(denied.id, "carol", "approve"), { code: "already_decided" });
    assert.deepEqual((await stack.approvals.state(denied.id)).decisions.map((d) => d.approver), ["bob"]);
    const revoked = await requestPendingRefund(stack);
    await stack.approvals.revoke(revoked.id, { by: "alice" });
    await assert.rejects(stack.decide(revoked.id, "carol", "approve"), { code: "approval_not_pending" });
  });

  it("redemption with other arguments, another tool or another audience is a binding mismatch and burns nothing", async function () {
    const { id, body } = await requestPendingRefund(stack);
    await stack.decide(id, "bob", "approve");
    const grant = await approvedGrant(stack, id);
    const tool = await stack.toolHeaders();

    const otherArgs = await stack.http("POST", "/v1/grants/redeem", tool, { grant, tool: "payments.refund", arguments: { ...(body.arguments as object), amount_cents: 999999 } });
    assert.equal(otherArgs.status, 403);
    assert.equal(otherArgs.body.error.code, "binding_mismatch");
    const otherTool = await stack.http("POST", "/v1/grants/redeem", tool, { grant, tool: "payments.bulk_refund", arguments: body.arguments });
    assert.equal(otherTool.status, 403);
    assert.equal(otherTool.body.error.code, "binding_mismatch");
    const otherAudience = await stack.http("POST", "/v1/grants/redeem", await stack.toolHeaders(KB_SERVER), { grant, tool: "payments.refund", arguments: body.arguments });
    assert.equal(otherAudience.status, 403);
    assert.equal(otherAudience.body.error.code, "binding_mismatch");

    assert.equal((await stack.approvals.state(id)).status, "approved");
    const right = await stack.http("POST", "/v1/grants/redeem", tool, { grant, tool: "payments.refund", arguments: body.arguments });
    assert.equal(right.status, 200);
  });

  it("argument key order does not matter: the binding is over RFC 8785 canonical JSON", async function () {
    const { id } = await requestPendingRefund(stack, { arguments: { b: 2, a: 1, nested: { y: [1, 2], x: "é" } } });
    await stack.decide(id, "bob", "approve");
    const grant = await approvedGrant(stack, id);
    const res = await stack.http("POST", "/v1/grants/redeem", await stack.toolHeaders(), { grant, tool: "payments.refund", arguments: { nested: { x: "é", y: [1, 2] }, a: 1, b: 2 } });
    assert.equal(res.status, 200);
  });

  it("of 50 concurrent redemptions of one grant exactly one succeeds", async function () {
    const { id, body } = await requestPendingRefund(stack);
    await stack.decide(id, "bob", "approve");
    const grant = await approvedGrant(stack, id);
    const headers = await stack.toolHeaders();
    const results = await Promise.all(
      Array.from({ length: 50 }, () => stack.http("POST", "/v1/grants/redeem", headers, { grant, tool: "payments.refund", arguments: body.arguments })),
    );
    const ok = results.filter((r) => r.status === 200);
    const refused = results.filter((r) => r.status === 409 && r.body.error.code === "grant_already_redeemed");
    assert.equal(ok.length, 1, JSON.stringify(results.filter((r) => r.status !== 409).map((r) => r.body)));
    assert.equal(refused.length, 49, JSON.stringify(results.filter((r) => r.status !== 200 && r.body?.error?.code !== "grant_already_redeemed").map((r) => [r.status, r.body])));
    assert.equal((await stack.approvals.state(id)).status, "redeemed");
  });

  it("a retried request with the same requestId attaches to the same approval; another agent gets its own", async function () {
    const body = refundRequest();
    const first = await stack.http("POST", "/v1/approvals", await stack.agentHeaders("alice"), body);
    const retry = await stack.http("POST", "/v1/approvals", await stack.agentHeaders("alice"), body);
    assert.equal(first.status, 202);
    assert.equal(retry.body.id, first.body.id);
    const otherAgent = await stack.http("POST", "/v1/approvals", await stack.agentHeaders("alice", OTHER_AGENT), body);
    assert.equal(otherAgent.status, 202);
    assert.notEqual(otherAgent.body.id, first.body.id);
    const changed = await stack.http("POST", "/v1/approvals", await stack.agentHeaders("alice"), { ...body, arguments: { payment_id: "pay_other" } });
    assert.equal(changed.status, 409);
    assert.equal(changed.body.error.code, "idempotency_conflict");
  });

  it("a tool that policy lets through without approval is granted at once; a forbidden one is denied at once", async function () {
    const kb = await stack.http("POST", "/v1/approvals", await stack.agentHeaders("alice"), refundRequest({ tool: "kb.search", arguments: { q: "refund policy" } }));
    assert.equal(kb.status, 200, JSON.stringify(kb.body));
    assert.equal(kb.body.status, "approved");
    assert.equal(typeof kb.body.grant, "string");
    const drop = await stack.http("POST", "/v1/approvals", await stack.agentHeaders("alice"), refundRequest({ tool: "prod.db.drop", arguments: { table: "payments" } }));
    assert.equal(drop.status, 200);
    assert.equal(drop.body.status, "denied");
    assert.equal(drop.body.decision.code, "policy_denied");
  });

  it("a request for another tenant is denied by policy", async function () {
    const res = await stack.http("POST", "/v1/approvals", await stack.agentHeaders("alice"), refundRequest({ tenant: "globex" }));
    assert.equal(res.status, 200);
    assert.equal(res.body.status, "denied");
  });

  it("the principal can revoke a pending approval; someone else cannot", async function () {
    const { id } = await requestPendingRefund(stack);
    const stranger = await stack.http("POST", `/v1/approvals/${id}/revoke`, { authorization: `Bearer ${await stack.ids.principalToken("dave")}` }, {});
    assert.equal(stranger.status, 404);
    const res = await stack.http("POST", `/v1/approvals/${id}/revoke`, { authorization: `Bearer ${await stack.ids.principalToken("alice")}` }, { reason: "wrong ticket" });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(res.body.status, "revoked");
    await assert.rejects(stack.decide(id, "bob", "approve"), { code: "approval_not_pending" });
  });

  it("the ops scope revokes only within the ops user's own tenant", async function () {
    const { id } = await requestPendingRefund(stack);
    const ops = (user: string) => stack.ids.principalToken(user, { scope: "countersign:request countersign:ops" });
    const otherTenant = await stack.http("POST", `/v1/approvals/${id}/revoke`, { authorization: `Bearer ${await ops("erin")}` }, {});
    assert.equal(otherTenant.status, 404, "globex operations staff cannot see acme's approvals");
    const unknownUser = await stack.http("POST", `/v1/approvals/${id}/revoke`, { authorization: `Bearer ${await ops("mallory")}` }, {});
    assert.equal(unknownUser.status, 404, "an ops token for no directory user reaches no tenant");
    assert.equal((await stack.approvals.state(id)).status, "pending");
    const sameTenant = await stack.http("POST", `/v1/approvals/${id}/revoke`, { authorization: `Bearer ${await ops("carol")}` }, { reason: "incident" });
    assert.equal(sameTenant.status, 200, JSON.stringify(sameTenant.body));
    assert.equal(sameTenant.body.status, "revoked");
  });

  it("a revoked grant can no longer be redeemed", async function () {
    const { id, body } = await requestPendingRefund(stack);
    await stack.decide(id, "bob", "approve");
    const grant = await approvedGrant(stack, id);
    const code = await cli(["node", "countersign", "--config", stack.configFile, "revoke", id, "--as", "ops"]);
    assert.equal(code, 0);
    const res = await stack.http("POST", "/v1/grants/redeem", await stack.toolHeaders(), { grant, tool: "payments.refund", arguments: body.arguments });
    assert.equal(res.status, 401);
    assert.equal(res.body.error.code, "invalid_grant");
  });

  it("a long-poll returns as soon as the decision lands", async function () {
    const { id } = await requestPendingRefund(stack);
    const poll = stack.http("GET", `/v1/approvals/${id}?wait=30`, await stack.agentHeaders("alice"));
    await stack.decide(id, "bob", "approve");
    const res = await poll;
    assert.equal(res.status, 200);
    assert.equal(res.body.status, "approved");
  });

  it("many agents long-polling one approval do not hold up its decision", async function () {
    const { id } = await requestPendingRefund(stack);
    const headers = await stack.agentHeaders("alice");
    const polls = Array.from({ length: 15 }, () => stack.http("GET", `/v1/approvals/${id}?wait=30`, headers));
    const decided = await stack.decide(id, "bob", "approve");
    assert.equal(decided.status, "approved");
    for (const res of await Promise.all(polls)) {
      assert.equal(res.status, 200);
      assert.equal(res.body.status, "approved");
    }
  });

  it("a long-poll with nothing happening answers with the unchanged state when the wait ends", async function () {
    const { id } = await requestPendingRefund(stack);
    const res = await stack.http("GET", `/v1/approvals/${id}?wait=1`, await stack.agentHeaders("alice"));
    assert.equal(res.status, 200);
    assert.equal(res.body.status, "pending");
    const tooLong = await stack.http("GET", `/v1/approvals/${id}?wait=61`, await stack.agentHeaders("alice"));
    assert.equal(tooLong.status, 400);
    assert.equal(tooLong.body.error.code, "invalid_request");
  });

  it("a principal token scoped to another task is refused with intent_mismatch before anyone is asked", async function () {
    const token = await stack.ids.principalToken("alice", {
      scope: "countersign:request",
      authorization_details: [{ type: "agent_task", task_id: "ticket-7", tools: ["payments.refund"] }],
    });
    const headers = { authorization: `Bearer ${token}`, "workload-identity-token": await stack.ids.agentToken(AGENT) };
    const res = await stack.http("POST", "/v1/approvals", headers, refundRequest());
    assert.equal(res.status, 403);
    assert.equal(res.body.error.code, "intent_mismatch");
    const inTask = await stack.http("POST", "/v1/approvals", headers, refundRequest({ intent: { taskId: "ticket-7", summary: "refund" } }));
    assert.equal(inTask.status, 202);
  });

  it("bad input is refused with a code and starts nothing", async function () {
    const headers = await stack.agentHeaders("alice");
    const unknownField = await stack.http("POST", "/v1/approvals", headers, { ...refundRequest(), extra: true });
    assert.equal(unknownField.status, 400);
    assert.equal(unknownField.body.error.code, "invalid_request");
    const unknownToolRequestId = randomUUID();
    const unknownTool = await stack.http("POST", "/v1/approvals", headers, refundRequest({ requestId: unknownToolRequestId, tool: "nope.tool" }));
    assert.equal(unknownTool.status, 403);
    assert.equal(unknownTool.body.error.code, "unknown_tool");
    const proto = await stack.http("POST", "/v1/approvals", headers, `{"requestId":"r-proto","tenant":"acme","tool":"payments.refund","arguments":{"a":1,"__proto__":{"admin":true}},"intent":{"taskId":"t","summary":"s"}}`);
    assert.equal(proto.status, 400);
    assert.equal(proto.body.error.code, "invalid_request");
    const notJson = await stack.http("POST", "/v1/approvals", { ...headers, "content-type": "text/plain" }, undefined);
    assert.equal(notJson.status, 415);
    const broken = await fetch(`${stack.baseUrl}/v1/approvals`, { method: "POST", headers: { ...headers, "content-type": "application/json" }, body: "{" });
    assert.equal(broken.status, 400);
    const big = await stack.http("POST", "/v1/approvals", headers, refundRequest({ arguments: { blob: "x".repeat(200_000) } }));
    assert.equal(big.status, 413);
    assert.equal(big.body.error.code, "payload_too_large");
    const noAgent = await stack.http("POST", "/v1/approvals", { authorization: headers.authorization ?? "" }, refundRequest());
    assert.equal(noAgent.status, 401);
    assert.equal(noAgent.body.error.code, "token_missing");
    // No workflow under the id the unknown-tool request would have had.
    const unknownToolId = approvalId({ tenant: "acme", agent: AGENT, principalIssuer: TEST_PRINCIPAL_ISSUER, principal: "alice", requestId: unknownToolRequestId });
    await assert.rejects(stack.approvals.state(unknownToolId), { code: "not_found" });
  });

  it("publishes the grant verification keys as a JWKS", async function () {
    const res = await stack.http("GET", "/.well-known/jwks.json", {});
    assert.equal(res.status, 200);
    assert.ok(Array.isArray(res.body.keys) && res.body.keys.length >= 1);
    for (const key of res.body.keys as Array<Record<string, unknown>>) {
      assert.equal(key.d, undefined, "no private key material");
      assert.equal(key.alg, "EdDSA");
    }
  });
});
