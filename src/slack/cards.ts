// The approval's Slack presence as the worker's activities carry it out: where the cards go (plan),
// posting or updating one card (at most one per approval and channel, also when a post is retried
// after Slack accepted it), thread replies, and the requester's direct message. Every method is one
// activity's side effect; the workflow decides when.
import type { WebClient } from "@slack/web-api";
import { toolEntry, type Config, type SlackConfig } from "../config.js";
import { redactArguments } from "../client/redact.js";
import type { PolicyEngine } from "../policy/engine.js";
import { FINAL_STATUSES, approvedBy, type ApprovalRequest, type ApprovalState, type SlackCardInput, type SlackPlan, type SlackPlanInput, type SlackReplyInput } from "../../workflows/definitions.js";
import { CARD_METADATA_EVENT_TYPE, renderCard, renderDecisionReply, renderReminder, renderRequesterNotice, type CardStatus, type CardView } from "./card.js";
import { slackCall } from "./web.js";

/** Message metadata event type of the requester's direct message (found again by `notice_id` when retried). */
const NOTICE_METADATA_EVENT_TYPE = "countersign_notice";
/** Pages of 200 messages a retried post reads back through to find its card (a busy channel moves on meanwhile). */
const FIND_CARD_PAGES = 5;

/** The metadata a message carries (ours: an event type and a payload of strings). */
function metadataOf(message: unknown): { event_type?: unknown; event_payload?: Record<string, unknown> } | undefined {
  return (message as { metadata?: { event_type?: unknown; event_payload?: Record<string, unknown> } }).metadata;
}

/** Message metadata event type of a thread reply (found again by `reply_id` when its post is retried). */
const REPLY_METADATA_EVENT_TYPE = "countersign_reply";
/** What the card shows for arguments of a tool the catalog does not list (its redaction rules are unknown). */
const UNLISTED_TOOL_ARGUMENTS = "[not shown: the tool is not in the catalog]";
/** How far before the request a retried post (card or direct message) looks for what it may have posted already, in seconds. */
const LOOKBACK_SECONDS = 60;

export interface SlackCardsDeps {
  slack: SlackConfig;
  tools: Config["tools"];
  policy: Pick<PolicyEngine, "user">;
  client: WebClient;
  /** The Temporal UI the cards link to (absent: no link). */
  temporalUiUrl?: string;
}

export class SlackCards {
  constructor(private readonly deps: SlackCardsDeps) {}

  /**
   * Where the approval's cards go: for each routed group its own channel (`slack.tenants.<t>.groups`),
   * else the tenant's channel; none when the tenant has no Slack workspace configured. Reminders and
   * escalation: the policy's annotations, else the config's defaults.
   */
  plan(input: SlackPlanInput): SlackPlan {
    const tenant = Object.hasOwn(this.deps.slack.tenants, input.tenant) ? this.deps.slack.tenants[input.tenant] : undefined;
    if (tenant === undefined) return { channels: [] };
    const channelsOf = (groups: readonly string[]): string[] => [
      ...new Set(groups.map((g) => (Object.hasOwn(tenant.groups, g) ? tenant.groups[g] : tenant.channel)).filter((c): c is string => c !== undefined)),
    ];
    const plan: SlackPlan = { channels: channelsOf(input.approverGroups) };
    const remind = input.remindEverySeconds ?? this.deps.slack.reminders.everySeconds;
    if (remind > 0) {
      plan.remindEverySeconds = remind;
      plan.maxReminders = this.deps.slack.reminders.max;
    }
    // Who may decide is policy's to say: only a policy's @escalate_to widens the approver groups.
    const escalateTo = input.escalateTo ?? [];
    if (escalateTo.length > 0) {
      plan.escalation = { groups: [...escalateTo], channels: channelsOf(escalateTo), afterSeconds: input.escalateAfterSeconds ?? this.deps.slack.escalation.afterSeconds };
    }
    return plan;
  }

  /**
   * Post the card to `input.channel`, or bring it up to date: by its `ts` when known; on a retried
   * post (`opts.retry`), by finding a card of this approval in the channel's recent history (message
   * metadata) first, so a post retried after Slack accepted it never makes a second card.
   * @throws SlackError `slack_unavailable` (retry) or `slack_rejected` (final).
   */
  async syncCard(input: SlackCardInput, opts: { namespace: string | undefined; retry: boolean }): Promise<{ ts: string }> {
    const { text, blocks, metadata } = renderCard(this.cardView(input.state, input.request, opts.namespace));
    // Only a retry can find a card of its own: a first attempt posts without the extra call.
    const ts = input.ts ?? (opts.retry ? await this.findCard(input.channel, input.state) : undefined);
    const { client } = this.deps;
    if (ts !== undefined) {
      await slackCall("chat.update", () => client.chat.update({ channel: input.channel, ts, text, blocks, metadata }));
      return { ts };
    }
    const posted = await slackCall("chat.postMessage", () => client.chat.postMessage({ channel: input.channel, text, blocks, metadata, unfurl_links: false, unfurl_media: false }));
    if (typeof posted.ts !== "string") throw new TypeError("chat.postMessage answered without a ts");
    return { ts: posted.ts };
  }

