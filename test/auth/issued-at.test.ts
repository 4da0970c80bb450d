// Tokens issued in the future (iat beyond the clock tolerance) are refused: principal, workload identity and proof tokens.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createAgentVerifier } from "../../src/auth/verify-agent.js";
import { createPrincipalVerifier } from "../../src/auth/verify-principal.js";
import { createProofVerifier } from "../../src/auth/verify-proof.js";
import { createTestIdentities, createWorkloadKey, mintProofToken, type TestIdentities } from "../support/tokens.js";
import { rejectsWithCode } from "./expect-error.js";

const AGENT = "spiffe://agents.test/agents/iat";
const URL_ = "https://countersign.test/v1/approvals";

function nowSeconds(): number {
  return Math.floor(Date.now() / 1000);
}

describe("issued-at in the future", () => {
  let dir: string;
  let ids: TestIdentities;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "countersign-iat-"));
    ids = await createTestIdentities(dir);
  });

  after(() => rmSync(dir, { recursive: true, force: true }));

  // createTestIdentities allows 30 s of clock skew.
  it("a principal token issued 10 minutes from now is refused as not yet valid", async () => {
    const token = await ids.principalToken("alice", { claims: { iat: nowSeconds() + 600 }, expiresInSeconds: 900 });
    await rejectsWithCode(createPrincipalVerifier(ids.identity)(token), "token_not_yet_valid", token);
  });

  it("a principal token issued within the clock tolerance ahead, or without iat, is accepted", async () => {
    const verify = createPrincipalVerifier(ids.identity);
    assert.equal((await verify(await ids.principalToken("alice", { claims: { iat: nowSeconds() + 20 } }))).subject, "alice");
    assert.equal((await verify(await ids.principalToken("alice", { omit: ["iat"] }))).subject, "alice");
  });

  it("a workload identity token issued 10 minutes from now is refused as not yet valid", async () => {
    const token = await ids.agentToken(AGENT, { claims: { iat: nowSeconds() + 600 }, expiresInSeconds: 900 });
    await rejectsWithCode(createAgentVerifier(ids.identity)(token), "token_not_yet_valid", token);
  });

  it("a workload identity token issued within the clock tolerance ahead, or without iat, is accepted", async () => {
    const verify = createAgentVerifier(ids.identity);
    assert.equal((await verify(await ids.agentToken(AGENT, { claims: { iat: nowSeconds() + 20 } }))).spiffeId, AGENT);
    assert.equal((await verify(await ids.agentToken(AGENT, { omit: ["iat"] }))).spiffeId, AGENT);
  });

  it("a workload proof token issued beyond the clock tolerance ahead is refused as not yet valid, and one within it is accepted", async () => {
    const key = await createWorkloadKey();
    const wit = await ids.agentToken(AGENT, { claims: { cnf: { jwk: key.publicJwk } } });
    const agent = await createAgentVerifier(ids.identity)(wit);
    const verifyProof = createProofVerifier({ clockToleranceSeconds: 5 });
    const future = await mintProofToken(key, { aud: URL_, identityToken: wit, claims: { iat: nowSeconds() + 60 } });
    await rejectsWithCode(verifyProof({ proof: future, agent, identityToken: wit, audience: URL_ }), "token_not_yet_valid", future);
    const skewed = await mintProofToken(key, { aud: URL_, identityToken: wit, claims: { iat: nowSeconds() + 3 } });
    await verifyProof({ proof: skewed, agent, identityToken: wit, audience: URL_ });
  });

  it("a workload proof token valid only from 10 minutes on (nbf) is refused as not yet valid too, not as an invalid proof", async () => {
    const key = await createWorkloadKey();
    const wit = await ids.agentToken(AGENT, { claims: { cnf: { jwk: key.publicJwk } } });
    const agent = await createAgentVerifier(ids.identity)(wit);
    const proof = await mintProofToken(key, { aud: URL_, identityToken: wit, claims: { nbf: nowSeconds() + 600 } });
    await rejectsWithCode(createProofVerifier({ clockToleranceSeconds: 5 })({ proof, agent, identityToken: wit, audience: URL_ }), "token_not_yet_valid", proof);
  });
});
