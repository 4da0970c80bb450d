// The tool-server kit against a real countersign (HTTP server, Temporal dev server, worker): local
// checks against the published JWKS, redemption once, a lost answer retried under one key.
import assert from "node:assert/strict";
import { argsSha256 } from "../../src/grants/args-hash.js";
import { ensureKeyStore } from "../../src/grants/key-store.js";
import { mintGrant } from "../../src/grants/mint.js";
import { createToolServerKit, type ToolServerKit } from "../../src/kit/index.js";
import { AGENT, KB_SERVER, PAYMENTS_SERVER, requestPendingRefund, startStack, type TestStack } from "../support/stack.js";
import { grantInput, tempKeyFile } from "../grants/helpers.js";

const ARGS = { payment_id: "pay_1042", amount_cents: 4200, currency: "EUR" };

describe("tool-server kit: verifyAndRedeem (real countersign)", function () {
  this.timeout(30_000);
  let stack: TestStack;
  before(async function () {
    stack = await startStack();
  });
  after(async function () {
    await stack.stop();
  });

  function kit(overrides: Partial<Parameters<typeof createToolServerKit>[0]> = {}): ToolServerKit {
    return createToolServerKit({
      countersignUrl: stack.baseUrl,
      issuer: stack.config.issuer,
      audience: PAYMENTS_SERVER,
      workloadToken: () => stack.ids.agentToken(PAYMENTS_SERVER),
      ...overrides,
    });
  }

  async function approvedGrant(): Promise<{ id: string; grant: string }> {
    const { id } = await requestPendingRefund(stack, { arguments: ARGS });
    await stack.decide(id, "bob", "approve");
    return { id, grant: await stack.grantOf(id) };
  }

  it("verifies a grant locally, redeems it once, and a second redemption is refused", async function () {
    const { id, grant } = await approvedGrant();
    const redeemed = await kit().verifyAndRedeem(grant, { tool: "payments.refund", arguments: { currency: "EUR", amount_cents: 4200, payment_id: "pay_1042" } });
    assert.deepEqual({ principal: redeemed.principal, agent: redeemed.agent, approvalId: redeemed.approvalId }, { principal: "alice", agent: AGENT, approvalId: id });
    assert.equal(redeemed.claims.aud, PAYMENTS_SERVER);
    assert.equal((await stack.approvals.state(id)).status, "redeemed");
    await assert.rejects(kit().verifyAndRedeem(grant, { tool: "payments.refund", arguments: ARGS }), { code: "grant_already_redeemed" });
  });

  it("refuses, without redeeming, a grant for other arguments, another tool, another tool server or another resource", async function () {
    const { id, grant } = await approvedGrant();
    await assert.rejects(kit().verifyAndRedeem(grant, { tool: "payments.refund", arguments: { ...ARGS, amount_cents: 420000 } }), { code: "binding_mismatch" });
    await assert.rejects(kit().verifyAndRedeem(grant, { tool: "payments.bulk_refund", arguments: ARGS }), { code: "binding_mismatch" });
    await assert.rejects(kit({ audience: KB_SERVER, workloadToken: () => stack.ids.agentToken(KB_SERVER) }).verifyAndRedeem(grant, { tool: "payments.refund", arguments: ARGS }), { code: "binding_mismatch" });
    await assert.rejects(kit().verifyAndRedeem(grant, { tool: "payments.refund", arguments: ARGS, resource: { type: "Resource", id: "acme-order-1042" } }), { code: "binding_mismatch" });
    assert.equal((await stack.approvals.state(id)).status, "approved", "nothing was burned");
    // The grant is still good for the call it was made for.
    assert.equal((await kit().verifyAndRedeem(grant, { tool: "payments.refund", arguments: ARGS })).approvalId, id);
  });

  it("refuses a tampered grant, one signed by a key countersign never published, and one from another issuer", async function () {
    const { grant } = await approvedGrant();
    const [h, p, sig] = grant.split(".") as [string, string, string];
    const flipped = `${h}.${p}.${sig.slice(0, -2)}${sig.endsWith("AA") ? "BB" : "AA"}`;
    await assert.rejects(kit().verify(flipped, { tool: "payments.refund", arguments: ARGS }), { code: "invalid_grant" });
    const foreignKeys = await ensureKeyStore(tempKeyFile());
    const foreign = await mintGrant(foreignKeys, grantInput({ audience: PAYMENTS_SERVER, argsSha256: argsSha256(ARGS) }), { issuer: stack.config.issuer, ttlSeconds: 60 });
    await assert.rejects(kit().verify(foreign.token, { tool: "payments.refund", arguments: ARGS }), { code: "invalid_grant" });
    await assert.rejects(kit({ issuer: "https://someone-else.test" }).verify(grant, { tool: "payments.refund", arguments: ARGS }), { code: "invalid_grant" });
  });

  it("refuses an expired grant, and a key-bound grant unless the presenter proved that key", async function () {
    const expired = await mintGrant(stack.services.grantKeys, grantInput({ audience: PAYMENTS_SERVER, argsSha256: argsSha256(ARGS) }), { issuer: stack.config.issuer, ttlSeconds: 60, nowSeconds: Math.floor(Date.now() / 1000) - 120 });
    await assert.rejects(kit().verify(expired.token, { tool: "payments.refund", arguments: ARGS }), { code: "grant_expired" });
    const jkt = "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I";
    const bound = await mintGrant(stack.services.grantKeys, grantInput({ audience: PAYMENTS_SERVER, argsSha256: argsSha256(ARGS), agentJkt: jkt }), { issuer: stack.config.issuer, ttlSeconds: 60 });
    await assert.rejects(kit().verify(bound.token, { tool: "payments.refund", arguments: ARGS }), { code: "binding_mismatch" });
    await assert.rejects(kit().verify(bound.token, { tool: "payments.refund", arguments: ARGS, presenterJkt: "x".repeat(43) }), { code: "binding_mismatch" });
    assert.equal((await kit().verify(bound.token, { tool: "payments.refund", arguments: ARGS, presenterJkt: jkt })).cnf?.jkt, jkt);
  });

  it("a redemption whose answer is lost is retried under the same key and answered once", async function () {
    const { id, grant } = await approvedGrant();
    let redemptions = 0;
    const losing: typeof fetch = async (input, init) => {
      const res = await fetch(input, init);
      const url = typeof input === "string" ? input : input instanceof URL ? input.href : input.url;
      if (url.endsWith("/v1/grants/redeem") && ++redemptions === 1) {
        await res.text();
        throw new TypeError("fetch failed: the answer was lost on the way back");
      }
      return res;
    };
    const redeemed = await kit({ fetch: losing }).verifyAndRedeem(grant, { tool: "payments.refund", arguments: ARGS });
    assert.equal(redeemed.approvalId, id);
    assert.equal(redemptions, 2, "the first answer was lost and the second attempt got the same 200");
    assert.equal((await stack.approvals.state(id)).status, "redeemed");
  });

  it("says unavailable when countersign cannot be reached, and is importable as countersign/kit", async function () {
    const { grant } = await approvedGrant();
    await assert.rejects(kit({ countersignUrl: "http://127.0.0.1:9" }).verify(grant, { tool: "payments.refund", arguments: ARGS }), { code: "unavailable" });
    // The package's own export map, as a tool author imports it (a variable: the types come from the build).
    const specifier = "countersign/kit";
    const exported = (await import(specifier)) as { createToolServerKit?: unknown };
    assert.equal(typeof exported.createToolServerKit, "function");
  });
});
