// The approval workflow: one per action request. Verifies the agent, asks policy, waits for entitled
// approvers (or a deadline), re-checks policy, mints a one-shot grant and burns it on redemption.
// Deterministic orchestration only: every side effect runs in an activity.
import {
  allHandlersFinished,
  ApplicationFailure,
  condition,
  log,
  patched,
  proxyActivities,
  proxyLocalActivities,
  setHandler,
  upsertSearchAttributes,
  workflowInfo,
} from "@temporalio/workflow";
import type { Activities } from "../activities/index.js";
import type { RequestDecision } from "../src/policy/engine.js";
import {
  approvedBy,
  decideUpdate,
  DECISION_CHANNELS,
  FINAL_STATUSES,
  initialState,
  isDecided,
  isRefusedPayload,
  lacksRequiredReason,
  recheckRefusal,
  withoutGrantToken,
  redeemUpdate,
  revokeUpdate,
  requestQuery,
  stateQuery,
  statusSearchAttribute,
  type ApprovalInput,
  type ApprovalRequest,
  type ApprovalState,
  type ApprovalStatus,
  type DecideInput,
  type GrantRecord,
  type ProvenDecision,
  type PolicyRecord,
  type RedeemInput,
  type RequestFactsInput,
  type RevokeInput,
  type SettleInput,
  type SlackReplyInput,
} from "./definitions.js";

// The main path (identity, first policy decision, re-check at quorum, signing) runs as local
// activities: short, CPU-bound, needing only the worker's own state, and recorded as history markers
// without a task-queue round trip each.
const local = proxyLocalActivities<Activities>({
  startToCloseTimeout: "10 seconds",
  retry: { maximumAttempts: 3, initialInterval: "200 milliseconds", nonRetryableErrorTypes: ["token_expired"] },
});
// Inside Update handlers, where many Updates can arrive at once (50 tool servers racing one grant),
// a local activity would hold the workflow task open while new Updates queue up behind it; regular
// activities let each Update be accepted or rejected promptly. Their schedule-to-close timeout sits
// below the client's Update deadline (DEFAULT_UPDATE_DEADLINE_MS, 10 s): a handler whose activity
// cannot run (no worker) fails `unavailable` while its caller still waits, and changes nothing.
const remoteActivities = proxyActivities<Activities>({
  startToCloseTimeout: "3 seconds",
  scheduleToCloseTimeout: "8 seconds",
  retry: { maximumAttempts: 3, initialInterval: "200 milliseconds" },
});

/**
 * An activity whose result the payload codec refused (forged by someone without the payload key, or
 * moved from another approval) fails like any other activity failure: fail closed, never read as a verdict.
 */
function trusted<A extends unknown[], R>(activity: (...args: A) => Promise<R>): (...args: A) => Promise<R> {
  return async (...args) => {
    const result = await activity(...args);
    if (isRefusedPayload(result)) throw ApplicationFailure.create({ type: "payload_rejected", message: "an activity result was refused by the payload codec", nonRetryable: true });
    return result;
  };
}
const verifyAgentIdentity = trusted(local.verifyAgentIdentity);
const authorizeRequest = trusted(local.authorizeRequest);
const mintGrant = trusted(local.mintGrant);
const settleApproval = trusted(local.settleApproval);
const remote = {
  authorizeRequest: trusted(remoteActivities.authorizeRequest),
  authorizeApproval: trusted(remoteActivities.authorizeApproval),
  authorizeDecision: trusted(remoteActivities.authorizeDecision),
};

// Slack calls (cards, thread replies, the requester's message) run beside the approval, never in its
// way: Slack being slow or down delays a card, not a decision. Temporal owns the retries (the client
// makes none), honouring Slack's Retry-After through the failure's next retry delay; permanent errors
// (`invalid_auth`, `channel_not_found`, …) fail at once and are recorded in `state.slack.errors`.
const slackActivities = proxyActivities<Activities>({
  startToCloseTimeout: "30 seconds",
  scheduleToCloseTimeout: "1 hour",
  retry: { initialInterval: "1 second", backoffCoefficient: 2, maximumInterval: "30 seconds" },
});
const slack = {
  planSlackCards: trusted(slackActivities.planSlackCards),
  syncSlackCard: trusted(slackActivities.syncSlackCard),
  replyInSlackThread: trusted(slackActivities.replyInSlackThread),
  notifySlackRequester: trusted(slackActivities.notifySlackRequester),
};

