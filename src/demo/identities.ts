// Demo identities for the example tenant (used by `countersign dev` and the demo agent): a stand-in OAuth issuer for humans and a SPIFFE trust
// domain for agents and tool servers. `countersign dev` creates them on first start; the demo agent
// uses the private keys to mint tokens. Never use these outside a laptop demo.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { exportJWK, generateKeyPair, importJWK, SignJWT, type JWK } from "jose";

export const DEMO_IDP_ISSUER = "https://idp.demo.test";
export const DEMO_AUDIENCE = "countersign";
export const DEMO_TRUST_DOMAIN = "demo.test";
export const DEMO_SCOPE = "countersign:request";

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

/** An access token of the demo issuer for user `sub`. */
export async function demoPrincipalToken(stateDir: string, sub: string, ttlSeconds = 600): Promise<string> {
  const { idp } = await ensureDemoIdentities(stateDir);
  return sign(idp, { iss: DEMO_IDP_ISSUER, aud: DEMO_AUDIENCE, sub, scope: DEMO_SCOPE }, ttlSeconds);
}

/** A workload identity token (JWT-SVID style) for a workload path in the demo trust domain. */
export async function demoWorkloadToken(stateDir: string, path: string, ttlSeconds = 600): Promise<string> {
  const { agents } = await ensureDemoIdentities(stateDir);
  return sign(agents, { sub: `spiffe://${DEMO_TRUST_DOMAIN}/${path}`, aud: DEMO_AUDIENCE }, ttlSeconds);
}
