// An MCP agent for the example tenant, talking to the gateway of the running `countersign dev`:
// it discovers how to authenticate (401 → resource metadata), lists the tools, looks a payment up (no
// approver needed), then asks to refund it: the call waits for an approver, printing progress, and
// resumes with the tool's result once someone approves (`npx countersign approve <id> --as bob`).
//   node dist/examples/agent.js
import { resolve } from "node:path";
import { Client, StreamableHTTPClientTransport } from "@modelcontextprotocol/client";
import { loadConfig } from "../src/config.js";
import { DEMO_SCOPE, demoPrincipalToken, demoWorkloadToken } from "../src/demo/identities.js";
import { readDevRecord } from "../src/runtime/dev-record.js";

const stateDir = resolve(process.env.COUNTERSIGN_STATE_DIR ?? ".countersign");
const record = readDevRecord(stateDir);
if (record === undefined) {
  console.error("no running `countersign dev` found (start it with `npm start`)");
  process.exit(1);
}
const mcp = loadConfig(record.configFile).mcp;
if (mcp === undefined) {
  console.error(`the config ${record.configFile} has no mcp section: the gateway is off`);
  process.exit(1);
}
const endpoint = new URL(new URL(mcp.resource).pathname, record.serverUrl);
const workloadToken = await demoWorkloadToken(stateDir, "agents/support-bot");

type Result = { content: Array<{ type: string; text?: string }>; isError?: boolean; _meta?: Record<string, unknown> };
const text = (r: Result): string => r.content.map((c) => c.text ?? `[${c.type}]`).join("\n");

// 1. Without a token the gateway answers 401 and says where its resource metadata is (RFC 9728).
const challenge = await fetch(endpoint, { method: "POST", headers: { "content-type": "application/json", accept: "application/json, text/event-stream" }, body: "{}" });
const metadataUrl = /resource_metadata="([^"]+)"/.exec(challenge.headers.get("www-authenticate") ?? "")?.[1];
if (challenge.status !== 401 || metadataUrl === undefined) throw new Error(`expected a 401 naming the resource metadata, got ${challenge.status}`);
const metadata = (await (await fetch(metadataUrl)).json()) as { resource: string; authorization_servers: string[] };
console.log(`401 from ${endpoint.href}: resource ${metadata.resource}, authorization server ${metadata.authorization_servers.join(", ")}`);
// 2. A token for that resource (RFC 8707) from the demo IdP, standing in for the OAuth flow: alice's.
const accessToken = await demoPrincipalToken(stateDir, "alice", 600, DEMO_SCOPE, metadata.resource);

// 3. The SDK's client: the access token as bearer, the agent's workload identity on every request.
const client = new Client({ name: "countersign-example-agent", version: "0.1.0" }, { versionNegotiation: { mode: "auto" } });
const withIdentity: typeof fetch = (input, init) => {
  const headers = new Headers(init?.headers);
  headers.set("workload-identity-token", workloadToken);
  return fetch(input, { ...init, headers });
};
await client.connect(new StreamableHTTPClientTransport(endpoint, { authProvider: { token: () => Promise.resolve(accessToken) }, fetch: withIdentity }));
console.log(`connected (protocol ${client.getNegotiatedProtocolVersion?.() ?? client.getProtocolEra()})\n`);

const { tools } = await client.listTools();
for (const tool of tools) console.log(`tool ${tool.name}: ${(tool.description ?? "").split("\n").filter(Boolean).at(-1) ?? ""}`);

// Each run of the demo is a new request (the same call within a run attaches to the same approval).
const intent = { "countersign/intent": { taskId: "ticket-1042", summary: "Refund the duplicate charge on ticket #1042" }, "countersign/requestId": `demo-${Date.now()}` };

console.log("\n→ payments.lookup {payment_id: pay_1042}");
console.log(text((await client.callTool({ name: "payments.lookup", arguments: { payment_id: "pay_1042" }, _meta: intent }))));

const refund = { payment_id: "pay_1042", amount_cents: 4200, currency: "EUR" };
console.log(`\n→ payments.refund ${JSON.stringify(refund)}`);
let told = false;
for (;;) {
  const result = (await client.callTool(
    { name: "payments.refund", arguments: refund, _meta: intent },
    {
      resetTimeoutOnProgress: true,
      onprogress: (p) => {
        const message = p.message ?? "";
        console.log(`  … ${message}`);
        const id = /appr_[A-Za-z0-9_-]{32}/.exec(message)?.[0];
        if (!told && id !== undefined) {
          told = true;
          console.log(`  approve it in another terminal:  npx countersign approve ${id} --as bob`);
        }
      },
    },
  )) as Result;
  const approval = result._meta?.["countersign/approval"] as { resume?: boolean } | undefined;
  if (approval?.resume === true) {
    console.log("  (the gateway's wait limit passed: calling again resumes the same approval)");
    continue;
  }
  console.log(`${result.isError === true ? "refused" : "result"}: ${text(result)}`);
  if (result.isError === true) process.exitCode = 1;
  break;
}
await client.close();
