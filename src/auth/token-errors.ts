// Translation of jose's verification errors into countersign's token codes, with safe messages.
import { errors } from "jose";
import { AuthError, CountersignError, toCountersignError } from "../errors.js";

/** Which token a message is about, so the caller knows which header to fix. */
export type TokenKind = "principal token" | "workload identity token" | "workload proof token";

function claimError(err: errors.JWTClaimValidationFailed, kind: TokenKind): AuthError {
  const cause = err;
  if (err.claim === "nbf" && err.reason === "check_failed") {
    return new AuthError("token_not_yet_valid", `${kind} is not valid yet`, { cause });
  }
  if (err.claim === "iss") return new AuthError("token_issuer_untrusted", `${kind} issuer is not trusted`, { cause });
  if (err.claim === "aud") return new AuthError("token_audience_mismatch", `${kind} is not meant for this audience`, { cause });
  return new AuthError("token_claims_invalid", `${kind} has a missing or invalid claim`, {
    cause,
    detail: { claim: err.claim, reason: err.reason },
  });
}

/**
 * Map anything thrown while verifying a token to a CountersignError. jose errors become AuthErrors
 * (`token_malformed`, `token_algorithm_rejected`, `token_signature_invalid`, `token_key_unknown`,
 * `token_expired`, `token_not_yet_valid`, `token_issuer_untrusted`, `token_audience_mismatch`,
 * `token_claims_invalid`); an unusable trusted key set is `unavailable`; CountersignErrors pass through;
 * anything else is `internal`. The original error is kept as `cause`; messages never contain the token.
 */
export function toTokenError(err: unknown, kind: TokenKind): CountersignError {
  if (err instanceof CountersignError) return err;
  const cause = err;
  if (err instanceof errors.JWTExpired) return new AuthError("token_expired", `${kind} has expired`, { cause });
  if (err instanceof errors.JWTClaimValidationFailed) return claimError(err, kind);
  if (err instanceof errors.JOSEAlgNotAllowed) {
    return new AuthError("token_algorithm_rejected", `${kind} signing algorithm is not allowed`, { cause });
  }
  if (err instanceof errors.JWSSignatureVerificationFailed) {
    return new AuthError("token_signature_invalid", `${kind} signature is invalid`, { cause });
  }
  if (err instanceof errors.JWKSNoMatchingKey || err instanceof errors.JWKSMultipleMatchingKeys) {
    return new AuthError("token_key_unknown", `no single trusted key matches the ${kind}`, { cause });
  }
  if (err instanceof errors.JWKSInvalid || err instanceof errors.JWKInvalid) {
    return new CountersignError("unavailable", `a trusted key for the ${kind} is unusable`, { cause });
  }
  if (err instanceof errors.JWSInvalid || err instanceof errors.JWTInvalid || err instanceof errors.JOSENotSupported) {
    return new AuthError("token_malformed", `${kind} is not a well-formed signed JWT`, { cause });
  }
  return toCountersignError(err);
}
