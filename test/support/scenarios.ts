// The paths an approval can take, each driven end to end against a real stack: the replay corpus has
// one recorded history per path (test/fixtures/histories/<fixture>.history.binpb). Shared by the
// recorder (record-histories.ts), which records a missing one, and the replay test, which checks
// that every path has its history and that the history ends where the path says.
import assert from "node:assert/strict";
import { join } from "node:path";
import { WorkflowUpdateFailedError } from "@temporalio/client";
import { ApplicationFailure } from "@temporalio/common";
import { signDecision } from "../../src/decisions/assertion.js";
import { decideUpdate, type ApprovalStatus, type DecideInput } from "../../workflows/definitions.js";
import { APPROVE_ACTION_ID } from "../../src/slack/card.js";
import { blockActionPayload, interactionBody, slackSignatureHeaders, startFakeSlack, type FakeSlack } from "./fake-slack.js";
import { AGENT, KB_SERVER, projectRoot, refundRequest, requestPendingRefund, type StackOptions, type TestStack } from "./stack.js";

export const historiesDir = join(projectRoot, "test", "fixtures", "histories");
/** The payload key every fixture is recorded (and replayed) with. */
export const fixtureKeyFile = join(historiesDir, "payload-keys.json");

export function fixtureFile(fixture: string): string {
  return join(historiesDir, `${fixture}.history.binpb`);
}

export interface PathScenario {
  /** File stem of the path's history in test/fixtures/histories. */
  fixture: string;
  /** The path in words (the fixtures README's "what happens"). */
  path: string;
  /** Where the approval ends: the workflow's result. */
  ends: { status: ApprovalStatus; reasonCode?: string };
  /** Harness options the path needs (a short deadline or grant TTL, a wrapped activity); `stack` is usable once started. */
  options?: (stack: () => TestStack) => StackOptions;
  /** Outside services the path needs for its stack (a fake Slack), started before it and closed after. */
  services?: () => Promise<{ options: StackOptions; close(): Promise<void> }>;
  /** Drive one approval down the path. Resolves with its id; its workflow closes without further help. */
  run(stack: TestStack): Promise<string>;
}

/** A decision with a valid assertion signed for `signedFor` (default: the approver), as an edge would send it. */
async function proven(stack: TestStack, id: string, approver: string, signedFor = approver): Promise<DecideInput> {
  const s = await signDecision(stack.services.grantKeys, { approvalId: id, approver: signedFor, decision: "approve", via: "api" }, { issuer: stack.config.issuer });
  return { approver, decision: "approve", via: "api", assertion: s.assertion, jti: s.jti, expiresAtMs: s.expiresAtMs };
}

/** Send a decision straight to the workflow (past the edge, so the workflow itself refuses it); resolves with the refusal's code. */
async function refusedInWorkflow(stack: TestStack, id: string, decision: DecideInput): Promise<string> {
  try {
    await stack.client.workflow.getHandle(id).executeUpdate(decideUpdate, { args: [decision] });
  } catch (err) {
    if (err instanceof WorkflowUpdateFailedError && err.cause instanceof ApplicationFailure && typeof err.cause.type === "string") return err.cause.type;
    throw err;
  }
  assert.fail(`${decision.approver}'s decision was accepted`);
}

async function redeem(stack: TestStack, id: string, body: Record<string, unknown>, tool = "payments.refund", server?: string): Promise<{ status: number; code?: string }> {
  const res = await stack.http("POST", "/v1/grants/redeem", await stack.toolHeaders(server), { grant: await stack.grantOf(id), tool, arguments: body.arguments, ...(body.resource !== undefined ? { resource: body.resource } : {}) });
  return { status: res.status, code: res.body?.error?.code };
}

async function revoke(stack: TestStack, id: string): Promise<void> {
  const res = await stack.http("POST", `/v1/approvals/${id}/revoke`, { authorization: `Bearer ${await stack.ids.principalToken("alice")}` }, { reason: "wrong ticket" });
  assert.equal(res.status, 200, JSON.stringify(res.body));
}

function withPayments(stack: TestStack, edit: (text: string) => string): void {
  stack.writeTenantFile("policies/payments.cedar", edit(stack.readTenantFile("policies/payments.cedar")));
}

/** Every path, in the order the README's table lists them. */
/** The fake Slack of the Slack scenario while it is recorded. */
let slackForScenario: FakeSlack | undefined;
const SCENARIO_SLACK = { botToken: "xoxb-scenario", signingSecret: "scenario-signing-secret" };

