// Decisions made again with the world as it is now (directory and policy edits while an approval is
// open), deadlines, separation of duties, token attacks at the edge, and what the raw history reveals.
import assert from "node:assert/strict";
import proto from "@temporalio/proto";

const { temporal } = proto;
import { approvalId } from "../../src/client/approvals.js";
import { hs256WithPublicKey, principalClaims, TEST_PRINCIPAL_ISSUER, unsignedToken } from "../support/tokens.js";
import { AGENT, assertNoSecrets, refundRequest, requestPendingRefund, startStack, type TestStack } from "../support/stack.js";


/** Edit the copied directory: give or take a role from a user. */
function setRoles(stack: TestStack, user: string, roles: string[]): void {
  const text = stack.readTenantFile("directory.yaml");
  const lines = text.split("\n");
  const at = lines.findIndex((l) => l.includes(`type: User, id: ${user} }`) || l.includes(`type: User, id: "${user}" }`));
  assert.ok(at >= 0, `user ${user} in directory.yaml`);
  const parentsAt = lines.findIndex((l, i) => i > at && l.trimStart().startsWith("parents:"));
  const indent = lines[parentsAt]?.slice(0, lines[parentsAt].indexOf("parents:")) ?? "  ";
  lines[parentsAt] = `${indent}parents: [${roles.map((r) => `{ type: Role, id: ${r} }`).join(", ")}]`;
  stack.writeTenantFile("directory.yaml", lines.join("\n"));
}

