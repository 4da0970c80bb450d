// The approval workflow: one per action request. Verifies the agent, asks policy, waits for entitled
// approvers (or a deadline), re-checks policy, mints a one-shot grant and burns it on redemption.
// Deterministic orchestration only: every side effect runs in an activity.
import {
  allHandlersFinished,
  ApplicationFailure,
  condition,
  log,
  proxyActivities,
  proxyLocalActivities,
  setHandler,
  upsertSearchAttributes,
} from "@temporalio/workflow";
import type { Activities } from "../activities/index.js";
import type { RequestDecision } from "../src/policy/engine.js";
import {
  approvedBy,
  decideUpdate,
  FINAL_STATUSES,
  redeemUpdate,
  revokeUpdate,
  requestQuery,
  stateQuery,
  statusSearchAttribute,
  type ApprovalInput,
  type ApprovalState,
  type ApprovalStatus,
  type DecideInput,
  type PolicyRecord,
  type RedeemInput,
  type RequestFactsInput,
  type RevokeInput,
} from "./definitions.js";

// The main path (identity, first policy decision, re-check at quorum, signing) runs as local
// activities: short, CPU-bound, needing only the worker's own state, and recorded as history markers
// without a task-queue round trip each.
const { verifyAgentIdentity, authorizeRequest, mintGrant } = proxyLocalActivities<Activities>({
  startToCloseTimeout: "10 seconds",
  retry: { maximumAttempts: 3, initialInterval: "200 milliseconds", nonRetryableErrorTypes: ["token_expired"] },
});
// Inside Update handlers, where many Updates can arrive at once (50 tool servers racing one grant),
// a local activity would hold the workflow task open while new Updates queue up behind it; regular
// activities let each Update be accepted or rejected promptly.
const remote = proxyActivities<Activities>({
  startToCloseTimeout: "10 seconds",
  retry: { maximumAttempts: 3, initialInterval: "200 milliseconds" },
});

const MAX_NAME_LENGTH = 256;

function reject(type: string, message: string): never {
  throw ApplicationFailure.create({ type, message, nonRetryable: true });
}

function failureCode(err: unknown): string {
  if (err instanceof ApplicationFailure && typeof err.type === "string") return err.type;
  const cause = (err as { cause?: unknown }).cause;
  if (cause instanceof ApplicationFailure && typeof cause.type === "string") return cause.type;
  return "internal";
}

