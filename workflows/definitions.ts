// Shared vocabulary of the approval workflow: input/result types, message handles, search
// attributes and the task queue. Imported by the workflow, the worker, the server and the CLI.
import { defineSearchAttributeKey, SearchAttributeType } from "@temporalio/common";
import { defineQuery, defineUpdate } from "@temporalio/workflow";
import type { GrantInput } from "../src/grants/claims.js";
import type { RequestDecision, RequestFacts, Routing } from "../src/policy/engine.js";

export const APPROVAL_STATUSES = ["verifying", "pending", "approved", "denied", "expired", "revoked", "redeemed", "failed"] as const;
export type ApprovalStatus = (typeof APPROVAL_STATUSES)[number];
/** Statuses after which nothing can change. */
export const FINAL_STATUSES: readonly ApprovalStatus[] = ["denied", "expired", "revoked", "redeemed", "failed"];
/** Statuses in which nobody has decided yet; callers see `verifying` as `pending`. */
export const UNDECIDED_STATUSES: readonly ApprovalStatus[] = ["verifying", "pending"];
/** Statuses of an approval that can still change: undecided, or approved and not yet redeemed. */
export const OPEN_STATUSES: readonly ApprovalStatus[] = APPROVAL_STATUSES.filter((s) => !FINAL_STATUSES.includes(s));

/** JSON value, as arguments travel (encrypted) through the history. */
export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** Everything the workflow needs, fixed when the agent files the request. Secrets are encrypted by the payload codec. */
export interface ApprovalInput {
  approvalId: string;
  tenant: string;
  tool: string;
  /** SPIFFE ID of the tool server; the grant's `aud`. */
  toolAudience: string;
  arguments: Json;
  argsSha256: string;
  target?: { type: string; id: string };
  intent: { taskId: string; summary: string };
  reason?: string;
  principal: { issuer: string; subject: string };
  /** `jkt`: thumbprint of the key the agent proved possession of; the grant's `cnf.jkt`. */
  agent: { spiffeId: string; jkt?: string };
  /** The agent's workload identity token, re-verified by the first activity (encrypted in history). */
  agentToken: string;
  /** Approval deadline applied when the policy names none. */
  defaultDeadlineSeconds: number;
  /** Epoch milliseconds the request was received by the server. */
  requestedAtMs: number;
}

export interface DecisionRecord {
  approver: string;
  decision: "approve" | "deny";
  reason?: string;
  /** Where it came from: `api`, `slack`, `cli`, `break-glass`. */
  via: string;
  atMs: number;
  policyVersion: string;
  policyIds: string[];
  /** The routed approver groups the approver is a member of (absent on decisions recorded before groups were enforced). */
  groups?: string[];
  /** `jti` of the decision assertion that proved this decision (absent on decisions recorded before assertions). */
  assertionId?: string;
  /** Break-glass only: the operating-system user who decided. */
  osUser?: string;
  /** Slack only: the Slack user who clicked, in which workspace. */
  slack?: { userId: string; teamId: string };
}

/** The facts policy decides on, as the workflow passes them to the policy activities. */
export type RequestFactsInput = RequestFacts;

export interface PolicyRecord {
  /** request: at filing; approve: an approver's entitlement; decision: re-check at quorum; redemption: at use. */
  stage: "request" | "approve" | "decision" | "redemption";
  decision: "allow" | "deny";
  reason?: string;
  /** The engine's explanation, for operators (not shown to agents). */
  detail?: string;
  /** Stage `approve`: who asked to decide. */
  approver?: string;
  policyVersion: string;
  policyIds: string[];
  atMs: number;
}

export interface GrantRecord {
  token: string;
  jti: string;
  expiresAtMs: number;
  audience: string;
}

/** What the workflow exposes through `stateQuery` (encrypted in transit and at rest by the codec). */
export interface ApprovalState {
  id: string;
  status: ApprovalStatus;
  /** Stable code saying why the approval ended the way it did (`policy_denied`, `expired`, ...). */
  reasonCode?: string;
  reason?: string;
  tenant: string;
  tool: string;
  principal: string;
  /** Issuer of the principal's token: a subject is only unique within its issuer. */
  principalIssuer: string;
  agent: string;
  /** Thumbprint of the agent key the grant is bound to (only that key's holder may fetch it). */
  agentJkt?: string;
  argsSha256: string;
  /** The resource the request names (policy facts and the grant's `resource` claim). */
  target?: { type: string; id: string };
  intent: { taskId: string; summary: string };
  /** Epoch ms the request was received by the server. */
  requestedAtMs: number;
  /** The workflow's own check of the agent's workload identity (step 1). */
  identity?: { verifiedAtMs: number; trustDomain: string; jkt?: string };
  /** Who must approve, by when; plus the policy's card annotations (critical, reasons, reminders, escalation). */
  routing?: { approverGroups: string[]; quorum: number; deadlineAtMs: number } & Pick<Routing, "critical" | "approveReasonRequired" | "remindEverySeconds" | "escalateTo" | "escalateAfterSeconds">;
  decisions: DecisionRecord[];
  policy: PolicyRecord[];
  /** Refused decisions beyond the recorded ones (the record is capped so refusals cannot grow it without bound). */
  unrecordedRefusals?: number;
  grant?: GrantRecord;
  redeemedBy?: string;
  redeemedAtMs?: number;
  /** Who revoked it (the principal or an operator), when revoked. */
  revokedBy?: string;
  /** Epoch ms of the last status change (absent in states recorded before it was kept). */
  statusChangedAtMs?: number;
  /** The approval's Slack cards, when Slack is configured for its tenant (README "Slack"). */
  slack?: SlackCardsState;
}

