// The tool-server kit: what a tool server (an MCP server or an HTTP API) does with a grant before it
// acts. Check it locally against countersign's published keys (signature, `typ`, issuer, lifetime,
// audience = this server, tool, argument hash, resource, `cnf.jkt`), then redeem it once through
// `POST /v1/grants/redeem`, retrying a lost answer under one Idempotency-Key. See README "Tool servers".
import { randomUUID } from "node:crypto";
import { createKeySource, type KeySource } from "../auth/jwks.js";
import { CountersignError, GrantError, isErrorCode } from "../errors.js";
import { argsSha256 } from "../grants/args-hash.js";
import { checkBinding, verifyGrant, type GrantClaims } from "../grants/verify.js";

export interface ToolServerKitOptions {
  /** countersign's base URL: keys at `/.well-known/jwks.json`, redemption at `/v1/grants/redeem`. */
  countersignUrl: string;
  /** The grants' `iss` (countersign's `server.publicUrl`). Default: `countersignUrl`. */
  issuer?: string;
  /** This tool server's SPIFFE ID: every grant it accepts names it as `aud`. */
  audience: string;
  /** This tool server's workload identity token (a JWT-SVID for `audience`), sent to redeem. Called per redemption, so it can rotate. */
  workloadToken: () => string | Promise<string>;
  /** Leeway for `exp`/`nbf`, in seconds. Default 5. */
  clockToleranceSeconds?: number;
  /** Bound on one redemption request, in ms. Default 10 000. */
  timeoutMs?: number;
  /** Redemption attempts when the answer is lost or countersign is unavailable (same Idempotency-Key). Default 3. */
  attempts?: number;
  /**
   * The `Workload-Proof-Token` for a redemption, when this server's workload token names a key (or its
   * trust domain requires proof): a JWT signed with that key for `{ method, url }`. Absent: none is sent.
   */
  proofToken?: (request: { method: string; url: string; identityToken: string }) => Promise<string>;
  /** countersign's public URL when it differs from `countersignUrl` (what a proof's `aud` names). */
  publicUrl?: string;
  /** A `fetch` of your own for redemptions (tests, proxies). Default the global one. */
  fetch?: typeof fetch;
}

/** The call the tool server is about to make, as it will make it. */
export interface ToolCall {
  tool: string;
  /** The exact arguments it will act on (hashed with RFC 8785 canonical JSON, as the grant's `args_sha256`). */
  arguments: unknown;
  /** The resource it will touch; must equal the grant's (both absent included). */
  resource?: { type: string; id: string };
  /**
   * RFC 7638 thumbprint of the key the presenter proved possession of (e.g. by a DPoP proof you
   * verified). Required when the grant carries `cnf.jkt`: a grant bound to a key is refused without it.
   */
  presenterJkt?: string;
}

/** A redeemed grant: who the call is for, and the verified claims. */
export interface RedeemedGrant {
  principal: string;
  agent: string;
  approvalId: string;
  claims: GrantClaims;
}

export interface ToolServerKit {
  /**
   * Verify `grant` for `call`, then redeem it. Resolves only once countersign has burned the grant
   * for this tool server: act after it, never before.
   * Pass your own `opts.idempotencyKey` to retry a call that ended `unavailable` (the grant may have
   * been burned meanwhile: the same key gets that redemption's answer).
   * @throws GrantError `invalid_grant`, `grant_expired`, `binding_mismatch` (checked locally, nothing
   * redeemed), `grant_already_redeemed`, `policy_denied` (countersign's answer); CountersignError
   * with countersign's code for a refusal of this server's own identity (`token_expired`,
   * `proof_missing`, …), `unavailable` when countersign cannot be reached (the grant may be unspent),
   * `internal` for an answer that is not countersign's redemption of this grant (never acted on).
   */
  verifyAndRedeem(grant: string, call: ToolCall, opts?: { idempotencyKey?: string }): Promise<RedeemedGrant>;
  /** The local checks alone (no redemption): for a tool server that must answer fast whether a grant could be good. */
  verify(grant: string, call: ToolCall): Promise<GrantClaims>;
}

const DEFAULT_TIMEOUT_MS = 10_000;
/** Codes that say something about the grant (the rest are about this server's own identity or the request). */
const GRANT_CODES: ReadonlySet<string> = new Set(["invalid_grant", "grant_expired", "binding_mismatch", "grant_already_redeemed", "policy_denied"]);
const DEFAULT_ATTEMPTS = 3;

