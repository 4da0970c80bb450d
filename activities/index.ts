// Every side effect of the approval workflow: identity checks, policy decisions, grant minting.
// Built by a factory over narrow dependencies so tests can pass their own and the worker the real ones.
import { createHash } from "node:crypto";
import { ApplicationFailure, Context } from "@temporalio/activity";
import { CountersignError } from "../src/errors.js";
import type { GrantInput } from "../src/grants/mint.js";
import { mintGrant as signGrant } from "../src/grants/mint.js";
import type { KeyStore } from "../src/grants/key-store.js";
import type { ApproveDecision, PolicyEngine, RequestDecision } from "../src/policy/engine.js";
import type { AgentVerifier, VerifiedAgent } from "../src/auth/verify-agent.js";
import { verifyDecision } from "../src/decisions/assertion.js";
import { recheckRefusal, type ApprovalState, type DecisionCheckInput, type GrantRecord, type RequestFactsInput, type SettleInput, type SettleResult, type SlackCardInput, type SlackPlan, type SlackPlanInput, type SlackReplyInput } from "../workflows/definitions.js";
import { SlackError } from "../src/errors.js";
import type { SlackCards } from "../src/slack/cards.js";

/** The Slack side effects the workflow asks for (src/slack/cards.ts); absent when Slack is not configured. */
export type SlackCardsPort = Pick<SlackCards, "plan" | "syncCard" | "reply" | "notifyRequester">;

export interface ActivityDeps {
  policy: PolicyEngine;
  verifyAgent: AgentVerifier;
  grantKeys: KeyStore;
  /** `iss` of minted grants. */
  issuer: string;
  grantTtlSeconds: number;
  /** Leeway for decision assertions' `iat`/`exp`, in seconds (identity.clockToleranceSeconds). */
  clockToleranceSeconds: number;
  /** approvals.breakGlass.enabled of the worker's own config: when false, `via: break-glass` decisions are refused here. */
  breakGlassEnabled?: boolean;
  /** Slack cards; when absent every approval is planned without cards. */
  slack?: SlackCardsPort;
}

/**
 * A failed Slack call as Temporal sees it: `slack_unavailable` is retried, after Slack's Retry-After
 * when it sent one; `slack_rejected` (bad token, missing channel, …) is final, so the workflow records it.
 */
function slackFailure(err: unknown): never {
  if (err instanceof SlackError) {
    const retryAfterSeconds = err.detail?.retryAfterSeconds;
    if (err.code === "slack_unavailable") {
      throw ApplicationFailure.create({ type: err.code, message: err.message, nonRetryable: false, ...(typeof retryAfterSeconds === "number" ? { nextRetryDelay: `${retryAfterSeconds} seconds` } : {}) });
    }
    throw ApplicationFailure.nonRetryable(err.message, err.code);
  }
  throw err;
}

/**
 * A Slack activity: the port's call, failures mapped by slackFailure and counted by code in the
 * worker's metrics (`countersign_slack_failures`, see README "Metrics").
 */
async function slackStep<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    const code = err instanceof SlackError ? err.code : "internal";
    Context.current().metricMeter.createCounter("countersign_slack_failures", "calls", "Slack Web API calls of the card lane that failed, by code (slack_unavailable is retried)").add(1, { code });
    slackFailure(err);
  }
}

/**
 * The grant id of an approval's run: derived from the workflow id and run id, so activity retries
 * are idempotent, while another run under the same approval id (started by anyone who can write to
 * the namespace, with the input copied from history) never re-mints the jti of a grant already used.
 */
export function grantJti(approvalId: string, runId: string): string {
  return createHash("sha256").update(`countersign-grant:${approvalId}:${runId}`).digest("base64url").slice(0, 32);
}

/**
 * A CountersignError becomes a failure whose type is its stable code: retried when the cause may pass
 * (`unavailable`, `internal`: a JWKS fetch failed), final otherwise (a bad token stays bad).
 */
function permanent(err: unknown): never {
  if (err instanceof CountersignError) {
    if (err.code === "unavailable" || err.code === "internal") throw ApplicationFailure.retryable(err.message, err.code);
    throw ApplicationFailure.nonRetryable(err.message, err.code);
  }
  throw err;
}

/** The entitlement activity's answer: policy's verdict, or a refusal of the decision assertion before policy was asked. */
export type DecisionVerdict =
  | ApproveDecision
  | { decision: "deny"; reason: "decision_assertion_invalid" | "break_glass_disabled"; message: string; policyVersion: string; policyIds: string[] };

