// Tests of the intent check between a request and the tasks in the principal's token.
import assert from "node:assert/strict";
import { checkIntent } from "../../src/auth/intent.js";
import type { AgentTask, VerifiedPrincipal } from "../../src/auth/verify-principal.js";
import { AuthError } from "../../src/errors.js";

function principalWith(tasks: AgentTask[]): VerifiedPrincipal {
  return { issuer: "https://idp.test", subject: "alice", scopes: [], tasks, expiresAt: 2_000_000_000 };
}

function intentError(fn: () => void): AuthError {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof AuthError);
    return err;
  }
  assert.fail("expected intent_mismatch");
}

describe("checkIntent", () => {
  const principal = principalWith([
    { taskId: "task-1", tools: ["deploy", "rollback"], tenant: "acme" },
    { taskId: "task-2" },
  ]);

  it("allows a request whose task, tool and tenant match an authorized task", () => {
    assert.equal(checkIntent(principal, { tenant: "acme", tool: "deploy", taskId: "task-1" }), undefined);
  });

  it("allows any tool and tenant for a task that names neither", () => {
    assert.equal(checkIntent(principal, { tenant: "globex", tool: "refund", taskId: "task-2" }), undefined);
  });

  it("refuses a request for a task the principal did not authorize", () => {
    const err = intentError(() => checkIntent(principal, { tenant: "acme", tool: "deploy", taskId: "task-9" }));
    assert.equal(err.code, "intent_mismatch");
    assert.deepEqual(err.detail, { reason: "task" });
  });

  it("refuses a tool that is not in the task's tools", () => {
    const err = intentError(() => checkIntent(principal, { tenant: "acme", tool: "drop_database", taskId: "task-1" }));
    assert.equal(err.code, "intent_mismatch");
    assert.deepEqual(err.detail, { reason: "tool" });
    assert.ok(!err.message.includes("drop_database"));
  });

  it("refuses a tenant other than the task's tenant", () => {
    const err = intentError(() => checkIntent(principal, { tenant: "globex", tool: "deploy", taskId: "task-1" }));
    assert.equal(err.code, "intent_mismatch");
    assert.deepEqual(err.detail, { reason: "tenant" });
  });

  it("allows any request when the token carries no agent_task details", () => {
    assert.equal(checkIntent(principalWith([]), { tenant: "acme", tool: "anything", taskId: "whatever" }), undefined);
  });
});