const MAX_NAME_LENGTH = 256;
/** Refused approve-stage verdicts kept in the state; later refusals are only counted. */
const MAX_RECORDED_REFUSALS = 20;
/** Directory user ids as approvers: 1-256 characters, no control or format characters. */
const APPROVER_PATTERN = /^[^\p{Cc}\p{Cf}\p{Zl}\p{Zp}]{1,256}$/u;
/** A compact JWS, at most 4 KiB. */
const COMPACT_JWS = /^[A-Za-z0-9_-]{1,2048}\.[A-Za-z0-9_-]{1,2048}\.[A-Za-z0-9_-]{1,1024}$/;
/** Patch id: decisions carry edge-signed assertions, count once, and need a routed group (see README). */
const DECISION_ASSERTIONS_PATCH = "decision-assertions-v1";
/** Patch id: a pending approval gets Slack cards kept up to date by the workflow, reminders and escalation (see README "Slack"). */
const SLACK_CARDS_PATCH = "slack-cards-v1";
/** Patch id: at quorum, the decision-time re-check and the grant's minting are one local activity (see README "Performance"). */
const DECISION_SETTLE_PATCH = "decision-settle-v1";
/** Reminders one approval sends at most when the plan names no bound. */
const DEFAULT_MAX_REMINDERS = 12;

/**
 * Longest accepted gap between the server receiving a request and its workflow run starting, in ms.
 * The edge starts the workflow at once; a run starting later is a copy started again.
 */
const MAX_START_DELAY_MS = 10 * 60 * 1000;

/** The closed state of a workflow whose input could not be trusted. */
function refusedInput(workflowId: string, reasonCode: "payload_rejected" | "request_stale"): ApprovalState {
  return {
    id: workflowId,
    status: "failed",
    reasonCode,
    reason: reasonCode === "request_stale" ? "the approval was started long after its request was received" : "the approval's input was refused",
    tenant: "",
    tool: "",
    principal: "",
    principalIssuer: "",
    agent: "",
    argsSha256: "",
    intent: { taskId: "", summary: "" },
    requestedAtMs: 0,
    decisions: [],
    policy: [],
  };
}

/** What was asked, as approvers see it (the request query's answer and the card's content). */
function requestOf(input: ApprovalInput): ApprovalRequest {
  return {
    tenant: input.tenant,
    tool: input.tool,
    arguments: input.arguments,
    ...(input.target !== undefined ? { target: input.target } : {}),
    intent: input.intent,
    ...(input.reason !== undefined ? { reason: input.reason } : {}),
  };
}

/** A Slack user and team id as a decision carries them: Slack's own id alphabet, bounded. */
function isSlackActor(value: unknown): value is { userId: string; teamId: string } {
  const id = /^[A-Z0-9]{2,32}$/;
  if (typeof value !== "object" || value === null) return false;
  const { userId, teamId } = value as Record<string, unknown>;
  return typeof userId === "string" && id.test(userId) && typeof teamId === "string" && id.test(teamId) && Object.keys(value).length === 2;
}

function reject(type: string, message: string): never {
  throw ApplicationFailure.create({ type, message, nonRetryable: true });
}

/** The message of the application failure behind `err` (Slack's own error name is in it), for the audit trail. */
function failureMessage(err: unknown): string | undefined {
  const cause = err instanceof ApplicationFailure ? err : (err as { cause?: unknown }).cause;
  return cause instanceof ApplicationFailure ? cause.message.slice(0, 300) : undefined;
}

function failureCode(err: unknown): string {
  if (err instanceof ApplicationFailure && typeof err.type === "string") return err.type;
  const cause = (err as { cause?: unknown }).cause;
  if (cause instanceof ApplicationFailure && typeof cause.type === "string") return cause.type;
  return "internal";
}

