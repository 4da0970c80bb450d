// Verification of a workload identity token (JWT-SVID / WIMSE WIT style): which agent or tool server is calling.
import { calculateJwkThumbprint, jwtVerify, type JWK } from "jose";
import { z } from "zod";
import type { Config } from "../config.js";
import { AuthError } from "../errors.js";
import { assertIssuedInThePast } from "./issued-at.js";
import { createKeySource } from "./jwks.js";
import { parseSpiffeId, type SpiffeId } from "./spiffe-id.js";
import { toTokenError } from "./token-errors.js";
import { assertAlgorithmAllowed, readUnverifiedToken } from "./unverified-token.js";

/** A workload whose identity token verified. */
/** Verifies a workload identity token, now or as of `opts.atMs`. */
export type AgentVerifier = (token: string, opts?: { atMs?: number }) => Promise<VerifiedAgent>;

export interface VerifiedAgent {
  /** The token's `sub`, a SPIFFE ID. */
  spiffeId: string;
  trustDomain: string;
  /** Token expiry, epoch seconds. */
  expiresAt: number;
  /**
   * The workload's own key (WIMSE `cnf.jwk`), when its token carries one: requests must then come
   * with a Workload-Proof-Token signed by it. `jkt` is its RFC 7638 SHA-256 thumbprint.
   */
  proofKey?: { jwk: JWK; jkt: string };
  /** The trust domain demands proof of possession of every workload. */
  proofRequired: boolean;
}

/**
 * Longest workload SPIFFE ID accepted, in characters (SPIFFE IDs are ASCII, so also bytes). The SPIFFE
 * specification allows 2 048 bytes, but an agent's ID becomes a Temporal Keyword search attribute, whose
 * encoded value Temporal caps at 2 KiB; half the specification's maximum leaves room for that encoding.
 * Tool server IDs pass through the same verifier and so share the limit.
 */
export const MAX_WORKLOAD_SPIFFE_ID_LENGTH = 1024;

const KIND = "workload identity token";

// Third-party claims: loose, only the members we use. `iss` is not required of workload tokens.
const AgentClaimsSchema = z.looseObject({
  sub: z.string().min(1),
  exp: z.number(),
  iat: z.number().optional(),
  cnf: z.looseObject({ jwk: z.looseObject({ kty: z.enum(["OKP", "EC", "RSA"]) }).optional() }).optional(),
});

/** Members a public key may carry; anything private (`d`, `p`, `k`, ...) makes the key unusable. */
const PUBLIC_MEMBERS = new Set(["kty", "crv", "x", "y", "n", "e", "alg", "kid", "use", "key_ops"]);

async function proofKeyOf(cnfJwk: Record<string, unknown> | undefined): Promise<{ jwk: JWK; jkt: string } | undefined> {
  if (cnfJwk === undefined) return undefined;
  if (Object.keys(cnfJwk).some((member) => !PUBLIC_MEMBERS.has(member))) {
    throw new AuthError("token_claims_invalid", `${KIND} cnf.jwk is not a public key`);
  }
  const jwk = cnfJwk as JWK;
  try {
    return { jwk, jkt: await calculateJwkThumbprint(jwk, "sha256") };
  } catch (cause) {
    throw new AuthError("token_claims_invalid", `${KIND} cnf.jwk is not a usable key`, { cause });
  }
}

function spiffeIdOf(sub: unknown): SpiffeId {
  if (typeof sub === "string" && sub.length > MAX_WORKLOAD_SPIFFE_ID_LENGTH) {
    throw new AuthError("token_claims_invalid", `${KIND} subject is longer than ${MAX_WORKLOAD_SPIFFE_ID_LENGTH} characters`, {
      detail: { claim: "sub", reason: "too_long" },
    });
  }
  const id = typeof sub === "string" ? parseSpiffeId(sub) : undefined;
  if (id === undefined) throw new AuthError("token_claims_invalid", `${KIND} subject is not a valid SPIFFE ID`);
  return id;
}

