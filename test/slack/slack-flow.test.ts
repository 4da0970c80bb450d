// Approvers decide in Slack, end to end: the worker posts and updates the card through the Web API
// (a fake Slack at the HTTP boundary), signed clicks and modal submissions reach the real Bolt
// receiver on our HTTP server, and the real Temporal dev server runs the approval.
import assert from "node:assert/strict";
import { ApplicationFailure } from "@temporalio/common";
import type { ApprovalState } from "../../workflows/definitions.js";
import { renderAudit } from "../../src/client/history.js";
import { APPROVE_ACTION_ID, APPROVE_WITH_REASON_ACTION_ID, APPROVE_MODAL_CALLBACK_ID, DENY_ACTION_ID, DENY_MODAL_CALLBACK_ID, REASON_ACTION_ID, REASON_BLOCK_ID } from "../../src/slack/card.js";
import { runCli } from "../support/run-cli.js";
import { runnerWorkerMetricsAddress, requestPendingRefund, startStack, type StackOptions, type TestStack } from "../support/stack.js";
import { blockActionPayload, interactionBody, slackSignatureHeaders, startFakeSlack, viewSubmissionPayload, type FakeMessage, type FakeSlack, type RecordedCall } from "../support/fake-slack.js";

const BOT_TOKEN = "xoxb-test-countersign";
const SIGNING_SECRET = "test-signing-secret-0123456789abcdef";
const TEAM = "T0ACME";
const CHANNEL = "C0APPROVALS";
const BOB = "U0BOB";
const CAROL = "U0CAROL";

/** Every text a block tree carries, with the kind of text object it sits in. */
function texts(value: unknown, out: Array<{ type: string; text: string }> = []): Array<{ type: string; text: string }> {
  if (Array.isArray(value)) for (const v of value) texts(v, out);
  else if (value !== null && typeof value === "object") {
    const o = value as Record<string, unknown>;
    if (typeof o.text === "string" && typeof o.type === "string") out.push({ type: o.type, text: o.text });
    for (const v of Object.values(o)) texts(v, out);
  }
  return out;
}

function hasButtons(message: FakeMessage): boolean {
  return (message.blocks ?? []).some((b) => (b as { type?: string }).type === "actions");
}

function cardText(message: FakeMessage): string {
  return texts(message.blocks).map((t) => t.text).join("\n");
}