  /**
   * Reply in the card's thread: an accepted decision ("<@U…> approved: reason") or a reminder.
   * `replyId` (the activity's id) makes a retried reply that Slack had accepted a no-op.
   */
  async reply(input: SlackReplyInput, opts: { approvalId: string; replyId: string; retry: boolean }): Promise<void> {
    const text =
      input.reply.kind === "decision"
        ? renderDecisionReply({ ...input.reply.decision, ...this.slackIdOf(input.reply.decision.approver, input.reply.decision.slack?.userId) })
        : renderReminder({ deadlineAtMs: input.reply.deadlineAtMs, quorum: { approved: input.reply.approved, required: input.reply.quorum } });
    const { client } = this.deps;
    const metadata = { event_type: REPLY_METADATA_EVENT_TYPE, event_payload: { approval_id: opts.approvalId, reply_id: opts.replyId } };
    // A retried reply first looks for itself in the thread: a post Slack accepted but did not answer is not repeated.
    if (opts.retry) {
      const thread = await slackCall("conversations.replies", () => client.conversations.replies({ channel: input.channel, ts: input.threadTs, limit: 200, include_all_metadata: true }));
      const posted = (thread.messages ?? []).some((m) => metadataOf(m)?.event_type === REPLY_METADATA_EVENT_TYPE && metadataOf(m)?.event_payload?.reply_id === opts.replyId);
      if (posted) return;
    }
    await slackCall("chat.postMessage", () => client.chat.postMessage({ channel: input.channel, thread_ts: input.threadTs, text, metadata, unfurl_links: false, unfurl_media: false }));
  }

  /**
   * Tell the requester the outcome by direct message, when the directory knows their Slack id. A
   * retried message (`opts.retry`) first looks for itself in the direct-message channel (its id is in
   * its metadata), so one Slack accepted but answered too late is not sent twice.
   * @returns whether a message was sent (or found already sent).
   */
  async notifyRequester(state: ApprovalState, opts: { noticeId: string; retry: boolean }): Promise<boolean> {
    const slackUserId = this.deps.policy.user(state.principal)?.slackUserId;
    if (slackUserId === undefined) return false;
    const view = this.cardView(state, undefined, undefined);
    const text = renderRequesterNotice({
      approvalId: state.id,
      status: view.status,
      toolDisplayName: view.tool.displayName,
      ...(view.statusBy !== undefined ? { statusBy: view.statusBy } : {}),
      ...(view.statusReason !== undefined ? { statusReason: view.statusReason } : {}),
    });
    const { client } = this.deps;
    const metadata = { event_type: NOTICE_METADATA_EVENT_TYPE, event_payload: { approval_id: state.id, notice_id: opts.noticeId } };
    if (opts.retry) {
      const opened = await slackCall("conversations.open", () => client.conversations.open({ users: slackUserId }));
      const channel = opened.channel?.id;
      if (channel !== undefined) {
        const history = await slackCall("conversations.history", () => client.conversations.history({ channel, oldest: String(Math.floor(state.requestedAtMs / 1000) - LOOKBACK_SECONDS), limit: 50, include_all_metadata: true }));
        if ((history.messages ?? []).some((m) => metadataOf(m)?.event_type === NOTICE_METADATA_EVENT_TYPE && metadataOf(m)?.event_payload?.notice_id === opts.noticeId)) return true;
      }
    }
    await slackCall("chat.postMessage", () => client.chat.postMessage({ channel: slackUserId, text, metadata, unfurl_links: false, unfurl_media: false }));
    return true;
  }

  /** The ts of this approval's card in `channel`, looking back through at most {@link FIND_CARD_PAGES} pages of recent history. */
  private async findCard(channel: string, state: ApprovalState): Promise<string | undefined> {
    const { client } = this.deps;
    let cursor: string | undefined;
    for (let page = 0; page < FIND_CARD_PAGES; page++) {
      const history = await slackCall("conversations.history", () =>
        client.conversations.history({ channel, oldest: String(Math.floor(state.requestedAtMs / 1000) - LOOKBACK_SECONDS), limit: 200, include_all_metadata: true, ...(cursor !== undefined ? { cursor } : {}) }),
      );
      const card = (history.messages ?? []).find((m) => metadataOf(m)?.event_type === CARD_METADATA_EVENT_TYPE && metadataOf(m)?.event_payload?.approval_id === state.id);
      if (typeof card?.ts === "string") return card.ts;
      cursor = history.response_metadata?.next_cursor;
      if (history.has_more !== true || cursor === undefined || cursor === "") return undefined;
    }
    return undefined;
  }