export async function approvalWorkflow(input: ApprovalInput): Promise<ApprovalState> {
  // An input the codec refused (not encrypted by a known key, or bound to another approval), one
  // filed under another approval's id, or one started long after it was received (a copy of an old
  // approval's input started again under its id) never becomes an approval.
  const info = workflowInfo();
  const stale = !isRefusedPayload(input) && info.runStartTime.getTime() - input.requestedAtMs > MAX_START_DELAY_MS;
  if (isRefusedPayload(input) || input.approvalId !== info.workflowId || stale) {
    const refused = refusedInput(info.workflowId, stale ? "request_stale" : "payload_rejected");
    setHandler(stateQuery, () => refused);
    return refused;
  }
  const state: ApprovalState = initialState(input);
  // Internal phases that must block other messages without being a public status.
  let settling = false; // quorum reached; re-check and minting under way
  let redeeming = false;
  const deciding = new Set<string>();
  /** `jti`s of decision assertions this approval has seen: each proves one decision, once. */
  const usedAssertions = new Set<string>();

  const facts: RequestFactsInput = {
    tenant: input.tenant,
    principal: input.principal.subject,
    agent: input.agent.spiffeId,
    tool: input.tool,
    taskId: input.intent.taskId,
    summary: input.intent.summary,
    argsSha256: input.argsSha256,
    ...(input.target !== undefined ? { target: input.target } : {}),
  };

  /** Bumped on every change a Slack card shows; the card lane re-renders when it moves. */
  let cardVersion = 0;
  const changed = (): void => {
    cardVersion += 1;
  };
  const setStatus = (status: ApprovalStatus, reasonCode?: string, reason?: string): void => {
    changed();
    state.status = status;
    state.statusChangedAtMs = Date.now();
    if (reasonCode !== undefined) state.reasonCode = reasonCode;
    if (reason !== undefined) state.reason = reason;
    upsertSearchAttributes([{ key: statusSearchAttribute, value: status }]);
    log.info("approval status changed", { approvalId: input.approvalId, status, reasonCode });
  };
  const recordPolicy = (
    stage: PolicyRecord["stage"],
    d: { decision: "allow" | "deny"; reason?: string; message?: string; policyVersion: string; policyIds: string[] },
    approver?: string,
  ): void => {
    state.policy.push({
      stage,
      ...(approver !== undefined ? { approver } : {}),
      decision: d.decision,
      ...(d.reason !== undefined ? { reason: d.reason } : {}),
      ...(d.message !== undefined ? { detail: d.message } : {}),
      policyVersion: d.policyVersion,
      policyIds: d.policyIds,
      atMs: Date.now(),
    });
  };
  const approvals = (): number => approvedBy(state).length;
  const quorumReached = (): boolean => state.routing !== undefined && approvals() >= state.routing.quorum;
  /** Why a re-check verdict refuses this approval as decided so far (see `recheckRefusal` in definitions). */
  const refusalNow = (verdict: RequestDecision): { reason: string; message: string } | undefined => recheckRefusal(verdict, approvals());

  // Handlers are registered before the first await so early messages are not rejected.
  setHandler(stateQuery, () => state);
  setHandler(requestQuery, () => requestOf(input));

  /** Why a decision arriving now cannot count, if it cannot. Checked before and again after every await. */
  const closedToDecisions = (): { code: string; message: string } | undefined => {
    if (isDecided(state)) return { code: "already_decided", message: "the approval has already been decided" };
    if (state.status !== "pending" || settling) return { code: "approval_not_pending", message: `approval is ${state.status}` };
    return undefined;
  };
  /** Approve-stage policy records are capped: refusals cannot grow the state (or the history's payloads) without bound. */
  const recordApproveVerdict = (verdict: Parameters<typeof recordPolicy>[1], approver: string): void => {
    const refusals = state.policy.filter((p) => p.stage === "approve" && p.decision === "deny").length;
    if (verdict.decision === "deny" && refusals >= MAX_RECORDED_REFUSALS) {
      state.unrecordedRefusals = (state.unrecordedRefusals ?? 0) + 1;
      return;
    }
    recordPolicy("approve", verdict, approver);
  };

  setHandler(
    decideUpdate,
    async (decision: DecideInput) => {
      // Decisions recorded before decision assertions replay on the code that recorded them.
      if (!patched(DECISION_ASSERTIONS_PATCH)) return legacyDecide(decision);
      validateDecision(decision); // again: validators are skipped on replay of accepted Updates, state is not
      const { assertion, jti } = decision;
      deciding.add(decision.approver);
      usedAssertions.add(jti);
      try {
        let verdict;
        try {
          verdict = await remote.authorizeDecision({
            approvalId: input.approvalId,
            assertion,
            jti,
            approver: decision.approver,
            decision: decision.decision,
            via: decision.via,
            ...(decision.reason !== undefined ? { reason: decision.reason } : {}),
            ...(decision.osUser !== undefined ? { osUser: decision.osUser } : {}),
            ...(decision.slack !== undefined ? { slack: decision.slack } : {}),
            facts,
            approverGroups: state.routing?.approverGroups ?? [],
          });
        } catch (err) {
          reject("unavailable", `the approver's entitlement could not be checked (${failureCode(err)})`);
        }
        // An unproven decision leaves no trace beyond its refusal.
        if (verdict.decision !== "allow" && verdict.reason === "decision_assertion_invalid") reject(verdict.reason, "the decision assertion is not valid");
        if (verdict.decision !== "allow" && verdict.reason === "break_glass_disabled") reject(verdict.reason, verdict.message);
        // The world may have moved while policy was asked: another approver made the quorum, a
        // denial landed, the deadline passed or the approval was revoked. Then this decision does not count.
        const closed = closedToDecisions();
        if (closed !== undefined) reject(closed.code, closed.message);
        recordApproveVerdict(verdict, decision.approver);
        if (verdict.decision !== "allow") reject(verdict.reason, verdict.message);
        state.decisions.push({
          approver: decision.approver,
          decision: decision.decision,
          ...(decision.reason !== undefined ? { reason: decision.reason } : {}),
          via: decision.via,
          atMs: Date.now(),
          policyVersion: verdict.policyVersion,
          policyIds: verdict.policyIds,
          groups: verdict.groups ?? [],
          assertionId: jti,
          ...(decision.osUser !== undefined ? { osUser: decision.osUser } : {}),
          ...(decision.slack !== undefined ? { slack: decision.slack } : {}),
        });
        changed();
        if (decision.decision === "deny") {
          setStatus("denied", "denied_by_approver", decision.reason);
          return withoutGrantToken(state);
        }
        if (quorumReached()) {
          // Let the caller see the outcome of the re-check and minting, not an intermediate state.
          await condition(() => state.status !== "pending");
        }
        return withoutGrantToken(state);
      } finally {
        deciding.delete(decision.approver);
      }
    },
    { validator: validateDecision },
  );

  /** The decide handler as it was before decision assertions; runs only when replaying such histories. */
  async function legacyDecide(decision: DecideInput): Promise<ApprovalState> {
    deciding.add(decision.approver);
    try {
      let verdict;
      try {
        verdict = await remote.authorizeApproval({ ...facts, approver: decision.approver });
      } catch (err) {
        reject("unavailable", `the approver's entitlement could not be checked (${failureCode(err)})`);
      }
      recordPolicy("approve", verdict, decision.approver);
      if (verdict.decision === "deny") reject(verdict.reason, verdict.message);
      if (state.status !== "pending" || settling) reject("approval_not_pending", `approval is ${state.status}`);
      state.decisions.push({
        approver: decision.approver,
        decision: decision.decision,
        ...(decision.reason !== undefined ? { reason: decision.reason } : {}),
        via: decision.via,
        atMs: Date.now(),
        policyVersion: verdict.policyVersion,
        policyIds: verdict.policyIds,
      });
      if (decision.decision === "deny") {
        setStatus("denied", "denied_by_approver", decision.reason);
        return state;
      }
      if (quorumReached()) await condition(() => state.status !== "pending");
      return state;
    } finally {
      deciding.delete(decision.approver);
    }
  }

  /**
   * Everything about a decision that can be refused without I/O, so implausible decisions never
   * reach history: shape, a refused payload, a used or expired assertion, a decided or closed
   * approval, an approver who already decided.
   */
  function validateDecision(decision: DecideInput): asserts decision is ProvenDecision {
    if (isRefusedPayload(decision)) reject("payload_rejected", "the decision payload was refused by the payload codec");
    if (typeof decision !== "object" || decision === null) reject("invalid_request", "a decision object is expected");
    if (typeof decision.approver !== "string" || !APPROVER_PATTERN.test(decision.approver)) {
      reject("invalid_request", "approver must be 1-256 characters without control or format characters");
    }
    if (decision.decision !== "approve" && decision.decision !== "deny") reject("invalid_request", "decision must be approve or deny");
    if (!(DECISION_CHANNELS as readonly unknown[]).includes(decision.via)) reject("invalid_request", `via must be one of ${DECISION_CHANNELS.join(", ")}`);
    if (decision.reason !== undefined && (typeof decision.reason !== "string" || decision.reason.length > 2000)) {
      reject("invalid_request", "reason must be a string of at most 2000 characters");
    }
    if (decision.decision === "deny" && (decision.reason === undefined || decision.reason.trim() === "")) reject("invalid_request", "a denial needs a reason");
    if (lacksRequiredReason(decision, state.routing)) reject("reason_required", "policy requires a reason to approve this request");
    if (decision.osUser !== undefined && (typeof decision.osUser !== "string" || !APPROVER_PATTERN.test(decision.osUser))) reject("invalid_request", "osUser is malformed");
    if (decision.slack !== undefined && !isSlackActor(decision.slack)) reject("invalid_request", "slack must name a Slack user and team");
    if ((decision.via === "slack") !== (decision.slack !== undefined)) reject("invalid_request", "a Slack decision names its Slack user and team, and only a Slack decision does");
    if (typeof decision.assertion !== "string" || !COMPACT_JWS.test(decision.assertion)) reject("decision_assertion_invalid", "a decision needs a decision assertion");
    if (typeof decision.jti !== "string" || decision.jti.length === 0 || decision.jti.length > 64) reject("decision_assertion_invalid", "the decision assertion has no jti");
    if (typeof decision.expiresAtMs !== "number" || decision.expiresAtMs <= Date.now()) reject("decision_assertion_invalid", "the decision assertion has expired");
    if (usedAssertions.has(decision.jti)) reject("decision_assertion_invalid", "the decision assertion was already used");
    const closed = closedToDecisions();
    if (closed !== undefined) reject(closed.code, closed.message);
    if (deciding.has(decision.approver) || state.decisions.some((d) => d.approver === decision.approver)) {
      reject("already_decided", "this approver has already decided");
    }
  }

  const validateRedeem = (r: RedeemInput): void => {
    if (isRefusedPayload(r)) reject("payload_rejected", "the redemption payload was refused by the payload codec");
    if (state.status === "redeemed" || redeeming) reject("grant_already_redeemed", "grant already redeemed");
    if (state.status === "expired") reject("grant_expired", "grant expired");
    if (state.status !== "approved" || state.grant === undefined) reject("invalid_grant", `approval is ${state.status}`);
    if (r.jti !== state.grant.jti) reject("invalid_grant", "grant is not the one issued for this approval");
    if (Date.now() >= state.grant.expiresAtMs) reject("grant_expired", "grant expired");
    if (r.caller !== state.grant.audience) reject("binding_mismatch", "grant is bound to another tool server");
    if (r.tool !== input.tool) reject("binding_mismatch", "grant is bound to another tool");
    if (r.argsSha256 !== input.argsSha256) reject("binding_mismatch", "grant is bound to other arguments");
  };
  // The resource binding depends on nothing that changes, so the validator alone enforces it (no
  // re-check in the handler, whose replay of histories recorded before it must not change).
  const validateResource = (r: RedeemInput): void => {
    const named = r.resource;
    const approved = input.target;
    if (named?.type !== approved?.type || named?.id !== approved?.id) reject("binding_mismatch", "grant is bound to another resource");
  };

  setHandler(
    redeemUpdate,
    async (r: RedeemInput) => {
      validateRedeem(r); // again: validators are skipped on replay of accepted Updates, state is not
      redeeming = true;
      let verdict;
      try {
        verdict = await remote.authorizeRequest(facts);
      } catch (err) {
        redeeming = false;
        reject("unavailable", `policy could not be evaluated at redemption (${failureCode(err)})`);
      }
      recordPolicy("redemption", verdict);
      const refusal = refusalNow(verdict);
      if (refusal !== undefined) {
        // The grant is burned: a call policy refuses at the moment of use never gets a second try.
        redeeming = false;
        setStatus("denied", refusal.reason, `${refusal.message} (at redemption)`);
        reject(refusal.reason, refusal.message);
      }
      state.redeemedBy = r.caller;
      state.redeemedAtMs = Date.now();
      redeeming = false;
      setStatus("redeemed");
      return { principal: input.principal.subject, agent: input.agent.spiffeId, approvalId: input.approvalId };
    },
    {
      validator: (r: RedeemInput) => {
        validateRedeem(r);
        validateResource(r);
      },
    },
  );

  setHandler(
    revokeUpdate,
    (r: RevokeInput) => {
      state.revokedBy = r.by;
      setStatus("revoked", "revoked", r.reason ?? `revoked by ${r.by}`);
      return withoutGrantToken(state);
    },
    {
      validator: (r: RevokeInput) => {
        if (isRefusedPayload(r)) reject("payload_rejected", "the revocation payload was refused by the payload codec");
        if (typeof r.by !== "string" || r.by.length === 0 || r.by.length > MAX_NAME_LENGTH) reject("invalid_request", "by must be set");
        if (r.reason !== undefined && (typeof r.reason !== "string" || r.reason.length > 2000)) reject("invalid_request", "reason too long");
        if (redeeming) reject("approval_not_pending", "grant is being redeemed");
        if (FINAL_STATUSES.includes(state.status)) reject("approval_not_pending", `approval is ${state.status}`);
      },
    },
  );

  let cardLane: Promise<void> | undefined;
  await runApproval();
  await condition(allHandlersFinished);
  // The cards show the final outcome before the approval closes (a Slack outage delays this, never the outcome).
  await cardLane;
  return state;

  /**
   * The approval's Slack presence, from the moment it is pending until its cards show the final
   * status: one card per planned channel (posted, then updated on every change), a thread reply per
   * accepted decision, reminders while pending, escalation after the configured delay, and a
   * direct message to the requester on the outcome. Runs beside the approval and never blocks it.
   */
  async function runCardLane(): Promise<void> {
    const routing = state.routing;
    if (routing === undefined) return;
    let plan;
    try {
      // Absent keys stay absent in the activity's input (the converter drops undefined).
      const { remindEverySeconds, escalateTo, escalateAfterSeconds } = routing;
      plan = await slack.planSlackCards({ tenant: input.tenant, approverGroups: routing.approverGroups, remindEverySeconds, escalateTo, escalateAfterSeconds });
    } catch (err) {
      // No cards, but not silently: the approval's trail says why.
      const message = failureMessage(err);
      state.slack = { cards: [], remindersSent: 0, errors: [{ code: failureCode(err), ...(message !== undefined ? { message } : {}), atMs: Date.now() }] };
      changed();
      log.warn("slack cards could not be planned", { approvalId: input.approvalId, code: failureCode(err) });
      return;
    }
    if (plan.channels.length === 0) return;
    const cards: NonNullable<ApprovalState["slack"]> = { cards: plan.channels.map((channel) => ({ channel })), remindersSent: 0, errors: [] };
    state.slack = cards;
    const failed = (err: unknown, channel?: string): void => {
      const code = failureCode(err);
      const message = failureMessage(err);
      cards.errors.push({ code, ...(message !== undefined ? { message } : {}), ...(channel !== undefined ? { channel } : {}), atMs: Date.now() });
      log.warn("slack call failed for good", { approvalId: input.approvalId, code, message, channel });
    };
    const pendingSince = Date.now();
    let nextReminderAtMs = plan.remindEverySeconds !== undefined ? pendingSince + plan.remindEverySeconds * 1000 : undefined;
    let escalateAtMs = plan.escalation !== undefined ? pendingSince + plan.escalation.afterSeconds * 1000 : undefined;
    let announced = 0;
    for (;;) {
      // A quorum (or a denial) just reached is followed at once by the re-check and the grant: show
      // the outcome, not the instant before it (one chat.update fewer per approval).
      await condition(() => !(state.status === "pending" && isDecided(state)));
      const seen = cardVersion;
      // Every card, then the thread replies owed: each call is its own activity, retried by Temporal.
      await Promise.all(
        cards.cards.map(async (card) => {
          try {
            const posted = await slack.syncSlackCard({ channel: card.channel, ...(card.ts !== undefined ? { ts: card.ts } : {}), state: withoutGrantToken(state), request: requestOf(input) });
            card.ts = posted.ts;
          } catch (err) {
            failed(err, card.channel);
            cards.cards = cards.cards.filter((c) => c !== card);
          }
        }),
      );
      const owed = state.decisions.slice(announced);
      announced = state.decisions.length;
      for (const decision of owed) await replyEverywhere({ kind: "decision", decision });
      if (state.status !== "pending" && cards.requesterNotified !== true) {
        cards.requesterNotified = true;
        try {
          await slack.notifySlackRequester({ state: withoutGrantToken(state) });
        } catch (err) {
          failed(err);
        }
      }
      if (FINAL_STATUSES.includes(state.status) && seen === cardVersion) return;
      if (cardVersion !== seen) continue;
      const timers = state.status === "pending" ? [nextReminderAtMs, escalateAtMs].filter((t): t is number => t !== undefined) : [];
      const wakeAtMs = timers.length > 0 ? Math.min(...timers) : undefined;
      if (wakeAtMs === undefined) {
        await condition(() => cardVersion !== seen);
        continue;
      }
      const moved = await condition(() => cardVersion !== seen, Math.max(1, wakeAtMs - Date.now()));
      if (moved || state.status !== "pending") continue;
      if (escalateAtMs !== undefined && plan.escalation !== undefined && Date.now() >= escalateAtMs) {
        escalateAtMs = undefined;
        const added = plan.escalation.groups.filter((g) => !routing.approverGroups.includes(g));
        routing.approverGroups.push(...added);
        cards.escalatedTo = plan.escalation.groups;
        for (const channel of plan.escalation.channels) if (!cards.cards.some((c) => c.channel === channel)) cards.cards.push({ channel });
        changed();
      }
      if (nextReminderAtMs !== undefined && plan.remindEverySeconds !== undefined && Date.now() >= nextReminderAtMs) {
        cards.remindersSent += 1;
        // Bounded: a one-second interval on a week-long deadline must not grow the history without end.
        nextReminderAtMs = cards.remindersSent < (plan.maxReminders ?? DEFAULT_MAX_REMINDERS) ? Date.now() + plan.remindEverySeconds * 1000 : undefined;
        await replyEverywhere({ kind: "reminder", deadlineAtMs: routing.deadlineAtMs, approved: approvals(), quorum: routing.quorum });
      }
    }

    async function replyEverywhere(reply: SlackReplyInput["reply"]): Promise<void> {
      await Promise.all(
        cards.cards.map(async ({ channel, ts }) => {
          if (ts === undefined) return;
          try {
            await slack.replyInSlackThread({ channel, threadTs: ts, tenant: input.tenant, reply });
          } catch (err) {
            failed(err, channel);
          }
        }),
      );
    }
  }

  async function runApproval(): Promise<void> {
    // Read through a function: message handlers change the status between awaits.
    const current = (): ApprovalStatus => state.status;
    // 1. Who is asking: the agent's workload identity, verified again inside the workflow's trail.
    try {
      const verified = await verifyAgentIdentity({
        token: input.agentToken,
        expectedSpiffeId: input.agent.spiffeId,
        ...(input.agent.jkt !== undefined ? { expectedJkt: input.agent.jkt } : {}),
        // As of receipt: a request filed while no worker ran must not fail because its token expired meanwhile.
        receivedAtMs: input.requestedAtMs,
      });
      state.identity = { verifiedAtMs: Date.now(), trustDomain: verified.trustDomain, ...(verified.jkt !== undefined ? { jkt: verified.jkt } : {}) };
    } catch (err) {
      if (current() === "verifying") setStatus("failed", failureCode(err), "agent identity could not be verified");
      return;
    }
    if (current() !== "verifying") return; // revoked meanwhile

    // 2. May this principal have this agent do this, now?
    let verdict;
    try {
      verdict = await authorizeRequest(facts);
    } catch (err) {
      if (current() === "verifying") setStatus("failed", failureCode(err), "policy could not be evaluated");
      return;
    }
    if (verdict.decision === "deny") {
      recordPolicy("request", verdict);
      // The engine's message goes to the policy record (operators); the status carries a fixed one.
      if (current() === "verifying") setStatus("denied", verdict.reason, verdict.reason === "policy_unavailable" ? "policy could not be evaluated" : "policy denies the request");
      return;
    }
    recordPolicy("request", verdict);
    if (current() !== "verifying") return;

    if (verdict.approval === "required") {
      // The card keys (critical, reasons, reminders, escalation) are there only when a policy set them.
      const { approverGroups, quorum, deadlineSeconds: policyDeadline, ...card } = verdict.routing;
      const deadlineSeconds = policyDeadline ?? input.defaultDeadlineSeconds;
      state.routing = { approverGroups, quorum, deadlineAtMs: Date.now() + deadlineSeconds * 1000, ...card };
      setStatus("pending");
      // Approvals pending before Slack cards existed replay without them.
      if (patched(SLACK_CARDS_PATCH)) cardLane = runCardLane();
      const settled = await condition(() => current() !== "pending" || quorumReached(), deadlineSeconds * 1000);
      if (!settled) {
        setStatus("expired", "approval_deadline_passed", "no decision before the deadline");
        return;
      }
      if (current() !== "pending") return; // denied or revoked
      settling = true;
      // Approvals that reached their quorum before the one-step settle re-check and mint in two steps.
      if (patched(DECISION_SETTLE_PATCH)) {
        // 5 and 6 in one local activity: re-authorize with the world as it is at decision time and,
        // only if that still lets this approval through, mint the one-shot grant.
        let settled;
        try {
          settled = await settleApproval({ facts, approvals: approvals(), grant: grantInput() });
        } catch (err) {
          if (current() === "pending") setStatus("failed", failureCode(err), "policy could not be evaluated or the grant could not be minted at decision time");
          return;
        }
        recordPolicy("decision", settled.verdict);
        if (current() !== "pending") return; // revoked while settling
        // The workflow's own reading of the verdict decides; a grant without it is never kept.
        const refusal = refusalNow(settled.verdict);
        if (refusal !== undefined) {
          setStatus("denied", refusal.reason, `${refusal.message} (at decision time)`);
          return;
        }
        if (settled.grant === undefined) {
          setStatus("failed", "internal", "grant could not be minted");
          return;
        }
        issue(settled.grant);
        return waitForRedemption(settled.grant);
      }
      // 5. Re-authorize with the world as it is at decision time.
      let recheck;
      try {
        recheck = await authorizeRequest(facts);
      } catch (err) {
        if (current() === "pending") setStatus("failed", failureCode(err), "policy could not be evaluated at decision time");
        return;
      }
      recordPolicy("decision", recheck);
      if (current() !== "pending") return; // revoked while policy was asked
      const refusal = refusalNow(recheck);
      if (refusal !== undefined) {
        setStatus("denied", refusal.reason, `${refusal.message} (at decision time)`);
        return;
      }
    }

    // 6. Mint the one-shot grant.
    const lastPolicy = state.policy[state.policy.length - 1];
    let grant;
    try {
      grant = await mintGrant({ ...grantInput(), policyVersion: lastPolicy?.policyVersion ?? "" });
    } catch (err) {
      if (current() === "pending" || current() === "verifying") setStatus("failed", failureCode(err), "grant could not be minted");
      return;
    }
    if (current() !== "pending" && current() !== "verifying") return; // revoked while minting
    issue(grant);
    return waitForRedemption(grant);
  }

  /** The grant bound to this exact call, from the approvers so far, without a policy version yet. */
  function grantInput(): SettleInput["grant"] {
    return {
      audience: input.toolAudience,
      principal: input.principal.subject,
      agent: input.agent.spiffeId,
      tenant: input.tenant,
      tool: input.tool,
      argsSha256: input.argsSha256,
      approvalId: input.approvalId,
      approvers: approvedBy(state),
      ...(input.agent.jkt !== undefined ? { agentJkt: input.agent.jkt } : {}),
      ...(input.target !== undefined ? { resource: input.target } : {}),
    };
  }

  function issue(grant: GrantRecord): void {
    state.grant = grant;
    settling = false;
    setStatus("approved");
  }

  /** 7. Wait for redemption, revocation or expiry of the grant. */
  async function waitForRedemption(grant: GrantRecord): Promise<void> {
    const ended = await condition(() => state.status !== "approved", Math.max(0, grant.expiresAtMs - Date.now()));
    if (!ended) {
      await condition(() => !redeeming);
      if (state.status === "approved") setStatus("expired", "grant_expired", "grant was not redeemed in time");
    }
  }
}
