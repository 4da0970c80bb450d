// Verification of the principal's OAuth access token: which human the agent acts for, and for which task.
import { jwtVerify } from "jose";
import { z } from "zod";
import type { Config } from "../config.js";
import { AuthError } from "../errors.js";
import { assertIssuedInThePast } from "./issued-at.js";
import { createKeySource } from "./jwks.js";
import { toTokenError } from "./token-errors.js";
import { assertAlgorithmAllowed, readUnverifiedToken } from "./unverified-token.js";

/** One task the human authorized the agent for (an RFC 9396 `authorization_details` entry of type `agent_task`). */
export interface AgentTask {
  taskId: string;
  /** Tools the task may use; absent means any tool. */
  tools?: string[];
  /** Tenant the task is limited to; absent means any tenant. */
  tenant?: string;
}

/** A principal whose access token verified. */
export interface VerifiedPrincipal {
  issuer: string;
  /** The directory user id: the issuer's `subjectPrefix` followed by the token's `sub`. */
  subject: string;
  scopes: string[];
  /** Tasks from `authorization_details`; empty when the token carries none. */
  tasks: AgentTask[];
  /** Token expiry, epoch seconds. */
  expiresAt: number;
}

/**
 * Longest directory user id (`subjectPrefix` plus the token's `sub`) accepted, in characters (UTF-16 code
 * units). It becomes the approval's principal, a Temporal Keyword search attribute (at most 2 KiB) and the
 * `by` of a revocation, which the workflow caps at 256 characters too; a longer one is refused here, as a
 * bad token, rather than failing later as a server error.
 */
export const MAX_SUBJECT_LENGTH = 256;

const KIND = "principal token";

/**
 * Verifies a principal's access token. `requiredScopes` replaces the issuer's configured
 * `requiredScopes` (the agent-facing gate) for endpoints that need another scope, such as the
 * approver endpoint's `countersign:approve`; `audience` replaces the issuer's configured audience (the
 * MCP gateway's resource URL).
 */
export type PrincipalVerifier = (token: string, opts?: { requiredScopes?: readonly string[]; audience?: string }) => Promise<VerifiedPrincipal>;

const AgentTaskDetailSchema = z.looseObject({
  type: z.literal("agent_task"),
  task_id: z.string().min(1),
  tools: z.array(z.string().min(1)).optional(),
  tenant: z.string().min(1).optional(),
});

// Third-party claims: loose, only the members we use. Entries of other RFC 9396 types are ignored.
const PrincipalClaimsSchema = z.looseObject({
  iss: z.string().min(1),
  sub: z.string().min(1),
  exp: z.number(),
  iat: z.number().optional(),
  scope: z.string().optional(),
  scp: z.union([z.array(z.string()), z.string()]).optional(),
  authorization_details: z.array(z.looseObject({ type: z.string().min(1) })).optional(),
});

function scopesOf(claims: z.infer<typeof PrincipalClaimsSchema>): string[] {
  const fromScope = claims.scope?.split(" ") ?? [];
  const fromScp = typeof claims.scp === "string" ? claims.scp.split(" ") : (claims.scp ?? []);
  return [...new Set([...fromScope, ...fromScp])].filter((scope) => scope !== "");
}

function tasksOf(claims: z.infer<typeof PrincipalClaimsSchema>): AgentTask[] {
  const tasks: AgentTask[] = [];
  for (const detail of claims.authorization_details ?? []) {
    if (detail.type !== "agent_task") continue;
    // A malformed agent_task must not be skipped: dropping it could lift the restriction it states.
    const parsed = AgentTaskDetailSchema.safeParse(detail);
    if (!parsed.success) throw new AuthError("token_claims_invalid", `${KIND} has an invalid agent_task authorization detail`);
    const { task_id, tools, tenant } = parsed.data;
    tasks.push({ taskId: task_id, ...(tools === undefined ? {} : { tools }), ...(tenant === undefined ? {} : { tenant }) });
  }
  return tasks;
}

/**
 * Build the verifier of principal access tokens for the configured issuers. Key sets load on first use.
 *
 * The returned function picks the issuer entry by the token's `iss`, verifies signature, algorithm
 * (the entry's allow-list; never `none` or HMAC), `iss`, `aud`, `exp`, `nbf` and `iat` (not in the
 * future; all with `clockToleranceSeconds`), then checks that the subject (with the entry's `subjectPrefix`) is at most
 * {@link MAX_SUBJECT_LENGTH} characters and the entry's required scopes (or `opts.requiredScopes`).
 *
 * Rejects with AuthError `token_missing`, `token_malformed`, `token_algorithm_rejected`,
 * `token_signature_invalid`, `token_key_unknown`, `token_expired`, `token_not_yet_valid`,
 * `token_issuer_untrusted`, `token_audience_mismatch`, `token_claims_invalid` or `insufficient_scope`;
 * with `unavailable` when the issuer's keys cannot be loaded.
 */
export function createPrincipalVerifier(identity: Config["identity"]): PrincipalVerifier {
  const issuers = new Map(identity.principals.map((entry) => [entry.issuer, { entry, keys: createKeySource(entry.jwks) }]));

  return async (token, opts = {}) => {
    const unverified = readUnverifiedToken(token, KIND);
    if (typeof unverified.claims.iss !== "string") throw new AuthError("token_claims_invalid", `${KIND} has no issuer`);
    const trusted = issuers.get(unverified.claims.iss);
    if (trusted === undefined) throw new AuthError("token_issuer_untrusted", `${KIND} issuer is not trusted`);
    const { entry, keys } = trusted;
    assertAlgorithmAllowed(unverified.alg, entry.algorithms, KIND);

    let payload: unknown;
    try {
      ({ payload } = await jwtVerify(token, keys, {
        issuer: entry.issuer,
        // The MCP gateway asks for its own resource URL (RFC 8707): a token for countersign's API is not one for it.
        audience: opts.audience ?? entry.audience,
        algorithms: entry.algorithms,
        clockTolerance: identity.clockToleranceSeconds,
        requiredClaims: ["exp", "sub", "iss", "aud"],
      }));
    } catch (err) {
      throw toTokenError(err, KIND);
    }

    const parsed = PrincipalClaimsSchema.safeParse(payload);
    if (!parsed.success) {
      throw new AuthError("token_claims_invalid", `${KIND} has a missing or invalid claim`, {
        detail: { claims: parsed.error.issues.map((issue) => issue.path.join(".")) },
      });
    }
    const claims = parsed.data;
    assertIssuedInThePast(claims.iat, KIND, identity.clockToleranceSeconds, Date.now() / 1000);
    const subject = `${entry.subjectPrefix}${claims.sub}`;
    if (subject.length > MAX_SUBJECT_LENGTH) {
      throw new AuthError("token_claims_invalid", `${KIND} subject is longer than ${MAX_SUBJECT_LENGTH} characters`, {
        detail: { claim: "sub", reason: "too_long" },
      });
    }
    const scopes = scopesOf(claims);
    const missing = (opts.requiredScopes ?? entry.requiredScopes).filter((scope) => !scopes.includes(scope));
    if (missing.length > 0) {
      throw new AuthError("insufficient_scope", `${KIND} lacks required scope: ${missing.join(" ")}`, { detail: { issuer: entry.issuer } });
    }
    return { issuer: entry.issuer, subject, scopes, tasks: tasksOf(claims), expiresAt: claims.exp };
  };
}
