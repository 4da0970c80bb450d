// Sender-constrained grants end to end: an agent whose identity token names a key proves it on every
// request, its grant carries cnf.jkt, and only the key holder can fetch that grant.
import assert from "node:assert/strict";
import { calculateJwkThumbprint, decodeJwt } from "jose";
import { createWorkloadKey, mintProofToken, type WorkloadKey } from "../support/tokens.js";
import { AGENT, refundRequest, startStack, type TestStack } from "../support/stack.js";

describe("proof of possession (real Temporal server)", function () {
  let stack: TestStack;
  let key: WorkloadKey;
  before(async function () {
    stack = await startStack();
    key = await createWorkloadKey();
  });
  after(async function () {
    await stack?.stop();
  });

  async function headers(path: string, opts: { proof?: boolean } = {}): Promise<Record<string, string>> {
    const access = await stack.ids.principalToken("alice");
    const wit = await stack.ids.agentToken(AGENT, { claims: { cnf: { jwk: key.publicJwk } } });
    const h: Record<string, string> = { authorization: `Bearer ${access}`, "workload-identity-token": wit };
    if (opts.proof !== false) h["workload-proof-token"] = await mintProofToken(key, { aud: `http://countersign.test${path}`, identityToken: wit, accessToken: access });
    return h;
  }

  it("the grant is bound to the proven key and shown only to its holder", async function () {
    const missing = await stack.http("POST", "/v1/approvals", await headers("/v1/approvals", { proof: false }), refundRequest());
    assert.equal(missing.status, 401);
    assert.equal(missing.body.error.code, "proof_missing");

    const created = await stack.http("POST", "/v1/approvals", await headers("/v1/approvals"), refundRequest());
    assert.equal(created.status, 202, JSON.stringify(created.body));
    const id = created.body.id as string;
    await stack.decide(id, "bob", "approve");

    const path = `/v1/approvals/${id}`;
    const noProof = await stack.http("GET", path, await headers(path, { proof: false }));
    assert.equal(noProof.body.error.code, "proof_missing");
    const keyless = await stack.http("GET", path, await stack.agentHeaders("alice"));
    assert.equal(keyless.status, 200);
    assert.equal(keyless.body.grant, undefined, "the same agent without the key does not get the grant");

    const res = await stack.http("GET", path, await headers(path));
    assert.equal(res.status, 200);
    const claims = decodeJwt(res.body.grant as string);
    assert.deepEqual(claims.cnf, { jkt: await calculateJwkThumbprint(key.publicJwk, "sha256") });
  });

  it("a proof made for one endpoint is refused at another", async function () {
    const h = await headers("/v1/grants/redeem");
    const res = await stack.http("POST", "/v1/approvals", h, refundRequest());
    assert.equal(res.status, 401);
    assert.equal(res.body.error.code, "proof_invalid");
  });
});