  private slackIdOf(userId: string, fromDecision?: string): { slackUserId?: string } {
    const id = fromDecision ?? this.deps.policy.user(userId)?.slackUserId;
    return id !== undefined ? { slackUserId: id } : {};
  }

  /** What the card shows, from the approval's state and request, the tool catalog and the directory. */
  cardView(state: ApprovalState, request: ApprovalRequest | undefined, namespace: string | undefined): CardView {
    const tool = toolEntry({ tools: this.deps.tools }, state.tool);
    const routing = state.routing;
    const status: CardStatus = state.status === "verifying" ? "pending" : state.status;
    const requester = this.deps.policy.user(state.principal);
    const requestPolicy = state.policy.find((p) => p.stage === "request");
    const view: CardView = {
      approvalId: state.id,
      status,
      tool: { name: state.tool, displayName: tool?.displayName ?? state.tool },
      requester: { id: state.principal, ...this.slackIdOf(state.principal), ...(requester?.displayName !== undefined ? { displayName: requester.displayName } : {}) },
      agent: state.agent,
      tenant: state.tenant,
      ...(state.target !== undefined ? { resource: state.target } : {}),
      task: { id: state.intent.taskId, summary: state.intent.summary },
      ...(request?.reason !== undefined ? { reason: request.reason } : {}),
      arguments: request === undefined ? null : tool === undefined ? UNLISTED_TOOL_ARGUMENTS : redactArguments(request.arguments, tool.redact),
      argsSha256: state.argsSha256,
      policyIds: requestPolicy?.policyIds ?? [],
      approverGroups: routing?.approverGroups ?? [],
      deadlineAtMs: routing?.deadlineAtMs ?? state.requestedAtMs,
      quorum: { approved: approvedBy(state).length, required: routing?.quorum ?? 1 },
      decisions: state.decisions.map((d) => ({
        approver: d.approver,
        ...this.slackIdOf(d.approver, d.slack?.userId),
        decision: d.decision,
        ...(d.reason !== undefined ? { reason: d.reason } : {}),
        atMs: d.atMs,
        via: d.via,
      })),
      critical: routing?.critical === true,
      approveReasonRequired: routing?.approveReasonRequired === true,
      ...(state.slack?.escalatedTo !== undefined ? { escalatedTo: state.slack.escalatedTo.join(", ") } : {}),
    };
    const ui = this.deps.temporalUiUrl;
    if (ui !== undefined && namespace !== undefined) {
      view.temporalUiUrl = `${ui.replace(/\/+$/, "")}/namespaces/${encodeURIComponent(namespace)}/workflows/${encodeURIComponent(state.id)}`;
    }
    Object.assign(view, this.statusLine(state));
    return view;
  }

  /** Who ended the approval, when, and why, for the status line. */
  private statusLine(state: ApprovalState): Pick<CardView, "statusBy" | "statusAtMs" | "statusReason"> {
    const at = state.statusChangedAtMs !== undefined ? { statusAtMs: state.statusChangedAtMs } : {};
    const person = (id: string, slackId?: string): { statusBy: { id: string; slackUserId?: string } } => ({ statusBy: { id, ...this.slackIdOf(id, slackId) } });
    switch (state.status) {
      case "denied": {
        const denial = state.decisions.find((d) => d.decision === "deny");
        if (denial !== undefined) return { ...person(denial.approver, denial.slack?.userId), statusAtMs: denial.atMs, ...(denial.reason !== undefined ? { statusReason: denial.reason } : {}) };
        return { ...at, ...(state.reason !== undefined ? { statusReason: state.reason } : {}) };
      }
      case "approved": {
        const last = state.decisions.filter((d) => d.decision === "approve").at(-1);
        return last !== undefined ? { ...person(last.approver, last.slack?.userId), ...at } : at;
      }
      case "redeemed":
        return { ...(state.redeemedBy !== undefined ? { statusBy: { id: state.redeemedBy } } : {}), ...(state.redeemedAtMs !== undefined ? { statusAtMs: state.redeemedAtMs } : at) };
      case "revoked":
        return { ...(state.revokedBy !== undefined ? person(state.revokedBy) : {}), ...at, ...(state.reason !== undefined ? { statusReason: state.reason } : {}) };
      default:
        return FINAL_STATUSES.includes(state.status) ? { ...at, ...(state.reason !== undefined ? { statusReason: state.reason } : {}) } : {};
    }
  }
}
