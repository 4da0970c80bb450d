// At quorum the workflow settles an approval in one step (patch decision-settle-v1): the decision-time
// re-check and the grant's minting are one local activity, and the grant is signed only when the
// re-check still lets the approval through (README "Performance").
import assert from "node:assert/strict";
import type { temporal } from "@temporalio/proto";
import { MockActivityEnvironment } from "@temporalio/testing";
import { createActivities } from "../../activities/index.js";
import { activityDeps } from "../../src/runtime/services.js";
import type { RequestDecision } from "../../src/policy/engine.js";
import type { SettleInput, SettleResult } from "../../workflows/definitions.js";
import { requestPendingRefund, startStack, type TestStack } from "../support/stack.js";

type HistoryEvent = temporal.api.history.v1.IHistoryEvent;

/** The activity types of the history's local activity markers, in order (the marker's `data` is Temporal's own plain JSON). */
function localActivities(events: HistoryEvent[]): string[] {
  return events
    .filter((e) => e.markerRecordedEventAttributes?.markerName === "core_local_activity")
    .map((e) => (JSON.parse(Buffer.from(e.markerRecordedEventAttributes?.details?.data?.payloads?.[0]?.data ?? []).toString("utf8")) as { activity_type?: string }).activity_type ?? "?");
}

describe("an approval settles in one step at quorum (real Temporal server)", function () {
  let stack: TestStack;
  let directory: string;
  before(async function () {
    stack = await startStack();
    directory = stack.readTenantFile("directory.yaml");
  });
  afterEach(function () {
    stack.writeTenantFile("directory.yaml", directory);
  });
  after(async function () {
    await stack?.stop();
  });

  async function historyOf(id: string): Promise<HistoryEvent[]> {
    const history = await stack.client.workflow.getHandle(id).fetchHistory();
    return history.events ?? [];
  }

  it("the re-check and the mint are one local activity, and the grant carries the re-check's policy version", async function () {
    const { id } = await requestPendingRefund(stack);
    assert.equal((await stack.decide(id, "bob", "approve")).status, "approved");
    assert.deepEqual(localActivities(await historyOf(id)), ["verifyAgentIdentity", "authorizeRequest", "settleApproval"]);
    const state = await stack.approvals.state(id);
    assert.deepEqual(
      state.policy.map((p) => `${p.stage}:${p.decision}`),
      ["request:allow", "approve:allow", "decision:allow"],
    );
    const claims = JSON.parse(Buffer.from((await stack.grantOf(id)).split(".")[1] ?? "", "base64url").toString("utf8")) as { approval?: { policy_version?: string; approvers?: string[] } };
    assert.equal(claims.approval?.policy_version, state.policy[2]?.policyVersion);
    assert.deepEqual(claims.approval?.approvers, ["bob"]);
  });

  it("a re-check that denies at quorum: denied, one settle step, no grant", async function () {
    const { id } = await requestPendingRefund(stack);
    stack.writeTenantFile("directory.yaml", directory.replace(/(id: alice \}[\s\S]*?parents: )\[[^\]]*\]/, "$1[]"));
    const decided = await stack.decide(id, "bob", "approve");
    assert.equal(decided.status, "denied");
    assert.equal(decided.reasonCode, "policy_denied");
    assert.deepEqual(localActivities(await historyOf(id)), ["verifyAgentIdentity", "authorizeRequest", "settleApproval"]);
    const state = await stack.approvals.state(id);
    assert.equal(state.grant, undefined);
    assert.deepEqual(
      state.policy.map((p) => `${p.stage}:${p.decision}`),
      ["request:allow", "approve:allow", "decision:deny"],
    );
  });

  describe("the settling activity", function () {
    const refund = (): SettleInput => ({
      facts: { tenant: "acme", principal: "alice", agent: "spiffe://example.test/agents/support-bot", tool: "payments.refund", taskId: "T-1", summary: "refund a duplicate charge", argsSha256: "a".repeat(43) },
      approvals: 1,
      grant: { audience: "spiffe://example.test/tools/payments", principal: "alice", agent: "spiffe://example.test/agents/support-bot", tenant: "acme", tool: "payments.refund", argsSha256: "a".repeat(43), approvalId: "appr-settle-1", approvers: ["bob"] },
    });
    /** The real activities over the stack's services, with policy answering `verdict`, and a key store that counts signatures. */
    function activitiesWith(verdict: RequestDecision): { activities: ReturnType<typeof createActivities>; signed: () => number } {
      const deps = activityDeps(stack.services);
      let signatures = 0;
      const grantKeys = new Proxy(deps.grantKeys, {
        get(target, prop, receiver) {
          const value: unknown = Reflect.get(target, prop, receiver);
          if (typeof value !== "function") return value;
          return (...args: unknown[]) => {
            signatures++;
            return (value as (...a: unknown[]) => unknown).apply(target, args);
          };
        },
      });
      return { activities: createActivities({ ...deps, grantKeys, policy: { ...deps.policy, authorizeRequest: () => verdict } }), signed: () => signatures };
    }
    const required = (quorum: number): RequestDecision => ({
      decision: "allow",
      approval: "required",
      routing: { approverGroups: ["payments-approver"], quorum },
      policyVersion: "sha256:v2",
      policyIds: ["refunds"],
    });

    it("signs nothing when policy denies now, or asks for more approvals than were given", async function () {
      const env = new MockActivityEnvironment();
      for (const verdict of [{ decision: "deny", reason: "policy_denied", message: "no", policyVersion: "sha256:v2", policyIds: [] } as RequestDecision, required(2)]) {
        const { activities, signed } = activitiesWith(verdict);
        const result: SettleResult = await env.run((i: SettleInput) => activities.settleApproval(i), refund());
        assert.equal(result.grant, undefined);
        assert.deepEqual(result.verdict, verdict);
        assert.equal(signed(), 0, "no key was touched");
      }
    });

    it("signs the grant with the re-check's policy version when the approvals given are enough", async function () {
      const { activities } = activitiesWith(required(1));
      const result: SettleResult = await new MockActivityEnvironment().run((i: SettleInput) => activities.settleApproval(i), refund());
      assert.ok(result.grant !== undefined);
      const claims = JSON.parse(Buffer.from(result.grant.token.split(".")[1] ?? "", "base64url").toString("utf8")) as { approval?: { policy_version?: string }; jti?: string };
      assert.equal(claims.approval?.policy_version, "sha256:v2");
      assert.equal(claims.jti, result.grant.jti);
    });
  });
});
