// Decides `Action::"request"`: may this principal have this agent call this tool for this task,
// and if so, who must approve, how many and how fast (from the determining permits' annotations).
import type { Context } from "./cedar.js";
import { combineRouting, type PolicyRouting } from "./annotations.js";
import type { Directory } from "./directory.js";
import type { RequestDecision, RequestFacts } from "./engine.js";
import { evaluate } from "./evaluate.js";
import type { LoadedPolicySet } from "./policy-set.js";

/** The request context shared by both actions (the schema's common fields). */
export function baseContext(facts: RequestFacts): Context {
  return {
    tenant: { __entity: { type: "Tenant", id: facts.tenant } },
    agent: facts.agent,
    taskId: facts.taskId,
    summary: facts.summary,
    ...(facts.target === undefined ? {} : { target: { __entity: { type: facts.target.type, id: facts.target.id } } }),
  };
}

/**
 * Evaluate a request with the current policies and directory. Denies (`policy_denied`) when the
 * principal is not a directory user, when Cedar denies or errs, and when approval is required
 * but no determining permit names `@approvers` (nobody could be asked). Never throws.
 */
export function decideRequest(policies: LoadedPolicySet, directory: Directory, facts: RequestFacts): RequestDecision {
  const policyVersion = policies.version;
  if (directory.user(facts.principal) === undefined) {
    return { decision: "deny", reason: "policy_denied", message: "the principal is not a user in the directory", policyVersion, policyIds: [] };
  }
  const evaluation = evaluate(policies, directory, {
    principal: { type: "User", id: facts.principal },
    action: "request",
    resource: { type: "Tool", id: facts.tool },
    context: { ...baseContext(facts), argsSha256: facts.argsSha256 },
  });
  const { policyIds } = evaluation;
  if (evaluation.decision === "deny") {
    return { decision: "deny", reason: "policy_denied", message: `request denied: ${evaluation.message}`, policyVersion, policyIds };
  }
  const routing = combineRouting(policyIds.map((id) => policies.routing.get(id)).filter((r): r is PolicyRouting => r !== undefined));
  if (routing.approval === "none") return { decision: "allow", approval: "none", policyVersion, policyIds };
  if (routing.approverGroups.length === 0) {
    return {
      decision: "deny",
      reason: "policy_denied",
      message: `approval is required but no determining policy names @approvers (policies ${policyIds.join(", ")})`,
      policyVersion,
      policyIds,
    };
  }
  // The card keys (combineCardRouting) are present only when a policy set them.
  const { approval: _required, approverGroups, quorum, deadlineSeconds, ...card } = routing;
  return {
    decision: "allow",
    approval: "required",
    routing: { approverGroups, quorum, ...(deadlineSeconds === undefined ? {} : { deadlineSeconds }), ...card },
    policyVersion,
    policyIds,
  };
}

