// First look at a token before any key is touched: present, a compact JWS, and an algorithm we allow.
import { decodeJwt, decodeProtectedHeader, type JWTPayload } from "jose";
import { AuthError } from "../errors.js";
import type { TokenKind } from "./token-errors.js";

/** Asymmetric signature algorithms countersign can verify; `none` and HMAC are never among them. */
export const SUPPORTED_ALGORITHMS: readonly string[] = ["RS256", "PS256", "ES256", "ES384", "EdDSA"];

/** A token's header algorithm and claims, read without checking the signature. Not to be trusted. */
export interface UnverifiedToken {
  alg: string;
  claims: JWTPayload;
}

/**
 * Decode a token without verifying it and refuse what no key may ever verify. Checking the header
 * algorithm here, before key lookup, makes `alg: none` and HS256-signed-with-a-public-key tokens fail as
 * algorithm problems, never as signature problems.
 *
 * Throws AuthError `token_missing` (absent or blank), `token_malformed` (not a compact JWS with a JSON
 * header and claims), `token_algorithm_rejected` (`alg` outside {@link SUPPORTED_ALGORITHMS}).
 */
export function readUnverifiedToken(token: unknown, kind: TokenKind): UnverifiedToken {
  if (typeof token !== "string" || token.trim() === "") throw new AuthError("token_missing", `${kind} is missing`);
  const malformed = (cause?: unknown): AuthError =>
    new AuthError("token_malformed", `${kind} is not a well-formed signed JWT`, cause === undefined ? {} : { cause });
  if (token.split(".").length !== 3) throw malformed();
  let alg: unknown;
  let claims: JWTPayload;
  try {
    alg = decodeProtectedHeader(token).alg;
    claims = decodeJwt(token);
  } catch (cause) {
    throw malformed(cause);
  }
  if (typeof alg !== "string" || alg === "") throw malformed();
  assertAlgorithmAllowed(alg, SUPPORTED_ALGORITHMS, kind);
  return { alg, claims };
}

/** Throws AuthError `token_algorithm_rejected` unless `alg` is in `allowed`. */
export function assertAlgorithmAllowed(alg: string, allowed: readonly string[], kind: TokenKind): void {
  if (!allowed.includes(alg)) throw new AuthError("token_algorithm_rejected", `${kind} signing algorithm is not allowed`);
}