export async function approvalWorkflow(input: ApprovalInput): Promise<ApprovalState> {
  const state: ApprovalState = {
    id: input.approvalId,
    status: "verifying",
    tenant: input.tenant,
    tool: input.tool,
    principal: input.principal.subject,
    principalIssuer: input.principal.issuer,
    agent: input.agent.spiffeId,
    ...(input.agent.jkt !== undefined ? { agentJkt: input.agent.jkt } : {}),
    argsSha256: input.argsSha256,
    intent: input.intent,
    requestedAtMs: input.requestedAtMs,
    decisions: [],
    policy: [],
  };
  // Internal phases that must block other messages without being a public status.
  let settling = false; // quorum reached; re-check and minting under way
  let redeeming = false;
  const deciding = new Set<string>();

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

  const setStatus = (status: ApprovalStatus, reasonCode?: string, reason?: string): void => {
    state.status = status;
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
  /**
   * A re-check passes only if policy still allows *and* what it asks for now is already satisfied:
   * a policy that now requires approval, or more approvers than decided, denies the stale approval.
   */
  const recheckRefusal = (verdict: RequestDecision): { reason: string; message: string } | undefined => {
    if (verdict.decision === "deny") return { reason: verdict.reason, message: "policy denies the request now" };
    if (verdict.approval === "required" && approvals() < verdict.routing.quorum) {
      return { reason: "policy_denied", message: `policy now requires ${verdict.routing.quorum} approval(s)` };
    }
    return undefined;
  };

  // Handlers are registered before the first await so early messages are not rejected.
  setHandler(stateQuery, () => state);
  setHandler(requestQuery, () => ({
    tenant: input.tenant,
    tool: input.tool,
    arguments: input.arguments,
    ...(input.target !== undefined ? { target: input.target } : {}),
    intent: input.intent,
    ...(input.reason !== undefined ? { reason: input.reason } : {}),
  }));

  setHandler(
    decideUpdate,
    async (decision: DecideInput) => {
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
        // The world may have moved while policy was asked (deadline, revoke, another approver).
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
        if (quorumReached()) {
          // Let the caller see the outcome of the re-check and minting, not an intermediate state.
          await condition(() => state.status !== "pending");
        }
        return state;
      } finally {
        deciding.delete(decision.approver);
      }
    },
    {
      validator: (decision: DecideInput) => {
        if (typeof decision.approver !== "string" || decision.approver.length === 0 || decision.approver.length > MAX_NAME_LENGTH) {
          reject("invalid_request", "approver must be a non-empty string");
        }
        if (decision.decision !== "approve" && decision.decision !== "deny") reject("invalid_request", "decision must be approve or deny");
        if (typeof decision.via !== "string" || decision.via.length === 0) reject("invalid_request", "via must be set");
        if (decision.reason !== undefined && (typeof decision.reason !== "string" || decision.reason.length > 2000)) {
          reject("invalid_request", "reason must be a string of at most 2000 characters");
        }
        if (state.status !== "pending" || settling) reject("approval_not_pending", `approval is ${state.status}`);
        if (deciding.has(decision.approver) || state.decisions.some((d) => d.approver === decision.approver)) {
          reject("already_decided", "this approver has already decided");
        }
      },
    },
  );

  const validateRedeem = (r: RedeemInput): void => {
    if (state.status === "redeemed" || redeeming) reject("grant_already_redeemed", "grant already redeemed");
    if (state.status === "expired") reject("grant_expired", "grant expired");
    if (state.status !== "approved" || state.grant === undefined) reject("invalid_grant", `approval is ${state.status}`);
    if (r.jti !== state.grant.jti) reject("invalid_grant", "grant is not the one issued for this approval");
    if (Date.now() >= state.grant.expiresAtMs) reject("grant_expired", "grant expired");
    if (r.caller !== state.grant.audience) reject("binding_mismatch", "grant is bound to another tool server");
    if (r.tool !== input.tool) reject("binding_mismatch", "grant is bound to another tool");
    if (r.argsSha256 !== input.argsSha256) reject("binding_mismatch", "grant is bound to other arguments");
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
      const refusal = recheckRefusal(verdict);
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
    { validator: validateRedeem },
  );

  setHandler(
    revokeUpdate,
    (r: RevokeInput) => {
      setStatus("revoked", "revoked", r.reason ?? `revoked by ${r.by}`);
      return state;
    },
    {
      validator: (r: RevokeInput) => {
        if (typeof r.by !== "string" || r.by.length === 0 || r.by.length > MAX_NAME_LENGTH) reject("invalid_request", "by must be set");
        if (r.reason !== undefined && (typeof r.reason !== "string" || r.reason.length > 2000)) reject("invalid_request", "reason too long");
        if (redeeming) reject("approval_not_pending", "grant is being redeemed");
        if (FINAL_STATUSES.includes(state.status)) reject("approval_not_pending", `approval is ${state.status}`);
      },
    },
  );

  await runApproval();
  await condition(allHandlersFinished);
  return state;

  async function runApproval(): Promise<void> {
    // Read through a function: message handlers change the status between awaits.
    const current = (): ApprovalStatus => state.status;
    // 1. Who is asking: the agent's workload identity, verified again inside the workflow's trail.
    try {
      const verified = await verifyAgentIdentity({
        token: input.agentToken,
        expectedSpiffeId: input.agent.spiffeId,
        ...(input.agent.jkt !== undefined ? { expectedJkt: input.agent.jkt } : {}),
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
      const deadlineSeconds = verdict.routing.deadlineSeconds ?? input.defaultDeadlineSeconds;
      state.routing = {
        approverGroups: verdict.routing.approverGroups,
        quorum: verdict.routing.quorum,
        deadlineAtMs: Date.now() + deadlineSeconds * 1000,
      };
      setStatus("pending");
      const settled = await condition(() => current() !== "pending" || quorumReached(), deadlineSeconds * 1000);
      if (!settled) {
        setStatus("expired", "approval_deadline_passed", "no decision before the deadline");
        return;
      }
      if (current() !== "pending") return; // denied or revoked
      settling = true;
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
      const refusal = recheckRefusal(recheck);
      if (refusal !== undefined) {
        setStatus("denied", refusal.reason, `${refusal.message} (at decision time)`);
        return;
      }
    }

    // 6. Mint the one-shot grant.
    const approvers = approvedBy(state);
    const lastPolicy = state.policy[state.policy.length - 1];
    let grant;
    try {
      grant = await mintGrant({
        audience: input.toolAudience,
        principal: input.principal.subject,
        agent: input.agent.spiffeId,
        tenant: input.tenant,
        tool: input.tool,
        argsSha256: input.argsSha256,
        approvalId: input.approvalId,
        approvers,
        policyVersion: lastPolicy?.policyVersion ?? "",
        ...(input.agent.jkt !== undefined ? { agentJkt: input.agent.jkt } : {}),
      });
    } catch (err) {
      if (current() === "pending" || current() === "verifying") setStatus("failed", failureCode(err), "grant could not be minted");
      return;
    }
    if (current() !== "pending" && current() !== "verifying") return; // revoked while minting
    state.grant = grant;
    settling = false;
    setStatus("approved");

    // 7. Wait for redemption, revocation or expiry of the grant.
    const ended = await condition(() => current() !== "approved", Math.max(0, grant.expiresAtMs - Date.now()));
    if (!ended) {
      await condition(() => !redeeming);
      if (current() === "approved") setStatus("expired", "grant_expired", "grant was not redeemed in time");
    }
  }
}
