// Races inside one approval, made deterministic: a latch holds one activity mid-flight, the
// competing message or timer lands, the latch opens, and exactly one outcome stands (real Temporal
// server). Identity, the first policy decision, the re-check at quorum and minting are local
// activities (in the workflow task); the decide and redeem handlers' checks are regular ones.
import assert from "node:assert/strict";
import proto from "@temporalio/proto";
import { CountersignError } from "../../src/errors.js";
import { revokeUpdate, type ApprovalState } from "../../workflows/definitions.js";
import { Latches } from "../support/latches.js";
import { requestPendingRefund, startStack, type TestStack } from "../support/stack.js";

const { temporal } = proto;

/** Resolves with the error code a rejected decision got. */
async function refusal(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (err) {
    if (err instanceof CountersignError) return err.code;
    throw err;
  }
  assert.fail("the decision was accepted");
}

/** Wait until the server has admitted Update `updateId` (it waits there for the workflow). */
async function admitted(stack: TestStack, workflowId: string, updateId: string): Promise<void> {
  const service = stack.client.workflowService;
  for (;;) {
    try {
      await service.pollWorkflowExecutionUpdate({
        namespace: stack.client.options.namespace,
        updateRef: { workflowExecution: { workflowId }, updateId },
        waitPolicy: { lifecycleStage: temporal.api.enums.v1.UpdateWorkflowExecutionLifecycleStage.UPDATE_WORKFLOW_EXECUTION_LIFECYCLE_STAGE_ADMITTED },
      });
      return;
    } catch (err) {
      if ((err as { code?: unknown }).code !== 5) throw err; // NOT_FOUND until the server has it
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

async function finalState(stack: TestStack, id: string): Promise<ApprovalState> {
  return (await stack.client.workflow.getHandle(id).result()) as ApprovalState;
}

function grantApprovers(token: string): string[] {
  return (JSON.parse(Buffer.from(token.split(".")[1] ?? "", "base64url").toString()) as { approval: { approvers: string[] } }).approval.approvers;
}

describe("races inside one approval (latched activities, real Temporal server)", function () {
  const latches = new Latches();
  let stack: TestStack;
  let original: { directory: string; payments: string };
  before(async function () {
    stack = await startStack({ wrapActivities: latches.wrap });
    original = { directory: stack.readTenantFile("directory.yaml"), payments: stack.readTenantFile("policies/payments.cedar") };
    // A third payments approver in acme, to deny against a quorum of two.
    stack.writeTenantFile("directory.yaml", `${original.directory}\n- uid: { type: User, id: frank }\n  attrs: { tenant: { type: Tenant, id: acme } }\n  parents: [{ type: Role, id: payments-approver }]\n`);
  });
  afterEach(function () {
    stack.writeTenantFile("policies/payments.cedar", original.payments);
  });
  after(async function () {
    await stack?.stop();
  });

  it("a revocation sent while the grant is being minted takes effect after it: revoked, and the minted grant is refused", async function () {
    const { id, body } = await requestPendingRefund(stack);
    // At quorum the re-check and the mint are one local activity (patch decision-settle-v1).
    const mint = latches.close("settleApproval");
    const decision = stack.decide(id, "bob", "approve");
    await mint.reached;
    // Settling is a local activity: the workflow task that runs it is open, and a message waits at
    // the server until it completes. Send the revocation and wait until the server has admitted it.
    const updateId = `revoke-during-mint-${id}`;
    const revocation = stack.client.workflow.getHandle(id).executeUpdate(revokeUpdate, { args: [{ by: "alice", reason: "wrong ticket" }], updateId });
    await admitted(stack, id, updateId);
    mint.open();
    assert.equal((await revocation).status, "revoked");
    await decision;
    const state = await finalState(stack, id);
    assert.equal(state.status, "revoked");
    assert.equal(state.reasonCode, "revoked");
    // Exactly one order: the mint finished, then the revocation; the grant it minted stays on record and is dead.
    const grant = state.grant?.token ?? "";
    assert.notEqual(grant, "", "the grant minted before the revocation is on record");
    const res = await stack.http("POST", "/v1/grants/redeem", await stack.toolHeaders(), { grant, tool: "payments.refund", arguments: body.arguments });
    assert.equal(res.body.error?.code, "invalid_grant", "the grant minted before the revocation is refused");
    const view = await stack.http("GET", `/v1/approvals/${id}`, await stack.agentHeaders("alice"));
    assert.equal(view.body.status, "revoked");
    assert.equal(view.body.grant, undefined, "a revoked approval shows no grant");
  });

  it("a denial that lands while the last approval of a quorum is checked wins; the approval is refused and no grant is minted", async function () {
    const { id } = await requestPendingRefund(stack, { tool: "payments.bulk_refund", arguments: { payment_ids: ["pay_1", "pay_2"] } });
    assert.equal((await stack.decide(id, "bob", "approve")).status, "pending");
    const check = latches.close("authorizeDecision", (input) => input.approver === "carol");
    const last = stack.decide(id, "carol", "approve");
    await check.reached;
    assert.equal((await stack.decide(id, "frank", "deny", "duplicate of another refund")).status, "denied");
    check.open();
    assert.equal(await refusal(last), "already_decided");
    const state = await finalState(stack, id);
    assert.equal(state.reasonCode, "denied_by_approver");
    assert.deepEqual(state.decisions.map((d) => [d.approver, d.decision]), [["bob", "approve"], ["frank", "deny"]]);
    assert.equal(state.grant, undefined);
    assert.equal(state.policy.filter((p) => p.stage === "decision").length, 0, "no re-check ran");
  });

  it("the last approval of a quorum that lands while a denial is checked wins; the denial is refused and the grant names exactly the quorum", async function () {
    const { id } = await requestPendingRefund(stack, { tool: "payments.bulk_refund", arguments: { payment_ids: ["pay_1", "pay_2"] } });
    assert.equal((await stack.decide(id, "bob", "approve")).status, "pending");
    const check = latches.close("authorizeDecision", (input) => input.approver === "frank");
    const denial = stack.decide(id, "frank", "deny", "duplicate of another refund");
    await check.reached;
    assert.equal((await stack.decide(id, "carol", "approve")).status, "approved");
    check.open();
    assert.equal(await refusal(denial), "already_decided");
    const state = await stack.approvals.state(id);
    assert.equal(state.status, "approved");
    assert.deepEqual(state.decisions.map((d) => [d.approver, d.decision]), [["bob", "approve"], ["carol", "approve"]]);
    assert.deepEqual(grantApprovers(await stack.grantOf(id)), ["bob", "carol"]);
  });

  it("the deadline passing while the last approval is checked wins: expired, the approval refused and not recorded", async function () {
    stack.writeTenantFile("policies/payments.cedar", original.payments.replace(/@deadline_seconds\("\d+"\)/g, '@deadline_seconds("2")'));
    const { id } = await requestPendingRefund(stack);
    const check = latches.close("authorizeDecision", (input) => input.approver === "bob");
    const decision = stack.decide(id, "bob", "approve");
    await check.reached;
    assert.equal((await stack.approvals.waitForStatusChange(id, ["pending"], 30_000)).status, "expired");
    check.open();
    assert.equal(await refusal(decision), "approval_not_pending");
    const state = await finalState(stack, id);
    assert.equal(state.reasonCode, "approval_deadline_passed");
    assert.deepEqual(state.decisions, []);
    assert.deepEqual(state.policy.map((p) => p.stage), ["request"], "the late verdict is not recorded");
    assert.equal(state.grant, undefined);
  });

  it("an approval that made the quorum before the deadline is not undone by the deadline passing during the re-check", async function () {
    stack.writeTenantFile("policies/payments.cedar", original.payments.replace(/@deadline_seconds\("\d+"\)/g, '@deadline_seconds("2")'));
    const { id } = await requestPendingRefund(stack);
    const deadlineAtMs = (await stack.approvals.state(id)).routing?.deadlineAtMs ?? 0; // read now: a query waits while the re-check holds the workflow task
    const recheck = latches.close("settleApproval"); // the decision-time re-check (with the mint, one local activity)
    const decision = stack.decide(id, "bob", "approve");
    await recheck.reached;
    await new Promise((r) => setTimeout(r, Math.max(0, deadlineAtMs - Date.now()) + 500)); // time itself is the competitor
    recheck.open();
    assert.equal((await decision).status, "approved");
    const state = await stack.approvals.state(id);
    assert.equal(state.status, "approved");
    assert.ok(state.grant !== undefined);
  });
});

describe("grant expiry against a redemption (latched activities, real Temporal server)", function () {
  const latches = new Latches();
  let stack: TestStack;
  before(async function () {
    stack = await startStack({ wrapActivities: latches.wrap, grantTtlSeconds: 3 });
  });
  after(async function () {
    await stack?.stop();
  });

  it("a redemption accepted before the grant expired completes once, even though its re-check ends after expiry", async function () {
    const { id, body } = await requestPendingRefund(stack);
    await stack.decide(id, "bob", "approve");
    const expiresAtMs = (await stack.approvals.state(id)).grant?.expiresAtMs ?? 0;
    const recheck = latches.close("authorizeRequest", (_, local) => !local);
    const redeem = { grant: await stack.grantOf(id), tool: "payments.refund", arguments: body.arguments };
    const redemption = stack.http("POST", "/v1/grants/redeem", await stack.toolHeaders(), redeem);
    await recheck.reached;
    assert.ok(Date.now() < expiresAtMs, "the redemption was accepted before expiry");
    await new Promise((r) => setTimeout(r, Math.max(0, expiresAtMs - Date.now()) + 500)); // the expiry timer fires meanwhile
    recheck.open();
    const res = await redemption;
    assert.equal(res.status, 200, JSON.stringify(res.body));
    const state = await finalState(stack, id);
    assert.equal(state.status, "redeemed");
    assert.equal(state.reasonCode, undefined, "not marked expired");
    assert.ok((state.redeemedAtMs ?? 0) >= expiresAtMs, "the burn completed after the grant's expiry");
    const again = await stack.http("POST", "/v1/grants/redeem", await stack.toolHeaders(), redeem);
    assert.notEqual(again.status, 200);
  });
});
