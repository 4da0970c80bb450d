// The issued-at check jose leaves out: it looks at `iat` only when a maximum token age is given.
import { AuthError } from "../errors.js";
import type { TokenKind } from "./token-errors.js";

/**
 * Refuse a token issued in the future: `iat` later than `nowSeconds` plus `clockToleranceSeconds`.
 * Call after `jwtVerify`, which checks `iat` only when `maxTokenAge` is set (and has already refused a
 * non-numeric `iat`). A token without `iat` passes: the claim is optional. Times are epoch seconds.
 *
 * Throws AuthError `token_not_yet_valid`.
 */
export function assertIssuedInThePast(iat: number | undefined, kind: TokenKind, clockToleranceSeconds: number, nowSeconds: number): void {
  if (iat !== undefined && iat > nowSeconds + clockToleranceSeconds) {
    throw new AuthError("token_not_yet_valid", `${kind} is issued in the future`, { detail: { claim: "iat" } });
  }
}
