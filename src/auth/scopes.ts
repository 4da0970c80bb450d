// The OAuth scopes countersign reads (see README, "Scopes"). The coarse first gate only: the decision
// itself is policy's, at the moment it is made.

/** Agents file requests for their principal. */
export const REQUEST_SCOPE = "countersign:request";
/** Approvers decide, at the approver endpoint. */
export const APPROVE_SCOPE = "countersign:approve";
/** Operations staff revoke approvals of their own tenant. */
export const OPS_SCOPE = "countersign:ops";
