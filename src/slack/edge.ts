// What every Slack listener shares: the payload fields we use (parsed loosely, only those), the
// clicker's identity, the decision through the one edge path (`submitDecision`, `via: slack`, keyed
// by the Slack action so a double click or Slack's retry is one decision), and refusals told to the
// clicker alone (ephemeral), changing nothing.
import type { WebClient } from "@slack/web-api";
import { z } from "zod";
import type { ApprovalsClient } from "../client/approvals.js";
import type { View } from "@slack/types";
import type { Config, SlackConfig } from "../config.js";
import type { SlackActor } from "../decisions/assertion.js";
import { checkDecision, submitDecision } from "../decisions/submit.js";
import { CountersignError, toCountersignError } from "../errors.js";
import type { KeyStore } from "../grants/key-store.js";
import type { Logger } from "../log.js";
import type { PolicyEngine } from "../policy/engine.js";
import type { Metrics } from "../server/metrics.js";
import { ApprovalIdSchema } from "../server/schemas.js";
import type { ApprovalState } from "../../workflows/definitions.js";
import { directoryUserOf } from "./identity.js";

export interface SlackEdge {
  slack: SlackConfig;
  tools: Config["tools"];
  approvals: ApprovalsClient;
  policy: PolicyEngine;
  grantKeys: KeyStore;
  issuer: string;
  logger: Logger;
  metrics?: Metrics;
}

/** How long a Slack decision keeps trying while Temporal is unavailable before the clicker is told, in ms. */
const UNAVAILABLE_RETRY_MS = 30_000;

const SlackIdSchema = z.string().regex(/^[A-Z0-9]{2,32}$/);

/** The fields of a block action we use. */
export const ButtonClickSchema = z.object({
  user: z.object({ id: SlackIdSchema, team_id: SlackIdSchema.optional() }),
  team: z.object({ id: SlackIdSchema }).nullish(),
  trigger_id: z.string().min(1).max(256),
  container: z.object({ channel_id: z.string().min(1).max(64).optional(), message_ts: z.string().max(64).optional() }).optional(),
  channel: z.object({ id: z.string().min(1).max(64) }).optional(),
  actions: z.array(z.object({ action_id: z.string(), value: ApprovalIdSchema })).min(1),
  message: z.object({ text: z.string().max(4000).optional() }).optional(),
});
export type ButtonClick = z.infer<typeof ButtonClickSchema>;

/** What our reason modal carries through Slack and back (we wrote it; Slack signed the round trip). */
export const ModalMetadataSchema = z.strictObject({ approvalId: ApprovalIdSchema, channel: z.string().min(1).max(64).optional() });
export type ModalMetadata = z.infer<typeof ModalMetadataSchema>;

/** The fields of a modal submission we use. */
export const ModalSubmissionSchema = z.object({
  user: z.object({ id: SlackIdSchema, team_id: SlackIdSchema.optional() }),
  team: z.object({ id: SlackIdSchema }).nullish(),
  view: z.object({
    callback_id: z.string(),
    private_metadata: z.string().max(3000),
    state: z.object({ values: z.record(z.string(), z.record(z.string(), z.object({ value: z.string().nullish() }).loose())) }),
  }),
});
export type ModalSubmission = z.infer<typeof ModalSubmissionSchema>;

/** The Slack user and workspace of a payload: the user's own team, else the payload's. */
export function actorOf(payload: { user: { id: string; team_id?: string | undefined }; team?: { id: string } | null | undefined }): SlackActor | undefined {
  const teamId = payload.user.team_id ?? payload.team?.id;
  return teamId === undefined ? undefined : { userId: payload.user.id, teamId };
}

/** A button click as the listeners use it: who, on which approval, in which channel; undefined (logged) when the payload lacks what we need. */
export function clickOf(body: unknown, logger: { warn(msg: string): void }): { click: ButtonClick; actor: SlackActor; approvalId: string; channel: string | undefined } | undefined {
  const parsed = ButtonClickSchema.safeParse(body);
  const actor = parsed.success ? actorOf(parsed.data) : undefined;
  const approvalId = parsed.success ? parsed.data.actions[0]?.value : undefined;
  if (!parsed.success || actor === undefined || approvalId === undefined) {
    logger.warn("a card button click without the fields countersign needs was ignored");
    return undefined;
  }
  return { click: parsed.data, actor, approvalId, channel: parsed.data.container?.channel_id ?? parsed.data.channel?.id };
}

/** The idempotency key of a Slack decision: one per clicker, workspace and decision on an approval (the approval is in the Update id). */
export function slackDecisionKey(actor: SlackActor, decision: "approve" | "deny"): string {
  return `slack:${decision}:${actor.teamId}:${actor.userId}`;
}

