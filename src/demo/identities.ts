// Demo identities for the example tenant (used by `countersign dev` and the demo agent): a stand-in OAuth issuer for humans and a SPIFFE trust
// domain for agents and tool servers. `countersign dev` creates them on first start; the demo agent
// uses the private keys to mint tokens. Never use these outside a laptop demo.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import type { Config } from "../config.js";
import { APPROVE_SCOPE, OPS_SCOPE, REQUEST_SCOPE } from "../auth/scopes.js";
import { CountersignError } from "../errors.js";
import { exportJWK, generateKeyPair, importJWK, SignJWT, type JWK } from "jose";

export const DEMO_IDP_ISSUER = "https://idp.demo.test";
export const DEMO_AUDIENCE = "countersign";
export const DEMO_TRUST_DOMAIN = "demo.test";
export const DEMO_SCOPE = REQUEST_SCOPE;

interface DemoKey {
  kid: string;
  privateJwk: JWK;
  publicJwk: JWK;
}

async function ensureKey(dir: string, name: string): Promise<DemoKey> {
  const privateFile = join(dir, `${name}.private.json`);
  if (existsSync(privateFile)) return JSON.parse(readFileSync(privateFile, "utf8")) as DemoKey;
  const { privateKey, publicKey } = await generateKeyPair("EdDSA", { extractable: true });
  const kid = `${name}-${Date.now().toString(36)}`;
  const key: DemoKey = { kid, privateJwk: { ...(await exportJWK(privateKey)), kid, alg: "EdDSA" }, publicJwk: { ...(await exportJWK(publicKey)), kid, alg: "EdDSA", use: "sig" } };
  writeFileSync(privateFile, JSON.stringify(key), { mode: 0o600 });
  writeFileSync(join(dir, `${name}.jwks.json`), JSON.stringify({ keys: [key.publicJwk] }));
  return key;
}

/** Create (once) the demo issuer and trust-domain keys under `<stateDir>/demo/`. */
export async function ensureDemoIdentities(stateDir: string): Promise<{ idp: DemoKey; agents: DemoKey }> {
  const dir = join(stateDir, "demo");
  mkdirSync(dir, { recursive: true });
  return { idp: await ensureKey(dir, "idp"), agents: await ensureKey(dir, "agents") };
}

async function sign(key: DemoKey, claims: Record<string, unknown>, ttlSeconds: number): Promise<string> {
  const privateKey = await importJWK(key.privateJwk, "EdDSA");
  return new SignJWT(claims)
    .setProtectedHeader({ alg: "EdDSA", kid: key.kid, typ: "JWT" })
    .setIssuedAt()
    .setExpirationTime(`${ttlSeconds}s`)
    .sign(privateKey);
}

/**
 * An access token of the demo issuer for user `sub` (scope `countersign:request` unless `scope` says
 * otherwise), for countersign's API, or for `audience` (the MCP gateway's resource URL).
 */
export async function demoPrincipalToken(stateDir: string, sub: string, ttlSeconds = 600, scope = DEMO_SCOPE, audience = DEMO_AUDIENCE): Promise<string> {
  const { idp } = await ensureDemoIdentities(stateDir);
  return sign(idp, { iss: DEMO_IDP_ISSUER, aud: audience, sub, scope }, ttlSeconds);
}

/**
 * `countersign approve|deny --as <user>`: a short-lived demo approver token for `user`, only when the
 * config trusts the demo issuer with the key set `countersign dev` generated (its JWKS file sits beside
 * the private key, `idp.private.json`, and lists that key). Never reads or makes keys anywhere else.
 * @throws CountersignError `forbidden` with what to do instead, for any other configuration.
 */
export async function demoApproverToken(config: Config, user: string): Promise<string> {
  return demoUserToken(config, user, { scope: APPROVE_SCOPE, ttlSeconds: 120, instead: "decide with the approver's own token: --token or COUNTERSIGN_TOKEN" });
}

/** Lifetime of a demo ops token (`countersign ops-token`), in s: a sitting in the Temporal UI. */
export const DEMO_OPS_TOKEN_TTL_SECONDS = 3600;

/**
 * `countersign ops-token --as <user>`: a demo token with scope `countersign:ops` for `user` (the codec
 * server behind the Temporal UI, revocation), valid {@link DEMO_OPS_TOKEN_TTL_SECONDS}; under the same
 * conditions as {@link demoApproverToken}.
 * @throws CountersignError `forbidden` with what to do instead, for any other configuration.
 */
export async function demoOpsToken(config: Config, user: string): Promise<string> {
  return demoUserToken(config, user, { scope: OPS_SCOPE, ttlSeconds: DEMO_OPS_TOKEN_TTL_SECONDS, instead: "use an ops token of your own issuer" });
}

async function demoUserToken(config: Config, user: string, opts: { scope: string; ttlSeconds: number; instead: string }): Promise<string> {
  const refuse = (why: string): CountersignError =>
    new CountersignError("forbidden", `--as works only with the demo issuer that \`countersign dev\` generated (${why}); ${opts.instead}`);
  const entry = config.identity.principals.find((p) => p.issuer === DEMO_IDP_ISSUER);
  if (entry === undefined) throw refuse(`this config does not trust ${DEMO_IDP_ISSUER}`);
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(entry.jwks) || basename(entry.jwks) !== "idp.jwks.json") throw refuse("its keys are not the generated demo key file");
  const dir = dirname(entry.jwks);
  let key: DemoKey;
  let published: { keys?: Array<{ kid?: string; x?: string }> };
  try {
    key = JSON.parse(readFileSync(join(dir, "idp.private.json"), "utf8")) as DemoKey;
    published = JSON.parse(readFileSync(entry.jwks, "utf8")) as typeof published;
  } catch {
    throw refuse("no demo private key beside its key set; run `npm start` first");
  }
  if (!(published.keys ?? []).some((k) => k.kid === key.kid && k.x === key.publicJwk.x)) throw refuse("the demo key set does not hold the demo private key");
  // The directory user id is the prefix followed by `sub`: a user without the prefix names nobody this issuer can mint.
  if (!user.startsWith(entry.subjectPrefix) || user.length === entry.subjectPrefix.length) throw refuse(`the demo issuer's users are named ${entry.subjectPrefix}<sub>`);
  return sign(key, { iss: DEMO_IDP_ISSUER, aud: entry.audience, sub: user.slice(entry.subjectPrefix.length), scope: opts.scope }, opts.ttlSeconds);
}

/** A workload identity token (JWT-SVID style) for a workload path in the demo trust domain. */
export async function demoWorkloadToken(stateDir: string, path: string, ttlSeconds = 600): Promise<string> {
  const { agents } = await ensureDemoIdentities(stateDir);
  return sign(agents, { sub: `spiffe://${DEMO_TRUST_DOMAIN}/${path}`, aud: DEMO_AUDIENCE }, ttlSeconds);
}
