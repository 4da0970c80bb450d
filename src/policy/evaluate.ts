// One Cedar decision against the pre-parsed schema and policy set. Fail closed: an exception, a
// failed call, a request that does not match the schema or any policy evaluation error is a deny.
import { statefulIsAuthorized, type AuthorizationAnswer, type Context, type EntityJson } from "./cedar.js";
import type { LoadedPolicySet } from "./policy-set.js";
import { entityRefsIn, type Directory } from "./directory.js";

/** What to ask Cedar. Entity references are `{type, id}`. */
export interface CedarQuery {
  principal: { type: string; id: string };
  action: "request" | "approve";
  resource: { type: string; id: string };
  context: Context;
}

/**
 * Cedar's answer. `policyIds` (sorted) are the determining policies: the satisfied permits of an
 * allow, the satisfied forbids of a deny, or the policies that failed to evaluate.
 */
export type Evaluation = { decision: "allow"; policyIds: string[] } | { decision: "deny"; policyIds: string[]; message: string };

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/**
 * Evaluate `query` with the request validated against the schema. Cedar gets only the entities the
 * request can reach (from its principal, resource and context, and the policies' literals: see
 * Directory.reachable), not the whole directory. Never throws.
 */
export function evaluate(policies: LoadedPolicySet, directory: Pick<Directory, "reachable">, query: CedarQuery): Evaluation {
  let answer: AuthorizationAnswer;
  try {
    const entities: EntityJson[] = directory.reachable([query.principal, query.resource, ...entityRefsIn(query.context), ...policies.entityLiterals]);
    answer = statefulIsAuthorized({
      principal: query.principal,
      action: { type: "Action", id: query.action },
      resource: query.resource,
      context: query.context,
      preparsedSchemaName: policies.preparsedId,
      preparsedPolicySetId: policies.preparsedId,
      validateRequest: true,
      entities,
    });
  } catch (err) {
    return { decision: "deny", policyIds: [], message: `policy evaluation failed: ${messageOf(err)}` };
  }
  if (answer.type === "failure") {
    return { decision: "deny", policyIds: [], message: `policy evaluation failed: ${answer.errors.map((e) => e.message).join("; ")}` };
  }
  const { decision, diagnostics } = answer.response;
  if (diagnostics.errors.length > 0) {
    // Cedar's order of errors is not stable: sorted by policy, the same decision reads the same.
    const errors = [...diagnostics.errors].sort((a, b) => (a.policyId < b.policyId ? -1 : a.policyId > b.policyId ? 1 : 0));
    // An erroring forbid is skipped by Cedar; counting the error as a deny keeps that from opening a door.
    return {
      decision: "deny",
      policyIds: [...new Set(diagnostics.errors.map((e) => e.policyId))].sort(),
      message: `policy evaluation error: ${errors.map((e) => `policy "${e.policyId}": ${e.error.message}`).join("; ")}`,
    };
  }
  const policyIds = [...diagnostics.reason].sort();
  if (decision === "allow" && policyIds.length > 0) return { decision: "allow", policyIds };
  return {
    decision: "deny",
    policyIds,
    message: policyIds.length > 0 ? `forbidden by policy ${policyIds.map((id) => `"${id}"`).join(", ")}` : "no policy permits it",
  };
}