describe("re-checks, deadlines and secrets (real Temporal server)", function () {
  let stack: TestStack;
  let original: { directory: string; payments: string };
  before(async function () {
    stack = await startStack({ deadlineSeconds: 600 });
    original = { directory: stack.readTenantFile("directory.yaml"), payments: stack.readTenantFile("policies/payments.cedar") };
  });
  afterEach(function () {
    stack.writeTenantFile("directory.yaml", original.directory);
    stack.writeTenantFile("policies/payments.cedar", original.payments);
  });
  after(async function () {
    await stack?.stop();
  });

  it("an approver whose role was revoked while the request was pending is refused", async function () {
    const { id } = await requestPendingRefund(stack);
    setRoles(stack, "bob", []);
    await assert.rejects(stack.decide(id, "bob", "approve"), { code: "approver_not_entitled" });
    assert.equal((await stack.approvals.state(id)).status, "pending");
  });

  it("a requester who lost the role while pending is denied at the decision-time re-check", async function () {
    const { id } = await requestPendingRefund(stack);
    setRoles(stack, "alice", []);
    const state = await stack.decide(id, "bob", "approve");
    assert.equal(state.status, "denied");
    assert.equal(state.reasonCode, "policy_denied");
    assert.equal(state.grant, undefined);
    assert.deepEqual(
      state.policy.map((p) => [p.stage, p.decision]),
      [["request", "allow"], ["approve", "allow"], ["decision", "deny"]],
    );
  });

  it("a policy change after approval makes the redemption fail with policy_denied", async function () {
    const { id, body } = await requestPendingRefund(stack);
    await stack.decide(id, "bob", "approve");
    const grant = (await stack.approvals.state(id)).grant?.token;
    assert.ok(grant);
    stack.writeTenantFile("policies/payments.cedar", `${original.payments}\n// incident 7: refunds frozen\nforbid (principal, action == Action::"request", resource == Tool::"payments.refund");\n`);
    const res = await stack.http("POST", "/v1/grants/redeem", await stack.toolHeaders(), { grant, tool: "payments.refund", arguments: body.arguments });
    assert.equal(res.status, 403);
    assert.equal(res.body.error.code, "policy_denied");
    const state = await stack.approvals.state(id);
    assert.equal(state.status, "denied");
    assert.notEqual(state.policy.at(-1)?.policyVersion, state.policy[0]?.policyVersion, "the decision records the new policy version");
    const again = await stack.http("POST", "/v1/grants/redeem", await stack.toolHeaders(), { grant, tool: "payments.refund", arguments: body.arguments });
    assert.equal(again.body.error.code, "policy_denied");
  });

  it("a policy that now demands more approvers than decided refuses the redemption", async function () {
    const { id, body } = await requestPendingRefund(stack);
    const approved = await stack.decide(id, "bob", "approve");
    assert.equal(approved.status, "approved");
    stack.writeTenantFile("policies/payments.cedar", original.payments.replace('@quorum("1")', '@quorum("2")'));
    const res = await stack.http("POST", "/v1/grants/redeem", await stack.toolHeaders(), { grant: await stack.grantOf(id), tool: "payments.refund", arguments: body.arguments });
    assert.equal(res.status, 403);
    assert.equal(res.body.error.code, "policy_denied");
    assert.equal((await stack.approvals.state(id)).status, "denied");
  });

  it("a policy set broken after approval fails closed at redemption with policy_unavailable", async function () {
    const { id, body } = await requestPendingRefund(stack);
    await stack.decide(id, "bob", "approve");
    stack.writeTenantFile("policies/payments.cedar", `${original.payments}
permit (principal, action == Action::"request", resource) when { principal.nope };
`);
    const res = await stack.http("POST", "/v1/grants/redeem", await stack.toolHeaders(), { grant: await stack.grantOf(id), tool: "payments.refund", arguments: body.arguments });
    assert.equal(res.status, 403);
    assert.equal(res.body.error.code, "policy_unavailable");
    const state = await stack.approvals.state(id);
    assert.equal(state.status, "denied");
    assert.equal(state.reasonCode, "policy_unavailable");
    const view = await stack.http("GET", `/v1/approvals/${id}`, await stack.agentHeaders("alice"));
    assert.doesNotMatch(JSON.stringify(view.body), /payments\.cedar|nope/, "load errors stay with operators");
  });

  it("a requester who is also an approver cannot approve their own request", async function () {
    setRoles(stack, "alice", ["support", "payments-approver"]);
    const { id } = await requestPendingRefund(stack);
    await assert.rejects(stack.decide(id, "alice", "approve"), { code: "self_approval_forbidden" });
    assert.equal((await stack.approvals.state(id)).status, "pending");
  });

  it("with no decision before the deadline the approval expires and fails closed", async function () {
    stack.writeTenantFile("policies/payments.cedar", original.payments.replace(/@deadline_seconds\("\d+"\)/g, '@deadline_seconds("2")'));
    const { id } = await requestPendingRefund(stack);
    const state = await stack.approvals.waitForStatusChange(id, ["pending"], 30_000);
    assert.equal(state.status, "expired");
    assert.equal(state.reasonCode, "approval_deadline_passed");
    await assert.rejects(stack.decide(id, "bob", "approve"), { code: "approval_not_pending" });
  });

  it("forged and misdirected tokens are refused at the edge with their codes", async function () {
    const agent = await stack.ids.agentToken(AGENT);
    const claims = principalClaims({ sub: "alice", scope: "countersign:request" });
    const cases: Array<[string, string, Record<string, string>]> = [
      ["alg none", "token_algorithm_rejected", { authorization: `Bearer ${unsignedToken(claims, "idp-1")}`, "workload-identity-token": agent }],
      ["HS256 signed with the public key", "token_algorithm_rejected", { authorization: `Bearer ${await hs256WithPublicKey(stack.ids.idp, claims)}`, "workload-identity-token": agent }],
      ["wrong issuer", "token_issuer_untrusted", { authorization: `Bearer ${await stack.ids.principalToken("alice", { iss: "https://evil.test" })}`, "workload-identity-token": agent }],
      ["wrong audience", "token_audience_mismatch", { authorization: `Bearer ${await stack.ids.principalToken("alice", { aud: "someone-else" })}`, "workload-identity-token": agent }],
      ["expired", "token_expired", { authorization: `Bearer ${await stack.ids.principalToken("alice", { expiresInSeconds: -120 })}`, "workload-identity-token": agent }],
      ["unknown kid", "token_key_unknown", { authorization: `Bearer ${await stack.ids.principalToken("alice", { kid: "not-a-key" })}`, "workload-identity-token": agent }],
      ["missing scope", "insufficient_scope", { authorization: `Bearer ${await stack.ids.principalToken("alice", { scope: "openid" })}`, "workload-identity-token": agent }],
      ["agent outside the trust domain", "trust_domain_untrusted", { authorization: `Bearer ${await stack.ids.principalToken("alice")}`, "workload-identity-token": await stack.ids.agentToken("spiffe://evil.test/agents/x") }],
    ];
    for (const [name, code, headers] of cases) {
      const res = await stack.http("POST", "/v1/approvals", headers, refundRequest());
      assert.equal(res.body?.error?.code, code, name);
      assert.ok(res.status === 401 || res.status === 403, name);
    }
  });

  it("the raw history of a full run reveals no token, grant or argument value", async function () {
    const secretArg = "acct-7c1f9e-SECRET-ARGUMENT";
    const body = refundRequest({ arguments: { payment_id: secretArg, amount_cents: 4200 } });
    const headers = await stack.agentHeaders("alice");
    const res = await stack.http("POST", "/v1/approvals", headers, body);
    const id = res.body.id as string;
    await stack.decide(id, "bob", "approve");
    const grant = (await stack.approvals.state(id)).grant?.token ?? "";
    const redeemed = await stack.http("POST", "/v1/grants/redeem", await stack.toolHeaders(), { grant, tool: "payments.refund", arguments: body.arguments });
    assert.equal(redeemed.status, 200);

    // Fetched straight from the service: no data converter, no codec.
    const { history } = await stack.client.workflowService.getWorkflowExecutionHistory({ namespace: "default", execution: { workflowId: id } });
    const raw = Buffer.from(temporal.api.history.v1.History.encode(temporal.api.history.v1.History.create(history ?? {})).finish());
    assert.ok(raw.length > 1000, "history fetched");
    assertNoSecrets(
      raw,
      {
        "principal token": (headers.authorization ?? "").replace("Bearer ", ""),
        "agent token": headers["workload-identity-token"] ?? "",
        grant,
        "grant signature": grant.split(".")[2] ?? "",
        "argument value": secretArg,
      },
      "the raw history",
    );
    assert.ok(raw.includes(Buffer.from("binary/encrypted")), "payloads are encrypted");
  });
});

