// Minting a grant: the one-shot, short-lived EdDSA JWT bound to one approved action request.
import { randomUUID } from "node:crypto";
import { SignJWT } from "jose";
import { ConfigError, RequestError } from "../errors.js";
import { GRANT_TYP, GrantClaimsSchema } from "./claims.js";
import type { GrantClaims, GrantInput } from "./claims.js";
import { GRANT_ALG } from "./key-store.js";
import type { KeyStore } from "./key-store.js";

export type { GrantClaims, GrantInput } from "./claims.js";

export interface MintOptions {
  /** `iss`: countersign's own identity (Config.issuer). */
  issuer: string;
  /** Lifetime: `exp = iat + ttlSeconds`. A positive integer. */
  ttlSeconds: number;
  /** Issue time in epoch seconds; default now. Injected by tests and by callers with a fixed clock. */
  nowSeconds?: number;
  /** `jti`; default a random UUID. Callers pass one to make minting idempotent across retries. */
  jti?: string;
}

export interface MintedGrant {
  /** The compact JWT. A bearer secret: never log it. */
  token: string;
  jti: string;
  /** `exp`, epoch seconds. */
  expiresAt: number;
  claims: GrantClaims;
}

/**
 * Sign a grant with the key store's newest key. Header `{ alg: "EdDSA", typ: "countersign-grant+jwt", kid }`;
 * claims exactly as in the README ("Grants"), `nbf = iat`, `cnf` only when `input.agentJkt` is set,
 * `resource` only when `input.resource` is. The claims
 * are checked against the same schema verification uses, so a minted grant is always verifiable.
 * @throws ConfigError `config_invalid` when `ttlSeconds` is not a positive integer.
 * @throws RequestError `invalid_request` when the input would make a malformed grant (the detail lists the claim names).
 */
export async function mintGrant(keys: KeyStore, input: GrantInput, opts: MintOptions): Promise<MintedGrant> {
  if (!Number.isSafeInteger(opts.ttlSeconds) || opts.ttlSeconds <= 0) {
    throw new ConfigError("config_invalid", "grant ttlSeconds must be a positive integer");
  }
  await keys.refresh();
  const iat = opts.nowSeconds ?? Math.floor(Date.now() / 1000);
  const jti = opts.jti ?? randomUUID();
  const candidate: GrantClaims = {
    iss: opts.issuer,
    aud: input.audience,
    sub: input.principal,
    act: { sub: input.agent },
    tenant: input.tenant,
    tool: input.tool,
    args_sha256: input.argsSha256,
    ...(input.resource === undefined ? {} : { resource: { type: input.resource.type, id: input.resource.id } }),
    jti,
    iat,
    nbf: iat,
    exp: iat + opts.ttlSeconds,
    ...(input.agentJkt === undefined ? {} : { cnf: { jkt: input.agentJkt } }),
    approval: { id: input.approvalId, approvers: [...input.approvers], policy_version: input.policyVersion },
  };
  const checked = GrantClaimsSchema.safeParse(candidate);
  if (!checked.success) {
    const claims = [...new Set(checked.error.issues.map((i) => i.path.join(".")))];
    throw new RequestError("invalid_request", `cannot mint a grant: malformed ${claims.join(", ")}`, { detail: { claims } });
  }
  const claims = checked.data;
  const { kid, key } = keys.signingKey();
  const token = await new SignJWT(claims).setProtectedHeader({ alg: GRANT_ALG, typ: GRANT_TYP, kid }).sign(key);
  return { token, jti, expiresAt: claims.exp, claims };
}
