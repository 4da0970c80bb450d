// Review test: `approve --as <user>` with a demo issuer whose subjectPrefix is set must mint a token
// for exactly <user> (or refuse), never for another directory user: the prefix was cut off by length
// without checking that <user> starts with it, so `--as xxxbob` became `demo:bob`.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { decodeJwt } from "jose";
import { resolveConfig } from "../../src/config.js";
import { DEMO_IDP_ISSUER, DEMO_OPS_TOKEN_TTL_SECONDS, demoApproverToken, demoOpsToken, ensureDemoIdentities } from "../../src/demo/identities.js";

describe("demo approver tokens with a subject prefix", function () {
  let dir: string;
  before(async function () {
    dir = mkdtempSync(join(tmpdir(), "countersign-demo-prefix-"));
    await ensureDemoIdentities(dir);
  });
  after(function () {
    rmSync(dir, { recursive: true, force: true });
  });

  it("--as names exactly the directory user the token is for, or is refused", async function () {
    const config = resolveConfig(
      {
        identity: {
          principals: [{ issuer: DEMO_IDP_ISSUER, audience: "countersign", jwks: join(dir, "demo", "idp.jwks.json"), subjectPrefix: "demo:" }],
          agents: [{ trustDomain: "demo.test", jwks: join(dir, "demo", "agents.jwks.json"), audience: "countersign" }],
        },
        directory: "./directory.yaml",
        policies: "./policies",
        tools: {},
        grants: { keyFile: "./grant-keys.json" },
      },
      join(dir, "countersign.config.yaml"),
    );
    const ok = decodeJwt(await demoApproverToken(config, "demo:bob"));
    assert.equal(`demo:${String(ok.sub)}`, "demo:bob");
    let minted: string | undefined;
    try {
      minted = `demo:${String(decodeJwt(await demoApproverToken(config, "xxxxxbob")).sub)}`;
    } catch {
      minted = undefined; // refused: fine
    }
    assert.notEqual(minted, "demo:bob", "--as xxxxxbob minted a token that names demo:bob");
  });

  it("ops-token --as mints countersign:ops for exactly that user, for an hour, and only with the demo issuer", async function () {
    const identity = (issuer: string) => ({
      principals: [{ issuer, audience: "countersign", jwks: join(dir, "demo", "idp.jwks.json"), subjectPrefix: "demo:" }],
      agents: [{ trustDomain: "demo.test", jwks: join(dir, "demo", "agents.jwks.json"), audience: "countersign" }],
    });
    const base = { directory: "./directory.yaml", policies: "./policies", tools: {}, grants: { keyFile: "./grant-keys.json" } };
    const config = resolveConfig({ ...base, identity: identity(DEMO_IDP_ISSUER) }, join(dir, "countersign.config.yaml"));
    const claims = decodeJwt(await demoOpsToken(config, "demo:bob"));
    assert.equal(claims.sub, "bob");
    assert.equal(claims.scope, "countersign:ops");
    assert.equal(claims.aud, "countersign");
    assert.equal((claims.exp ?? 0) - (claims.iat ?? 0), DEMO_OPS_TOKEN_TTL_SECONDS);
    await assert.rejects(demoOpsToken(config, "xxxxxbob"), { code: "forbidden" });
    const other = resolveConfig({ ...base, identity: identity("https://idp.example.com") }, join(dir, "countersign.config.yaml"));
    await assert.rejects(demoOpsToken(other, "demo:bob"), { code: "forbidden" });
  });
});