describe("grant expiry (real Temporal server)", function () {
  let stack: TestStack;
  before(async function () {
    stack = await startStack({ grantTtlSeconds: 1 });
  });
  after(async function () {
    await stack?.stop();
  });

  it("a grant not redeemed within its TTL expires and is refused with 410 grant_expired", async function () {
    const { id, body } = await requestPendingRefund(stack);
    const approved = await stack.decide(id, "bob", "approve");
    assert.equal(approved.status, "approved");
    const grant = await stack.grantOf(id);
    const expired = await stack.approvals.waitForStatusChange(id, ["approved"], 30_000);
    assert.equal(expired.status, "expired");
    assert.equal(expired.reasonCode, "grant_expired");
    const res = await stack.http("POST", "/v1/grants/redeem", await stack.toolHeaders(), { grant, tool: "payments.refund", arguments: body.arguments });
    assert.equal(res.status, 410);
    assert.equal(res.body.error.code, "grant_expired");
    const revoke = await stack.http("POST", `/v1/approvals/${id}/revoke`, { authorization: `Bearer ${await stack.ids.principalToken("alice")}` }, {});
    assert.equal(revoke.status, 409);
    assert.equal(revoke.body.error.code, "approval_not_pending");
  });
});

describe("no worker running (real Temporal server)", function () {
  let stack: TestStack;
  before(async function () {
    stack = await startStack({ worker: false, rpcDeadlineMs: 1500 });
  });
  after(async function () {
    await stack?.stop();
  });

  it("filing answers 202 at once (the approval exists), reads and decisions fail fast with 503 unavailable instead of hanging", async function () {
    const body = refundRequest();
    const res = await stack.http("POST", "/v1/approvals", await stack.agentHeaders("alice"), body);
    // Filing is durable once the workflow has started: no worker needed to say so (README, "Outages").
    assert.equal(res.status, 202);
    assert.equal(res.body.status, "pending");
    // The workflow was started (a retry attaches to it); queries and Updates on it are bounded.
    const id = approvalId({ tenant: "acme", agent: AGENT, principalIssuer: TEST_PRINCIPAL_ISSUER, principal: "alice", requestId: body.requestId as string });
    assert.equal(res.body.id, id);
    const view = await stack.http("GET", `/v1/approvals/${id}`, await stack.agentHeaders("alice"));
    assert.equal(view.status, 503);
    await assert.rejects(stack.decide(id, "bob", "approve"), { code: "unavailable" });
  });
});

describe("logs (real Temporal server)", function () {
  const lines: string[] = [];
  let stack: TestStack;
  before(async function () {
    stack = await startStack({ logSink: { write: (line) => lines.push(line) } });
  });
  after(async function () {
    await stack?.stop();
  });

  it("a full run with refusals along the way logs no token, grant or argument value", async function () {
    const secretArg = "acct-LOGCHECK-9f2";
    const body = refundRequest({ arguments: { payment_id: secretArg } });
    const headers = await stack.agentHeaders("alice");
    const id = (await stack.http("POST", "/v1/approvals", headers, body)).body.id as string;
    await assert.rejects(stack.decide(id, "dave", "approve"));
    await stack.decide(id, "bob", "approve");
    const grant = await stack.grantOf(id);
    const tool = await stack.toolHeaders();
    const mismatch = await stack.http("POST", "/v1/grants/redeem", tool, { grant, tool: "payments.refund", arguments: { payment_id: `${secretArg}-x` } });
    assert.equal(mismatch.status, 403);
    assert.equal((await stack.http("POST", "/v1/grants/redeem", tool, { grant, tool: "payments.refund", arguments: body.arguments })).status, 200);
    const forged = `${grant.slice(0, -4)}AAAA`;
    assert.equal((await stack.http("POST", "/v1/grants/redeem", tool, { grant: forged, tool: "payments.refund", arguments: body.arguments })).status, 401);
    const badToken = `${headers.authorization}x`;
    assert.equal((await stack.http("POST", "/v1/approvals", { ...headers, authorization: badToken }, body)).status, 401);

    const log = lines.join("");
    assert.match(log, /grant redeemed/, "the run was logged");
    assert.match(log, /binding_mismatch/, "refusals are logged with their codes");
    assertNoSecrets(
      log,
      {
        "principal token": (headers.authorization ?? "").replace("Bearer ", ""),
        "agent token": headers["workload-identity-token"] ?? "",
        "tool server token": tool["workload-identity-token"] ?? "",
        grant,
        "grant signature": grant.split(".")[2] ?? "",
        "argument value": secretArg,
      },
      "the log",
    );
  });
});