export function createToolServerKit(opts: ToolServerKitOptions): ToolServerKit {
  const base = opts.countersignUrl.replace(/\/+$/, "");
  const publicBase = (opts.publicUrl ?? opts.countersignUrl).replace(/\/+$/, "");
  const keys: KeySource = createKeySource(`${base}/.well-known/jwks.json`, { cooldownMs: 10_000 });
  const issuer = opts.issuer ?? base;
  const doFetch = opts.fetch ?? fetch;

  const verify = async (grant: string, call: ToolCall): Promise<GrantClaims> => {
    const claims = await verifyGrant(keys, grant, { issuer, clockToleranceSeconds: opts.clockToleranceSeconds ?? 5 });
    checkBinding(claims, { audience: opts.audience, tool: call.tool, argsSha256: argsSha256(call.arguments), resource: call.resource });
    if (claims.cnf !== undefined && claims.cnf.jkt !== call.presenterJkt) {
      throw new GrantError("binding_mismatch", "the grant is bound to a key the presenter did not prove", { detail: { mismatched: ["cnf"] } });
    }
    return claims;
  };

  const redeemOnce = async (grant: string, call: ToolCall, claims: GrantClaims, key: string): Promise<{ principal: string; agent: string; approvalId: string }> => {
    // This server's own credentials: a failure to make them is theirs to report, not "countersign did not answer".
    const identityToken = await opts.workloadToken();
    const headers: Record<string, string> = { "content-type": "application/json", "workload-identity-token": identityToken, "idempotency-key": key };
    if (opts.proofToken !== undefined) headers["workload-proof-token"] = await opts.proofToken({ method: "POST", url: `${publicBase}/v1/grants/redeem`, identityToken });
    let res: Response;
    try {
      res = await doFetch(`${base}/v1/grants/redeem`, {
        method: "POST",
        headers,
        body: JSON.stringify({ grant, tool: call.tool, arguments: call.arguments, ...(call.resource !== undefined ? { resource: call.resource } : {}) }),
        // Never re-sent elsewhere: a redirect would carry the grant and this server's identity off countersign.
        redirect: "error",
        signal: AbortSignal.timeout(opts.timeoutMs ?? DEFAULT_TIMEOUT_MS),
      });
    } catch (cause) {
      throw new CountersignError("unavailable", "countersign did not answer the redemption", { cause });
    }
    const body = (await res.json().catch(() => undefined)) as { principal?: unknown; agent?: unknown; approvalId?: unknown; error?: { code?: unknown; message?: unknown } } | undefined;
    if (res.status === 200) {
      if (body === undefined) throw new CountersignError("unavailable", "the redemption's answer was lost");
      // Only countersign's redemption of this very grant counts: it names the grant's approval, principal and agent.
      if (body.approvalId !== claims.approval.id || body.principal !== claims.sub || body.agent !== claims.act.sub) {
        throw new CountersignError("internal", "the redemption's answer is not about this grant; nothing was acted on");
      }
      return { principal: claims.sub, agent: claims.act.sub, approvalId: claims.approval.id };
    }
    const code = body?.error?.code;
    const message = typeof body?.error?.message === "string" ? body.error.message : `redemption answered HTTP ${res.status}`;
    if (res.status >= 500 || !isErrorCode(code)) throw new CountersignError("unavailable", message);
    throw GRANT_CODES.has(code) ? new GrantError(code, message) : new CountersignError(code, message);
  };

  return {
    verify,
    async verifyAndRedeem(grant, call, callOpts = {}) {
      const claims = await verify(grant, call);
      // One key for every attempt: a retry after a lost answer gets that answer, never a second redemption.
      const key = callOpts.idempotencyKey ?? randomUUID();
      const attempts = Math.max(1, opts.attempts ?? DEFAULT_ATTEMPTS);
      for (let attempt = 1; ; attempt++) {
        try {
          const redeemed = await redeemOnce(grant, call, claims, key);
          return { ...redeemed, claims };
        } catch (err) {
          if (!(err instanceof CountersignError && err.code === "unavailable") || attempt >= attempts) throw err;
          await new Promise((resolve) => setTimeout(resolve, 250 * 2 ** (attempt - 1)));
        }
      }
    },
  };
}
