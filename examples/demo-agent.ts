// A demo agent and tool server for the example tenant, talking to `countersign dev` over HTTP.
//   node dist/examples/demo-agent.js request          file a refund request as alice's support agent
//   node dist/examples/demo-agent.js redeem <id>      wait for the grant, then redeem it as the payments tool server
import { resolve } from "node:path";
import { createAgentClient } from "../src/agent/index.js";
import { demoPrincipalToken, demoWorkloadToken } from "../src/demo/identities.js";
import { CountersignError, httpStatusOf } from "../src/errors.js";
import { createToolServerKit } from "../src/kit/index.js";
import { loadConfig } from "../src/config.js";
import { readDevRecord } from "../src/runtime/dev-record.js";

const base = process.env.COUNTERSIGN_URL ?? "http://127.0.0.1:8787";
const stateDir = resolve(process.env.COUNTERSIGN_STATE_DIR ?? ".countersign");
const refund = { payment_id: "pay_1042", amount_cents: 4200, currency: "EUR", card_number: "4242424242424242" };

// The agent: alice's support bot, with alice's token and its own workload identity.
const agent = createAgentClient({
  countersignUrl: base,
  accessToken: () => demoPrincipalToken(stateDir, "alice"),
  workloadToken: () => demoWorkloadToken(stateDir, "agents/support-bot"),
});

// The payments tool server: accepts a grant only after verifying and redeeming it.
const paymentsServer = createToolServerKit({
  countersignUrl: base,
  // The grants' issuer is the server's publicUrl: read from the config of the running `countersign dev`.
  issuer: issuerOfRunningDev() ?? base,
  audience: "spiffe://demo.test/tools/payments",
  workloadToken: () => demoWorkloadToken(stateDir, "tools/payments"),
});

function issuerOfRunningDev(): string | undefined {
  const record = readDevRecord(stateDir);
  return record === undefined ? undefined : loadConfig(record.configFile).issuer;
}

function failure(err: unknown): string {
  if (!(err instanceof CountersignError)) throw err;
  return `${httpStatusOf(err.code)} ${JSON.stringify(err.toJSON())}`;
}

async function request(): Promise<void> {
  try {
    const view = await agent.requestApproval({
      requestId: `demo-${Date.now()}`,
      tenant: "acme",
      tool: "payments.refund",
      arguments: refund,
      intent: { taskId: "ticket-1042", summary: "Refund the duplicate charge on ticket #1042" },
    });
    // The grant is the agent's to hand to the tool server, not the terminal's to show.
    const shown = view.grant !== undefined ? { ...view, grant: "(held by the agent)" } : view;
    console.log(view.status === "pending" ? 202 : 200, JSON.stringify(shown, null, 2));
    console.log(`\nlook at it:       npx countersign show ${view.id}\nnow approve it:   npx countersign approve ${view.id} --as bob\nthen redeem it:   node dist/examples/demo-agent.js redeem ${view.id}`);
  } catch (err) {
    console.log(failure(err));
    process.exitCode = 1;
  }
}

async function redeem(id: string): Promise<void> {
  const view = await agent.waitForDecision(id, { timeoutMs: 30_000 });
  if (view.grant === undefined) {
    console.log(JSON.stringify(view, null, 2));
    process.exitCode = 1;
    return;
  }
  console.log(`approval ${id} is ${view.status}; the agent hands the grant to the tool server`);
  const call = { tool: "payments.refund", arguments: refund };
  const first = await paymentsServer.verifyAndRedeem(view.grant, call);
  console.log("redeem: 200", JSON.stringify({ principal: first.principal, agent: first.agent, approvalId: first.approvalId }));
  try {
    await paymentsServer.verifyAndRedeem(view.grant, call);
    console.log("redeem again: 200 (a second redemption must never succeed)");
    process.exitCode = 1;
  } catch (err) {
    console.log("redeem again:", failure(err));
  }
}
const [verb, id] = process.argv.slice(2);
if (verb === "request") await request();
else if (verb === "redeem" && id !== undefined) await redeem(id);
else {
  console.error("usage: demo-agent.js request | redeem <approval-id>");
  process.exitCode = 2;
}