describe("approvers decide in Slack (fake Slack Web API, real Bolt and Temporal)", function () {
  this.timeout(60_000);
  let slack: FakeSlack;
  let stack: TestStack;

  async function start(opts: StackOptions = {}, section: Record<string, unknown> = {}, appToken?: string): Promise<void> {
    stack = await startStack({ ...opts, slack: { apiUrl: slack.apiUrl, botToken: BOT_TOKEN, signingSecret: SIGNING_SECRET, ...(appToken !== undefined ? { appToken } : {}), section: { requestTimeoutMs: 1000, ...section } } });
  }

  beforeEach(async function () {
    slack = await startFakeSlack({
      botToken: BOT_TOKEN,
      teamId: TEAM,
      channels: [CHANNEL, "C0ESCALATE"],
      users: [
        { id: "U0BOB", teamId: TEAM, email: "bob@acme.example" },
        { id: "U0SOMEONE", teamId: TEAM, email: "carol@acme.example" },
      ],
    });
  });
  afterEach(async function () {
    await stack?.stop();
    await slack.close();
  });

  /** POST a signed interaction to /slack/events, as Slack does. */
  async function post(payload: unknown, opts: { secret?: string; timestampSeconds?: number; retryNum?: number } = {}): Promise<number> {
    const body = interactionBody(payload);
    const res = await fetch(`${stack.baseUrl}/slack/events`, {
      method: "POST",
      headers: {
        "content-type": "application/x-www-form-urlencoded",
        ...slackSignatureHeaders(opts.secret ?? SIGNING_SECRET, body, opts.timestampSeconds),
        ...(opts.retryNum !== undefined ? { "x-slack-retry-num": String(opts.retryNum), "x-slack-retry-reason": "http_timeout" } : {}),
      },
      body,
    });
    await res.text();
    return res.status;
  }

  /** A card for `id` has been posted; its message. */
  async function cardOf(id: string, channel = CHANNEL): Promise<FakeMessage> {
    await slack.waitForCall("chat.postMessage", (c) => c.args.channel === channel && JSON.stringify(c.args.metadata ?? "").includes(id) && c.status === 200);
    const card = slack.messages(channel).find((m) => m.metadata?.event_payload.approval_id === id);
    assert.ok(card !== undefined, "the card is in the channel");
    return card;
  }

  /** Wait until the card of `id` in `channel` satisfies `check` (updates are recorded calls: wait on them). */
  async function cardBecomes(id: string, check: (m: FakeMessage) => boolean, channel = CHANNEL): Promise<FakeMessage> {
    const matches = (): FakeMessage | undefined => slack.messages(channel).find((m) => m.metadata?.event_payload.approval_id === id && check(m));
    const found = matches();
    if (found !== undefined) return found;
    await slack.waitForCall("*", () => matches() !== undefined, 30_000);
    const card = matches();
    assert.ok(card !== undefined);
    return card;
  }

  async function click(id: string, user: string, actionId: string, card: FakeMessage, opts: { team?: string; retryNum?: number; actionTs?: string } = {}): Promise<number> {
    return post(
      blockActionPayload({ teamId: opts.team ?? TEAM, userId: user, actionId, value: id, channel: card.channel, messageTs: card.ts, triggerId: `trigger-${user}-${Date.now()}`, ...(opts.actionTs !== undefined ? { actionTs: opts.actionTs } : {}) }),
      opts.retryNum !== undefined ? { retryNum: opts.retryNum } : {},
    );
  }

  async function waitForStatus(id: string, status: ApprovalState["status"]): Promise<ApprovalState> {
    // Right after a worker restart a query can wait out the old worker's sticky queue: ask again.
    let state = await stack.approvals.state(id).catch(() => stack.approvals.state(id));
    while (state.status !== status) {
      state = await stack.approvals.waitForStatusChange(id, [state.status], 10_000);
      if (state.status !== status && !["verifying", "pending", "approved"].includes(state.status)) break;
    }
    assert.equal(state.status, status);
    return state;
  }

  async function refusalFor(user: string): Promise<string> {
    const call = await slack.waitForCall("chat.postEphemeral", (c) => c.args.user === user && (c.answer as { ok?: boolean }).ok === true);
    return String(call.args.text);
  }

  it("posts one card, an Approve click gives the waiting agent its grant, and the card ends without buttons", async function () {
    await start();
    const hostile = "Refund <!channel> <@U0CAROL> *now* <https://evil.example|click here> `code`\u202Egnp.exe";
    const { id } = await requestPendingRefund(stack, {
      intent: { taskId: "ticket-1042", summary: hostile },
      arguments: { payment_id: "pay_1042", amount_cents: 4200, currency: "EUR", card_number: "4111 1111 1111 1111" },
    });
    const card = await cardOf(id);
    assert.equal(slack.callsTo("chat.postMessage").filter((c) => c.args.channel === CHANNEL).length, 1, "exactly one card");
    assert.ok(hasButtons(card), "a pending card has Approve and Deny");
    const buttons = JSON.stringify(card.blocks);
    assert.ok(buttons.includes(APPROVE_ACTION_ID) && buttons.includes(DENY_ACTION_ID));
    // The hostile summary is shown, inert: no mrkdwn text carries the agent's <…> sequences.
    for (const t of texts(card.blocks).filter((t) => t.type === "mrkdwn")) {
      assert.ok(!t.text.includes("<!channel>") && !t.text.includes("<@U0CAROL>") && !t.text.includes("<https://evil.example"), `inert mrkdwn: ${t.text}`);
    }
    assert.ok(cardText(card).includes("\\u{202E}"), "the bidi override is shown escaped");
    assert.ok(!cardText(card).includes("4111"), "redacted fields never reach Slack");

    // The agent long-polls while bob clicks Approve.
    const waiting = stack.http("GET", `/v1/approvals/${id}?wait=20`, await stack.agentHeaders("alice"));
    assert.equal(await click(id, BOB, APPROVE_ACTION_ID, card), 200);
    const polled = await waiting;
    assert.equal(polled.body.status, "approved");
    assert.equal(typeof polled.body.grant, "string", "the agent holds the grant");

    const state = await stack.approvals.state(id);
    assert.equal(state.decisions.length, 1);
    assert.deepEqual({ approver: state.decisions[0]?.approver, via: state.decisions[0]?.via, slack: state.decisions[0]?.slack }, { approver: "bob", via: "slack", slack: { userId: BOB, teamId: TEAM } });
    assert.match(renderAudit(state), /bob approves via slack .*Slack user U0BOB in workspace T0ACME/);
    const updated = await cardBecomes(id, (m) => !hasButtons(m) && /approved/i.test(cardText(m)));
    assert.ok(cardText(updated).includes("<@U0BOB>"), "the status line names the approver");
    const reply = await slack.waitForCall("chat.postMessage", (c) => c.args.thread_ts === card.ts);
    assert.match(String(reply.args.text), /<@U0BOB> approved/);
    assert.equal(slack.messages(CHANNEL).filter((m) => m.metadata?.event_payload.approval_id === id).length, 1, "still one card");
    // The Web API calls one approval costs up to here (README "Slack"): the card, its update, the thread reply, alice's DM.
    await slack.waitForCall("chat.postMessage", (c) => c.args.channel === "U0ALICE");
    const byMethod: Record<string, number> = {};
    for (const c of slack.calls.filter((c) => c.method !== "auth.test")) byMethod[c.method] = (byMethod[c.method] ?? 0) + 1;
    assert.deepEqual(byMethod, { "chat.postMessage": 3, "chat.update": 1 });
  });

  it("Deny opens the reason modal, and its submission denies with that reason", async function () {
    await start();
    const { id } = await requestPendingRefund(stack);
    const card = await cardOf(id);
    assert.equal(await click(id, BOB, DENY_ACTION_ID, card), 200);
    const opened = await slack.waitForCall("views.open");
    const view = opened.args.view as { callback_id: string; private_metadata: string };
    assert.equal(view.callback_id, DENY_MODAL_CALLBACK_ID);
    assert.equal((await stack.approvals.state(id)).status, "pending", "a click on Deny alone decides nothing");

    const submit = (reason: string): Promise<number> =>
      post(viewSubmissionPayload({ teamId: TEAM, userId: BOB, callbackId: view.callback_id, privateMetadata: view.private_metadata, values: { [REASON_BLOCK_ID]: { [REASON_ACTION_ID]: { type: "plain_text_input", value: reason } } } }));
    assert.equal(await submit("duplicate of refund r_77"), 200);
    const state = await waitForStatus(id, "denied");
    assert.equal(state.decisions[0]?.reason, "duplicate of refund r_77");
    const updated = await cardBecomes(id, (m) => !hasButtons(m) && /denied/i.test(cardText(m)));
    assert.ok(cardText(updated).includes("duplicate of refund r_77"));
  });

  it("a click by a non-entitled, an unmapped or another workspace's user is refused to them alone and changes nothing", async function () {
    await start();
    const { id } = await requestPendingRefund(stack);
    const card = await cardOf(id);
    const before = JSON.stringify((await stack.approvals.state(id)).decisions);
    assert.equal(await click(id, "U0DAVE", APPROVE_ACTION_ID, card), 200);
    assert.match(await refusalFor("U0DAVE"), /not entitled/);
    assert.equal(await click(id, "U0NOBODY", APPROVE_ACTION_ID, card), 200);
    assert.match(await refusalFor("U0NOBODY"), /not linked/);
    assert.equal(await click(id, BOB, APPROVE_ACTION_ID, card, { team: "T0OTHER" }), 200);
    assert.match(await refusalFor(BOB), /another Slack workspace/);
    assert.equal(await click(id, "U0ALICE", APPROVE_ACTION_ID, card), 200);
    assert.match(await refusalFor("U0ALICE"), /not entitled|yourself/);
    const state = await stack.approvals.state(id);
    assert.equal(state.status, "pending");
    assert.equal(JSON.stringify(state.decisions), before);
    assert.equal(slack.callsTo("views.open").length, 0);
    assert.equal(slack.callsTo("auth.test").length, 1, "the bot's identity is asked once, not per click");
    // Deny opens its modal at once (Slack's trigger lives 3 s); for dave it turns into the refusal.
    assert.equal(await click(id, "U0DAVE", DENY_ACTION_ID, card), 200);
    await slack.waitForCall("views.update");
    assert.match(JSON.stringify(slack.views[0]?.view), /not entitled/);
    assert.ok(!JSON.stringify(slack.views[0]?.view).includes('"submit"'), "the refusal has nothing to submit");
    await slack.waitForCall("chat.postEphemeral", () => slack.ephemerals.filter((e) => e.user === "U0DAVE").length === 2);
    assert.equal((await stack.approvals.state(id)).status, "pending");
  });

  it("a forged signature and a stale timestamp are 401 and send no Update", async function () {
    await start();
    const { id } = await requestPendingRefund(stack);
    const card = await cardOf(id);
    const payload = blockActionPayload({ teamId: TEAM, userId: BOB, actionId: APPROVE_ACTION_ID, value: id, channel: card.channel, messageTs: card.ts });
    assert.equal(await post(payload, { secret: "not-the-secret" }), 401);
    assert.equal(await post(payload, { timestampSeconds: Math.floor(Date.now() / 1000) - 301 }), 401);
    assert.equal(await post(payload, { timestampSeconds: Math.floor(Date.now() / 1000) + 301 }), 401);
    const res = await fetch(`${stack.baseUrl}/slack/events`, { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded" }, body: interactionBody(payload) });
    assert.equal(res.status, 401);
    assert.equal((await res.json() as { error: { code: string } }).error.code, "slack_signature_invalid");
    const history = await stack.client.workflow.getHandle(id).fetchHistory();
    assert.equal(history.events?.filter((e) => e.workflowExecutionUpdateAcceptedEventAttributes != null).length, 0, "no Update reached the workflow");
    assert.equal((await stack.approvals.state(id)).decisions.length, 0);
  });

  it("a double click and Slack's retry of it are one decision", async function () {
    await start({}, {});
    // Two approvers are needed, so the first approval leaves the card pending and clickable.
    const { id } = await requestPendingRefund(stack, { tool: "payments.bulk_refund" });
    const card = await cardOf(id);
    const statuses = await Promise.all([
      click(id, BOB, APPROVE_ACTION_ID, card, { actionTs: "1.1" }),
      click(id, BOB, APPROVE_ACTION_ID, card, { actionTs: "1.2" }),
      click(id, BOB, APPROVE_ACTION_ID, card, { actionTs: "1.1", retryNum: 1 }),
    ]);
    assert.deepEqual(statuses, [200, 200, 200]);
    await cardBecomes(id, (m) => cardText(m).includes("1 of 2 approvals") && hasButtons(m));
    const state = await stack.approvals.state(id);
    assert.equal(state.decisions.length, 1, "one decision");
    const history = await stack.client.workflow.getHandle(id).fetchHistory();
    assert.equal(history.events?.filter((e) => e.workflowExecutionUpdateAcceptedEventAttributes != null).length, 1, "one accepted Update");
    assert.equal(slack.ephemerals.filter((e) => e.user === BOB).length, 0, "the repeated clicks are not refusals");
  });

  it("a quorum of two shows its progress, then approves", async function () {
    await start();
    const { id } = await requestPendingRefund(stack, { tool: "payments.bulk_refund" });
    const card = await cardOf(id);
    assert.ok(cardText(card).includes("0 of 2 approvals"));
    assert.equal(await click(id, BOB, APPROVE_ACTION_ID, card), 200);
    await cardBecomes(id, (m) => cardText(m).includes("1 of 2 approvals") && hasButtons(m));
    assert.equal(await click(id, CAROL, APPROVE_ACTION_ID, card), 200);
    await waitForStatus(id, "approved");
    await cardBecomes(id, (m) => !hasButtons(m) && /approved/i.test(cardText(m)));
  });

  it("expiry, revocation and redemption each update the card", async function () {
    await start();
    stack.writeTenantFile("policies/payments.cedar", stack.readTenantFile("policies/payments.cedar").replace('@deadline_seconds("900")', '@deadline_seconds("2")'));
    const expiring = await requestPendingRefund(stack);
    await cardOf(expiring.id);
    await waitForStatus(expiring.id, "expired");
    await cardBecomes(expiring.id, (m) => !hasButtons(m) && /expired/i.test(cardText(m)));

    stack.writeTenantFile("policies/payments.cedar", stack.readTenantFile("policies/payments.cedar").replace('@deadline_seconds("2")', '@deadline_seconds("900")'));
    const revoked = await requestPendingRefund(stack);
    await cardOf(revoked.id);
    const res = await stack.http("POST", `/v1/approvals/${revoked.id}/revoke`, await stack.agentHeaders("alice"), { reason: "customer withdrew" });
    assert.equal(res.status, 200);
    await cardBecomes(revoked.id, (m) => !hasButtons(m) && /revoked/i.test(cardText(m)));

    const redeemed = await requestPendingRefund(stack);
    const card = await cardOf(redeemed.id);
    assert.equal(await click(redeemed.id, BOB, APPROVE_ACTION_ID, card), 200);
    await waitForStatus(redeemed.id, "approved");
    const grant = await stack.grantOf(redeemed.id);
    const body = { grant, tool: "payments.refund", arguments: { payment_id: "pay_1042", amount_cents: 4200, currency: "EUR" } };
    assert.equal((await stack.http("POST", "/v1/grants/redeem", await stack.toolHeaders(), body)).status, 200);
    await cardBecomes(redeemed.id, (m) => /Approved and used/.test(cardText(m)) && cardText(m).includes("spiffe://"));
  });

  it("a rate-limited post is retried after Retry-After and makes exactly one card", async function () {
    slack.fail("chat.postMessage", { rateLimitedSeconds: 1 }, 1);
    await start();
    const { id } = await requestPendingRefund(stack);
    await cardOf(id);
    const posts = slack.callsTo("chat.postMessage").filter((c) => c.args.channel === CHANNEL && c.args.thread_ts === undefined);
    assert.equal(posts[0]?.status, 429);
    assert.ok((posts[1]?.atMs ?? 0) - (posts[0]?.atMs ?? 0) >= 900, "the retry waited for Retry-After");
    assert.equal(slack.messages(CHANNEL).filter((m) => m.metadata?.event_payload.approval_id === id).length, 1);
  });

  it("a post that timed out after Slack accepted it is found again, not posted twice", async function () {
    slack.fail("chat.postMessage", { acceptThenDelayMs: 2500 }, 1);
    await start();
    const { id } = await requestPendingRefund(stack);
    await slack.waitForCall("conversations.history");
    const card = await cardBecomes(id, (m) => m.updates >= 1);
    assert.equal(slack.messages(CHANNEL).filter((m) => m.metadata?.event_payload.approval_id === id).length, 1, "exactly one card");
    // The decision's thread reply, too, is accepted by Slack and answered too late: it is not repeated.
    slack.fail("chat.postMessage", { acceptThenDelayMs: 2500 }, 1);
    assert.equal(await click(id, BOB, APPROVE_ACTION_ID, card), 200);
    await waitForStatus(id, "approved");
    await cardBecomes(id, (m) => !hasButtons(m));
    await slack.waitForCall("conversations.replies");
    await slack.waitForCall("chat.postMessage", (c) => c.args.channel === "U0ALICE");
    assert.equal(slack.replies(CHANNEL, card.ts).length, 1, "exactly one thread reply");
  });

  it("a worker restarted between the post and the click still completes the approval", async function () {
    await start();
    const { id } = await requestPendingRefund(stack);
    const card = await cardOf(id);
    await stack.stopWorker();
    await stack.startWorker();
    assert.equal(await click(id, BOB, APPROVE_ACTION_ID, card), 200);
    await waitForStatus(id, "approved");
    await cardBecomes(id, (m) => !hasButtons(m) && /approved/i.test(cardText(m)));
  });

  it("while Slack is down the approval is decided from the CLI, and the card catches up when Slack returns", async function () {
    await start();
    const { id } = await requestPendingRefund(stack);
    await cardOf(id);
    slack.down();
    const token = await stack.ids.principalToken("bob", { scope: "countersign:approve" });
    const cli = await runCli(["--config", stack.configFile, "approve", id, "--token", token, "--url", stack.baseUrl]);
    assert.equal(cli.code, 0, cli.out);
    assert.equal((await stack.approvals.state(id)).status, "approved");
    await slack.waitForCall("chat.update", (c: RecordedCall) => c.status === 503);
    slack.up();
    const card = await cardBecomes(id, (m) => !hasButtons(m) && /approved/i.test(cardText(m)));
    assert.ok(cardText(card).includes("bob") || cardText(card).includes("<@U0BOB>"));
  });

  it("a channel Slack does not know is recorded in the approval's trail and never retried in a loop", async function () {
    await start({}, { tenants: { acme: { teamId: TEAM, channel: "C0MISSING" } } });
    const { id } = await requestPendingRefund(stack);
    await slack.waitForCall("chat.postMessage", (c) => c.args.channel === "C0MISSING");
    assert.equal(slack.callsTo("conversations.history").length, 0, "a first post does not look for an earlier card");
    let state = await stack.approvals.state(id);
    for (let i = 0; i < 50 && (state.slack?.errors.length ?? 0) === 0; i++) state = await stack.approvals.waitForStatusChange(id, ["pending"], 200);
    assert.equal(state.slack?.errors[0]?.code, "slack_rejected");
    assert.match(state.slack?.errors[0]?.message ?? "", /channel_not_found/);
    assert.equal(slack.callsTo("chat.postMessage").filter((c) => c.args.channel === "C0MISSING").length, 1, "a permanent error is not retried");
    assert.match(renderAudit(state), /slack .* failed: slack_rejected in C0MISSING/);
    // The worker counts it (served by this test runner's Temporal runtime, as a worker's metrics endpoint).
    const metrics = await (await fetch(`http://${runnerWorkerMetricsAddress()}/metrics`)).text();
    assert.match(metrics, /countersign_slack_failures\{[^}]*code="slack_rejected"[^}]*\} [1-9]/);
    assert.equal((await stack.decide(id, "bob", "approve")).status, "approved", "the approval is still decidable");
  });

  it("tells the requester the outcome by direct message", async function () {
    await start();
    const { id } = await requestPendingRefund(stack);
    const card = await cardOf(id);
    await click(id, BOB, APPROVE_ACTION_ID, card);
    const dm = await slack.waitForCall("chat.postMessage", (c) => c.args.channel === "U0ALICE");
    assert.match(String(dm.args.text), /approved/i);
  });

  it("reminds the approver channel while pending and escalates to the second group after the delay", async function () {
    await start({}, { reminders: { everySeconds: 1, max: 2 }, escalation: { afterSeconds: 2 }, tenants: { acme: { teamId: TEAM, channel: CHANNEL, groups: { support: "C0ESCALATE" } } } });
    stack.writeTenantFile("policies/payments.cedar", stack.readTenantFile("policies/payments.cedar").replace('@id("payments-refund")', '@id("payments-refund")\n@escalate_to("support")'));
    const { id } = await requestPendingRefund(stack);
    const card = await cardOf(id);
    await slack.waitForCall("chat.postMessage", (c) => c.args.thread_ts === card.ts && /remind|waiting/i.test(String(c.args.text)));
    await cardOf(id, "C0ESCALATE");
    const state = await stack.approvals.state(id);
    assert.deepEqual(state.slack?.escalatedTo, ["support"]);
    assert.ok(state.routing?.approverGroups.includes("support"), "the escalation group may now decide");
    // Reminders stop at slack.reminders.max, whatever the interval.
    await slack.waitForCall("chat.postMessage", (c) => c.args.thread_ts === card.ts && /remind|waiting/i.test(String(c.args.text)) && slack.replies(CHANNEL, card.ts).filter((m) => /remind|waiting/i.test(m.text ?? "")).length >= 2);
    const escalated = await stack.approvals.waitForStatusChange(id, ["pending"], 3_000);
    assert.equal(escalated.slack?.remindersSent, 2);
  });

  it("where policy requires a reason to approve, Approve opens the reason modal; a critical tool's Approve asks for confirmation", async function () {
    await start();
    const policy = stack.readTenantFile("policies/payments.cedar");
    stack.writeTenantFile("policies/payments.cedar", policy.replace('@id("payments-refund")', '@id("payments-refund")\n@approve_reason_required("true")\n@critical("true")'));
    const { id } = await requestPendingRefund(stack);
    const card = await cardOf(id);
    const approve = JSON.stringify((card.blocks ?? []).find((b) => (b as { type?: string }).type === "actions"));
    assert.ok(approve.includes('"confirm"'), "Approve asks for confirmation on a critical tool");
    assert.ok(approve.includes(APPROVE_WITH_REASON_ACTION_ID), "Approve opens the reason modal");
    assert.equal(await click(id, BOB, APPROVE_WITH_REASON_ACTION_ID, card), 200);
    const opened = await slack.waitForCall("views.open");
    const view = opened.args.view as { callback_id: string; private_metadata: string };
    assert.equal(view.callback_id, APPROVE_MODAL_CALLBACK_ID);
    assert.equal((await stack.approvals.state(id)).decisions.length, 0, "no decision without the reason");
    const submit = (reason: string): Promise<number> =>
      post(viewSubmissionPayload({ teamId: TEAM, userId: BOB, callbackId: view.callback_id, privateMetadata: view.private_metadata, values: { [REASON_BLOCK_ID]: { [REASON_ACTION_ID]: { type: "plain_text_input", value: reason } } } }));
    assert.equal(await submit("   "), 200, "an empty reason is answered in the modal");
    assert.equal((await stack.approvals.state(id)).decisions.length, 0);
    assert.equal(await submit("customer called, verified"), 200);
    const state = await waitForStatus(id, "approved");
    assert.equal(state.decisions[0]?.reason, "customer called, verified");
    // The approver endpoint enforces the same rule.
    const other = await requestPendingRefund(stack);
    await assert.rejects(stack.decide(other.id, "carol", "approve"), { code: "reason_required" });
  });

  it("maps a Slack user by email only when configured, and refuses an ambiguous mapping", async function () {
    await start({}, { mapUsersByEmail: true });
    const { id } = await requestPendingRefund(stack, { tool: "payments.bulk_refund" });
    const card = await cardOf(id);
    // U0SOMEONE has no slackUserId in the directory; Slack reports carol's email for them.
    assert.equal(await click(id, "U0SOMEONE", APPROVE_ACTION_ID, card), 200);
    await cardBecomes(id, (m) => cardText(m).includes("1 of 2 approvals"));
    assert.equal((await stack.approvals.state(id)).decisions[0]?.approver, "carol");
    // Two directory users claim U0BOB: nobody is guessed.
    stack.writeTenantFile("directory.yaml", stack.readTenantFile("directory.yaml").replace("slackUserId: U0CAROL", "slackUserId: U0BOB"));
    const other = await requestPendingRefund(stack);
    const otherCard = await cardOf(other.id);
    assert.equal(await click(other.id, BOB, APPROVE_ACTION_ID, otherCard), 200);
    assert.match(await refusalFor(BOB), /more than one countersign user/);
    assert.equal((await stack.approvals.state(other.id)).decisions.length, 0);
  });

  it("answers Slack's URL verification, and refuses a signed body that does not parse", async function () {
    await start();
    const challenge = JSON.stringify({ type: "url_verification", challenge: "c-123", token: "unused" });
    const res = await fetch(`${stack.baseUrl}/slack/events`, { method: "POST", headers: { "content-type": "application/json", ...slackSignatureHeaders(SIGNING_SECRET, challenge) }, body: challenge });
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), { challenge: "c-123" });
    const garbage = "payload=%7Bnot-json";
    const bad = await fetch(`${stack.baseUrl}/slack/events`, { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded", ...slackSignatureHeaders(SIGNING_SECRET, garbage) }, body: garbage });
    assert.equal(bad.status, 400);
    assert.equal(((await bad.json()) as { error: { code: string } }).error.code, "invalid_request");
  });

  it("with an app-level token the clicks arrive over Socket Mode, and /slack/events is not served", async function () {
    await start({}, { appTokenFile: "./keys/slack-app-token" }, "xapp-1-test");
    const { id } = await requestPendingRefund(stack);
    const card = await cardOf(id);
    await slack.waitForCall("apps.connections.open");
    await slack.sendOverSocket(blockActionPayload({ teamId: TEAM, userId: BOB, actionId: APPROVE_ACTION_ID, value: id, channel: card.channel, messageTs: card.ts }));
    await waitForStatus(id, "approved");
    await cardBecomes(id, (m) => !hasButtons(m) && /approved/i.test(cardText(m)));
    const payload = interactionBody(blockActionPayload({ teamId: TEAM, userId: BOB, actionId: APPROVE_ACTION_ID, value: id, channel: card.channel, messageTs: card.ts }));
    const res = await fetch(`${stack.baseUrl}/slack/events`, { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded", ...slackSignatureHeaders(SIGNING_SECRET, payload) }, body: payload });
    assert.equal(res.status, 404, "in Socket Mode nothing is received over HTTP");
  });

  it("a click while Slack cannot tell the bot's identity changes nothing, and the next click works", async function () {
    await start();
    const { id } = await requestPendingRefund(stack);
    const card = await cardOf(id);
    slack.fail("auth.test", { status: 500 }, 1);
    // Bolt acks a click it cannot authorize and calls no listener (it logs a warning).
    assert.equal(await click(id, BOB, APPROVE_ACTION_ID, card), 200);
    assert.equal((await stack.approvals.state(id)).decisions.length, 0);
    assert.equal(await click(id, BOB, APPROVE_ACTION_ID, card), 200, "a failed identity check is not remembered");
    await waitForStatus(id, "approved");
  });

  it("a requester message Slack accepted but answered too late is not sent twice", async function () {
    await start();
    const { id } = await requestPendingRefund(stack);
    const card = await cardOf(id);
    // Fail the third post of this approval (card, thread reply, then the DM) after it took effect.
    await click(id, BOB, APPROVE_ACTION_ID, card);
    await slack.waitForCall("chat.postMessage", (c) => c.args.thread_ts === card.ts);
    slack.fail("chat.postMessage", { acceptThenDelayMs: 2500 }, 1);
    await slack.waitForCall("conversations.open");
    await slack.waitForCall("conversations.history", (c) => c.args.channel === "DU0ALICE");
    // The lane updates the card for the redemption only once the message step is done.
    const grant = await stack.grantOf(id);
    const redeemed = await stack.http("POST", "/v1/grants/redeem", await stack.toolHeaders(), { grant, tool: "payments.refund", arguments: { payment_id: "pay_1042", amount_cents: 4200, currency: "EUR" } });
    assert.equal(redeemed.status, 200);
    await cardBecomes(id, (m) => /Approved and used/.test(cardText(m)));
    assert.equal(slack.messages("DU0ALICE").length, 1, "one direct message");
  });

  it("after the escalation delay a member of the escalation group may decide, and not before", async function () {
    await start({}, { escalation: { afterSeconds: 2 }, tenants: { acme: { teamId: TEAM, channel: CHANNEL, groups: { "payments-lead": "C0ESCALATE" } } } });
    // frank leads payments: the approve policies permit the group, but no request routes to it until escalation.
    stack.writeTenantFile(
      "directory.yaml",
      `${stack.readTenantFile("directory.yaml")}
- uid: { type: Role, id: payments-lead }
  attrs: {}
  parents: []
- uid: { type: User, id: frank }
  attrs: { tenant: { type: Tenant, id: acme }, email: frank@acme.example, slackUserId: U0FRANK, displayName: Frank Lead }
  parents: [{ type: Role, id: payments-lead }]
`,
    );
    const policies = stack.readTenantFile("policies/payments.cedar");
    stack.writeTenantFile(
      "policies/payments.cedar",
      `${policies.replace('@id("payments-refund")', '@id("payments-refund")\n@escalate_to("payments-lead")')}
@id("payments-lead-approve")
permit (principal in Role::"payments-lead", action == Action::"approve", resource == Tool::"payments.refund")
when { principal.tenant == context.tenant };
`,
    );
    const { id } = await requestPendingRefund(stack);
    const card = await cardOf(id);
    assert.equal(await click(id, "U0FRANK", APPROVE_ACTION_ID, card), 200);
    assert.match(await refusalFor("U0FRANK"), /not entitled/);
    const escalated = await cardOf(id, "C0ESCALATE");
    assert.equal(await click(id, "U0FRANK", APPROVE_ACTION_ID, escalated), 200);
    const state = await waitForStatus(id, "approved");
    assert.equal(state.decisions[0]?.approver, "frank");
    assert.deepEqual(state.decisions[0]?.groups, ["payments-lead"]);
    // Both cards end the same way.
    await cardBecomes(id, (m) => !hasButtons(m) && /approved/i.test(cardText(m)));
    await cardBecomes(id, (m) => !hasButtons(m) && /approved/i.test(cardText(m)), "C0ESCALATE");
  });

  it("Slack gets its answer within 3 s even when Bolt's first step is slow, and the click still decides", async function () {
    await start({}, { requestTimeoutMs: 6_000 });
    const { id } = await requestPendingRefund(stack);
    const card = await cardOf(id);
    // The bot's identity is asked on the first event; Slack answers it only after 4 s.
    slack.fail("auth.test", { acceptThenDelayMs: 4_000 }, 1);
    const started = Date.now();
    assert.equal(await click(id, BOB, APPROVE_ACTION_ID, card), 200);
    assert.ok(Date.now() - started < 3_000, `answered after ${Date.now() - started} ms`);
    await waitForStatus(id, "approved");
  });

  it("a plan the worker cannot make leaves no cards, and the approval's trail says why", async function () {
    await start({
      wrapActivities: (real) => ({
        ...real,
        planSlackCards: () => Promise.reject(ApplicationFailure.nonRetryable("the Slack config could not be read", "internal")),
      }),
    });
    const { id } = await requestPendingRefund(stack);
    let state = await stack.approvals.state(id);
    for (let i = 0; i < 50 && state.slack === undefined; i++) state = await stack.approvals.waitForStatusChange(id, ["pending"], 100);
    assert.equal(state.slack?.errors[0]?.code, "internal");
    assert.match(state.slack?.errors[0]?.message ?? "", /could not be read/);
    assert.equal(slack.callsTo("chat.postMessage").length, 0);
    assert.equal((await stack.decide(id, "bob", "approve")).status, "approved", "the approval is still decidable");
  });
});
