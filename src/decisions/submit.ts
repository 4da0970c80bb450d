// The one edge path for an approver's decision, used by the approver endpoint (and the CLI through
// it), break-glass and Slack: the edge has authenticated the approver; here it pre-checks what it
// can (so only plausible decisions reach the workflow's history), signs the decision assertion and
// sends the `decide` Update. The workflow verifies the assertion and re-checks entitlement itself.
import type { ApprovalsClient } from "../client/approvals.js";
import { ApprovalError, PolicyError } from "../errors.js";
import type { KeyStore } from "../grants/key-store.js";
import type { PolicyEngine } from "../policy/engine.js";
import { isDecided, lacksRequiredReason, type ApprovalState } from "../../workflows/definitions.js";
import { signDecision, type DecisionStatement } from "./assertion.js";

export interface DecisionEdge {
  approvals: ApprovalsClient;
  policy: PolicyEngine;
  grantKeys: KeyStore;
  /** `iss` of the assertions (Config.issuer). */
  issuer: string;
}

/**
 * Submit `statement` for approval `statement.approvalId`. Refuses at the edge, without touching the
 * workflow: `not_found` (also for an approver outside the approval's tenant or unknown to the
 * directory), `already_decided` (quorum met, a denial accepted, or this approver already decided),
 * `approval_not_pending`, `approver_not_entitled` (in none of the routed groups, or not permitted by
 * the approve policies), `self_approval_forbidden`, `policy_unavailable`, `reason_required` (an
 * approval without a reason where a policy says `@approve_reason_required`). Otherwise signs a
 * decision assertion and sends it; the workflow's own refusals come back with their codes.
 * `opts.state`: the approval's state when the caller has just read it (saves a query).
 * With `opts.idempotencyKey` (the approver's `Idempotency-Key`, or Slack's action), a retry of a
 * decision that was recorded answers with the recorded outcome instead (see `ApprovalsClient.update`),
 * and the key sent with another decision (or reason) is `idempotency_conflict`.
 * @returns the approval's state after the decision, without the grant token.
 */
export async function submitDecision(edge: DecisionEdge, statement: DecisionStatement, opts: { idempotencyKey?: string; state?: ApprovalState } = {}): Promise<ApprovalState> {
  const id = statement.approvalId;
  const key = opts.idempotencyKey;
  // A retry of a decision that was recorded (its answer lost) gets that answer, not `already_decided`.
  const past = key !== undefined ? await edge.approvals.pastDecision(id, statement, key) : undefined;
  if (past !== undefined) return past;
  const state = await checkDecision(edge, statement, opts.state);
  if (lacksRequiredReason(statement, state.routing)) throw new ApprovalError("reason_required", "policy requires a reason to approve this request");
  const signed = await signDecision(edge.grantKeys, statement, { issuer: edge.issuer });
  return edge.approvals.decide(id, {
    approver: statement.approver,
    decision: statement.decision,
    via: statement.via,
    ...(statement.reason !== undefined ? { reason: statement.reason } : {}),
    ...(statement.osUser !== undefined ? { osUser: statement.osUser } : {}),
    ...(statement.slack !== undefined ? { slack: statement.slack } : {}),
    assertion: signed.assertion,
    jti: signed.jti,
    expiresAtMs: signed.expiresAtMs,
  }, key);
}

/**
 * The edge's pre-checks of `submitDecision`, without deciding: whether `statement.approver` could
 * decide approval `statement.approvalId` now. Slack runs them before it opens the reason modal, so a
 * clicker who cannot decide is told at once. Same refusals as `submitDecision` (bar idempotency).
 * `known`: the approval's state, when the caller has just read it (Slack did, to find the tenant).
 * @returns the approval's state as checked.
 */
export async function checkDecision(edge: DecisionEdge, statement: Pick<DecisionStatement, "approvalId" | "approver">, known?: ApprovalState): Promise<ApprovalState> {
  const state = known ?? (await edge.approvals.state(statement.approvalId));
  // Outside the approval's tenant (or unknown to the directory) an approval is indistinguishable
  // from a missing one: no status, no decision count, no policy name. Only an unavailable policy
  // is said as such, since that says nothing about this approval.
  const user = edge.policy.user(statement.approver);
  if (user === undefined || user.tenant !== state.tenant) {
    const unavailable = user === undefined ? edge.policy.unavailable() : undefined;
    if (unavailable !== undefined) throw new PolicyError("policy_unavailable", unavailable);
    throw new ApprovalError("not_found", "no such approval");
  }
  if (state.decisions.some((d) => d.approver === statement.approver)) throw new ApprovalError("already_decided", "this approver has already decided");
  if (isDecided(state)) throw new ApprovalError("already_decided", "the approval has already been decided");
  if (state.status !== "pending" || state.routing === undefined) throw new ApprovalError("approval_not_pending", `approval is ${state.status === "verifying" ? "not yet pending" : state.status}`);
  const verdict = edge.policy.authorizeApproval({
    tenant: state.tenant,
    principal: state.principal,
    agent: state.agent,
    tool: state.tool,
    taskId: state.intent.taskId,
    summary: state.intent.summary,
    argsSha256: state.argsSha256,
    ...(state.target !== undefined ? { target: state.target } : {}),
    approver: statement.approver,
    approverGroups: state.routing.approverGroups,
  });
  if (verdict.decision !== "allow") throw new PolicyError(verdict.reason, verdict.message);
  return state;
}