/** Where an approval's Slack cards are and what happened to them: the workflow is their only writer. */
export interface SlackCardsState {
  /** One card per channel; `ts` once posted. */
  cards: Array<{ channel: string; ts?: string }>;
  /** Groups asked as well after the escalation delay (also added to `routing.approverGroups`). */
  escalatedTo?: string[];
  remindersSent: number;
  /** The requester's direct message about the outcome was sent (or they have no Slack id). */
  requesterNotified?: boolean;
  /** Slack calls that failed for good (`channel_not_found`, `invalid_auth`, …): the audit trail shows them. */
  errors: Array<{ code: string; message?: string; channel?: string; atMs: number }>;
}

/** The routing facts that shape an approval's Slack presence (from the policy's annotations). */
export interface SlackPlanInput {
  tenant: string;
  approverGroups: string[];
  remindEverySeconds?: number;
  escalateTo?: string[];
  escalateAfterSeconds?: number;
}

/** Where an approval's cards go and how it is chased, resolved by the worker's Slack config. */
export interface SlackPlan {
  /** Channels that get a card now, without duplicates; empty when Slack is off for the tenant. */
  channels: string[];
  remindEverySeconds?: number;
  /** Most reminders one approval sends (`slack.reminders.max`). */
  maxReminders?: number;
  escalation?: { groups: string[]; channels: string[]; afterSeconds: number };
}

/** One card to post or bring up to date. */
export interface SlackCardInput {
  channel: string;
  /** The card's message ts when known; else an existing card carrying the approval id is looked for before posting. */
  ts?: string;
  state: ApprovalState;
  request: ApprovalRequest;
}

/** A thread reply under a card: an accepted decision, or a reminder while pending. */
export interface SlackReplyInput {
  channel: string;
  threadTs: string;
  tenant: string;
  reply: { kind: "decision"; decision: DecisionRecord } | { kind: "reminder"; deadlineAtMs: number; approved: number; quorum: number };
}

/** The state of a new approval, before its first step: what the workflow starts from and what filing answers at once. */
export function initialState(input: ApprovalInput): ApprovalState {
  return {
    id: input.approvalId,
    status: "verifying",
    tenant: input.tenant,
    tool: input.tool,
    principal: input.principal.subject,
    principalIssuer: input.principal.issuer,
    agent: input.agent.spiffeId,
    ...(input.agent.jkt !== undefined ? { agentJkt: input.agent.jkt } : {}),
    argsSha256: input.argsSha256,
    ...(input.target !== undefined ? { target: input.target } : {}),
    intent: input.intent,
    requestedAtMs: input.requestedAtMs,
    decisions: [],
    policy: [],
  };
}

/** Who has approved so far, in decision order. */
export function approvedBy(state: Pick<ApprovalState, "decisions">): string[] {
  return state.decisions.filter((d) => d.decision === "approve").map((d) => d.approver);
}

/** Whether the approvers have decided: a quorum of approvals, or an accepted denial. Nothing later counts. */
export function isDecided(state: Pick<ApprovalState, "decisions" | "routing">): boolean {
  const quorum = state.routing?.quorum;
  return state.decisions.some((d) => d.decision === "deny") || (quorum !== undefined && approvedBy(state).length >= quorum);
}

/**
 * Why a re-check verdict does not let an approval with `approvals` approvals through, if it does not:
 * policy must still allow *and* what it asks for now must already be satisfied (a policy that now
 * requires approval, or more approvers than decided, denies the stale approval). The workflow and the
 * settling activity apply this one rule.
 */
export function recheckRefusal(verdict: RequestDecision, approvals: number): { reason: string; message: string } | undefined {
  if (verdict.decision !== "allow") return { reason: verdict.reason, message: "policy denies the request now" };
  if (verdict.approval === "required" && approvals < verdict.routing.quorum) {
    return { reason: "policy_denied", message: `policy now requires ${verdict.routing.quorum} approval(s)` };
  }
  return undefined;
}

/** What the settling activity gets at quorum: the facts to re-check, and the grant to sign if they still hold. */
export interface SettleInput {
  facts: RequestFactsInput;
  /** Approvals counted when the quorum was reached. */
  approvals: number;
  /** The grant, without the policy version (the re-check's is signed in). */
  grant: Omit<GrantInput, "policyVersion">;
}

/** The decision-time re-check, and the grant when the re-check lets the approval through (never otherwise). */
export interface SettleResult {
  verdict: RequestDecision;
  grant?: GrantRecord;
}

