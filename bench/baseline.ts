// Benchmark (not a test): countersign's path against a bare Temporal baseline measured in the same run
// on the same dev server, interleaved round by round (issue 9's table, in part). The baseline is a
// trivial workflow (bench/bare/workflow.ts) on its own worker and task queue, without the payload codec.
//   BENCH_ROUNDS (default 40) sizes it.
import { randomUUID } from "node:crypto";
import { fileURLToPath } from "node:url";
import { performance } from "node:perf_hooks";
import { Client, Connection } from "@temporalio/client";
import { NativeConnection, Worker, DefaultLogger, Runtime } from "@temporalio/worker";
import { startDevServer } from "../src/temporal/dev-server.js";
import { projectRoot, refundRequest, startStack } from "../test/support/stack.js";
import { bareFinish, bareState, bareUpdate, bareUpdateWithActivity, bareWorkflow } from "./bare/workflow.js";
import { percentile } from "./stats.js";

function stats(samples: number[]): { p50: number; p95: number } {
  const s = [...samples].sort((a, b) => a - b);
  return { p50: percentile(s, 50), p95: percentile(s, 95) };
}

async function main(): Promise<void> {
  const rounds = Number(process.env.BENCH_ROUNDS ?? 40);
  Runtime.install({ logger: new DefaultLogger("ERROR") });
  const server = await startDevServer({ projectRoot });
  process.env.TEMPORAL_ADDRESS = server.address;
  const stack = await startStack();
  const bareQueue = `bare-${randomUUID()}`;
  const connection = await NativeConnection.connect({ address: server.address });
  const worker = await Worker.create({
    connection,
    taskQueue: bareQueue,
    workflowsPath: fileURLToPath(new URL("./bare/workflow.js", import.meta.url)),
    activities: { step: (n: number) => Promise.resolve(n + 1) },
  });
  const running = worker.run();
  // Its own client, without the payload codec (countersign's client refuses payloads it did not encrypt).
  const bareConnection = await Connection.connect({ address: server.address });
  const bare = new Client({ connection: bareConnection });
  const rows = { file: [] as number[], bareFile: [] as number[], decide: [] as number[], bareDecide: [] as number[], agentGets: [] as number[], redeem: [] as number[], bareRedeem: [] as number[] };
  try {
    for (let i = 0; i <= rounds; i++) {
      // countersign: file, decide (approver endpoint), redeem (tool server).
      const body = refundRequest();
      let t = performance.now();
      const filed = await stack.http("POST", "/v1/approvals", await stack.agentHeaders("alice"), body);
      const file = performance.now() - t;
      const id = (filed.body as { id: string }).id;
      const approver = { authorization: `Bearer ${await stack.ids.principalToken("bob", { scope: "countersign:approve" })}` };
      // The agent is already waiting (long-poll) when the approver decides: when does it hold the grant?
      const agentHeaders = await stack.agentHeaders("alice");
      let agentHasGrantAt = 0;
      const agentWaits = stack.http("GET", `/v1/approvals/${id}?wait=30`, agentHeaders).then((r) => {
        agentHasGrantAt = performance.now();
        return r;
      });
      await new Promise((r) => setTimeout(r, 50));
      t = performance.now();
      const decided = await stack.http("POST", `/v1/approvals/${id}/decisions`, approver, { decision: "approve" });
      const decidedAt = performance.now();
      const decide = decidedAt - t;
      const waited = await agentWaits;
      if (typeof (waited.body as { grant?: unknown }).grant !== "string") throw new Error("the waiting agent got no grant");
      const agentGets = agentHasGrantAt - decidedAt;
      const grant = await stack.grantOf(id);
      const toolHeaders = await stack.toolHeaders();
      t = performance.now();
      const redeemed = await stack.http("POST", "/v1/grants/redeem", toolHeaders, { grant, tool: "payments.refund", arguments: body.arguments });
      const redeem = performance.now() - t;
      if (filed.status !== 202 || decided.status !== 200 || redeemed.status !== 200) throw new Error(`unexpected ${filed.status} ${decided.status} ${redeemed.status}`);

      // Bare: start + 1 local activity + query; an Update running one activity; a bare Update round trip.
      const handle = await bare.workflow.start(bareWorkflow, { taskQueue: bareQueue, workflowId: `bare-${randomUUID()}` });
      t = performance.now();
      const started = await bare.workflow.start(bareWorkflow, { taskQueue: bareQueue, workflowId: `bare-${randomUUID()}` });
      while ((await started.query(bareState)) !== "pending") await new Promise((r) => setTimeout(r, 1));
      const bareFile = performance.now() - t;
      while ((await handle.query(bareState)) !== "pending") await new Promise((r) => setTimeout(r, 1));
      t = performance.now();
      await handle.executeUpdate(bareUpdateWithActivity);
      const bareDecide = performance.now() - t;
      t = performance.now();
      await handle.executeUpdate(bareUpdate);
      const bareRedeem = performance.now() - t;
      await handle.executeUpdate(bareFinish);
      await started.executeUpdate(bareFinish);
      if (i === 0) continue; // warm-up
      rows.file.push(file);
      rows.bareFile.push(bareFile);
      rows.decide.push(decide);
      rows.agentGets.push(agentGets);
      rows.bareDecide.push(bareDecide);
      rows.redeem.push(redeem);
      rows.bareRedeem.push(bareRedeem);
    }
  } finally {
    worker.shutdown();
    await running;
    await connection.close();
    await bareConnection.close();
    await stack.stop();
    await server.stop();
  }
  const line = (name: string, ours: number[], bare: number[], bareName: string): string => {
    const o = stats(ours);
    const b = stats(bare);
    return `| ${name} | ${o.p50.toFixed(1)} / ${o.p95.toFixed(1)} | ${bareName} | ${b.p50.toFixed(1)} / ${b.p95.toFixed(1)} | ${(o.p50 / b.p50).toFixed(2)}× |`;
  };
  console.log(`countersign vs bare Temporal — ${new Date().toISOString()} — node ${process.version}, load average ${(await import("node:os")).loadavg().map((l) => l.toFixed(2)).join(" ")}, n = ${rounds} each, interleaved`);
  console.log("| measure | p50 / p95 ms | bare baseline | p50 / p95 ms | ratio (p50) |");
  console.log("|---|---|---|---|---|");
  console.log(line("POST /v1/approvals → 202", rows.file, rows.bareFile, "start + 1 local activity + query"));
  console.log(line("approver decides (endpoint → Update)", rows.decide, rows.bareDecide, "Update + 1 activity"));
  console.log(line("decision returned → waiting agent holds the grant", rows.agentGets, rows.bareRedeem, "bare Update round trip"));
  console.log(line("redemption (endpoint → Update)", rows.redeem, rows.bareRedeem, "bare Update round trip"));
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
