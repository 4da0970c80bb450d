// What the HTTP API shows of an approval. The grant is shown only to the agent it is bound to.
import { approvedBy, UNDECIDED_STATUSES, type ApprovalState } from "../../workflows/definitions.js";

export interface ApprovalView {
  id: string;
  status: ApprovalState["status"];
  tenant: string;
  tool: string;
  intent: ApprovalState["intent"];
  /** null while nobody has decided; otherwise why it ended up where it is. */
  decision: {
    code: string | null;
    message: string | null;
    approvers: string[];
    quorum: number | null;
    policyVersion: string | null;
  } | null;
  deadline: string | null;
  grant?: string;
  grantExpiresAt?: string;
}

/** `viewer`: the authenticated agent asking, with the thumbprint of the key it proved, if any. */
export function approvalView(state: ApprovalState, viewer: { spiffeId: string; jkt?: string } | undefined): ApprovalView {
  const approvers = approvedBy(state);
  const last = state.policy[state.policy.length - 1];
  const decided = !UNDECIDED_STATUSES.includes(state.status);
  const view: ApprovalView = {
    id: state.id,
    // `verifying` lasts for the first activity only; to callers it is simply not decided yet.
    status: state.status === "verifying" ? "pending" : state.status,
    tenant: state.tenant,
    tool: state.tool,
    intent: state.intent,
    decision: decided
      ? {
          code: state.reasonCode ?? null,
          message: state.reason ?? null,
          approvers,
          quorum: state.routing?.quorum ?? null,
          policyVersion: last?.policyVersion ?? null,
        }
      : null,
    deadline: state.routing !== undefined && state.status === "pending" ? new Date(state.routing.deadlineAtMs).toISOString() : null,
  };
  const boundAgent = viewer !== undefined && viewer.spiffeId === state.agent && (state.agentJkt === undefined || viewer.jkt === state.agentJkt);
  if (state.status === "approved" && state.grant !== undefined && boundAgent) {
    view.grant = state.grant.token;
    view.grantExpiresAt = new Date(state.grant.expiresAtMs).toISOString();
  }
  return view;
}
