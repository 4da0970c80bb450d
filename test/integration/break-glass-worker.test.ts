// Break-glass is the deployment's decision, not the signer's: the worker refuses `via: break-glass`
// decisions unless its own config enables them, whatever config an operator's CLI was given
// (found by a hostile review; real Temporal server).
import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parse, stringify } from "yaml";
import { main as cli } from "../../src/cli/index.js";
import { signDecision } from "../../src/decisions/assertion.js";
import { requestPendingRefund, startStack, type TestStack } from "../support/stack.js";

async function run(args: string[]): Promise<{ code: number; out: string }> {
  const out: string[] = [];
  const log = console.log;
  const error = console.error;
  console.log = (...a: unknown[]) => out.push(a.map(String).join(" "));
  console.error = (...a: unknown[]) => out.push(a.map(String).join(" "));
  try {
    return { code: await cli(["node", "countersign", ...args]), out: out.join("\n") };
  } finally {
    console.log = log;
    console.error = error;
    process.exitCode = undefined;
  }
}

describe("break-glass with the deployment's break-glass switched off", function () {
  let stack: TestStack;
  before(async function () {
    stack = await startStack(); // approvals.breakGlass.enabled: false for the worker and the server
  });
  after(async function () {
    await stack?.stop();
  });

  it("an operator's own copy of the config with breakGlass enabled does not make break-glass decisions count", async function () {
    const { id } = await requestPendingRefund(stack);
    // The operator copies the deployment's config next to it and flips the switch for their CLI only.
    const raw = parse(readFileSync(stack.configFile, "utf8")) as { approvals: Record<string, unknown> };
    raw.approvals.breakGlass = { enabled: true };
    const mine = join(stack.dir, "my-cli.config.yaml");
    writeFileSync(mine, stringify(raw));
    const { code, out } = await run(["--config", mine, "approve", id, "--break-glass", "--as", "bob", "--reason", "pager duty"]);
    const state = await stack.approvals.state(id);
    assert.equal(state.decisions.length, 0, `the worker, with break-glass off, recorded a break-glass decision (cli exit ${code}: ${out})`);
    assert.equal(state.status, "pending");
  });

  it("a break-glass decision assertion sent straight to the workflow is refused when the worker's config disables break-glass", async function () {
    const { id } = await requestPendingRefund(stack);
    const s = await signDecision(stack.services.grantKeys, { approvalId: id, approver: "bob", decision: "approve", via: "break-glass", reason: "pager", osUser: "root" }, { issuer: stack.config.issuer });
    await assert.rejects(
      stack.approvals.decide(id, { approver: "bob", decision: "approve", via: "break-glass", reason: "pager", osUser: "root", assertion: s.assertion, jti: s.jti, expiresAtMs: s.expiresAtMs }),
      (err: { code?: string }) => err.code === "break_glass_disabled",
    );
    assert.equal((await stack.approvals.state(id)).status, "pending");
  });
});