/** Whether `decision` approves without the reason a policy requires (`@approve_reason_required`): the edge and the workflow both refuse it. */
export function lacksRequiredReason(decision: { decision: "approve" | "deny"; reason?: string | undefined }, routing: Pick<Routing, "approveReasonRequired"> | undefined): boolean {
  return decision.decision === "approve" && routing?.approveReasonRequired === true && (decision.reason === undefined || decision.reason.trim() === "");
}

/** The state with the grant token blanked: what decisions and revocations answer (only the bound agent may hold the grant). */
export function withoutGrantToken(state: ApprovalState): ApprovalState {
  if (state.grant === undefined) return state;
  return { ...state, grant: { ...state.grant, token: "" } };
}

/** Where a decision was made: the approver endpoint, Slack, the CLI with the approver's token, or an operator's break-glass. */
export const DECISION_CHANNELS = ["api", "slack", "cli", "break-glass"] as const;
export type DecisionChannel = (typeof DECISION_CHANNELS)[number];

/**
 * One approver's decision as the edge sends it. `assertion` is the edge-signed decision assertion
 * (`typ: countersign-decision+jwt`); the other fields repeat its claims so the Update validator can
 * refuse cheaply without verifying, and the entitlement activity checks they match. Histories
 * recorded before assertions hold decisions without them (replayed on the legacy path only).
 */
export interface DecideInput {
  approver: string;
  decision: "approve" | "deny";
  reason?: string;
  via: string;
  assertion?: string;
  /** The assertion's `jti`: each is accepted once per approval. */
  jti?: string;
  /** The assertion's `exp`, epoch ms. */
  expiresAtMs?: number;
  /** Break-glass only: the operating-system user (also in the assertion). */
  osUser?: string;
  /** Slack only: the Slack user and workspace (also in the assertion). */
  slack?: { userId: string; teamId: string };
}

/** A decision that passed the Update validator: it names its channel and carries an assertion. */
export type ProvenDecision = DecideInput & { via: DecisionChannel; assertion: string; jti: string; expiresAtMs: number };

/** What the entitlement activity checks for one decision: the assertion, then policy and routed groups. */
export interface DecisionCheckInput {
  approvalId: string;
  assertion: string;
  jti: string;
  approver: string;
  decision: "approve" | "deny";
  via: DecisionChannel;
  reason?: string;
  osUser?: string;
  slack?: { userId: string; teamId: string };
  facts: RequestFactsInput;
  /** The request's routed approver groups: the approver must be in one of them. */
  approverGroups: string[];
}

/**
 * Marker the worker's payload codec puts in place of a payload it refused (not encrypted by a known
 * key, tampered with, or bound to another approval), so the workflow refuses the message instead of
 * failing its task in a loop. Never stored: it exists only in the worker's memory.
 */
export const REFUSED_PAYLOAD = "countersign:refused-payload";

/** Whether a decoded message argument is the codec's refusal marker. */
export function isRefusedPayload(value: unknown): value is { [REFUSED_PAYLOAD]: string } {
  return typeof value === "object" && value !== null && Object.hasOwn(value, REFUSED_PAYLOAD);
}

export interface RedeemInput {
  jti: string;
  tool: string;
  argsSha256: string;
  /** The resource the tool server says the call touches; must equal the approved request's. */
  resource?: { type: string; id: string };
  /** SPIFFE ID of the tool server that presented the grant. */
  caller: string;
}

export interface RedeemResult {
  principal: string;
  agent: string;
  approvalId: string;
}

export interface RevokeInput {
  by: string;
  reason?: string;
}

export const stateQuery = defineQuery<ApprovalState>("state");
/** What was asked, arguments included, for approvers' views (redacted there per the tool catalog). */
export type ApprovalRequest = Pick<ApprovalInput, "tenant" | "tool" | "arguments" | "target" | "intent" | "reason">;
export const requestQuery = defineQuery<ApprovalRequest>("request");
export const decideUpdate = defineUpdate<ApprovalState, [DecideInput]>("decide");
export const redeemUpdate = defineUpdate<RedeemResult, [RedeemInput]>("redeem");
export const revokeUpdate = defineUpdate<ApprovalState, [RevokeInput]>("revoke");

export const tenantSearchAttribute = defineSearchAttributeKey("CountersignTenant", SearchAttributeType.KEYWORD);
export const toolSearchAttribute = defineSearchAttributeKey("CountersignTool", SearchAttributeType.KEYWORD);
export const statusSearchAttribute = defineSearchAttributeKey("CountersignStatus", SearchAttributeType.KEYWORD);
export const principalSearchAttribute = defineSearchAttributeKey("CountersignPrincipal", SearchAttributeType.KEYWORD);
export const agentSearchAttribute = defineSearchAttributeKey("CountersignAgent", SearchAttributeType.KEYWORD);

export const SEARCH_ATTRIBUTES = [
  tenantSearchAttribute,
  toolSearchAttribute,
  statusSearchAttribute,
  principalSearchAttribute,
  agentSearchAttribute,
] as const;
