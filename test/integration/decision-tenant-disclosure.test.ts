// Review test: the approver endpoint must not tell an approver of one tenant anything about another
// tenant's approvals. For anyone outside the approval's tenant, an existing approval (pending,
// decided or redeemed) must be indistinguishable from a missing one, as it is at GET and revoke.
import assert from "node:assert/strict";
import { requestPendingRefund, startStack, type TestStack } from "../support/stack.js";

describe("decisions endpoint: other tenants' approvals (real Temporal server)", function () {
  let stack: TestStack;
  before(async function () {
    stack = await startStack();
  });
  after(async function () {
    await stack?.stop();
  });

  async function asErin(id: string, decision: "approve" | "deny" = "approve"): Promise<{ status: number; code: unknown; message: unknown }> {
    // erin: a payments approver of tenant globex, never of acme.
    const token = await stack.ids.principalToken("erin", { scope: "countersign:approve" });
    const res = await stack.http("POST", `/v1/approvals/${id}/decisions`, { authorization: `Bearer ${token}` }, { decision, ...(decision === "deny" ? { reason: "probe" } : {}) });
    return { status: res.status, code: res.body?.error?.code, message: res.body?.error?.message };
  }

  it("an approver of another tenant learns neither that an approval exists nor its status", async function () {
    const missing = await asErin("appr_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA");
    assert.equal(missing.code, "not_found");

    const { id } = await requestPendingRefund(stack); // acme's
    assert.deepEqual(await asErin(id), missing, "a pending approval of acme answers erin like a missing one");

    await stack.decide(id, "bob", "approve");
    assert.equal((await stack.approvals.state(id)).status, "approved");
    assert.deepEqual(await asErin(id), missing, "an approved approval of acme answers erin like a missing one");

    const denied = await requestPendingRefund(stack);
    await stack.decide(denied.id, "carol", "deny", "not a duplicate");
    assert.deepEqual(await asErin(denied.id, "deny"), missing, "a denied approval of acme answers erin like a missing one");
  });
});
