// Approver decisions are proven, count once and follow one entitlement rule: the approver endpoint,
// decision assertions verified inside the workflow, the strict payload codec, concurrent clicks,
// bounded refusals and the routed-group rule (real Temporal server).
import assert from "node:assert/strict";
import { Client, Connection } from "@temporalio/client";
import type { DataConverter, PayloadCodec } from "@temporalio/common";
import { signDecision } from "../../src/decisions/assertion.js";
import { createPayloadCodec, failureConverterPath } from "../../src/codec/payload-codec.js";
import { loadPayloadKeys } from "../../src/codec/payload-keys.js";
import { loadKeyStore, rotateKey } from "../../src/grants/key-store.js";
import { mkdtempSync } from "node:fs";
import { randomUUID } from "node:crypto";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { decideUpdate, redeemUpdate, revokeUpdate, type ApprovalState, type DecideInput } from "../../workflows/definitions.js";
import { requestPendingRefund, startStack, temporalTargetForTests, type TestStack } from "../support/stack.js";

/** A signed decision for `approver` on approval `id`, as the edge would send it. */
async function signed(stack: TestStack, id: string, approver: string, decision: "approve" | "deny" = "approve", reason?: string): Promise<DecideInput> {
  const s = await signDecision(stack.services.grantKeys, { approvalId: id, approver, decision, via: "api", reason }, { issuer: stack.config.issuer });
  return { approver, decision, via: "api", ...(reason !== undefined ? { reason } : {}), assertion: s.assertion, jti: s.jti, expiresAtMs: s.expiresAtMs };
}

/** What must not move when a decision is refused. */
function trace(state: ApprovalState): string {
  return JSON.stringify({ status: state.status, decisions: state.decisions, policy: state.policy, unrecorded: state.unrecordedRefusals ?? 0 });
}

async function connect(dataConverter?: DataConverter): Promise<{ client: Client; connection: Connection }> {
  const target = temporalTargetForTests();
  const connection = await Connection.connect({ address: target.connectionOptions.address ?? "" });
  return { client: new Client({ connection, namespace: target.namespace, ...(dataConverter !== undefined ? { dataConverter } : {}) }), connection };
}

