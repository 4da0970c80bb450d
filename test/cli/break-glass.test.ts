// Break-glass: an operator decides without the approver's token only when the config enables it;
// the decision is recorded as via break-glass with the operating-system user, shown by audit and
// counted in the worker's metrics (real Temporal server).
import assert from "node:assert/strict";
import { runCli } from "../support/run-cli.js";
import { userInfo } from "node:os";
import { requestPendingRefund, startStack, type TestStack } from "../support/stack.js";

/** The worker runtime's Prometheus text (the test runner serves it on loopback). */
async function workerMetric(name: string): Promise<number> {
  const url = process.env.COUNTERSIGN_TEST_WORKER_METRICS;
  assert.ok(url !== undefined, "the test runner serves worker metrics");
  const text = await (await fetch(url)).text();
  return text
    .split("\n")
    .filter((line) => line.startsWith(name) && !line.startsWith("#"))
    .reduce((sum, line) => sum + Number(line.split(" ").at(-1)), 0);
}

describe("break-glass decisions (real Temporal server)", function () {
  describe("off (the default)", function () {
    let stack: TestStack;
    before(async function () {
      stack = await startStack();
    });
    after(async function () {
      await stack?.stop();
    });

    it("is refused with break_glass_disabled and changes nothing", async function () {
      const { id } = await requestPendingRefund(stack);
      const { code, all: out } = await runCli(["--config", stack.configFile, "approve", id, "--break-glass", "--as", "bob", "--reason", "pager duty"]);
      assert.equal(code, 1);
      assert.match(out, /break_glass_disabled/);
      const state = await stack.approvals.state(id);
      assert.equal(state.status, "pending");
      assert.deepEqual(state.decisions, []);
    });
  });

  describe("enabled", function () {
    let stack: TestStack;
    before(async function () {
      stack = await startStack({ breakGlass: true });
    });
    after(async function () {
      await stack?.stop();
    });

    it("records via break-glass with the operating-system user, shows it in audit and counts it", async function () {
      const before = await workerMetric("countersign_break_glass_decisions");
      const { id } = await requestPendingRefund(stack);
      const missingReason = await runCli(["--config", stack.configFile, "approve", id, "--break-glass", "--as", "bob"]);
      assert.equal(missingReason.code, 2, "break-glass needs a reason");
      const { code, all: out } = await runCli(["--config", stack.configFile, "approve", id, "--break-glass", "--as", "bob", "--reason", "pager duty"]);
      assert.equal(code, 0, out);
      const state = await stack.approvals.state(id);
      assert.equal(state.status, "approved");
      assert.equal(state.decisions[0]?.via, "break-glass");
      assert.equal(state.decisions[0]?.osUser, userInfo().username);
      const audit = await runCli(["--config", stack.configFile, "audit", id]);
      assert.ok(audit.all.includes(`bob approves via break-glass: "pager duty"  groups [payments-approver]  operating-system user ${userInfo().username}`), audit.all);
      assert.equal(await workerMetric("countersign_break_glass_decisions"), before + 1);
    });

    it("still needs an entitled approver: break-glass as the requester or a non-approver is refused", async function () {
      const { id } = await requestPendingRefund(stack);
      assert.match((await runCli(["--config", stack.configFile, "approve", id, "--break-glass", "--as", "alice", "--reason", "x"])).all, /approver_not_entitled|self_approval_forbidden/);
      assert.match((await runCli(["--config", stack.configFile, "approve", id, "--break-glass", "--as", "dave", "--reason", "x"])).all, /approver_not_entitled/);
      assert.equal((await stack.approvals.state(id)).status, "pending");
    });
  });
});
