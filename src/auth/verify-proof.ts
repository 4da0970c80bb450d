// Proof of possession for workloads (WIMSE Workload Proof Token): a short-lived JWT, signed with the key
// named in the workload identity token's `cnf.jwk`, bound to this request's URL, to that identity token
// and, when one is sent, to the caller's access token. Each proof is accepted once.
import { createHash } from "node:crypto";
import { importJWK, jwtVerify } from "jose";
import { z } from "zod";
import { AuthError } from "../errors.js";
import { assertIssuedInThePast } from "./issued-at.js";
import { toTokenError } from "./token-errors.js";
import { assertAlgorithmAllowed, readUnverifiedToken } from "./unverified-token.js";
import type { VerifiedAgent } from "./verify-agent.js";

const KIND = "workload proof token";
/** Media type of a proof's `typ` header (WIMSE). */
export const PROOF_TYP = "wpt+jwt";

/** Which signature algorithms a key type may use: the key decides, never the token's header alone. */
const ALGORITHMS_BY_KEY: Record<string, readonly string[]> = {
  "OKP:Ed25519": ["EdDSA"],
  "EC:P-256": ["ES256"],
  "EC:P-384": ["ES384"],
  RSA: ["RS256", "PS256"],
};

const ProofClaimsSchema = z.looseObject({
  jti: z.string().min(8).max(256),
  exp: z.number(),
  iat: z.number().optional(),
  wth: z.string().min(1),
  ath: z.string().min(1).optional(),
});

/** base64url SHA-256 of a token's compact text, as WIMSE `wth` and OAuth `ath` carry it. */
export function tokenHash(token: string): string {
  return createHash("sha256").update(token, "ascii").digest("base64url");
}

export interface ProofCheck {
  /** The Workload-Proof-Token header, if any. */
  proof: string | undefined;
  /** The verified identity token's workload. */
  agent: VerifiedAgent;
  /** The identity token exactly as sent (the proof's `wth` hashes it). */
  identityToken: string;
  /** The caller's OAuth access token, when it sent one (the proof's `ath` must hash it). */
  accessToken?: string;
  /** Absolute URL of the request without query: the proof's `aud`. */
  audience: string;
}

export interface ProofVerifierOptions {
  clockToleranceSeconds: number;
  /** Longest accepted proof lifetime (exp − now), in seconds. Default 300. */
  maxLifetimeSeconds?: number;
  /** Clock, epoch ms (tests). */
  nowMs?: () => number;
  /** Most proofs remembered for replay protection at once; beyond it proofs are refused. Default 100 000. */
  maxRememberedProofs?: number;
}

/**
 * Build the proof verifier. The returned function resolves when no proof is needed (the workload token
 * carries no key and its trust domain does not require one) or the proof is valid; otherwise it throws
 * AuthError `proof_missing` or `proof_invalid` (wrong key, type, audience, binding, lifetime, replay),
 * `token_expired` for an expired proof, `token_not_yet_valid` for one issued (`iat`) or valid (`nbf`) only
 * later than now plus the clock tolerance, or `token_algorithm_rejected`.
 *
 * Replay protection keeps each accepted `jti` until its proof expires, in this process: servers behind a
 * load balancer share nothing, so a proof could be replayed once per server within its lifetime (bounded by
 * `maxLifetimeSeconds`, and only to the same URL with the same tokens).
 */
export function createProofVerifier(opts: ProofVerifierOptions): (check: ProofCheck) => Promise<void> {
  const maxLifetime = opts.maxLifetimeSeconds ?? 300;
  const now = opts.nowMs ?? (() => Date.now());
  const maxEntries = opts.maxRememberedProofs ?? 100_000;
  // jti → when it may be forgotten (epoch s). Insertion order is forget-by order too: every entry is kept
  // for exactly maxLifetime + tolerance after acceptance, which outlasts any proof's exp, so pruning only
  // ever looks at the oldest entries.
  const seen = new Map<string, number>();

  const remember = (jti: string): void => {
    const nowSeconds = now() / 1000;
    for (const [id, forgetAt] of seen) {
      if (forgetAt > nowSeconds) break;
      seen.delete(id);
    }
    // Fail closed rather than forget proofs that could still be replayed.
    if (seen.size >= maxEntries) throw new AuthError("unavailable", "too many proofs in flight; try again shortly");
    seen.set(jti, nowSeconds + maxLifetime + 2 * opts.clockToleranceSeconds);
  };

  return async ({ proof, agent, identityToken, accessToken, audience }) => {
    if (agent.proofKey === undefined) {
      if (agent.proofRequired) throw new AuthError("proof_missing", "this workload must prove possession of its key");
      return;
    }
    if (proof === undefined || proof === "") throw new AuthError("proof_missing", "Workload-Proof-Token header is required: the workload identity token names a key");
    const { jwk } = agent.proofKey;
    const keyType = jwk.kty === "RSA" ? "RSA" : `${String(jwk.kty)}:${String(jwk.crv)}`;
    const allowed = ALGORITHMS_BY_KEY[keyType];
    if (allowed === undefined) throw new AuthError("proof_invalid", "the workload's key type is not supported");
    const unverified = readUnverifiedToken(proof, KIND);
    assertAlgorithmAllowed(unverified.alg, allowed, KIND);

    let payload: unknown;
    try {
      const key = await importJWK(jwk, unverified.alg);
      ({ payload } = await jwtVerify(proof, key, {
        typ: PROOF_TYP,
        audience,
        algorithms: [...allowed],
        clockTolerance: opts.clockToleranceSeconds,
        requiredClaims: ["exp", "jti", "aud"],
        currentDate: new Date(now()),
      }));
    } catch (err) {
      const coded = toTokenError(err, KIND);
      // Clock problems keep their own codes, so the workload knows to look at its clock.
      if (coded.code === "token_expired" || coded.code === "token_not_yet_valid" || coded.code === "token_algorithm_rejected") throw coded;
      throw new AuthError("proof_invalid", `${KIND} does not verify with the workload's key or is not for this request`, { cause: err });
    }
    const claims = ProofClaimsSchema.safeParse(payload);
    if (!claims.success) throw new AuthError("proof_invalid", `${KIND} lacks jti, exp or wth`);
    const { jti, exp, iat, wth, ath } = claims.data;
    assertIssuedInThePast(iat, KIND, opts.clockToleranceSeconds, now() / 1000);
    if (exp - now() / 1000 > maxLifetime + opts.clockToleranceSeconds) throw new AuthError("proof_invalid", `${KIND} lives longer than ${maxLifetime} s`);
    if (wth !== tokenHash(identityToken)) throw new AuthError("proof_invalid", `${KIND} is bound to another identity token`);
    if (accessToken !== undefined && ath !== tokenHash(accessToken)) throw new AuthError("proof_invalid", `${KIND} is not bound to this access token`);
    if (seen.has(jti)) throw new AuthError("proof_invalid", `${KIND} was already used`);
    remember(jti);
  };
}