describe("approver decisions (real Temporal server)", function () {
  let stack: TestStack;
  let originalDirectory: string;
  let originalPayments: string;
  before(async function () {
    stack = await startStack();
    originalDirectory = stack.readTenantFile("directory.yaml");
    originalPayments = stack.readTenantFile("policies/payments.cedar");
  });
  afterEach(function () {
    stack.writeTenantFile("directory.yaml", originalDirectory);
    stack.writeTenantFile("policies/payments.cedar", originalPayments);
  });
  after(async function () {
    await stack?.stop();
  });

  it("the approver endpoint decides as the user the token names, with scope countersign:approve", async function () {
    const { id } = await requestPendingRefund(stack);
    const requestScope = await stack.ids.principalToken("bob"); // countersign:request only
    const refused = await stack.http("POST", `/v1/approvals/${id}/decisions`, { authorization: `Bearer ${requestScope}` }, { decision: "approve" });
    assert.equal(refused.status, 403);
    assert.equal(refused.body.error.code, "insufficient_scope");
    const bob = await stack.ids.principalToken("bob", { scope: "countersign:approve" });
    const noReason = await stack.http("POST", `/v1/approvals/${id}/decisions`, { authorization: `Bearer ${bob}` }, { decision: "deny" });
    assert.equal(noReason.status, 400);
    assert.equal(noReason.body.error.code, "invalid_request");
    const asSomeoneElse = await stack.http("POST", `/v1/approvals/${id}/decisions`, { authorization: `Bearer ${bob}` }, { decision: "approve", approver: "carol" });
    assert.equal(asSomeoneElse.status, 400, "the approver is never a field of the body");
    assert.equal((await stack.approvals.state(id)).decisions.length, 0);
    const ok = await stack.http("POST", `/v1/approvals/${id}/decisions`, { authorization: `Bearer ${bob}` }, { decision: "approve", reason: "duplicate" });
    assert.equal(ok.status, 200, JSON.stringify(ok.body));
    assert.equal(ok.body.status, "approved");
    assert.equal(ok.body.grant, undefined, "the decision's answer carries no grant");
    assert.equal(JSON.stringify(ok.body).includes("countersign-grant"), false);
    const state = await stack.approvals.state(id);
    assert.equal(state.decisions[0]?.approver, "bob");
    assert.equal(state.decisions[0]?.via, "api");
    assert.deepEqual(state.decisions[0]?.groups, ["payments-approver"]);
    assert.match(state.decisions[0]?.assertionId ?? "", /^[A-Za-z0-9_-]{16,64}$/);
  });

  it("a client with the default data converter and no payload key cannot change any approval, nor jam it", async function () {
    const { id } = await requestPendingRefund(stack);
    const before = trace(await stack.approvals.state(id));
    const { client, connection } = await connect(); // Temporal's default converter: plain JSON payloads
    try {
      const handle = client.workflow.getHandle(id);
      await assert.rejects(handle.executeUpdate(decideUpdate, { args: [{ approver: "bob", decision: "approve", via: "api" }] }));
      await assert.rejects(handle.executeUpdate(revokeUpdate, { args: [{ by: "mallory" }] }));
      await assert.rejects(handle.executeUpdate(redeemUpdate, { args: [{ jti: "x", tool: "payments.refund", argsSha256: "y", caller: "spiffe://agents.test/tools/payments" }] }));
      await handle.signal("decide", { approver: "bob", decision: "approve", via: "api" });
    } finally {
      await connection.close();
    }
    assert.equal(trace(await stack.approvals.state(id)), before, "nothing about the approval changed");
    // The refused payloads did not jam the workflow: a legitimate approver still decides it.
    await stack.decide(id, "carol", "approve");
    assert.equal((await stack.approvals.state(id)).status, "approved");
  });

  it("a workflow started by a client without the payload key never becomes an approval", async function () {
    const { client, connection } = await connect();
    try {
      const handle = await client.workflow.start("approvalWorkflow", {
        workflowId: `appr_plain_${randomUUID()}`,
        taskQueue: stack.config.temporal.taskQueue,
        args: [{ approvalId: "x", tenant: "acme", tool: "payments.refund" }],
      });
      const state = await stack.approvals.state(handle.workflowId);
      assert.equal(state.status, "failed");
      assert.equal(state.reasonCode, "payload_rejected");
    } finally {
      await connection.close();
    }
  });

  it("an encrypted decision moved from one approval into another does not decode there", async function () {
    const a = await requestPendingRefund(stack);
    const b = await requestPendingRefund(stack);
    const keys = await loadPayloadKeys({ keyFile: stack.config.payloads.keyFile, keysFromEnv: undefined });
    // A codec that encrypts every payload for approval A, whatever the target: a copy of A's payload sent to B.
    const real = createPayloadCodec(keys);
    const forA: PayloadCodec = {
      encode: (payloads) => real.encode(payloads, { type: "workflow", namespace: "default", workflowId: a.id }),
      decode: (payloads) => real.decode(payloads, { type: "workflow", namespace: "default", workflowId: a.id }),
    };
    const { client, connection } = await connect({ payloadCodecs: [forA], failureConverterPath });
    const before = trace(await stack.approvals.state(b.id));
    try {
      await assert.rejects(client.workflow.getHandle(b.id).executeUpdate(decideUpdate, { args: [await signed(stack, b.id, "bob")] }));
    } finally {
      await connection.close();
    }
    assert.equal(trace(await stack.approvals.state(b.id)), before);
  });

  it("without a valid decision assertion a decision is refused with decision_assertion_invalid and leaves no trace", async function () {
    const { id } = await requestPendingRefund(stack);
    const other = await requestPendingRefund(stack);
    const before = trace(await stack.approvals.state(id));
    const good = await signed(stack, id, "bob");
    const keyFile = join(mkdtempSync(join(tmpdir(), "countersign-keys-")), "grant-keys.json");
    await rotateKey(keyFile);
    const strangerKeys = await loadKeyStore(keyFile);
    const byStranger = await signDecision(strangerKeys, { approvalId: id, approver: "bob", decision: "approve", via: "api" }, { issuer: stack.config.issuer });
    const forOther = await signed(stack, other.id, "bob");
    const asCarol = await signed(stack, id, "carol");
    const expired = await signDecision(stack.services.grantKeys, { approvalId: id, approver: "bob", decision: "approve", via: "api" }, { issuer: stack.config.issuer, nowSeconds: Math.floor(Date.now() / 1000) - 120 });
    // A grant of an earlier approval, presented as a decision assertion.
    const earlier = await requestPendingRefund(stack);
    await stack.decide(earlier.id, "bob", "approve");
    const grant = await stack.grantOf(earlier.id);

    const attempts: Array<[string, DecideInput]> = [
      ["no assertion", { approver: "bob", decision: "approve", via: "api" }],
      ["a stranger's key", { ...good, assertion: byStranger.assertion, jti: byStranger.jti }],
      ["another approval's assertion", { ...good, assertion: forOther.assertion, jti: forOther.jti }],
      ["another approver's assertion", { ...good, assertion: asCarol.assertion, jti: asCarol.jti }],
      ["an assertion that says approve, sent as deny", { ...good, decision: "deny", reason: "x" }],
      ["an expired assertion", { ...good, assertion: expired.assertion, jti: expired.jti, expiresAtMs: Date.now() + 60_000 }],
      ["a grant", { ...good, assertion: grant }],
      ["a tampered signature", { ...good, assertion: `${(good.assertion ?? "").slice(0, -4)}AAAA` }],
    ];
    for (const [what, input] of attempts) {
      await assert.rejects(stack.approvals.decide(id, input), (err: { code?: string }) => {
        assert.equal(err.code, "decision_assertion_invalid", what);
        return true;
      });
    }
    assert.equal(trace(await stack.approvals.state(id)), before, "no refused decision left a trace");
    // A jti seen once is spent, even by a refused attempt; a genuine, fresh assertion counts, once.
    await assert.rejects(stack.approvals.decide(id, good), { code: "decision_assertion_invalid" });
    const fresh = await signed(stack, id, "bob");
    assert.equal((await stack.approvals.decide(id, fresh)).status, "approved");
    await assert.rejects(stack.approvals.decide(id, await signed(stack, id, "carol")), { code: "already_decided" });
  });

  it("a grant never passes as a decision assertion, nor an assertion as a grant", async function () {
    const { id, body } = await requestPendingRefund(stack);
    const assertion = (await signed(stack, id, "bob")).assertion;
    const res = await stack.http("POST", "/v1/grants/redeem", await stack.toolHeaders(), { grant: assertion, tool: "payments.refund", arguments: body.arguments });
    assert.equal(res.status, 401);
    assert.equal(res.body.error.code, "invalid_grant");
  });

  it("of 20 entitled approvers deciding at once on a quorum-1 approval exactly one counts, in every trial", async function () {
    this.timeout(180_000);
    const approvers = Array.from({ length: 20 }, (_, i) => `approver${i}`);
    stack.writeTenantFile(
      "directory.yaml",
      `${originalDirectory}\n${approvers.map((a) => `- uid: { type: User, id: ${a} }\n  attrs: { tenant: { type: Tenant, id: acme } }\n  parents: [{ type: Role, id: payments-approver }]`).join("\n")}\n`,
    );
    const trials = 10;
    for (let trial = 0; trial < trials; trial++) {
      const { id } = await requestPendingRefund(stack);
      const results = await Promise.allSettled(approvers.map((a) => stack.decide(id, a, "approve")));
      const accepted = results.filter((r) => r.status === "fulfilled").length;
      const codes = results.flatMap((r) => (r.status === "rejected" ? [(r.reason as { code: string }).code] : []));
      const state = await stack.approvals.state(id);
      assert.equal(state.status, "approved", `trial ${trial}`);
      assert.equal(state.decisions.length, 1, `trial ${trial}: ${state.decisions.map((d) => d.approver).join(", ")}`);
      assert.equal(accepted, 1, `trial ${trial}`);
      assert.ok(codes.every((c) => c === "already_decided"), `trial ${trial}: ${codes.join(", ")}`);
      const grant = JSON.parse(Buffer.from((await stack.grantOf(id)).split(".")[1] ?? "", "base64url").toString()) as { approval: { approvers: string[] } };
      assert.deepEqual(grant.approval.approvers, [state.decisions[0]?.approver]);
    }
  });

  it("an approve and a deny at the same instant: exactly one counts, in every trial", async function () {
    this.timeout(180_000);
    for (let trial = 0; trial < 30; trial++) {
      const { id } = await requestPendingRefund(stack);
      const [approve, deny] = await Promise.allSettled([stack.decide(id, "bob", "approve"), stack.decide(id, "carol", "deny", "not a duplicate")]);
      const state = await stack.approvals.state(id);
      assert.equal(state.decisions.length, 1, `trial ${trial}`);
      assert.equal([approve, deny].filter((r) => r.status === "fulfilled").length, 1, `trial ${trial}`);
      assert.equal(state.status, state.decisions[0]?.decision === "approve" ? "approved" : "denied", `trial ${trial}`);
    }
  });

  it("refused decisions are capped in the record, so refusals cannot grow an approval without bound", async function () {
    const { id } = await requestPendingRefund(stack);
    for (let i = 0; i < 25; i++) {
      await assert.rejects(stack.approvals.decide(id, await signed(stack, id, "dave")), { code: "approver_not_entitled" });
    }
    const state = await stack.approvals.state(id);
    assert.equal(state.policy.filter((p) => p.stage === "approve").length, 20);
    assert.equal(state.unrecordedRefusals, 5);
    await stack.decide(id, "bob", "approve");
    assert.equal((await stack.approvals.state(id)).status, "approved");
  });

  it("an approver the approve policies permit but who is in none of the routed @approvers groups is refused", async function () {
    // Let support staff pass the approve policies: they are still not in the routed group payments-approver.
    stack.writeTenantFile(
      "policies/payments.cedar",
      `${originalPayments}\n@id("support-may-approve")\npermit (principal in Role::"support", action == Action::"approve", resource)\nwhen { principal.tenant == context.tenant };\n`,
    );
    const { id } = await requestPendingRefund(stack, {}, "alice");
    await assert.rejects(stack.decide(id, "dave", "approve"), { code: "approver_not_entitled" });
    // Past the edge's pre-check too: the workflow enforces the same rule.
    await assert.rejects(stack.approvals.decide(id, await signed(stack, id, "dave")), { code: "approver_not_entitled" });
    assert.equal((await stack.approvals.state(id)).status, "pending");
    await stack.decide(id, "bob", "approve");
    const state = await stack.approvals.state(id);
    assert.deepEqual(state.decisions.map((d) => [d.approver, d.groups]), [["bob", ["payments-approver"]]]);
  });
});
