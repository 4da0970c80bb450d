// A tool server whose JWT-SVID names a key (cnf.jwk) proves it on redemption (Workload-Proof-Token), as countersign demands of every workload: the kit sends the proof its hook makes.
import assert from "node:assert/strict";
import { createToolServerKit, GrantError, type ToolServerKitOptions } from "../../src/kit/index.js";
import { createWorkloadKey, mintProofToken, type WorkloadKey } from "../support/tokens.js";
import { PAYMENTS_SERVER, requestPendingRefund, startStack, type TestStack } from "../support/stack.js";

const ARGS = { payment_id: "pay_1042", amount_cents: 4200, currency: "EUR" };

describe("tool-server kit with a key-bound tool-server identity (real countersign)", function () {
  this.timeout(30_000);
  let stack: TestStack;
  let key: WorkloadKey;
  before(async function () {
    stack = await startStack();
    key = await createWorkloadKey();
  });
  after(async function () {
    await stack?.stop();
  });

  async function approvedGrant(): Promise<string> {
    const { id } = await requestPendingRefund(stack, { arguments: ARGS });
    await stack.decide(id, "bob", "approve");
    return stack.grantOf(id);
  }

  it("countersign redeems for a key-bound tool server that sends its proof (control)", async function () {
    const wit = await stack.ids.agentToken(PAYMENTS_SERVER, { claims: { cnf: { jwk: key.publicJwk } } });
    const proof = await mintProofToken(key, { aud: "http://countersign.test/v1/grants/redeem", identityToken: wit });
    const res = await stack.http("POST", "/v1/grants/redeem", { "workload-identity-token": wit, "workload-proof-token": proof }, { grant: await approvedGrant(), tool: "payments.refund", arguments: ARGS });
    assert.equal(res.status, 200, JSON.stringify(res.body));
  });

  it("the kit can redeem for a key-bound tool server (a proof hook like the agent client's proofToken)", async function () {
    const grant = await approvedGrant();
    const wit = await stack.ids.agentToken(PAYMENTS_SERVER, { claims: { cnf: { jwk: key.publicJwk } } });
    // The same hook as the agent client's proofToken.
    const options = {
      countersignUrl: stack.baseUrl,
      issuer: stack.config.issuer,
      audience: PAYMENTS_SERVER,
      workloadToken: () => wit,
      proofToken: (request: { method: string; url: string; identityToken: string }) => mintProofToken(key, { aud: "http://countersign.test/v1/grants/redeem", identityToken: request.identityToken }),
    } as ToolServerKitOptions;
    let failure: unknown;
    try {
      await createToolServerKit(options).verifyAndRedeem(grant, { tool: "payments.refund", arguments: ARGS });
    } catch (err) {
      failure = err;
    }
    assert.equal(
      failure,
      undefined,
      `the kit could not redeem: ${(failure as { code?: string } | undefined)?.code} (${failure instanceof GrantError ? "reported as a GrantError, as if the grant were at fault" : "not a GrantError"})`,
    );
  });
});
