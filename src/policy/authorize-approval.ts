// Decides `Action::"approve"`: may this approver approve this request? Separation of duties is
// enforced here, after Cedar: an approver who is the requester needs a determining permit that
// says `@allow_self_approval("true")`.
import type { ApprovalFacts, ApproveDecision } from "./engine.js";
import { baseContext } from "./authorize-request.js";
import type { Directory } from "./directory.js";
import { evaluate } from "./evaluate.js";
import type { LoadedPolicySet } from "./policy-set.js";

/**
 * Evaluate an approval with the current policies and directory. One rule, both halves enforced:
 * the approver must be a member (directly or through parent roles) of one of the request's routed
 * `@approvers` groups when `facts.approverGroups` is given, *and* be permitted by the
 * `Action::"approve"` policies. Denies with `approver_not_entitled` when the approver is not a
 * directory user, is in none of the routed groups, or Cedar denies or errs, and with
 * `self_approval_forbidden` when approver and requester are the same user and no determining
 * permit allows it. The allow names the matching groups. Never throws.
 */
export function decideApproval(policies: LoadedPolicySet, directory: Directory, facts: ApprovalFacts): ApproveDecision {
  const policyVersion = policies.version;
  if (directory.user(facts.approver) === undefined) {
    return { decision: "deny", reason: "approver_not_entitled", message: "the approver is not a user in the directory", policyVersion, policyIds: [] };
  }
  const routed = facts.approverGroups;
  const roles = routed === undefined ? [] : directory.rolesOf(facts.approver);
  const groups = routed?.filter((g) => roles.includes(g));
  if (routed !== undefined && groups?.length === 0) {
    return {
      decision: "deny",
      reason: "approver_not_entitled",
      message: `the approver is in none of the groups this request was routed to (${routed.join(", ")})`,
      policyVersion,
      policyIds: [],
    };
  }
  const selfApproval = facts.approver === facts.principal;
  const evaluation = evaluate(policies, directory, {
    principal: { type: "User", id: facts.approver },
    action: "approve",
    resource: { type: "Tool", id: facts.tool },
    context: { ...baseContext(facts), requester: { __entity: { type: "User", id: facts.principal } }, selfApproval },
  });
  const { policyIds } = evaluation;
  if (evaluation.decision === "deny") {
    return { decision: "deny", reason: "approver_not_entitled", message: `approval denied: ${evaluation.message}`, policyVersion, policyIds };
  }
  if (selfApproval && !policyIds.some((id) => policies.routing.get(id)?.allowSelfApproval === true)) {
    return {
      decision: "deny",
      reason: "self_approval_forbidden",
      message: 'the approver is the requester and no determining policy says @allow_self_approval("true")',
      policyVersion,
      policyIds,
    };
  }
  return { decision: "allow", policyVersion, policyIds, ...(groups !== undefined ? { groups } : {}) };
}
