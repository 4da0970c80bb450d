// Benchmark (not a test): where an Update's time goes, from the workflow histories' own timestamps.
// For an approver's decision and a redemption through countersign's HTTP API, and for a bare Update
// running one activity (bench/bare/workflow.ts) on the same dev server, interleaved, it splits each
// call into phases and prints their medians (ms):
//   before  — from the caller's send to the server scheduling the workflow task (countersign: the
//             edge's token check, pre-check and signing; bare: the client call alone)
//   accept  — the workflow task that accepts the Update and schedules its activity
//   activity — the activity, scheduled to completed (a task-queue round trip)
//   finish  — the workflow task after it (countersign's decide: the one-step settle, a local activity)
//   answer  — from the Update's completion in history to the caller holding the answer
//   BENCH_ROUNDS (default 20) sizes it.
import { randomUUID } from "node:crypto";
import { performance } from "node:perf_hooks";
import { Client, Connection } from "@temporalio/client";
import type { temporal } from "@temporalio/proto";
import { DefaultLogger, NativeConnection, Runtime } from "@temporalio/worker";
import { startDevServer } from "../src/temporal/dev-server.js";
import { projectRoot, refundRequest, startStack } from "../test/support/stack.js";
import { runBareWorker } from "./bare/run.js";
import { bareFinish, bareState, bareUpdateWithActivity, bareWorkflow } from "./bare/workflow.js";
import { percentile } from "./stats.js";

type HistoryEvent = temporal.api.history.v1.IHistoryEvent;
const PHASES = ["before", "accept", "activity", "finish", "answer"] as const;
type Phases = Record<(typeof PHASES)[number], number>;

function timeOf(e: HistoryEvent): number {
  return Number(e.eventTime?.seconds ?? 0) * 1000 + Math.floor((e.eventTime?.nanos ?? 0) / 1e6);
}

/** The phases of the Update sent at `sentAt` (epoch ms) and answered at `answeredAt`, from the events after it. */
function phasesOf(events: HistoryEvent[], sentAt: number, answeredAt: number): Phases {
  const after = events.filter((e) => timeOf(e) >= sentAt - 1);
  const at = (pred: (e: HistoryEvent) => boolean, from = 0): { i: number; t: number } => {
    const i = after.findIndex((e, j) => j >= from && pred(e));
    if (i < 0) throw new Error("an expected event is missing from the history");
    return { i, t: timeOf(after[i] as HistoryEvent) };
  };
  const scheduled = at((e) => e.workflowTaskScheduledEventAttributes != null);
  const accepted = at((e) => e.workflowExecutionUpdateAcceptedEventAttributes != null, scheduled.i);
  const activityScheduled = at((e) => e.activityTaskScheduledEventAttributes != null, accepted.i);
  const activityDone = at((e) => e.activityTaskCompletedEventAttributes != null, activityScheduled.i);
  const completed = at((e) => e.workflowExecutionUpdateCompletedEventAttributes != null, activityDone.i);
  return {
    before: scheduled.t - sentAt,
    accept: accepted.t - scheduled.t,
    activity: activityDone.t - activityScheduled.t,
    finish: completed.t - activityDone.t,
    answer: answeredAt - completed.t,
  };
}

async function main(): Promise<void> {
  const rounds = Number(process.env.BENCH_ROUNDS ?? 20);
  Runtime.install({ logger: new DefaultLogger("ERROR") });
  const server = await startDevServer({ projectRoot });
  process.env.TEMPORAL_ADDRESS = server.address;
  const stack = await startStack();
  const bareQueue = `bare-${randomUUID()}`;
  const connection = await NativeConnection.connect({ address: server.address });
  const worker = await runBareWorker({ connection, taskQueue: bareQueue });
  const bareConnection = await Connection.connect({ address: server.address });
  const bare = new Client({ connection: bareConnection });
  const rows = { decide: [] as Phases[], redeem: [] as Phases[], bare: [] as Phases[], totals: { decide: [] as number[], redeem: [] as number[], bare: [] as number[] } };
  const settle = (): Promise<void> => new Promise((r) => setTimeout(r, 50));
  try {
    for (let i = 0; i <= rounds; i++) {
      const body = refundRequest();
      const filed = await stack.http("POST", "/v1/approvals", await stack.agentHeaders("alice"), body);
      const id = (filed.body as { id: string }).id;
      const approver = { authorization: `Bearer ${await stack.ids.principalToken("bob", { scope: "countersign:approve" })}` };
      await settle();
      let sent = Date.now();
      let t = performance.now();
      const decided = await stack.http("POST", `/v1/approvals/${id}/decisions`, approver, { decision: "approve" });
      const decide = { took: performance.now() - t, sent, answered: Date.now() };
      const grant = await stack.grantOf(id);
      const toolHeaders = await stack.toolHeaders();
      await settle();
      sent = Date.now();
      t = performance.now();
      const redeemed = await stack.http("POST", "/v1/grants/redeem", toolHeaders, { grant, tool: "payments.refund", arguments: body.arguments });
      const redeem = { took: performance.now() - t, sent, answered: Date.now() };
      if (decided.status !== 200 || redeemed.status !== 200) throw new Error(`unexpected ${decided.status} ${redeemed.status}`);

      const handle = await bare.workflow.start(bareWorkflow, { taskQueue: bareQueue, workflowId: `bare-${randomUUID()}` });
      while ((await handle.query(bareState)) !== "pending") await new Promise((r) => setTimeout(r, 1));
      await settle();
      sent = Date.now();
      t = performance.now();
      await handle.executeUpdate(bareUpdateWithActivity);
      const bareCall = { took: performance.now() - t, sent, answered: Date.now() };
      await handle.executeUpdate(bareFinish);
      if (i === 0) continue; // warm-up
      const ours = (await stack.client.workflow.getHandle(id).fetchHistory()).events ?? [];
      rows.decide.push(phasesOf(ours, decide.sent, decide.answered));
      rows.redeem.push(phasesOf(ours, redeem.sent, redeem.answered));
      rows.bare.push(phasesOf((await handle.fetchHistory()).events ?? [], bareCall.sent, bareCall.answered));
      rows.totals.decide.push(decide.took);
      rows.totals.redeem.push(redeem.took);
      rows.totals.bare.push(bareCall.took);
    }
  } finally {
    await worker.stop();
    await bareConnection.close();
    await connection.close();
    await stack.stop();
    await server.stop();
  }
  const median = (xs: number[]): number => percentile([...xs].sort((a, b) => a - b), 50);
  const line = (name: string, phases: Phases[], totals: number[]): string =>
    `| ${name} | ${PHASES.map((p) => median(phases.map((x) => x[p])).toFixed(0)).join(" | ")} | ${median(totals).toFixed(1)} |`;
  console.log(`where an Update's time goes (history timestamps, ms, p50) — ${new Date().toISOString()} — node ${process.version}, load average ${(await import("node:os")).loadavg().map((l) => l.toFixed(2)).join(" ")}, n = ${rounds} each, interleaved`);
  console.log(`| call | ${PHASES.join(" | ")} | total (caller) |`);
  console.log(`|---|${PHASES.map(() => "---").join("|")}|---|`);
  console.log(line("approver decides (HTTP → Update)", rows.decide, rows.totals.decide));
  console.log(line("redemption (HTTP → Update)", rows.redeem, rows.totals.redeem));
  console.log(line("bare Update running one activity", rows.bare, rows.totals.bare));
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
