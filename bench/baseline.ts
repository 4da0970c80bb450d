// Benchmark (not a test): countersign's path against a bare Temporal baseline measured in the same run
// on the same dev server, interleaved round by round (issue 9's table, in part). The baseline is a
// trivial workflow (bench/bare/workflow.ts) on its own worker and task queue, measured twice: bare
// (Temporal's default data converter) and "bare + codec" (its client and worker use countersign's
// data converter, the AES-256-GCM payload codec included), so that the codec's share shows apart.
//   BENCH_ROUNDS (default 40) sizes it.
import { randomUUID } from "node:crypto";
import { performance } from "node:perf_hooks";
import { Client, Connection } from "@temporalio/client";
import { NativeConnection, DefaultLogger, Runtime } from "@temporalio/worker";
import { startDevServer } from "../src/temporal/dev-server.js";
import { projectRoot, refundRequest, startStack } from "../test/support/stack.js";
import { runBareWorker } from "./bare/run.js";
import { bareFinish, bareState, bareUpdate, bareUpdateWithActivity, bareWorkflow } from "./bare/workflow.js";
import { environmentLine, latency as stats } from "./stats.js";

interface BareRound {
  file: number;
  decide: number;
  redeem: number;
}

/** Bare: start + 1 local activity + query; an Update running one activity; a bare Update round trip. */
async function bareRound(bare: Client, taskQueue: string): Promise<BareRound> {
  const handle = await bare.workflow.start(bareWorkflow, { taskQueue, workflowId: `bare-${randomUUID()}` });
  let t = performance.now();
  const started = await bare.workflow.start(bareWorkflow, { taskQueue, workflowId: `bare-${randomUUID()}` });
  while ((await started.query(bareState)) !== "pending") await new Promise((r) => setTimeout(r, 1));
  const file = performance.now() - t;
  while ((await handle.query(bareState)) !== "pending") await new Promise((r) => setTimeout(r, 1));
  t = performance.now();
  await handle.executeUpdate(bareUpdateWithActivity);
  const decide = performance.now() - t;
  t = performance.now();
  await handle.executeUpdate(bareUpdate);
  const redeem = performance.now() - t;
  await handle.executeUpdate(bareFinish);
  await started.executeUpdate(bareFinish);
  return { file, decide, redeem };
}

async function main(): Promise<void> {
  const rounds = Number(process.env.BENCH_ROUNDS ?? 40);
  Runtime.install({ logger: new DefaultLogger("ERROR") });
  const server = await startDevServer({ projectRoot });
  process.env.TEMPORAL_ADDRESS = server.address;
  const stack = await startStack();
  const bareQueue = `bare-${randomUUID()}`;
  const codecQueue = `bare-codec-${randomUUID()}`;
  const connection = await NativeConnection.connect({ address: server.address });
  const workers = [
    await runBareWorker({ connection, taskQueue: bareQueue }),
    // As countersign's worker: a payload the codec refuses reaches the workflow as a marker.
    await runBareWorker({ connection, taskQueue: codecQueue, dataConverter: stack.services.workerDataConverter }),
  ];
  // Its own client, without the payload codec (countersign's client refuses payloads it did not encrypt);
  // the codec variant's client has countersign's client data converter.
  const bareConnection = await Connection.connect({ address: server.address });
  const bare = new Client({ connection: bareConnection });
  const bareWithCodec = new Client({ connection: bareConnection, dataConverter: stack.services.dataConverter });
  const rows = {
    file: [] as number[],
    bareFile: [] as number[],
    codecFile: [] as number[],
    decide: [] as number[],
    bareDecide: [] as number[],
    codecDecide: [] as number[],
    agentGets: [] as number[],
    redeem: [] as number[],
    bareRedeem: [] as number[],
    codecRedeem: [] as number[],
  };
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

      // The two baselines, in alternating order from round to round.
      let plain: BareRound;
      let codec: BareRound;
      if (i % 2 === 0) {
        plain = await bareRound(bare, bareQueue);
        codec = await bareRound(bareWithCodec, codecQueue);
      } else {
        codec = await bareRound(bareWithCodec, codecQueue);
        plain = await bareRound(bare, bareQueue);
      }
      if (i === 0) continue; // warm-up
      rows.file.push(file);
      rows.bareFile.push(plain.file);
      rows.codecFile.push(codec.file);
      rows.decide.push(decide);
      rows.agentGets.push(agentGets);
      rows.bareDecide.push(plain.decide);
      rows.codecDecide.push(codec.decide);
      rows.redeem.push(redeem);
      rows.bareRedeem.push(plain.redeem);
      rows.codecRedeem.push(codec.redeem);
    }
  } finally {
    for (const w of workers) await w.stop();
    await connection.close();
    await bareConnection.close();
    await stack.stop();
    await server.stop();
  }
  // The first five columns as before this bench had the codec variant; the codec's two after them.
  const line = (name: string, ours: number[], bare: number[], bareName: string, codec: number[]): string => {
    const o = stats(ours);
    const b = stats(bare);
    const c = stats(codec);
    return `| ${name} | ${o.p50.toFixed(1)} / ${o.p95.toFixed(1)} | ${bareName} | ${b.p50.toFixed(1)} / ${b.p95.toFixed(1)} | ${(o.p50 / b.p50).toFixed(2)}× | ${c.p50.toFixed(1)} / ${c.p95.toFixed(1)} | ${(o.p50 / c.p50).toFixed(2)}× |`;
  };
  console.log(`${environmentLine("countersign vs bare Temporal")}, n = ${rounds} each, interleaved`);
  console.log("| measure | p50 / p95 ms | bare baseline | p50 / p95 ms | ratio (p50) | bare + codec p50 / p95 ms | ratio to bare + codec (p50) |");
  console.log("|---|---|---|---|---|---|---|");
  console.log(line("POST /v1/approvals → 202", rows.file, rows.bareFile, "start + 1 local activity + query", rows.codecFile));
  console.log(line("approver decides (endpoint → Update)", rows.decide, rows.bareDecide, "Update + 1 activity", rows.codecDecide));
  console.log(line("decision returned → waiting agent holds the grant", rows.agentGets, rows.bareRedeem, "bare Update round trip", rows.codecRedeem));
  console.log(line("redemption (endpoint → Update)", rows.redeem, rows.bareRedeem, "bare Update round trip", rows.codecRedeem));
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
