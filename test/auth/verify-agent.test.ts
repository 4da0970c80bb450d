// Tests of workload identity token verification: SPIFFE subjects, trust domains and refused attacks, by code.
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createAgentVerifier, type VerifiedAgent } from "../../src/auth/verify-agent.js";
import {
  agentClaims,
  createIssuer,
  createTestIdentities,
  hs256WithPublicKey,
  mintAgentToken,
  signWithUnknownKey,
  unsignedToken,
  writeJwks,
  type TestIdentities,
} from "../support/tokens.js";
import { rejectsWithCode } from "./expect-error.js";

const AGENT = "spiffe://agents.test/agent/demo";

describe("createAgentVerifier", () => {
  let dir: string;
  let ids: TestIdentities;
  let verify: (token: string) => Promise<VerifiedAgent>;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "countersign-agent-"));
    ids = await createTestIdentities(dir);
    verify = createAgentVerifier(ids.identity);
  });

  after(() => rmSync(dir, { recursive: true, force: true }));

  it("accepts a valid token from a SPIFFE bundle whose keys say use jwt-svid", async () => {
    const bundle = JSON.parse(readFileSync(ids.agentsJwksFile, "utf8")) as { keys: Array<{ use: string }>; spiffe_sequence: number };
    assert.equal(bundle.keys[0]?.use, "jwt-svid");
    assert.equal(bundle.spiffe_sequence, 1);
    const token = await ids.agentToken(AGENT, { claims: { exp: 2_000_000_000 } });
    assert.deepEqual(await verify(token), { spiffeId: AGENT, trustDomain: "agents.test", expiresAt: 2_000_000_000, proofRequired: false });
  });

  it("accepts an audience array that contains the configured audience, with or without iss", async () => {
    const token = await ids.agentToken("spiffe://agents.test/tool/deployer", { aud: ["countersign", "other"], iss: "https://spire.agents.test" });
    assert.equal((await verify(token)).spiffeId, "spiffe://agents.test/tool/deployer");
  });

  it("refuses a SPIFFE ID outside every configured trust domain", async () => {
    const token = await ids.agentToken("spiffe://evil.test/agent/demo");
    await rejectsWithCode(verify(token), "trust_domain_untrusted", token);
  });

  it("checks a token claiming another configured trust domain with that domain's keys only", async () => {
    const tools = await createIssuer({ kid: "tools-1" });
    const toolsBundle = join(dir, "tools-bundle.json");
    writeJwks(toolsBundle, [tools], { use: "jwt-svid" });
    const twoDomains = createAgentVerifier({
      ...ids.identity,
      agents: [ids.agentTrustConfig, { ...ids.agentTrustConfig, trustDomain: "tools.test", jwks: toolsBundle }],
    });
    const crossed = await ids.agentToken("spiffe://tools.test/tool/deployer");
    await rejectsWithCode(twoDomains(crossed), "token_key_unknown", crossed);
    const own = await mintAgentToken(tools, { spiffeId: "spiffe://tools.test/tool/deployer" });
    assert.equal((await twoDomains(own)).trustDomain, "tools.test");
  });

  const malformedIds = [
    "agent-demo",
    "https://agents.test/agent/demo",
    "spiffe://Agents.test/agent/demo",
    "spiffe://agents.test",
    "spiffe://agents.test/",
    "spiffe://agents.test/agent/../admin",
    "spiffe://agents.test/agent/demo?role=admin",
    "spiffe://agents.test/agent/demo#x",
  ];
  for (const sub of malformedIds) {
    it(`refuses the malformed SPIFFE ID ${JSON.stringify(sub)} as invalid claims`, async () => {
      const token = await ids.agentToken(sub);
      await rejectsWithCode(verify(token), "token_claims_invalid", token);
    });
  }

  it("refuses a token without a subject as invalid claims", async () => {
    const token = await ids.agentToken(AGENT, { omit: ["sub"] });
    await rejectsWithCode(verify(token), "token_claims_invalid", token);
  });

  it("refuses a token without exp as invalid claims", async () => {
    const token = await ids.agentToken(AGENT, { omit: ["exp"] });
    await rejectsWithCode(verify(token), "token_claims_invalid", token);
  });

  it("refuses a token for another audience", async () => {
    const token = await ids.agentToken(AGENT, { aud: "spiffe://agents.test/tool/other" });
    await rejectsWithCode(verify(token), "token_audience_mismatch", token);
  });

  it("refuses a token without an audience", async () => {
    const token = await ids.agentToken(AGENT, { omit: ["aud"] });
    await rejectsWithCode(verify(token), "token_audience_mismatch", token);
  });

  it("refuses an expired token", async () => {
    const token = await ids.agentToken(AGENT, { expiresInSeconds: -120 });
    await rejectsWithCode(verify(token), "token_expired", token);
  });

  it("refuses a token that is not valid yet", async () => {
    const token = await ids.agentToken(AGENT, { claims: { nbf: Math.floor(Date.now() / 1000) + 600 }, expiresInSeconds: 900 });
    await rejectsWithCode(verify(token), "token_not_yet_valid", token);
  });

  it("refuses an alg none token as an algorithm problem", async () => {
    const token = unsignedToken(agentClaims({ spiffeId: AGENT }), ids.agents.kid);
    await rejectsWithCode(verify(token), "token_algorithm_rejected", token);
  });

  it("refuses an HS256 token signed with the bundle's public key as an algorithm problem", async () => {
    const token = await hs256WithPublicKey(ids.agents, agentClaims({ spiffeId: AGENT }));
    await rejectsWithCode(verify(token), "token_algorithm_rejected", token);
  });

  it("refuses a token signed by a key the bundle does not list", async () => {
    const token = await signWithUnknownKey(agentClaims({ spiffeId: AGENT }), "ES256");
    await rejectsWithCode(verify(token), "token_key_unknown", token);
  });

  it("refuses a token signed by another key under the trusted kid", async () => {
    const impostor = await createIssuer({ alg: "ES256" });
    const token = await mintAgentToken(impostor, { spiffeId: AGENT, kid: ids.agents.kid });
    await rejectsWithCode(verify(token), "token_signature_invalid", token);
  });

  it("refuses garbage as malformed and an empty token as missing", async () => {
    await rejectsWithCode(verify("garbage"), "token_malformed", "garbage");
    await rejectsWithCode(verify("e30.e30.e30"), "token_malformed", "e30.e30.e30");
    await rejectsWithCode(verify(""), "token_missing");
  });
});
