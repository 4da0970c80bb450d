// Verifying a presented grant: header, signature, issuer and lifetime, then the exact claim shape.
// The binding to the call being made is checked separately by checkBinding.
import { decodeProtectedHeader, errors, jwtVerify, type CryptoKey } from "jose";
import type { KeySource } from "../auth/jwks.js";
import { CountersignError, GrantError } from "../errors.js";
import { GRANT_TYP, GrantClaimsSchema } from "./claims.js";
import type { GrantClaims } from "./claims.js";
import { GRANT_ALG, tokenKey } from "./key-store.js";
import type { KeyStore } from "./key-store.js";

export type { GrantClaims } from "./claims.js";

export interface VerifyGrantOptions {
  /** Expected `iss` (Config.issuer). */
  issuer: string;
  /** Allowed clock skew for `exp` and `nbf`, in seconds. Default 5. */
  clockToleranceSeconds?: number;
  /** Verification time in epoch seconds; default now. */
  nowSeconds?: number;
}

function invalidGrant(reason: string, options: { cause?: unknown; detail?: Record<string, unknown> } = {}): GrantError {
  return new GrantError("invalid_grant", "the grant is not valid", { cause: options.cause, detail: { reason, ...options.detail } });
}

/**
 * Verify a grant's integrity and lifetime and return its claims. `keys` is the key file (countersign's
 * processes) or a key source over the published JWKS (tool servers, see src/kit). Requires header `typ` exactly
 * `countersign-grant+jwt`, `alg` EdDSA, a `kid` in the key store or set, a valid signature, `iss` equal to
 * `opts.issuer`, `nbf <= now < exp` (within the tolerance), and exactly the grant's claim set.
 * Does not check audience, tool or arguments (see checkBinding) nor single use.
 * @throws GrantError `grant_expired` when only the lifetime has passed (signature valid);
 *   `invalid_grant` for everything else (`detail.reason` says what, never the token).
 */
export async function verifyGrant(keys: KeyStore | KeySource, token: string, opts: VerifyGrantOptions): Promise<GrantClaims> {
  const key = typeof keys === "function" ? await remoteKey(keys, token) : await storeKey(keys, token);

  const nowSeconds = opts.nowSeconds ?? Math.floor(Date.now() / 1000);
  let payload: unknown;
  try {
    ({ payload } = await jwtVerify(token, key, {
      algorithms: [GRANT_ALG],
      typ: GRANT_TYP,
      issuer: opts.issuer,
      clockTolerance: opts.clockToleranceSeconds ?? 5,
      currentDate: new Date(nowSeconds * 1000),
      requiredClaims: ["iat", "nbf", "exp", "jti", "sub", "aud"],
    }));
  } catch (cause) {
    // jose checks the signature before any claim, so an expired grant here is a genuine one.
    if (cause instanceof errors.JWTExpired) throw new GrantError("grant_expired", "the grant has expired", { cause });
    if (cause instanceof errors.JWSSignatureVerificationFailed) throw invalidGrant("signature", { cause });
    if (cause instanceof errors.JWTClaimValidationFailed) throw invalidGrant(`claim_${cause.claim}`, { cause });
    throw invalidGrant("malformed", { cause });
  }
  const parsed = GrantClaimsSchema.safeParse(payload);
  if (!parsed.success) {
    throw invalidGrant("claims", { detail: { claims: [...new Set(parsed.error.issues.map((i) => i.path.join(".") || "(root)"))] } });
  }
  return parsed.data;
}

/** The grant's key from the key file (countersign's own processes). */
async function storeKey(keys: KeyStore, token: string): Promise<CryptoKey> {
  const found = await tokenKey(keys, token, GRANT_TYP);
  if ("problem" in found) throw invalidGrant(found.problem, { cause: found.cause, ...(found.kid !== undefined ? { detail: { kid: found.kid } } : {}) });
  return found.key;
}

/**
 * The grant's key from a published key set (a tool server, through `/.well-known/jwks.json`): the
 * same header checks as the key file's, then the set's key for the `kid` (refetched when unknown).
 * A set that cannot be fetched stays `unavailable` (fail closed, never "valid").
 */
async function remoteKey(source: KeySource, token: string): Promise<CryptoKey> {
  let header: ReturnType<typeof decodeProtectedHeader>;
  try {
    header = decodeProtectedHeader(token);
  } catch (cause) {
    throw invalidGrant("malformed", { cause });
  }
  if (header.typ !== GRANT_TYP) throw invalidGrant("typ");
  if (header.alg !== GRANT_ALG) throw invalidGrant("alg");
  if (typeof header.kid !== "string") throw invalidGrant("kid_missing");
  try {
    return await source(header, { payload: "", signature: "" });
  } catch (cause) {
    if (cause instanceof CountersignError && cause.code === "unavailable") throw cause;
    throw invalidGrant("kid_unknown", { cause, detail: { kid: header.kid.slice(0, 64) } });
  }
}

/** What the grant must be bound to: the call actually being made. */
export interface GrantBinding {
  /** The redeeming tool server's identity (compared with `aud`). */
  audience: string;
  tool: string;
  /** `argsSha256` of the arguments of the call being made. */
  argsSha256: string;
  /** The resource the call touches, as the tool server names it (must equal the grant's `resource`, both absent included). */
  resource?: { type: string; id: string } | undefined;
}

/**
 * Check that verified grant claims are bound to this call.
 * @throws GrantError `binding_mismatch`; `detail.mismatched` lists which of `audience`, `tool`,
 *   `arguments`, `resource` differ (names only, never values).
 */
export function checkBinding(claims: GrantClaims, expected: GrantBinding): void {
  const mismatched: string[] = [];
  if (claims.aud !== expected.audience) mismatched.push("audience");
  if (claims.tool !== expected.tool) mismatched.push("tool");
  if (claims.args_sha256 !== expected.argsSha256) mismatched.push("arguments");
  if (claims.resource?.type !== expected.resource?.type || claims.resource?.id !== expected.resource?.id) mismatched.push("resource");
  if (mismatched.length > 0) {
    throw new GrantError("binding_mismatch", `the grant is not bound to this call (${mismatched.join(", ")})`, { detail: { mismatched } });
  }
}