/** What the clicker reads when their click changes nothing, by code. */
export function refusalText(err: CountersignError): string {
  switch (err.code) {
    case "slack_user_unmapped":
      return err.message;
    case "approver_not_entitled":
      return "You are not entitled to decide this approval.";
    case "self_approval_forbidden":
      return "You cannot approve a request you made yourself.";
    case "already_decided":
    case "idempotency_conflict":
      return "This approval has already been decided (or you have already decided it).";
    case "approval_not_pending":
      return "This approval is no longer pending (expired, revoked or decided).";
    case "reason_required":
      return "A reason is required to approve this request.";
    case "not_found":
      return "No such approval.";
    case "policy_unavailable":
    case "unavailable":
    case "slack_unavailable":
      return "countersign could not check your decision right now; nothing changed. Try again shortly.";
    default:
      return `Your decision was refused (${err.code}); nothing changed.`;
  }
}

export class SlackDecisions {
  constructor(
    private readonly edge: SlackEdge,
    private readonly client: WebClient,
  ) {}

  /** The directory user behind `actor` for this approval, and the approval's state, after the edge's pre-checks. */
  async check(approvalId: string, actor: SlackActor): Promise<{ approver: string; state: ApprovalState }> {
    const { approver, state } = await this.approverOf(approvalId, actor);
    return { approver, state: await checkDecision(this.edge, { approvalId, approver }, state) };
  }

  /** The approval's state (one query) and the directory user `actor` is for its tenant. */
  private async approverOf(approvalId: string, actor: SlackActor): Promise<{ approver: string; state: ApprovalState }> {
    const state = await this.edge.approvals.state(approvalId);
    return { approver: await directoryUserOf({ slack: this.edge.slack, policy: this.edge.policy, client: this.client }, actor, state.tenant), state };
  }

  /**
   * The tool's display name for the reason modal, from the clicked card's fallback text (our own,
   * "… : <display name> (requested by …)") when it names a catalog tool, else a neutral word: the
   * modal must open within Slack's 3 s, before any Temporal round trip.
   */
  toolDisplayNameOf(click: ButtonClick): string {
    const text = click.message?.text ?? "";
    const known = Object.entries(this.edge.tools).map(([name, t]) => t.displayName ?? name);
    return known.find((name) => text.includes(`: ${name} (`)) ?? "this request";
  }

  /** The modal a refused clicker sees in place of the reason form (no submit button). */
  refusalModal(text: string): View {
    return { type: "modal", title: { type: "plain_text", text: "countersign" }, close: { type: "plain_text", text: "Close" }, blocks: [{ type: "section", text: { type: "plain_text", text, emoji: false } }] };
  }

  /**
   * Decide as `actor` through the one edge path; the workflow re-checks everything. A click has no
   * caller waiting on the answer (it was acked), so an `unavailable` Temporal (a worker just
   * restarted, a query waiting out its sticky queue) is tried again for up to
   * {@link UNAVAILABLE_RETRY_MS} before the clicker is told: safe, since the decision is keyed.
   */
  async decide(approvalId: string, actor: SlackActor, decision: "approve" | "deny", reason: string | undefined): Promise<ApprovalState> {
    const started = Date.now();
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.decideOnce(approvalId, actor, decision, reason);
      } catch (err) {
        const waitMs = Math.min(1000 * attempt, 5000);
        if (!(err instanceof CountersignError && err.code === "unavailable") || Date.now() - started + waitMs > UNAVAILABLE_RETRY_MS) throw err;
        await new Promise((resolve) => setTimeout(resolve, waitMs));
      }
    }
  }

  private async decideOnce(approvalId: string, actor: SlackActor, decision: "approve" | "deny", reason: string | undefined): Promise<ApprovalState> {
    const { approver, state: known } = await this.approverOf(approvalId, actor);
    let outcome = "refused";
    try {
      const state = await submitDecision(
        this.edge,
        { approvalId, approver, decision, via: "slack", slack: actor, ...(reason !== undefined ? { reason } : {}) },
        { idempotencyKey: slackDecisionKey(actor, decision), state: known },
      );
      outcome = decision;
      this.edge.logger.info({ approvalId, approver, decision, via: "slack", status: state.status }, "decision recorded");
      return state;
    } catch (err) {
      if (err instanceof CountersignError) outcome = err.code;
      throw err;
    } finally {
      this.edge.metrics?.decisions.inc({ via: "slack", outcome });
    }
  }

  /**
   * Tell the clicker why nothing changed (ephemeral: only they see it). An error that is not ours is
   * logged and told as internal. A failure to tell them is logged; it changes nothing either way.
   */
  async refuse(err: unknown, where: { channel: string | undefined; user: string; approvalId?: string }): Promise<void> {
    const coded = toCountersignError(err);
    this.edge.logger[coded.code === "internal" ? "error" : "info"]({ code: coded.code, approvalId: where.approvalId, slackUser: where.user, detail: coded.detail, err: coded.code === "internal" ? err : undefined }, "slack decision refused");
    if (where.channel === undefined) return;
    try {
      await this.client.chat.postEphemeral({ channel: where.channel, user: where.user, text: refusalText(coded) });
    } catch (postErr) {
      this.edge.logger.warn({ err: postErr, approvalId: where.approvalId }, "the refusal could not be shown in Slack");
    }
  }
}