export function createActivities(deps: ActivityDeps) {
  async function mint(input: GrantInput): Promise<GrantRecord> {
    try {
      // One jti per approval run: a retried activity re-signs the same grant id, never a second grant.
      const runId = Context.current().info.workflowExecution?.runId ?? "";
      const minted = await signGrant(deps.grantKeys, input, { issuer: deps.issuer, ttlSeconds: deps.grantTtlSeconds, jti: grantJti(input.approvalId, runId) });
      return { token: minted.token, jti: minted.jti, expiresAtMs: minted.expiresAt * 1000, audience: input.audience };
    } catch (err) {
      permanent(err);
    }
  }

  return {
    /**
     * Step 1: the agent's workload identity token verifies (as of `receivedAtMs`, when the server received
     * the request: identity verified at receipt is what counts) and names the agent on the request.
     */
    async verifyAgentIdentity(input: { token: string; expectedSpiffeId: string; expectedJkt?: string; receivedAtMs?: number }): Promise<{ spiffeId: string; trustDomain: string; jkt?: string }> {
      let agent: VerifiedAgent;
      try {
        agent = await deps.verifyAgent(input.token, input.receivedAtMs !== undefined ? { atMs: input.receivedAtMs } : {});
      } catch (err) {
        permanent(err);
      }
      if (agent.spiffeId !== input.expectedSpiffeId || agent.proofKey?.jkt !== input.expectedJkt) {
        throw ApplicationFailure.nonRetryable("workload identity does not match the requesting agent", "token_claims_invalid");
      }
      return { spiffeId: agent.spiffeId, trustDomain: agent.trustDomain, ...(agent.proofKey !== undefined ? { jkt: agent.proofKey.jkt } : {}) };
    },

    /** Steps 2, 5 and 7: may this principal have this agent do this, with the policies and entities as they are now? */
    authorizeRequest(facts: RequestFactsInput): Promise<RequestDecision> {
      return Promise.resolve(deps.policy.authorizeRequest(facts));
    },

    /** Step 4: may this approver approve this request now (entitlement, tenant, separation of duties)? */
    authorizeApproval(facts: RequestFactsInput & { approver: string }): Promise<ApproveDecision> {
      return Promise.resolve(deps.policy.authorizeApproval(facts));
    },

    /**
     * Step 4, for every decision since decision assertions: first the assertion (signed by an edge
     * with the grant keys, `typ` countersign-decision+jwt, for this approval, stating exactly this
     * approver, decision, channel, reason and jti, unexpired); then entitlement: a member of one of the
     * routed approver groups *and* permitted by the approve policies (separation of duties included).
     * An assertion that does not hold is a denial with reason `decision_assertion_invalid` (and no policy asked).
     */
    async authorizeDecision(input: DecisionCheckInput): Promise<DecisionVerdict> {
      try {
        await verifyDecision(
          deps.grantKeys,
          input.assertion,
          {
            approvalId: input.approvalId,
            approver: input.approver,
            decision: input.decision,
            via: input.via,
            jti: input.jti,
            reason: input.reason,
            osUser: input.osUser,
            slack: input.slack,
          },
          { issuer: deps.issuer, clockToleranceSeconds: deps.clockToleranceSeconds },
        );
      } catch (err) {
        if (err instanceof CountersignError && err.code === "decision_assertion_invalid") {
          return { decision: "deny", reason: "decision_assertion_invalid", message: err.message, policyVersion: "", policyIds: [] };
        }
        permanent(err);
      }
      // The worker's config decides whether break-glass exists, not the config of whoever signed.
      if (input.via === "break-glass" && deps.breakGlassEnabled !== true) {
        return { decision: "deny", reason: "break_glass_disabled", message: "break-glass decisions are off in this deployment", policyVersion: "", policyIds: [] };
      }
      const verdict = deps.policy.authorizeApproval({ ...input.facts, approver: input.approver, approverGroups: input.approverGroups });
      if (input.via === "break-glass" && verdict.decision === "allow") {
        // The SDK's own metrics (exported by the worker's runtime telemetry, see README "Metrics").
        Context.current().metricMeter.createCounter("countersign_break_glass_decisions", "decisions", "Break-glass decisions accepted by policy").add(1, { decision: input.decision });
      }
      return verdict;
    },

    /** Slack: where the approval's cards go, reminders and escalation (no cards without Slack). */
    planSlackCards(input: SlackPlanInput): Promise<SlackPlan> {
      return Promise.resolve(deps.slack?.plan(input) ?? { channels: [] });
    },

    /** Slack: post one card or bring it up to date (at most one per approval and channel). */
    async syncSlackCard(input: SlackCardInput): Promise<{ ts: string }> {
      const slack = deps.slack;
      if (slack === undefined) throw ApplicationFailure.nonRetryable("Slack is not configured on this worker", "slack_rejected");
      const { workflowNamespace: namespace, attempt } = Context.current().info;
      return slackStep(() => slack.syncCard(input, { namespace, retry: attempt > 1 }));
    },

    /** Slack: a thread reply under a card (an accepted decision, a reminder). */
    async replyInSlackThread(input: SlackReplyInput): Promise<void> {
      const slack = deps.slack;
      if (slack === undefined) throw ApplicationFailure.nonRetryable("Slack is not configured on this worker", "slack_rejected");
      const { activityId, attempt, workflowExecution } = Context.current().info;
      await slackStep(() => slack.reply(input, { approvalId: workflowExecution?.workflowId ?? "", replyId: activityId, retry: attempt > 1 }));
    },

    /** Slack: the requester's direct message about the outcome (nothing when their Slack id is unknown). */
    async notifySlackRequester(input: { state: ApprovalState }): Promise<{ sent: boolean }> {
      const slack = deps.slack;
      if (slack === undefined) return { sent: false };
      const { activityId, attempt } = Context.current().info;
      return { sent: await slackStep(() => slack.notifyRequester(input.state, { noticeId: activityId, retry: attempt > 1 })) };
    },

    /** Step 6: sign the one-shot grant bound to this exact call. */
    mintGrant(input: GrantInput): Promise<GrantRecord> {
      return mint(input);
    },

    /**
     * Steps 5 and 6 in one (patch `decision-settle-v1`): re-check policy with the world as it is at
     * decision time and, only when the verdict still lets `approvals` approvals through
     * (`recheckRefusal`), sign the grant with the re-check's policy version.
     */
    async settleApproval(input: SettleInput): Promise<SettleResult> {
      const verdict = deps.policy.authorizeRequest(input.facts);
      if (recheckRefusal(verdict, input.approvals) !== undefined) return { verdict };
      return { verdict, grant: await mint({ ...input.grant, policyVersion: verdict.policyVersion }) };
    },
  };
}

export type Activities = ReturnType<typeof createActivities>;