/**
 * Build the verifier of workload identity tokens (the `Workload-Identity-Token` header) for the configured
 * trust domains. Used for agents at request time and for tool servers at redemption. Key sets load on first use.
 *
 * The returned function requires `sub` to be a strict SPIFFE ID of at most
 * {@link MAX_WORKLOAD_SPIFFE_ID_LENGTH} characters, picks the trust domain entry from it,
 * and verifies signature (with that domain's keys), algorithm (the entry's allow-list; never `none` or
 * HMAC), `aud` (must contain the entry's audience), `exp`, `nbf` and `iat` (not in the future; all with
 * `clockToleranceSeconds`).
 *
 * `opts.atMs` verifies the token as of that instant (epoch ms) instead of now: the workflow re-checks an
 * agent's token as of the moment the request was received, so a request filed during an outage does not
 * fail because the token expired while no worker ran (the run itself must start within 10 minutes of
 * receipt, see the workflow). Keys are always the current ones.
 *
 * Rejects with AuthError `token_missing`, `token_malformed`, `token_algorithm_rejected`,
 * `token_claims_invalid` (including a malformed or over-long SPIFFE ID), `trust_domain_untrusted`,
 * `token_signature_invalid`, `token_key_unknown`, `token_expired`, `token_not_yet_valid` or
 * `token_audience_mismatch`; with `unavailable` when the domain's keys cannot be loaded.
 */
export function createAgentVerifier(identity: Config["identity"]): AgentVerifier {
  const domains = new Map(identity.agents.map((entry) => [entry.trustDomain, { entry, keys: createKeySource(entry.jwks) }]));

  return async (token, opts = {}) => {
    const nowMs = opts.atMs ?? Date.now();
    const unverified = readUnverifiedToken(token, KIND);
    const claimed = spiffeIdOf(unverified.claims.sub);
    const trusted = domains.get(claimed.trustDomain);
    if (trusted === undefined) throw new AuthError("trust_domain_untrusted", `${KIND} trust domain is not trusted`);
    const { entry, keys } = trusted;
    assertAlgorithmAllowed(unverified.alg, entry.algorithms, KIND);

    let payload: unknown;
    try {
      ({ payload } = await jwtVerify(token, keys, {
        audience: entry.audience,
        algorithms: entry.algorithms,
        clockTolerance: identity.clockToleranceSeconds,
        currentDate: new Date(nowMs),
        requiredClaims: ["exp", "sub", "aud"],
      }));
    } catch (err) {
      throw toTokenError(err, KIND);
    }

    const parsed = AgentClaimsSchema.safeParse(payload);
    if (!parsed.success) throw new AuthError("token_claims_invalid", `${KIND} has a missing or invalid claim`);
    assertIssuedInThePast(parsed.data.iat, KIND, identity.clockToleranceSeconds, nowMs / 1000);
    // The verified subject is the one the keys were chosen for (same bytes); re-checked, not assumed.
    const verified = spiffeIdOf(parsed.data.sub);
    if (verified.trustDomain !== entry.trustDomain) throw new AuthError("trust_domain_untrusted", `${KIND} trust domain is not trusted`);
    if (parsed.data.cnf !== undefined && parsed.data.cnf.jwk === undefined) {
      // A key-bound token whose key we cannot check must not pass as a bearer token.
      throw new AuthError("token_claims_invalid", `${KIND} uses a confirmation method other than cnf.jwk`);
    }
    const proofKey = await proofKeyOf(parsed.data.cnf?.jwk);
    if (entry.requireProof && proofKey === undefined) {
      throw new AuthError("proof_missing", `${KIND} carries no cnf.jwk key, and this trust domain requires proof of possession`);
    }
    return {
      spiffeId: verified.id,
      trustDomain: verified.trustDomain,
      expiresAt: parsed.data.exp,
      ...(proofKey !== undefined ? { proofKey } : {}),
      proofRequired: entry.requireProof,
    };
  };
}
