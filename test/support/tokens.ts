// Test harness for identities: key pairs, JWKS files, principal and workload tokens, and forged tokens for attack tests.
import { createHash, randomUUID } from "node:crypto";
import { renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { base64url, exportJWK, exportSPKI, generateKeyPair, SignJWT, type CryptoKey, type JWK, type JWTPayload } from "jose";
import type { Config } from "../../src/config.js";

/** Issuer of principal tokens in {@link createTestIdentities}. */
export const TEST_PRINCIPAL_ISSUER = "https://idp.test";
/** Audience of both principal and workload tokens in {@link createTestIdentities}. */
export const TEST_AUDIENCE = "countersign";
/** Trust domain of agents and tool servers in {@link createTestIdentities}. */
export const TEST_TRUST_DOMAIN = "agents.test";
/** Scope the test principal issuer requires; {@link TestIdentities.principalToken} grants it by default. */
export const TEST_REQUIRED_SCOPE = "countersign:request";

export type TestAlgorithm = "EdDSA" | "ES256";

/** A signing key with its `kid` and public JWK. */
export interface TestIssuer {
  alg: TestAlgorithm;
  kid: string;
  privateKey: CryptoKey;
  publicKey: CryptoKey;
  /** Public key as JWK with `kid` and `alg`, without `use`. */
  publicJwk: JWK;
}

/** Generate a signing key (default EdDSA, kid `<random>`). */
export async function createIssuer(options: { alg?: TestAlgorithm; kid?: string } = {}): Promise<TestIssuer> {
  const alg = options.alg ?? "EdDSA";
  const kid = options.kid ?? randomUUID();
  const { privateKey, publicKey } = await generateKeyPair(alg);
  return { alg, kid, privateKey, publicKey, publicJwk: { ...(await exportJWK(publicKey)), kid, alg } };
}

/**
 * Write the issuers' public keys as a JWKS file, atomically (temp file and rename).
 * `use: "jwt-svid"` writes a SPIFFE JWT bundle instead (`use: "jwt-svid"` keys plus `spiffe_sequence`).
 */
export function writeJwks(file: string, issuers: readonly TestIssuer[], options: { use?: "sig" | "jwt-svid" } = {}): void {
  const use = options.use ?? "sig";
  const keys = issuers.map((issuer) => ({ ...issuer.publicJwk, use }));
  const document = use === "jwt-svid" ? { spiffe_sequence: 1, spiffe_refresh_hint: 300, keys } : { keys };
  const temp = `${file}.${randomUUID()}.tmp`;
  writeFileSync(temp, JSON.stringify(document));
  renameSync(temp, file);
}

/** Claims of a principal access token. Times are epoch seconds unless the name says otherwise. */
export interface PrincipalTokenOptions {
  sub: string;
  /** Default {@link TEST_AUDIENCE}. */
  aud?: string | string[];
  /** Space-separated scopes; omitted when undefined. */
  scope?: string;
  authorization_details?: unknown[];
  /** Default {@link TEST_PRINCIPAL_ISSUER}. */
  iss?: string;
  /** Lifetime from now; negative for an expired token. Default 300. */
  expiresInSeconds?: number;
  nbf?: number;
  /** More claims, or replacements for the ones above. */
  claims?: JWTPayload;
  /** Claims to leave out of the token (e.g. `["exp"]`). */
  omit?: string[];
  /** Header `kid`; default the issuer's. */
  kid?: string;
}

/** Claims of a workload identity token. */
export interface AgentTokenOptions {
  spiffeId: string;
  /** Default {@link TEST_AUDIENCE}. */
  aud?: string | string[];
  /** Lifetime from now; negative for an expired token. Default 300. */
  expiresInSeconds?: number;
  iss?: string;
  claims?: JWTPayload;
  omit?: string[];
  kid?: string;
}

function nowSeconds(): number {
  return Math.floor(Date.now() / 1000);
}

function without(payload: JWTPayload, omit: readonly string[] = []): JWTPayload {
  return Object.fromEntries(Object.entries(payload).filter(([claim]) => !omit.includes(claim)));
}

/** The claims set {@link mintPrincipalToken} signs; attack helpers take it too. */
export function principalClaims(options: PrincipalTokenOptions): JWTPayload {
  const iat = nowSeconds();
  const payload: JWTPayload = {
    iss: options.iss ?? TEST_PRINCIPAL_ISSUER,
    sub: options.sub,
    aud: options.aud ?? TEST_AUDIENCE,
    iat,
    exp: iat + (options.expiresInSeconds ?? 300),
    jti: randomUUID(),
    ...(options.scope === undefined ? {} : { scope: options.scope }),
    ...(options.authorization_details === undefined ? {} : { authorization_details: options.authorization_details }),
    ...(options.nbf === undefined ? {} : { nbf: options.nbf }),
    ...options.claims,
  };
  return without(payload, options.omit);
}

/** The claims set {@link mintAgentToken} signs; attack helpers take it too. */
export function agentClaims(options: AgentTokenOptions): JWTPayload {
  const iat = nowSeconds();
  const payload: JWTPayload = {
    sub: options.spiffeId,
    aud: options.aud ?? TEST_AUDIENCE,
    iat,
    exp: iat + (options.expiresInSeconds ?? 300),
    jti: randomUUID(),
    ...(options.iss === undefined ? {} : { iss: options.iss }),
    ...options.claims,
  };
  return without(payload, options.omit);
}

/** Sign any claims set with the issuer's key (header `alg`, `kid`, `typ: JWT`). */
export async function signToken(issuer: TestIssuer, payload: JWTPayload, kid: string = issuer.kid): Promise<string> {
  return new SignJWT(payload).setProtectedHeader({ alg: issuer.alg, kid, typ: "JWT" }).sign(issuer.privateKey);
}

/** A signed principal access token. */
export async function mintPrincipalToken(issuer: TestIssuer, options: PrincipalTokenOptions): Promise<string> {
  return signToken(issuer, principalClaims(options), options.kid);
}

/** A signed workload identity token (JWT-SVID style). */
export async function mintAgentToken(issuer: TestIssuer, options: AgentTokenOptions): Promise<string> {
  return signToken(issuer, agentClaims(options), options.kid);
}

/** Attack: an unsecured JWT (`alg: none`, empty signature), built by hand. */
export function unsignedToken(payload: JWTPayload, kid?: string): string {
  const header = { alg: "none", typ: "JWT", ...(kid === undefined ? {} : { kid }) };
  return `${base64url.encode(JSON.stringify(header))}.${base64url.encode(JSON.stringify(payload))}.`;
}

/** Attack: HS256 with the issuer's public key (SPKI PEM bytes) as HMAC secret, under the issuer's `kid`. */
export async function hs256WithPublicKey(issuer: TestIssuer, payload: JWTPayload): Promise<string> {
  const secret = new TextEncoder().encode(await exportSPKI(issuer.publicKey));
  return new SignJWT(payload).setProtectedHeader({ alg: "HS256", kid: issuer.kid, typ: "JWT" }).sign(secret);
}

/** Attack: a well-signed token from a fresh key that no JWKS lists (its `kid` is unknown). */
export async function signWithUnknownKey(payload: JWTPayload, alg: TestAlgorithm = "EdDSA"): Promise<string> {
  return signToken(await createIssuer({ alg, kid: `unknown-${randomUUID()}` }), payload);
}

type PrincipalIssuerConfig = Config["identity"]["principals"][number];
type AgentTrustConfig = Config["identity"]["agents"][number];

/** A ready identity setup: keys, JWKS files in a directory, matching config and token factories. */
export interface TestIdentities {
  /** Signs principal tokens for {@link TEST_PRINCIPAL_ISSUER}; its JWKS is `idpJwksFile`. */
  idp: TestIssuer;
  /** Signs workload tokens for {@link TEST_TRUST_DOMAIN}; its SPIFFE bundle (`use: "jwt-svid"`) is `agentsJwksFile`. */
  agents: TestIssuer;
  idpJwksFile: string;
  agentsJwksFile: string;
  principalIssuerConfig: PrincipalIssuerConfig;
  agentTrustConfig: AgentTrustConfig;
  /** `Config["identity"]` with both entries and 30 s clock tolerance. */
  identity: Config["identity"];
  /** A principal token from the test IdP with scope {@link TEST_REQUIRED_SCOPE} unless `opts.scope` says otherwise. */
  principalToken(sub: string, opts?: Omit<PrincipalTokenOptions, "sub">): Promise<string>;
  /** A workload token for `spiffeId` (e.g. `spiffe://agents.test/agent/demo`) from the agents' trust domain key. */
  agentToken(spiffeId: string, opts?: Omit<AgentTokenOptions, "spiffeId">): Promise<string>;
}

/**
 * Create the test IdP and agent trust domain, write `idp-jwks.json` and `agents-bundle.json` into `dir`
 * (an existing directory, e.g. from `fs.mkdtempSync`), and return matching config and token factories.
 */
export async function createTestIdentities(dir: string): Promise<TestIdentities> {
  const idp = await createIssuer({ alg: "EdDSA", kid: "idp-1" });
  const agents = await createIssuer({ alg: "ES256", kid: "agents-1" });
  const idpJwksFile = join(dir, "idp-jwks.json");
  const agentsJwksFile = join(dir, "agents-bundle.json");
  writeJwks(idpJwksFile, [idp]);
  writeJwks(agentsJwksFile, [agents], { use: "jwt-svid" });
  const principalIssuerConfig: PrincipalIssuerConfig = {
    issuer: TEST_PRINCIPAL_ISSUER,
    audience: TEST_AUDIENCE,
    jwks: idpJwksFile,
    requiredScopes: [TEST_REQUIRED_SCOPE],
    subjectPrefix: "",
    algorithms: ["RS256", "ES256", "EdDSA"],
  };
  const agentTrustConfig: AgentTrustConfig = {
    trustDomain: TEST_TRUST_DOMAIN,
    jwks: agentsJwksFile,
    audience: TEST_AUDIENCE,
    algorithms: ["RS256", "ES256", "EdDSA"],
    requireProof: false,
  };
  return {
    idp,
    agents,
    idpJwksFile,
    agentsJwksFile,
    principalIssuerConfig,
    agentTrustConfig,
    identity: { clockToleranceSeconds: 30, principals: [principalIssuerConfig], agents: [agentTrustConfig] },
    principalToken: (sub, opts = {}) => mintPrincipalToken(idp, { scope: TEST_REQUIRED_SCOPE, ...opts, sub }),
    agentToken: (spiffeId, opts = {}) => mintAgentToken(agents, { ...opts, spiffeId }),
  };
}

/** A workload's own key pair, named in its identity token as `cnf.jwk` for proof of possession. */
export interface WorkloadKey {
  privateKey: CryptoKey;
  /** Public JWK as it goes into `cnf.jwk`. */
  publicJwk: JWK;
  alg: TestAlgorithm;
}

export async function createWorkloadKey(alg: TestAlgorithm = "EdDSA"): Promise<WorkloadKey> {
  const { privateKey, publicKey } = await generateKeyPair(alg);
  return { privateKey, publicJwk: await exportJWK(publicKey), alg };
}

/** base64url SHA-256 of a token (WIMSE `wth`, OAuth `ath`). */
export function hashToken(token: string): string {
  return createHash("sha256").update(token, "ascii").digest("base64url");
}

/** A Workload Proof Token (`typ: wpt+jwt`) for one request. */
export async function mintProofToken(
  key: WorkloadKey,
  options: { aud: string; identityToken: string; accessToken?: string; jti?: string; expiresInSeconds?: number; typ?: string; claims?: JWTPayload },
): Promise<string> {
  const iat = nowSeconds();
  return new SignJWT({
    aud: options.aud,
    iat,
    exp: iat + (options.expiresInSeconds ?? 60),
    jti: options.jti ?? randomUUID(),
    wth: hashToken(options.identityToken),
    ...(options.accessToken !== undefined ? { ath: hashToken(options.accessToken) } : {}),
    ...options.claims,
  })
    .setProtectedHeader({ alg: key.alg, typ: options.typ ?? "wpt+jwt" })
    .sign(key.privateKey);
}
