// Tests of principal access token verification: the accepted shape and every refused attack, by code.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { errors } from "jose";
import { createPrincipalVerifier, type VerifiedPrincipal } from "../../src/auth/verify-principal.js";
import {
  createIssuer,
  createTestIdentities,
  hs256WithPublicKey,
  mintPrincipalToken,
  principalClaims,
  signWithUnknownKey,
  TEST_REQUIRED_SCOPE,
  unsignedToken,
  type TestIdentities,
} from "../support/tokens.js";
import { AuthError } from "../../src/errors.js";
import { rejectsWithCode } from "./expect-error.js";

describe("createPrincipalVerifier", () => {
  let dir: string;
  let ids: TestIdentities;
  let verify: (token: string) => Promise<VerifiedPrincipal>;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "countersign-principal-"));
    ids = await createTestIdentities(dir);
    verify = createPrincipalVerifier(ids.identity);
  });

  after(() => rmSync(dir, { recursive: true, force: true }));

  it("accepts a valid token and returns issuer, subject, scopes, agent tasks and expiry", async () => {
    const token = await ids.principalToken("alice", {
      scope: `${TEST_REQUIRED_SCOPE} profile`,
      authorization_details: [
        { type: "agent_task", task_id: "task-1", tools: ["deploy"], tenant: "acme", summary: "ship release 1.2" },
        { type: "payment_initiation", instructedAmount: { currency: "EUR", amount: "1.00" } },
        { type: "agent_task", task_id: "task-2" },
      ],
      claims: { exp: 2_000_000_000 },
    });
    const principal = await verify(token);
    assert.deepEqual(principal, {
      issuer: "https://idp.test",
      subject: "alice",
      scopes: [TEST_REQUIRED_SCOPE, "profile"],
      tasks: [{ taskId: "task-1", tools: ["deploy"], tenant: "acme" }, { taskId: "task-2" }],
      expiresAt: 2_000_000_000,
    });
  });

  it("reads scopes from an scp array as well", async () => {
    const token = await ids.principalToken("alice", { scope: undefined, claims: { scp: [TEST_REQUIRED_SCOPE, "email"] } });
    assert.deepEqual((await verify(token)).scopes, [TEST_REQUIRED_SCOPE, "email"]);
  });

  it("accepts an audience array that contains the configured audience", async () => {
    const token = await ids.principalToken("alice", { aud: ["other-api", "countersign"] });
    assert.equal((await verify(token)).subject, "alice");
  });

  it("accepts a token expired by less than the clock tolerance", async () => {
    const token = await ids.principalToken("alice", { expiresInSeconds: -10 });
    assert.equal((await verify(token)).subject, "alice");
  });

  it("refuses an alg none token as an algorithm problem", async () => {
    const token = unsignedToken(principalClaims({ sub: "alice", scope: TEST_REQUIRED_SCOPE }), ids.idp.kid);
    await rejectsWithCode(verify(token), "token_algorithm_rejected", token);
  });

  it("refuses an HS256 token signed with the issuer's public key as an algorithm problem, not a signature problem", async () => {
    const token = await hs256WithPublicKey(ids.idp, principalClaims({ sub: "alice", scope: TEST_REQUIRED_SCOPE }));
    await rejectsWithCode(verify(token), "token_algorithm_rejected", token);
  });

  it("refuses an algorithm the issuer entry does not allow", async () => {
    const onlyEs256 = createPrincipalVerifier({
      ...ids.identity,
      principals: [{ ...ids.principalIssuerConfig, algorithms: ["ES256"] }],
    });
    const token = await ids.principalToken("alice");
    await rejectsWithCode(onlyEs256(token), "token_algorithm_rejected", token);
  });

  it("refuses a token from an issuer that is not configured", async () => {
    const token = await ids.principalToken("alice", { iss: "https://evil.test" });
    await rejectsWithCode(verify(token), "token_issuer_untrusted", token);
  });

  it("refuses a token without an issuer as invalid claims", async () => {
    const token = await ids.principalToken("alice", { omit: ["iss"] });
    await rejectsWithCode(verify(token), "token_claims_invalid", token);
  });

  it("refuses a token for another audience", async () => {
    const token = await ids.principalToken("alice", { aud: "some-other-api" });
    await rejectsWithCode(verify(token), "token_audience_mismatch", token);
  });

  it("refuses a token expired beyond the clock tolerance", async () => {
    const token = await ids.principalToken("alice", { expiresInSeconds: -120 });
    await rejectsWithCode(verify(token), "token_expired", token);
  });

  it("refuses a token whose nbf is beyond the clock tolerance in the future", async () => {
    const token = await ids.principalToken("alice", { nbf: Math.floor(Date.now() / 1000) + 600, expiresInSeconds: 900 });
    await rejectsWithCode(verify(token), "token_not_yet_valid", token);
  });

  it("refuses a token signed by a key whose kid is not in the JWKS", async () => {
    const token = await signWithUnknownKey(principalClaims({ sub: "alice", scope: TEST_REQUIRED_SCOPE }));
    await rejectsWithCode(verify(token), "token_key_unknown", token);
  });

  it("refuses a token signed by another key under the trusted kid, keeping jose's error as cause", async () => {
    const impostor = await createIssuer({ alg: "EdDSA" });
    const token = await mintPrincipalToken(impostor, { sub: "alice", scope: TEST_REQUIRED_SCOPE, kid: ids.idp.kid });
    const err = await rejectsWithCode(verify(token), "token_signature_invalid", token);
    assert.ok(err.cause instanceof errors.JWSSignatureVerificationFailed);
  });

  it("refuses a token whose claims were altered after signing", async () => {
    const token = await ids.principalToken("alice");
    const [header, , signature] = token.split(".");
    const forged = `${header}.${Buffer.from(JSON.stringify(principalClaims({ sub: "root", scope: TEST_REQUIRED_SCOPE }))).toString("base64url")}.${signature}`;
    await rejectsWithCode(verify(forged), "token_signature_invalid", forged);
  });

  it("refuses a token that lacks a required scope", async () => {
    const token = await ids.principalToken("alice", { scope: "profile email" });
    const err = await rejectsWithCode(verify(token), "insufficient_scope", token);
    assert.match(err.message, new RegExp(TEST_REQUIRED_SCOPE));
  });

  it("refuses a token without exp as invalid claims", async () => {
    const token = await ids.principalToken("alice", { omit: ["exp"] });
    await rejectsWithCode(verify(token), "token_claims_invalid", token);
  });

  it("refuses a malformed agent_task detail instead of ignoring its restriction", async () => {
    const token = await ids.principalToken("alice", { authorization_details: [{ type: "agent_task", tools: ["deploy"] }] });
    await rejectsWithCode(verify(token), "token_claims_invalid", token);
  });

  it("refuses garbage as a malformed token", async () => {
    for (const garbage of ["not-a-jwt", "a.b.c", "eyJhbGciOiJFZERTQSJ9.bm90IGpzb24.c2ln", "x.y.z.w.v"]) {
      await rejectsWithCode(verify(garbage), "token_malformed", garbage);
    }
  });

  it("refuses an empty or blank token as missing", async () => {
    await rejectsWithCode(verify(""), "token_missing");
    await rejectsWithCode(verify("   "), "token_missing");
  });

  it("never puts the token into the message of any refusal", async () => {
    const claims = principalClaims({ sub: "alice", scope: TEST_REQUIRED_SCOPE });
    const tokens = [
      unsignedToken(claims),
      await hs256WithPublicKey(ids.idp, claims),
      await signWithUnknownKey(claims),
      await ids.principalToken("alice", { aud: "x" }),
      await ids.principalToken("alice", { iss: "https://evil.test" }),
      await ids.principalToken("alice", { expiresInSeconds: -3600 }),
      await ids.principalToken("alice", { scope: "none" }),
    ];
    for (const token of tokens) {
      const err = await verify(token).then(
        () => assert.fail("expected a refusal"),
        (e: unknown) => e,
      );
      assert.ok(err instanceof AuthError);
      assert.ok(!err.message.includes(token));
      for (const part of token.split(".").filter((p) => p.length > 0)) assert.ok(!err.message.includes(part));
    }
  });
});
