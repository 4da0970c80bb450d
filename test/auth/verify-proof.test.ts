// Proof of possession (WIMSE Workload Proof Token) for workloads whose identity token names a key.
import assert from "node:assert/strict";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { calculateJwkThumbprint } from "jose";
import { createAgentVerifier } from "../../src/auth/verify-agent.js";
import { createProofVerifier } from "../../src/auth/verify-proof.js";
import { createTestIdentities, createWorkloadKey, mintProofToken, type TestIdentities, type WorkloadKey } from "../support/tokens.js";

const AGENT = "spiffe://agents.test/agents/pop";
const URL_ = "https://countersign.test/v1/approvals";

describe("workload proof of possession", function () {
  let ids: TestIdentities;
  let key: WorkloadKey;
  let wit: string;
  const verifyProof = createProofVerifier({ clockToleranceSeconds: 5 });

  before(async function () {
    ids = await createTestIdentities(mkdtempSync(join(tmpdir(), "countersign-pop-")));
    key = await createWorkloadKey();
    wit = await ids.agentToken(AGENT, { claims: { cnf: { jwk: key.publicJwk } } });
  });

  async function agent() {
    return createAgentVerifier(ids.identity)(wit);
  }

  it("an identity token naming a key yields the key's RFC 7638 thumbprint", async function () {
    const verified = await agent();
    assert.equal(verified.proofKey?.jkt, await calculateJwkThumbprint(key.publicJwk, "sha256"));
  });

  it("a proof signed by that key for this URL, token and access token is accepted once", async function () {
    const proof = await mintProofToken(key, { aud: URL_, identityToken: wit, accessToken: "access-token-value" });
    await verifyProof({ proof, agent: await agent(), identityToken: wit, accessToken: "access-token-value", audience: URL_ });
    await assert.rejects(verifyProof({ proof, agent: await agent(), identityToken: wit, accessToken: "access-token-value", audience: URL_ }), { code: "proof_invalid" });
  });

  it("a workload whose token names a key must send a proof", async function () {
    await assert.rejects(verifyProof({ proof: undefined, agent: await agent(), identityToken: wit, audience: URL_ }), { code: "proof_missing" });
  });

  it("a workload without a key needs no proof unless its trust domain requires one", async function () {
    const plain = await ids.agentToken(AGENT);
    await verifyProof({ proof: undefined, agent: await createAgentVerifier(ids.identity)(plain), identityToken: plain, audience: URL_ });
    const strict = { ...ids.identity, agents: [{ ...ids.agentTrustConfig, requireProof: true }] };
    await assert.rejects(createAgentVerifier(strict)(plain), { code: "proof_missing" });
  });

  it("proofs for another URL, another identity token, another access token, by another key or of another type are refused", async function () {
    const other = await createWorkloadKey();
    const cases: Array<[string, string, string]> = [
      ["other URL", await mintProofToken(key, { aud: "https://countersign.test/v1/grants/redeem", identityToken: wit, accessToken: "a" }), "proof_invalid"],
      ["other identity token", await mintProofToken(key, { aud: URL_, identityToken: "x.y.z", accessToken: "a" }), "proof_invalid"],
      ["other access token", await mintProofToken(key, { aud: URL_, identityToken: wit, accessToken: "b" }), "proof_invalid"],
      ["no access token binding", await mintProofToken(key, { aud: URL_, identityToken: wit }), "proof_invalid"],
      ["other key", await mintProofToken(other, { aud: URL_, identityToken: wit, accessToken: "a" }), "proof_invalid"],
      ["wrong typ", await mintProofToken(key, { aud: URL_, identityToken: wit, accessToken: "a", typ: "JWT" }), "proof_invalid"],
      ["long-lived", await mintProofToken(key, { aud: URL_, identityToken: wit, accessToken: "a", expiresInSeconds: 3600 }), "proof_invalid"],
      ["expired", await mintProofToken(key, { aud: URL_, identityToken: wit, accessToken: "a", expiresInSeconds: -60 }), "token_expired"],
    ];
    for (const [name, proof, code] of cases) {
      await assert.rejects(verifyProof({ proof, agent: await agent(), identityToken: wit, accessToken: "a", audience: URL_ }), { code }, name);
    }
  });

  it("a proof with an algorithm the key cannot use is refused before any key is imported", async function () {
    const es = await createWorkloadKey("ES256");
    const esWit = await ids.agentToken(AGENT, { claims: { cnf: { jwk: es.publicJwk } } });
    const edProof = await mintProofToken(key, { aud: URL_, identityToken: esWit });
    await assert.rejects(
      verifyProof({ proof: edProof, agent: await createAgentVerifier(ids.identity)(esWit), identityToken: esWit, audience: URL_ }),
      { code: "token_algorithm_rejected" },
    );
  });

  it("an identity token bound to a key by another confirmation method is refused, not taken as a bearer token", async function () {
    const other = await ids.agentToken(AGENT, { claims: { cnf: { jkt: "x".repeat(43) } } });
    await assert.rejects(createAgentVerifier(ids.identity)(other), { code: "token_claims_invalid" });
  });

  it("replay memory is bounded: when full, proofs are refused until old ones can be forgotten", async function () {
    let clock = Date.now();
    const bounded = createProofVerifier({ clockToleranceSeconds: 5, maxRememberedProofs: 1, nowMs: () => clock });
    const mint = () => mintProofToken(key, { aud: URL_, identityToken: wit });
    await bounded({ proof: await mint(), agent: await agent(), identityToken: wit, audience: URL_ });
    await assert.rejects(bounded({ proof: await mint(), agent: await agent(), identityToken: wit, audience: URL_ }), { code: "unavailable" });
    clock += 400_000; // past every lifetime the first proof could have had
    const later = await mintProofToken(key, { aud: URL_, identityToken: wit, claims: { iat: Math.floor(clock / 1000), exp: Math.floor(clock / 1000) + 60 } });
    await bounded({ proof: later, agent: await agent(), identityToken: wit, audience: URL_ });
  });

  it("an identity token whose cnf.jwk holds private key material is refused", async function () {
    const leaky = await ids.agentToken(AGENT, { claims: { cnf: { jwk: { ...key.publicJwk, d: "AAAA" } } } });
    await assert.rejects(createAgentVerifier(ids.identity)(leaky), { code: "token_claims_invalid" });
  });
});
