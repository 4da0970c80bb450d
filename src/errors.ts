// The one error taxonomy: every failure countersign reports carries a stable code from this list.
// Callers switch on `code`, never on message text. HTTP statuses are derived from the code here,
// so the edge and the CLI agree on what a code means.

/** Stable error codes, grouped by family. Adding one is a contract change (README, "Error codes"). */
export const ERROR_STATUS = {
  // configuration and start-up (programmer/operator mistakes; fail fast)
  config_invalid: 500,
  key_file_invalid: 500,
  // request shape
  invalid_request: 400,
  payload_too_large: 413,
  unsupported_media_type: 415,
  not_found: 404,
  /** A Temporal payload not encrypted by a known key (or tampered with, or moved from another approval). */
  payload_rejected: 400,
  // identity (principal OAuth token and agent workload identity token)
  token_missing: 401,
  token_malformed: 401,
  token_algorithm_rejected: 401,
  token_signature_invalid: 401,
  token_key_unknown: 401,
  token_expired: 401,
  token_not_yet_valid: 401,
  token_issuer_untrusted: 401,
  token_audience_mismatch: 401,
  token_claims_invalid: 401,
  trust_domain_untrusted: 401,
  proof_missing: 401,
  proof_invalid: 401,
  insufficient_scope: 403,
  intent_mismatch: 403,
  // authorization and approvals
  forbidden: 403,
  policy_denied: 403,
  policy_unavailable: 403,
  unknown_tool: 403,
  approver_not_entitled: 403,
  self_approval_forbidden: 403,
  /** A decision without a valid edge-signed decision assertion (see README, "Decision assertions"). */
  decision_assertion_invalid: 401,
  /** Break-glass decisions are not enabled in this config. */
  break_glass_disabled: 403,
  approval_not_pending: 409,
  already_decided: 409,
  idempotency_conflict: 409,
  /** A policy requires a reason to approve this request (`@approve_reason_required`). */
  reason_required: 400,
  // grants
  invalid_grant: 401,
  binding_mismatch: 403,
  grant_already_redeemed: 409,
  grant_expired: 410,
  // Slack (see README "Slack")
  /** `POST /slack/events` without a valid Slack signature, or with a timestamp outside the 5-minute window. */
  slack_signature_invalid: 401,
  /** The Slack user maps to no directory user (or to several, or is in another workspace than the tenant's). */
  slack_user_unmapped: 403,
  /** Slack refused a call for good (`invalid_auth`, `channel_not_found`, `not_in_channel`, …). */
  slack_rejected: 502,
  /** Slack did not answer, answered 5xx, or rate-limited the call (retried by Temporal). */
  slack_unavailable: 503,
  // infrastructure
  unavailable: 503,
  internal: 500,
} as const satisfies Record<string, number>;

export type ErrorCode = keyof typeof ERROR_STATUS;

export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === "string" && Object.hasOwn(ERROR_STATUS, value);
}

/** HTTP status for a code; unknown codes are internal errors. */
export function httpStatusOf(code: ErrorCode): number {
  return ERROR_STATUS[code];
}

/**
 * Base class of every error countersign raises on purpose. `message` is safe to show the caller
 * (it never contains a token, grant or argument value); `detail` is for the log only.
 */
export class CountersignError extends Error {
  readonly code: ErrorCode;
  readonly detail: Record<string, unknown> | undefined;

  constructor(code: ErrorCode, message: string, options: { cause?: unknown; detail?: Record<string, unknown> } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.detail = options.detail;
  }

  get status(): number {
    return httpStatusOf(this.code);
  }

  toJSON(): { error: { code: ErrorCode; message: string } } {
    return { error: { code: this.code, message: this.message } };
  }
}

/** Bad configuration or key files: raised at start-up, never at request time. */
export class ConfigError extends CountersignError {}
/** A token could not be trusted, or does not carry what the request needs. */
export class AuthError extends CountersignError {}
/** Policy refused, or could not be evaluated (which is a refusal too). */
export class PolicyError extends CountersignError {}
/** The approval cannot move the way the caller asked. */
export class ApprovalError extends CountersignError {}
/** A grant was refused at redemption. */
export class GrantError extends CountersignError {}
/** The request itself is malformed. */
export class RequestError extends CountersignError {}
/** A Slack Web API call failed, or a Slack user could not be mapped. */
export class SlackError extends CountersignError {}

/** Wrap anything thrown into a CountersignError, keeping the original as `cause`. */
export function toCountersignError(err: unknown): CountersignError {
  if (err instanceof CountersignError) return err;
  return new CountersignError("internal", "internal error", { cause: err });
}
