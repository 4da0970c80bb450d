// A grant is one-shot even across runs: a namespace attacker without the payload key who starts a
// new run under a closed approval's id, with the input copied from its history, never gets the
// already-redeemed grant id minted again (the jti binds the run; found by a hostile review; real
// Temporal server).
import assert from "node:assert/strict";
import { argsSha256 } from "../../src/grants/args-hash.js";
import { TEST_PRINCIPAL_ISSUER } from "../support/tokens.js";
import proto from "@temporalio/proto";
import { randomUUID } from "node:crypto";
import { AGENT, PAYMENTS_SERVER, refundRequest, requestPendingRefund, startStack, temporalTargetForTests, type TestStack } from "../support/stack.js";
import { approvalWorkflow } from "../../workflows/approval.js";
import type { ApprovalInput } from "../../workflows/definitions.js";

describe("a closed approval re-run from its own history", function () {
  let stack: TestStack;
  before(async function () {
    stack = await startStack();
  });
  after(async function () {
    await stack?.stop();
  });

  it("a redeemed one-shot grant never redeems a second time, whatever runs under its approval id later", async function () {
    const body = refundRequest({ tool: "kb.search", arguments: { q: "refund policy" } });
    const filed = await stack.http("POST", "/v1/approvals", await stack.agentHeaders("alice"), body);
    assert.equal(filed.body.status, "approved", JSON.stringify(filed.body));
    const id = filed.body.id as string;
    const grant = filed.body.grant as string;
    const first = await stack.http("POST", "/v1/grants/redeem", await stack.toolHeaders("spiffe://agents.test/tools/kb"), { grant, tool: "kb.search", arguments: body.arguments });
    assert.equal(first.status, 200, JSON.stringify(first.body));
    const again = await stack.http("POST", "/v1/grants/redeem", await stack.toolHeaders("spiffe://agents.test/tools/kb"), { grant, tool: "kb.search", arguments: body.arguments });
    assert.equal(again.status, 409, "one-shot before the attack");

    // The attacker: raw gRPC, no payload key. Copy the encrypted input and start a new run under the same id.
    const service = stack.client.workflowService;
    const namespace = temporalTargetForTests().namespace;
    const history = await service.getWorkflowExecutionHistory({ namespace, execution: { workflowId: id } });
    const started = history.history?.events?.[0]?.workflowExecutionStartedEventAttributes;
    assert.ok(started?.input !== undefined && started.input !== null);
    await service.startWorkflowExecution({
      namespace,
      workflowId: id,
      workflowType: { name: "approvalWorkflow" },
      taskQueue: { name: stack.config.temporal.taskQueue },
      input: started.input,
      requestId: randomUUID(),
      identity: "attacker",
      workflowIdReusePolicy: proto.temporal.api.enums.v1.WorkflowIdReusePolicy.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE,
    });
    for (let i = 0; i < 100 && (await stack.approvals.state(id)).status === "verifying"; i++) await new Promise((r) => setTimeout(r, 50));

    const replayed = await stack.http("POST", "/v1/grants/redeem", await stack.toolHeaders("spiffe://agents.test/tools/kb"), { grant, tool: "kb.search", arguments: body.arguments });
    assert.notEqual(replayed.status, 200, `the already-redeemed grant redeemed again: ${JSON.stringify(replayed.body)}`);
  });

  it("a run started long after its request was received (a copied input started again) never becomes an approval", async function () {
    const id = `appr_stale_${Date.now()}`;
    const { state } = await stack.approvals.start(
      {
        approvalId: id,
        tenant: "acme",
        tool: "payments.refund",
        toolAudience: PAYMENTS_SERVER,
        arguments: { payment_id: "pay_1042" },
        argsSha256: argsSha256({ payment_id: "pay_1042" }),
        intent: { taskId: "ticket-1042", summary: "Refund" },
        principal: { issuer: TEST_PRINCIPAL_ISSUER, subject: "alice" },
        agent: { spiffeId: AGENT },
        agentToken: await stack.ids.agentToken(AGENT),
        defaultDeadlineSeconds: 600,
        requestedAtMs: Date.now() - 60 * 60 * 1000,
      },
      () => true,
    );
    const final = state.status === "failed" ? state : await stack.approvals.state(id);
    assert.equal(final.status, "failed");
    assert.equal(final.reasonCode, "request_stale");
    assert.equal(final.grant, undefined);
  });
  it("a stale copy started under a denied approval's id does not make its requestId file a new approval", async function () {
    const { id, body } = await requestPendingRefund(stack);
    await stack.decide(id, "bob", "deny", "not this customer");
    assert.equal((await stack.approvals.state(id)).status, "denied");

    // The attacker (namespace write access) starts a copy of the approval's input more than 10 minutes
    // after its receipt: the run refuses it as request_stale and becomes the id's latest run.
    const args = body.arguments as ApprovalInput["arguments"];
    const copy: ApprovalInput = {
      approvalId: id,
      tenant: "acme",
      tool: "payments.refund",
      toolAudience: PAYMENTS_SERVER,
      arguments: args,
      argsSha256: argsSha256(args),
      intent: body.intent as ApprovalInput["intent"],
      principal: { issuer: TEST_PRINCIPAL_ISSUER, subject: "alice" },
      agent: { spiffeId: AGENT },
      agentToken: await stack.ids.agentToken(AGENT),
      defaultDeadlineSeconds: 600,
      requestedAtMs: Date.now() - 11 * 60 * 1000,
    };
    const attack = await stack.client.workflow.start(approvalWorkflow, {
      workflowId: id,
      taskQueue: stack.config.temporal.taskQueue,
      args: [copy],
      workflowIdReusePolicy: "ALLOW_DUPLICATE",
    });
    assert.equal((await attack.result()).reasonCode, "request_stale");

    // The agent retries its filing: the denial stands, nobody is asked again.
    const again = await stack.http("POST", "/v1/approvals", await stack.agentHeaders("alice"), body);
    assert.equal(again.status, 409, `a re-filing after the stale copy answered ${again.status} ${JSON.stringify(again.body)}`);
    assert.equal(again.body.error.code, "idempotency_conflict");
    const latest = await stack.client.workflow.getHandle(id).describe();
    assert.equal(latest.runId, attack.firstExecutionRunId, "no new run was started under the denied approval's id");
  });
});
