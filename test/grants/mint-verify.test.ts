// Minting and verifying grants: exact claims and header, lifetime, tampering, algorithm and key
// confusion, rotation, and the binding check.
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { SignJWT, base64url, decodeJwt, decodeProtectedHeader } from "jose";
import { mintGrant } from "../../src/grants/mint.js";
import { checkBinding, verifyGrant } from "../../src/grants/verify.js";
import { ensureKeyStore, loadKeyStore, rotateKey } from "../../src/grants/key-store.js";
import type { KeyStore } from "../../src/grants/key-store.js";
import type { GrantClaims } from "../../src/grants/claims.js";
import { GrantError } from "../../src/errors.js";
import { ISSUER, grantInput, tempKeyFile } from "./helpers.js";

const NOW = 1_800_000_000;
const TTL = 300;

async function expectGrantError(promise: Promise<unknown>, code: string, reason?: string): Promise<void> {
  await assert.rejects(promise, (err: unknown) => {
    assert.ok(err instanceof GrantError, `expected a GrantError, got ${String(err)}`);
    assert.equal(err.code, code);
    if (reason !== undefined) assert.equal(err.detail?.reason, reason);
    return true;
  });
}

function claimsFor(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    iss: ISSUER,
    aud: "spiffe://tools.test/payments",
    sub: "alice@example.com",
    act: { sub: "spiffe://agents.test/support-bot" },
    tenant: "acme",
    tool: "payments.refund",
    args_sha256: "ungWv48Bz-pBQUDeXa4iI7ADYaOWF3qctBD_YfIAFa0",
    jti: randomUUID(),
    iat: NOW,
    nbf: NOW,
    exp: NOW + TTL,
    approval: { id: "appr-123", approvers: ["bob@example.com"], policy_version: "sha256:abc" },
    ...overrides,
  };
}

