// Length limits on verified identities: a principal's directory user id and a workload's SPIFFE ID
// must fit Temporal's Keyword search attributes, so longer ones are refused at the edge.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createAgentVerifier } from "../../src/auth/verify-agent.js";
import { createPrincipalVerifier } from "../../src/auth/verify-principal.js";
import { createTestIdentities, type TestIdentities } from "../support/tokens.js";
import { rejectsWithCode } from "./expect-error.js";

/** A syntactically valid SPIFFE ID in the test trust domain of exactly `length` characters. */
function spiffeIdOfLength(length: number): string {
  const prefix = "spiffe://agents.test/agents/";
  return `${prefix}${"a".repeat(length - prefix.length)}`;
}

describe("identity length limits", () => {
  let dir: string;
  let ids: TestIdentities;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "countersign-limits-"));
    ids = await createTestIdentities(dir);
  });

  after(() => rmSync(dir, { recursive: true, force: true }));

  it("a principal subject of 256 characters is accepted and one of 257 is refused as invalid claims", async () => {
    const verify = createPrincipalVerifier(ids.identity);
    const longest = "u".repeat(256);
    assert.equal((await verify(await ids.principalToken(longest))).subject, longest);
    const tooLong = await ids.principalToken("u".repeat(257));
    const err = await rejectsWithCode(verify(tooLong), "token_claims_invalid", tooLong);
    assert.deepEqual(err.detail, { claim: "sub", reason: "too_long" });
  });

  it("the issuer's subject prefix counts towards the principal subject limit", async () => {
    const prefixed = createPrincipalVerifier({ ...ids.identity, principals: [{ ...ids.principalIssuerConfig, subjectPrefix: "idp|" }] });
    assert.equal((await prefixed(await ids.principalToken("u".repeat(252)))).subject, `idp|${"u".repeat(252)}`);
    const token = await ids.principalToken("u".repeat(253));
    await rejectsWithCode(prefixed(token), "token_claims_invalid", token);
  });

  it("a principal token with a 3 000-character subject is refused as invalid claims", async () => {
    const token = await ids.principalToken("u".repeat(3000));
    await rejectsWithCode(createPrincipalVerifier(ids.identity)(token), "token_claims_invalid", token);
  });

  it("a workload SPIFFE ID of 1 024 characters is accepted and one of 1 025 is refused as invalid claims", async () => {
    const verify = createAgentVerifier(ids.identity);
    const longest = spiffeIdOfLength(1024);
    assert.equal((await verify(await ids.agentToken(longest))).spiffeId, longest);
    const tooLong = await ids.agentToken(spiffeIdOfLength(1025));
    const err = await rejectsWithCode(verify(tooLong), "token_claims_invalid", tooLong);
    assert.deepEqual(err.detail, { claim: "sub", reason: "too_long" });
  });

  it("a workload SPIFFE ID the SPIFFE specification allows (2 040 characters) but our search attributes cannot hold is refused", async () => {
    const token = await ids.agentToken(spiffeIdOfLength(2040));
    await rejectsWithCode(createAgentVerifier(ids.identity)(token), "token_claims_invalid", token);
  });
});