export const SCENARIOS: readonly PathScenario[] = [
  {
    fixture: "approval-proven-decisions-redeemed",
    path: "request with a resource, dave's proven but unentitled decision refused in the workflow, bob approves, redeemed, second redemption refused",
    ends: { status: "redeemed" },
    async run(stack) {
      const { id, body } = await requestPendingRefund(stack, { resource: { type: "Resource", id: "acme-order-1042" } });
      assert.equal(await refusedInWorkflow(stack, id, await proven(stack, id, "dave")), "approver_not_entitled");
      await stack.decide(id, "bob", "approve");
      assert.equal((await redeem(stack, id, body)).status, 200);
      assert.equal((await redeem(stack, id, body)).code, "grant_already_redeemed");
      return id;
    },
  },
  {
    fixture: "approval-denied-by-approver",
    path: "bob denies with a reason; a later approval by carol is refused",
    ends: { status: "denied", reasonCode: "denied_by_approver" },
    async run(stack) {
      const { id } = await requestPendingRefund(stack);
      assert.equal((await stack.decide(id, "bob", "deny", "not a duplicate charge")).status, "denied");
      await assert.rejects(stack.decide(id, "carol", "approve"), { code: "already_decided" });
      return id;
    },
  },
  {
    fixture: "approval-deadline-passed",
    path: "nobody decides before the policy's 1-second deadline: expired; a late approval is refused",
    ends: { status: "expired", reasonCode: "approval_deadline_passed" },
    async run(stack) {
      withPayments(stack, (t) => t.replace(/@deadline_seconds\("\d+"\)/g, '@deadline_seconds("1")'));
      const { id } = await requestPendingRefund(stack);
      assert.equal((await stack.approvals.waitForStatusChange(id, ["pending"], 30_000)).status, "expired");
      await assert.rejects(stack.decide(id, "bob", "approve"), { code: "approval_not_pending" });
      return id;
    },
  },
  {
    fixture: "approval-grant-expired",
    path: "bob approves; the 1-second grant is never redeemed and expires; redemption then refused",
    ends: { status: "expired", reasonCode: "grant_expired" },
    options: () => ({ grantTtlSeconds: 1 }),
    async run(stack) {
      const { id, body } = await requestPendingRefund(stack);
      await stack.decide(id, "bob", "approve");
      const grant = await stack.grantOf(id);
      assert.equal((await stack.approvals.waitForStatusChange(id, ["approved"], 30_000)).status, "expired");
      const res = await stack.http("POST", "/v1/grants/redeem", await stack.toolHeaders(), { grant, tool: "payments.refund", arguments: body.arguments });
      assert.equal(res.body?.error?.code, "grant_expired");
      return id;
    },
  },
  {
    fixture: "approval-revoked-pending",
    path: "the requester revokes while it waits for approvers; a later approval is refused",
    ends: { status: "revoked", reasonCode: "revoked" },
    async run(stack) {
      const { id } = await requestPendingRefund(stack);
      await revoke(stack, id);
      await assert.rejects(stack.decide(id, "bob", "approve"), { code: "approval_not_pending" });
      return id;
    },
  },
  {
    fixture: "approval-revoked-approved",
    path: "bob approves, the requester revokes the unredeemed grant; redemption refused",
    ends: { status: "revoked", reasonCode: "revoked" },
    async run(stack) {
      const { id, body } = await requestPendingRefund(stack);
      await stack.decide(id, "bob", "approve");
      const grant = await stack.grantOf(id);
      await revoke(stack, id);
      const res = await stack.http("POST", "/v1/grants/redeem", await stack.toolHeaders(), { grant, tool: "payments.refund", arguments: body.arguments });
      assert.equal(res.body?.error?.code, "invalid_grant");
      return id;
    },
  },
  {
    fixture: "approval-quorum-2-redeemed",
    path: "a bulk refund (quorum 2): bob approves and it stays pending, bob again refused, carol approves, redeemed",
    ends: { status: "redeemed" },
    async run(stack) {
      const { id, body } = await requestPendingRefund(stack, { tool: "payments.bulk_refund", arguments: { payment_ids: ["pay_1", "pay_2"] } });
      assert.equal((await stack.decide(id, "bob", "approve")).status, "pending");
      await assert.rejects(stack.decide(id, "bob", "approve"), { code: "already_decided" });
      assert.equal((await stack.decide(id, "carol", "approve")).status, "approved");
      assert.equal((await redeem(stack, id, body, "payments.bulk_refund")).status, 200);
      return id;
    },
  },
  {
    fixture: "approval-identity-failed",
    path: "the agent's workload identity token no longer verifies inside the workflow (it expired after the edge checked it): failed",
    ends: { status: "failed", reasonCode: "token_expired" },
    // The workflow verifies the token the edge accepted; here the activity is handed an expired copy,
    // the state the original reaches when the workflow's first task runs late.
    options: (stack) => ({
      wrapActivities: (real) => ({
        ...real,
        async verifyAgentIdentity(input) {
          return real.verifyAgentIdentity({ ...input, token: await stack().ids.agentToken(AGENT, { expiresInSeconds: -600 }) });
        },
      }),
    }),
    async run(stack) {
      const res = await stack.http("POST", "/v1/approvals", await stack.agentHeaders("alice"), refundRequest());
      assert.equal(res.status, 200, JSON.stringify(res.body));
      assert.equal(res.body.status, "failed");
      return res.body.id as string;
    },
  },
  {
    fixture: "approval-policy-denied-at-request",
    path: "policy forbids the tool (prod.db.drop): denied at once, no approver asked",
    ends: { status: "denied", reasonCode: "policy_denied" },
    async run(stack) {
      const res = await stack.http("POST", "/v1/approvals", await stack.agentHeaders("alice"), refundRequest({ tool: "prod.db.drop", arguments: { table: "customers" } }));
      assert.equal(res.body.status, "denied", JSON.stringify(res.body));
      return res.body.id as string;
    },
  },
  {
    fixture: "approval-not-required-redeemed",
    path: "policy needs no approver (kb.search): approved at once, redeemed by the kb server",
    ends: { status: "redeemed" },
    async run(stack) {
      const body = refundRequest({ tool: "kb.search", arguments: { query: "refund policy" } });
      const res = await stack.http("POST", "/v1/approvals", await stack.agentHeaders("alice"), body);
      assert.equal(res.body.status, "approved", JSON.stringify(res.body));
      const id = res.body.id as string;
      assert.equal((await redeem(stack, id, body, "kb.search", KB_SERVER)).status, 200);
      return id;
    },
  },
  {
    fixture: "approval-denied-at-decision-recheck",
    path: "alice loses the support role while pending; bob approves and the decision-time re-check denies",
    ends: { status: "denied", reasonCode: "policy_denied" },
    async run(stack) {
      const { id } = await requestPendingRefund(stack);
      stack.writeTenantFile("directory.yaml", stack.readTenantFile("directory.yaml").replace(/(id: alice \}[\s\S]*?parents: )\[[^\]]*\]/, "$1[]"));
      assert.equal((await stack.decide(id, "bob", "approve")).status, "denied");
      return id;
    },
  },
  {
    fixture: "approval-policy-denied-at-redemption",
    path: "bob approves, then a policy edit forbids refunds: the redemption is refused and the grant burned",
    ends: { status: "denied", reasonCode: "policy_denied" },
    async run(stack) {
      const { id, body } = await requestPendingRefund(stack);
      await stack.decide(id, "bob", "approve");
      withPayments(stack, (t) => `${t}\nforbid (principal, action == Action::"request", resource == Tool::"payments.refund");\n`);
      assert.deepEqual(await redeem(stack, id, body), { status: 403, code: "policy_denied" });
      return id;
    },
  },
  {
    fixture: "approval-refused-decisions",
    path: "refused in the workflow: dave twice (not entitled), bob with carol's assertion (invalid), erin of another tenant; bob approves; carol late; redeemed",
    ends: { status: "redeemed" },
    async run(stack) {
      const { id, body } = await requestPendingRefund(stack);
      assert.equal(await refusedInWorkflow(stack, id, await proven(stack, id, "dave")), "approver_not_entitled");
      assert.equal(await refusedInWorkflow(stack, id, await proven(stack, id, "dave")), "approver_not_entitled");
      assert.equal(await refusedInWorkflow(stack, id, await proven(stack, id, "bob", "carol")), "decision_assertion_invalid");
      assert.equal(await refusedInWorkflow(stack, id, await proven(stack, id, "erin")), "approver_not_entitled");
      await stack.decide(id, "bob", "approve");
      assert.equal(await refusedInWorkflow(stack, id, await proven(stack, id, "carol")), "already_decided");
      assert.equal((await redeem(stack, id, body)).status, 200);
      return id;
    },
  },
  {
    fixture: "approval-keyed-retries-redeemed",
    path: "bob approves with an Idempotency-Key and retries it (the recorded decision again, one Update); the tool server redeems with a key and retries it (the same 200, one Update); a redemption without the key is refused",
    ends: { status: "redeemed" },
    async run(stack) {
      const { id, body } = await requestPendingRefund(stack);
      const approver = { authorization: `Bearer ${await stack.ids.principalToken("bob", { scope: "countersign:approve" })}`, "idempotency-key": "bob-click-1" };
      for (let i = 0; i < 2; i++) assert.equal((await stack.http("POST", `/v1/approvals/${id}/decisions`, approver, { decision: "approve" })).body.status, "approved");
      const redemption = { grant: await stack.grantOf(id), tool: "payments.refund", arguments: body.arguments };
      const tool = { ...(await stack.toolHeaders()), "idempotency-key": "tool-call-1" };
      const first = await stack.http("POST", "/v1/grants/redeem", tool, redemption);
      assert.equal(first.status, 200);
      assert.deepEqual((await stack.http("POST", "/v1/grants/redeem", tool, redemption)).body, first.body);
      assert.equal((await redeem(stack, id, body)).code, "grant_already_redeemed");
      return id;
    },
  },
  {
    fixture: "approval-slack-card-reminded-approved-redeemed",
    path: "a card is posted to Slack; a reminder is sent in its thread; bob clicks Approve on the card (a signed Slack interaction); the card, a thread reply and alice's direct message follow; the tool server redeems and the card says so",
    ends: { status: "redeemed" },
    services: async () => {
      slackForScenario = await startFakeSlack({ botToken: SCENARIO_SLACK.botToken, teamId: "T0ACME", channels: ["C0APPROVALS"] });
      return {
        options: { slack: { apiUrl: slackForScenario.apiUrl, botToken: SCENARIO_SLACK.botToken, signingSecret: SCENARIO_SLACK.signingSecret, section: { reminders: { everySeconds: 1 } } } },
        close: () => slackForScenario?.close() ?? Promise.resolve(),
      };
    },
    async run(stack) {
      const slack = slackForScenario;
      assert.ok(slack !== undefined, "the fake Slack runs");
      const { id, body } = await requestPendingRefund(stack);
      const posted = await slack.waitForCall("chat.postMessage", (c) => c.status === 200 && JSON.stringify(c.args.metadata ?? "").includes(id));
      const ts = (posted.answer as { ts: string }).ts;
      await slack.waitForCall("chat.postMessage", (c) => c.args.thread_ts === ts);
      const payload = interactionBody(blockActionPayload({ teamId: "T0ACME", userId: "U0BOB", actionId: APPROVE_ACTION_ID, value: id, channel: "C0APPROVALS", messageTs: ts }));
      const res = await fetch(`${stack.baseUrl}/slack/events`, { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded", ...slackSignatureHeaders(SCENARIO_SLACK.signingSecret, payload) }, body: payload });
      assert.equal(res.status, 200);
      let state = await stack.approvals.waitForStatusChange(id, ["pending"], 10_000);
      assert.equal(state.status, "approved");
      assert.equal((await redeem(stack, id, body)).status, 200);
      state = await stack.approvals.state(id);
      assert.equal(state.status, "redeemed");
      return id;
    },
  },
  {
    fixture: "approval-settled-in-one-step-redeemed",
    path: "bob approves; the decision-time re-check and the grant's minting run as one local activity (patch `decision-settle-v1`); redeemed, second redemption refused",
    ends: { status: "redeemed" },
    async run(stack) {
      const { id, body } = await requestPendingRefund(stack);
      assert.equal((await stack.decide(id, "bob", "approve")).status, "approved");
      assert.equal((await redeem(stack, id, body)).status, 200);
      assert.equal((await redeem(stack, id, body)).code, "grant_already_redeemed");
      return id;
    },
  },
  {
    fixture: "approval-denied-at-settle",
    path: "alice loses the support role while pending; bob approves and the one-step settle's re-check denies: no grant is minted",
    ends: { status: "denied", reasonCode: "policy_denied" },
    async run(stack) {
      const { id } = await requestPendingRefund(stack);
      const directory = stack.readTenantFile("directory.yaml");
      stack.writeTenantFile("directory.yaml", directory.replace(/(id: alice \}[\s\S]*?parents: )\[[^\]]*\]/, "$1[]"));
      try {
        assert.equal((await stack.decide(id, "bob", "approve")).status, "denied");
      } finally {
        stack.writeTenantFile("directory.yaml", directory);
      }
      return id;
    },
  },
];
