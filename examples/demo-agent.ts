// A demo agent and tool server for the example tenant, talking to `countersign dev` over HTTP.
//   node dist/examples/demo-agent.js request          file a refund request as alice's support agent
//   node dist/examples/demo-agent.js redeem <id>      wait for the grant, then redeem it as the payments tool server
import { resolve } from "node:path";
import { demoPrincipalToken, demoWorkloadToken } from "../src/demo/identities.js";

const base = process.env.COUNTERSIGN_URL ?? "http://127.0.0.1:8787";
const stateDir = resolve(process.env.COUNTERSIGN_STATE_DIR ?? ".countersign");
const refund = { payment_id: "pay_1042", amount_cents: 4200, currency: "EUR", card_number: "4242424242424242" };

async function call(method: string, path: string, headers: Record<string, string>, body?: unknown): Promise<{ status: number; json: unknown }> {
  const res = await fetch(`${base}${path}`, {
    method,
    headers: { ...headers, ...(body !== undefined ? { "content-type": "application/json" } : {}) },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  return { status: res.status, json: await res.json() };
}

async function agentHeaders(): Promise<Record<string, string>> {
  return {
    authorization: `Bearer ${await demoPrincipalToken(stateDir, "alice")}`,
    "workload-identity-token": await demoWorkloadToken(stateDir, "agents/support-bot"),
  };
}

async function request(): Promise<void> {
  const res = await call("POST", "/v1/approvals", await agentHeaders(), {
    requestId: `demo-${Date.now()}`,
    tenant: "acme",
    tool: "payments.refund",
    arguments: refund,
    intent: { taskId: "ticket-1042", summary: "Refund the duplicate charge on ticket #1042" },
  });
  console.log(res.status, JSON.stringify(res.json, null, 2));
  const id = (res.json as { id?: string }).id;
  if (id !== undefined) {
    console.log(`\nlook at it:       npx countersign show ${id}\nnow approve it:   npx countersign approve ${id} --as bob\nthen redeem it:   node dist/examples/demo-agent.js redeem ${id}`);
  }
}

async function redeem(id: string): Promise<void> {
  const res = await call("GET", `/v1/approvals/${id}?wait=30`, await agentHeaders());
  const view = res.json as { status?: string; grant?: string };
  if (view.grant === undefined) {
    console.log(res.status, JSON.stringify(res.json, null, 2));
    process.exitCode = 1;
    return;
  }
  console.log(`approval ${id} is ${view.status}; the agent hands the grant to the tool server`);
  const toolServer = { "workload-identity-token": await demoWorkloadToken(stateDir, "tools/payments") };
  const first = await call("POST", "/v1/grants/redeem", toolServer, { grant: view.grant, tool: "payments.refund", arguments: refund });
  console.log("redeem:", first.status, JSON.stringify(first.json));
  const second = await call("POST", "/v1/grants/redeem", toolServer, { grant: view.grant, tool: "payments.refund", arguments: refund });
  console.log("redeem again:", second.status, JSON.stringify(second.json));
}

const [verb, id] = process.argv.slice(2);
if (verb === "request") await request();
else if (verb === "redeem" && id !== undefined) await redeem(id);
else {
  console.error("usage: demo-agent.js request | redeem <approval-id>");
  process.exitCode = 2;
}