describe("grants: mint and verify", () => {
  let keyFile: string;
  let keys: KeyStore;

  beforeEach(async () => {
    keyFile = tempKeyFile();
    keys = await ensureKeyStore(keyFile);
  });

  const verify = (token: string, nowSeconds = NOW + 10, store: KeyStore = keys): Promise<GrantClaims> =>
    verifyGrant(store, token, { issuer: ISSUER, nowSeconds, clockToleranceSeconds: 5 });

  it("mints a grant with exactly the contract's claims and header, which verifies to the same claims", async () => {
    const minted = await mintGrant(keys, grantInput({ agentJkt: "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs" }), { issuer: ISSUER, ttlSeconds: TTL, nowSeconds: NOW, jti: "grant-1" });
    const expected = {
      iss: ISSUER,
      aud: "spiffe://tools.test/payments",
      sub: "alice@example.com",
      act: { sub: "spiffe://agents.test/support-bot" },
      tenant: "acme",
      tool: "payments.refund",
      args_sha256: "ungWv48Bz-pBQUDeXa4iI7ADYaOWF3qctBD_YfIAFa0",
      jti: "grant-1",
      iat: NOW,
      nbf: NOW,
      exp: NOW + TTL,
      cnf: { jkt: "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs" },
      approval: { id: "appr-123", approvers: ["bob@example.com"], policy_version: "sha256:abc" },
    };
    assert.deepEqual(decodeJwt(minted.token), expected);
    assert.deepEqual(decodeProtectedHeader(minted.token), { alg: "EdDSA", typ: "countersign-grant+jwt", kid: keys.signingKey().kid });
    assert.deepEqual(minted.claims, expected);
    assert.equal(minted.jti, "grant-1");
    assert.equal(minted.expiresAt, NOW + TTL);
    assert.deepEqual(await verify(minted.token), expected);
  });

  it("leaves cnf out when the agent proved no key, and picks a random UUID jti", async () => {
    const a = await mintGrant(keys, grantInput(), { issuer: ISSUER, ttlSeconds: TTL, nowSeconds: NOW });
    const b = await mintGrant(keys, grantInput(), { issuer: ISSUER, ttlSeconds: TTL, nowSeconds: NOW });
    assert.equal("cnf" in decodeJwt(a.token), false);
    assert.match(a.jti, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    assert.notEqual(a.jti, b.jti);
    assert.equal((await verify(a.token)).cnf, undefined);
  });

  it("accepts a grant approved by policy alone (no approvers)", async () => {
    const minted = await mintGrant(keys, grantInput({ approvers: [] }), { issuer: ISSUER, ttlSeconds: TTL, nowSeconds: NOW });
    assert.deepEqual((await verify(minted.token)).approval.approvers, []);
  });

  it("refuses to mint from malformed input, naming the claim only", async () => {
    await assert.rejects(mintGrant(keys, grantInput({ audience: "payments-secret" }), { issuer: ISSUER, ttlSeconds: TTL }), (err: Error & { code?: string }) => {
      assert.equal(err.code, "invalid_request");
      assert.match(err.message, /aud/);
      assert.doesNotMatch(err.message, /payments-secret/);
      return true;
    });
    await assert.rejects(mintGrant(keys, grantInput({ argsSha256: "short" }), { issuer: ISSUER, ttlSeconds: TTL }), { code: "invalid_request" });
    await assert.rejects(mintGrant(keys, grantInput(), { issuer: ISSUER, ttlSeconds: 0 }), { code: "config_invalid" });
  });

  it("refuses an expired grant with grant_expired, after the clock tolerance", async () => {
    const { token } = await mintGrant(keys, grantInput(), { issuer: ISSUER, ttlSeconds: TTL, nowSeconds: NOW });
    assert.equal((await verify(token, NOW + TTL + 4)).exp, NOW + TTL);
    await expectGrantError(verify(token, NOW + TTL + 6), "grant_expired");
  });

  it("refuses a grant that is not yet valid with invalid_grant", async () => {
    const { token } = await mintGrant(keys, grantInput(), { issuer: ISSUER, ttlSeconds: TTL, nowSeconds: NOW });
    await expectGrantError(verify(token, NOW - 60), "invalid_grant", "claim_nbf");
  });

  it("refuses a grant from another issuer with invalid_grant", async () => {
    const { token } = await mintGrant(keys, grantInput(), { issuer: "https://elsewhere.test", ttlSeconds: TTL, nowSeconds: NOW });
    await expectGrantError(verify(token), "invalid_grant", "claim_iss");
  });

  it("refuses a grant whose payload was changed with invalid_grant", async () => {
    const { token } = await mintGrant(keys, grantInput(), { issuer: ISSUER, ttlSeconds: TTL, nowSeconds: NOW });
    const [header, payload, signature] = token.split(".");
    const changed = { ...(JSON.parse(new TextDecoder().decode(base64url.decode(payload ?? ""))) as object), tool: "payments.transfer" };
    const forged = `${header}.${base64url.encode(JSON.stringify(changed))}.${signature}`;
    await expectGrantError(verify(forged), "invalid_grant", "signature");
  });

  it("refuses a grant whose signature was changed with invalid_grant", async () => {
    const { token } = await mintGrant(keys, grantInput(), { issuer: ISSUER, ttlSeconds: TTL, nowSeconds: NOW });
    const [header, payload, signature = ""] = token.split(".");
    const bytes = base64url.decode(signature);
    bytes[0] = (bytes[0] ?? 0) ^ 0x01;
    await expectGrantError(verify(`${header}.${payload}.${base64url.encode(bytes)}`), "invalid_grant", "signature");
  });

  it("refuses an expired grant with a bad signature as invalid, not expired", async () => {
    const { token } = await mintGrant(keys, grantInput(), { issuer: ISSUER, ttlSeconds: TTL, nowSeconds: NOW });
    const [header, payload] = token.split(".");
    await expectGrantError(verify(`${header}.${payload}.${base64url.encode(new Uint8Array(64))}`, NOW + 10 * TTL), "invalid_grant", "signature");
  });

  it("refuses an unsigned grant (alg none) with invalid_grant", async () => {
    const { kid } = keys.signingKey();
    const header = base64url.encode(JSON.stringify({ alg: "none", typ: "countersign-grant+jwt", kid }));
    await expectGrantError(verify(`${header}.${base64url.encode(JSON.stringify(claimsFor()))}.`), "invalid_grant", "alg");
  });

  it("refuses a grant signed with another algorithm (HS256 with the public key as secret) with invalid_grant", async () => {
    const { kid } = keys.signingKey();
    const jwk = keys.jwks().keys.find((k) => k.kid === kid);
    const secret = new TextEncoder().encode(JSON.stringify(jwk));
    const token = await new SignJWT(claimsFor()).setProtectedHeader({ alg: "HS256", typ: "countersign-grant+jwt", kid }).sign(secret);
    await expectGrantError(verify(token), "invalid_grant", "alg");
  });

  for (const typ of ["JWT", "at+jwt", "application/countersign-grant+jwt", "Countersign-Grant+JWT"]) {
    it(`refuses a correctly signed token with typ ${typ} with invalid_grant`, async () => {
      const { kid, key } = keys.signingKey();
      const token = await new SignJWT(claimsFor()).setProtectedHeader({ alg: "EdDSA", typ, kid }).sign(key);
      await expectGrantError(verify(token), "invalid_grant", "typ");
    });
  }

  it("refuses a correctly signed token without a typ with invalid_grant", async () => {
    const { kid, key } = keys.signingKey();
    const token = await new SignJWT(claimsFor()).setProtectedHeader({ alg: "EdDSA", kid }).sign(key);
    await expectGrantError(verify(token), "invalid_grant", "typ");
  });

  it("refuses a grant signed by a key it does not know with invalid_grant", async () => {
    const stranger = await ensureKeyStore(tempKeyFile());
    const { token } = await mintGrant(stranger, grantInput(), { issuer: ISSUER, ttlSeconds: TTL, nowSeconds: NOW });
    await expectGrantError(verify(token), "invalid_grant", "kid_unknown");
  });

  it("refuses a grant signed by another key under a known kid with invalid_grant", async () => {
    const stranger = await ensureKeyStore(tempKeyFile());
    const { kid } = keys.signingKey();
    const token = await new SignJWT(claimsFor()).setProtectedHeader({ alg: "EdDSA", typ: "countersign-grant+jwt", kid }).sign(stranger.signingKey().key);
    await expectGrantError(verify(token), "invalid_grant", "signature");
  });

  it("refuses a correctly signed grant with an extra claim with invalid_grant", async () => {
    const { kid, key } = keys.signingKey();
    const token = await new SignJWT(claimsFor({ scope: "admin" })).setProtectedHeader({ alg: "EdDSA", typ: "countersign-grant+jwt", kid }).sign(key);
    await expectGrantError(verify(token), "invalid_grant", "claims");
  });

  it("refuses a correctly signed grant with a missing or ill-typed claim with invalid_grant", async () => {
    const { kid, key } = keys.signingKey();
    const sign = (claims: Record<string, unknown>): Promise<string> =>
      new SignJWT(claims).setProtectedHeader({ alg: "EdDSA", typ: "countersign-grant+jwt", kid }).sign(key);
    const { tenant: _tenant, ...withoutTenant } = claimsFor();
    await expectGrantError(verify(await sign(withoutTenant)), "invalid_grant", "claims");
    await expectGrantError(verify(await sign(claimsFor({ aud: ["spiffe://tools.test/payments"] }))), "invalid_grant", "claims");
    await expectGrantError(verify(await sign(claimsFor({ approval: { id: "a", approvers: "bob", policy_version: "v" } }))), "invalid_grant", "claims");
  });

  it("refuses garbage with invalid_grant", async () => {
    for (const token of ["", "not-a-jwt", "a.b.c", "eyJhbGciOiJFZERTQSJ9..", `${base64url.encode("{}")}.e30.`]) {
      await expectGrantError(verify(token), "invalid_grant");
    }
  });

  it("still verifies a grant minted before a key rotation, and signs new grants with the new kid", async () => {
    const oldKid = keys.signingKey().kid;
    const before = await mintGrant(keys, grantInput(), { issuer: ISSUER, ttlSeconds: TTL, nowSeconds: NOW });
    const { kid: newKid } = await rotateKey(keyFile);
    const rotated = await loadKeyStore(keyFile);
    assert.equal((await verify(before.token, NOW + 10, rotated)).jti, before.jti);
    const after = await mintGrant(rotated, grantInput(), { issuer: ISSUER, ttlSeconds: TTL, nowSeconds: NOW });
    assert.equal(decodeProtectedHeader(after.token).kid, newKid);
    assert.notEqual(newKid, oldKid);
    assert.equal((await verify(after.token, NOW + 10, rotated)).jti, after.jti);
    // A process loaded before the rotation picks the new key up from the file at its next verification.
    assert.equal((await verify(after.token, NOW + 10, keys)).jti, after.jti);
  });
});

describe("grants: checkBinding", () => {
  let claims: GrantClaims;
  const binding = { audience: "spiffe://tools.test/payments", tool: "payments.refund", argsSha256: "ungWv48Bz-pBQUDeXa4iI7ADYaOWF3qctBD_YfIAFa0" };

  before(async () => {
    const keys = await ensureKeyStore(tempKeyFile());
    claims = (await mintGrant(keys, grantInput(), { issuer: ISSUER, ttlSeconds: TTL })).claims;
  });

  it("accepts the call the grant was minted for", () => {
    assert.equal(checkBinding(claims, binding), undefined);
  });

  const cases: Array<[string, Partial<typeof binding>, string[]]> = [
    ["another tool", { tool: "payments.transfer" }, ["tool"]],
    ["other arguments", { argsSha256: "A".repeat(43) }, ["arguments"]],
    ["another tool server", { audience: "spiffe://tools.test/ledger" }, ["audience"]],
    ["everything else", { audience: "spiffe://tools.test/ledger", tool: "payments.transfer", argsSha256: "A".repeat(43) }, ["audience", "tool", "arguments"]],
  ];
  for (const [what, change, mismatched] of cases) {
    it(`refuses ${what} with binding_mismatch naming the part, not the values`, () => {
      assert.throws(
        () => checkBinding(claims, { ...binding, ...change }),
        (err: unknown) => {
          assert.ok(err instanceof GrantError);
          assert.equal(err.code, "binding_mismatch");
          assert.deepEqual(err.detail, { mismatched });
          for (const value of [...Object.values(binding), ...Object.values(change)]) assert.ok(!err.message.includes(value));
          return true;
        },
      );
    });
  }
});
