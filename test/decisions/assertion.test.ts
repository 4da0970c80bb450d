// Decision assertions: what verification refuses, each with decision_assertion_invalid.
import assert from "node:assert/strict";
import { SignJWT } from "jose";
import { DECISION_AUDIENCE, DECISION_TYP, signDecision, verifyDecision, type DecisionStatement } from "../../src/decisions/assertion.js";
import { ensureKeyStore, type KeyStore } from "../../src/grants/key-store.js";
import { mintGrant } from "../../src/grants/mint.js";
import { grantInput, ISSUER, tempKeyFile } from "../grants/helpers.js";

const statement: DecisionStatement = { approvalId: "appr_1", approver: "bob", decision: "approve", via: "api", reason: "duplicate" };
const opts = { issuer: ISSUER, clockToleranceSeconds: 5 };

describe("decision assertions", function () {
  let keys: KeyStore;
  before(async function () {
    keys = await ensureKeyStore(tempKeyFile());
  });

  /** Sign claims of our own choosing with the store's key and the assertion header. */
  async function forge(claims: Record<string, unknown>, typ = DECISION_TYP): Promise<string> {
    const { kid, key } = keys.signingKey();
    return new SignJWT(claims).setProtectedHeader({ alg: "EdDSA", typ, kid }).sign(key);
  }

  async function refused(token: string, expected: DecisionStatement & { jti: string }, reason: RegExp): Promise<void> {
    await assert.rejects(verifyDecision(keys, token, expected, opts), (err: { code?: string; detail?: { reason?: string } }) => {
      assert.equal(err.code, "decision_assertion_invalid");
      assert.match(err.detail?.reason ?? "", reason);
      return true;
    });
  }

  it("verifies what it signed, stating exactly the decision", async function () {
    const signed = await signDecision(keys, statement, { issuer: ISSUER });
    const claims = await verifyDecision(keys, signed.assertion, { ...statement, jti: signed.jti }, opts);
    assert.equal(claims.sub, "bob");
    assert.equal(claims.exp - claims.iat, 60);
  });

  it("refuses another decision, approver, approval, channel, reason or jti than the one signed", async function () {
    const signed = await signDecision(keys, statement, { issuer: ISSUER });
    const base = { ...statement, jti: signed.jti };
    await refused(signed.assertion, { ...base, decision: "deny" }, /decision/);
    await refused(signed.assertion, { ...base, approver: "carol" }, /approver/);
    await refused(signed.assertion, { ...base, approvalId: "appr_2" }, /approval_id/);
    await refused(signed.assertion, { ...base, via: "slack" }, /via/);
    await refused(signed.assertion, { ...base, reason: "other" }, /reason/);
    await refused(signed.assertion, { ...base, jti: "x".repeat(32) }, /jti/);
  });

  it("refuses an assertion issued in the future, one living longer than 60 s, and an expired one", async function () {
    const now = Math.floor(Date.now() / 1000);
    const claims = { iss: ISSUER, aud: DECISION_AUDIENCE, sub: "bob", approval_id: "appr_1", decision: "approve", via: "api", jti: "j".repeat(32) };
    const expected = { ...statement, reason: undefined, jti: claims.jti };
    await refused(await forge({ ...claims, iat: now + 120, exp: now + 150 }), expected, /iat/);
    await refused(await forge({ ...claims, iat: now, exp: now + 3600 }), expected, /lifetime/);
    await refused(await forge({ ...claims, iat: now - 120, exp: now - 60 }), expected, /expired|iat/);
  });

  it("a grant is never a decision assertion, even signed by the same keys", async function () {
    const grant = await mintGrant(keys, grantInput(), { issuer: ISSUER, ttlSeconds: 60 });
    await refused(grant.token, { ...statement, jti: grant.jti }, /typ/);
    // Relabelled with the assertion's typ, its claims still are not an assertion's.
    await refused(await forge({ ...grant.claims }), { ...statement, jti: grant.jti }, /claim|claims/);
  });

  it("a Slack decision states its Slack user and team, and verification refuses another user, another team or none", async function () {
    const slack = { ...statement, via: "slack" as const, slack: { userId: "U0BOB", teamId: "T0ACME" } };
    const signed = await signDecision(keys, slack, { issuer: ISSUER });
    const claims = await verifyDecision(keys, signed.assertion, { ...slack, jti: signed.jti }, opts);
    assert.deepEqual([claims.slack_user, claims.slack_team], ["U0BOB", "T0ACME"]);
    await refused(signed.assertion, { ...slack, slack: { userId: "U0CAROL", teamId: "T0ACME" }, jti: signed.jti }, /slack_user/);
    await refused(signed.assertion, { ...slack, slack: { userId: "U0BOB", teamId: "T0OTHER" }, jti: signed.jti }, /slack_team/);
    // A forged Slack decision without the Slack claims never verifies, even signed by our key.
    const now = Math.floor(Date.now() / 1000);
    const bare = await forge({ iss: ISSUER, aud: DECISION_AUDIENCE, sub: "bob", approval_id: "appr_1", decision: "approve", via: "slack", jti: "j".repeat(20), iat: now, exp: now + 30, reason_sha256: undefined });
    await refused(bare, { approvalId: "appr_1", approver: "bob", decision: "approve", via: "slack", jti: "j".repeat(20) }, /slack/);
    await assert.rejects(signDecision(keys, { ...statement, via: "slack" }, { issuer: ISSUER }), TypeError, "the edge cannot sign a Slack decision without the Slack user");
  });
});
