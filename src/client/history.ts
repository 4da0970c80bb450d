// Operator views of recorded approvals: export a workflow history (Temporal's JSON format), replay
// histories against the current workflow code, and render an approval's decision trail for audit.
import { readFile } from "node:fs/promises";
import type { Client } from "@temporalio/client";
import type { DataConverter } from "@temporalio/common";
import type { History } from "@temporalio/common/lib/proto-utils.js";
import { historyFromJSON, historyToJSON } from "@temporalio/common/lib/proto-utils.js";
import proto from "@temporalio/proto";
import { IllegalStateError } from "@temporalio/common";
import { makeTelemetryFilterString, ReplayError, Runtime, Worker } from "@temporalio/worker";
import { WORKFLOWS_PATH } from "../../worker/worker.js";
import { CountersignError, RequestError } from "../errors.js";
import { temporalSdkLogger, type Logger } from "../log.js";
import { hasGrpcCode, toCodedError } from "./approvals.js";
import type { ApprovalState } from "../../workflows/definitions.js";
// The workflow types the replayed bundle registers (WORKFLOWS_PATH is this module, compiled).
import * as workflows from "../../workflows/index.js";
import { safe } from "../text/neutralise.js";

/** The history of approval `id` as JSON in Temporal's standard format (payloads stay encrypted). */
export async function exportHistory(client: Client, id: string): Promise<string> {
  return historyToJSON(await client.workflow.getHandle(id).fetchHistory());
}

/**
 * The workflow id a history was recorded under (its start event says). Replay must use it: payloads
 * are bound to the approval they belong to, so a history replayed under another id does not decode.
 */
export function recordedWorkflowId(history: { events?: Array<{ workflowExecutionStartedEventAttributes?: { workflowId?: string | null } | null }> | null }): string | undefined {
  const id = history.events?.[0]?.workflowExecutionStartedEventAttributes?.workflowId;
  return typeof id === "string" && id !== "" ? id : undefined;
}

/**
 * The workflow type a history's start event names; replay summaries group by it. A history without one
 * (not a workflow's history at all) is grouped as "-".
 */
export function recordedWorkflowType(history: { events?: Array<{ workflowExecutionStartedEventAttributes?: { workflowType?: { name?: string | null } | null } | null }> | null }): string {
  const name = history.events?.[0]?.workflowExecutionStartedEventAttributes?.workflowType?.name;
  return typeof name === "string" && name !== "" ? name : "-";
}

/**
 * Where histories come from: files (Temporal's JSON, or its binary protobuf form when the name ends in
 * `.binpb`, as the replay corpus stores them), approvals by id, or every execution a visibility query
 * finds, read a page of `pageSize` (default {@link REPLAY_PAGE_SIZE}) at a time.
 */
export type HistorySource = { files: string[] } | { client: Client; ids: string[] } | { client: Client; query: string; pageSize?: number };

/** Executions `replay --query` asks Temporal's visibility for per page: small pages keep each list call cheap. */
export const REPLAY_PAGE_SIZE = 100;

/** Histories a query replay fetches ahead of the one being replayed (the SDK's `intoHistories` concurrency). */
const FETCH_AHEAD = 5;

async function readHistoryFile(file: string): Promise<History> {
  let bytes: Buffer;
  try {
    bytes = await readFile(file);
  } catch (cause) {
    throw new RequestError("invalid_request", `cannot read ${file} (${(cause as NodeJS.ErrnoException).code ?? "error"})`, { cause });
  }
  try {
    return file.endsWith(".binpb") ? proto.temporal.api.history.v1.History.decode(bytes) : historyFromJSON(JSON.parse(bytes.toString("utf8")));
  } catch (cause) {
    throw new RequestError("invalid_request", `${file} is not a workflow history (Temporal's JSON, or binary protobuf named *.binpb)`, { cause });
  }
}

/**
 * A failure to read histories as a coded error: a query Temporal refuses (gRPC INVALID_ARGUMENT) is
 * `invalid_request` with Temporal's reason; the rest as every Temporal call (`not_found`, `unavailable`).
 */
function sourceError(err: unknown): CountersignError {
  if (err instanceof CountersignError) return err;
  if (hasGrpcCode(err, 3)) {
    let reason = "";
    for (let e: unknown = err; e instanceof Error; e = e.cause) reason = (e as { details?: unknown }).details !== undefined ? String((e as { details?: unknown }).details) : e.message;
    return new RequestError("invalid_request", `Temporal refused the visibility query: ${reason}`, { cause: err });
  }
  return toCodedError(err);
}

/**
 * How many histories `source` holds, for a progress line: the files or ids given, or what Temporal
 * counts for the query (approximate: visibility is eventually consistent).
 * @throws CountersignError `invalid_request` for a query Temporal refuses, `unavailable` when it does not answer.
 */
export async function historyCount(source: HistorySource): Promise<number> {
  if ("files" in source) return source.files.length;
  if ("ids" in source) return source.ids.length;
  try {
    return (await source.client.workflow.count(source.query)).count;
  } catch (err) {
    throw sourceError(err);
  }
}

async function* histories(source: HistorySource): AsyncIterable<{ workflowId: string; history: History }> {
  if ("files" in source) {
    for (const file of source.files) {
      const history = await readHistoryFile(file);
      yield { workflowId: recordedWorkflowId(history) ?? file, history };
    }
  } else if ("ids" in source) {
    for (const id of source.ids) yield { workflowId: id, history: await source.client.workflow.getHandle(id).fetchHistory() };
  } else {
    // The SDK's list pages through the results (nextPageToken) and fetches each run's history.
    const list = source.client.workflow.list({ query: source.query, pageSize: source.pageSize ?? REPLAY_PAGE_SIZE });
    for await (const item of list.intoHistories({ concurrency: FETCH_AHEAD })) {
      // intoHistories types `history` loosely; it is what fetchHistory() resolved with, a History.
      yield { workflowId: item.workflowId, history: item.history as History };
    }
  }
}

/**
 * Before a replay in a process of its own (the CLI): the SDK's logs go through `logger` at warning and
 * above (no bundler or worker-state chatter), the SDK core's only at error: a history that fails is
 * in the replay's summary, not a log line too. A process that already has a Temporal runtime (a
 * worker's, a test runner's) keeps it.
 */
export function installReplayRuntime(logger: Logger): void {
  try {
    Runtime.install({ logger: temporalSdkLogger(logger), telemetryOptions: { logging: { forward: {}, filter: makeTelemetryFilterString({ core: "ERROR", other: "ERROR" }) } } });
  } catch (err) {
    if (!(err instanceof IllegalStateError)) throw err;
  }
}

/** One history replayed: `error` is set when it does not replay (non-determinism, or a task failure such as a payload these keys cannot read). */
export interface ReplayOutcome {
  workflowId: string;
  runId: string;
  workflowType: string;
  error?: Error;
}

/**
 * Replay histories against the current workflow code, one at a time, yielding each outcome as it is
 * known (so a caller can show progress over many). A history of a workflow type this code does not
 * define fails (`ReplayError`): the SDK's replayer can let one pass (when no task of it ever completed),
 * yet nothing about it was checked. A history that cannot be read (a file, or a
 * Temporal call) ends the iteration with that error.
 */
export async function* replay(source: HistorySource, dataConverter: DataConverter): AsyncGenerator<ReplayOutcome> {
  // The SDK replays the histories one at a time, in order: each result belongs to the oldest history
  // handed to it and not yet answered.
  const types: string[] = [];
  async function* typed(): AsyncIterable<{ workflowId: string; history: History }> {
    try {
      for await (const item of histories(source)) {
        types.push(recordedWorkflowType(item.history));
        yield item;
      }
    } catch (err) {
      throw sourceError(err);
    }
  }
  const options = { workflowsPath: WORKFLOWS_PATH, dataConverter, replayName: "countersign-replay" };
  for await (const result of Worker.runReplayHistories(options, typed())) {
    const workflowType = types.shift() ?? "-";
    const error = result.error ?? (Object.hasOwn(workflows, workflowType) ? undefined : new ReplayError(`this code defines no workflow type ${workflowType}`));
    yield { workflowId: result.workflowId, runId: result.runId, workflowType, ...(error !== undefined ? { error } : {}) };
  }
}

function at(ms: number | undefined): string {
  return ms === undefined ? "-" : new Date(ms).toISOString();
}

/**
 * The decision trail of an approval, one fact a line, oldest first. No token, grant or argument
 * value; every recorded string passes through the neutraliser (`safe`), agent-supplied ones above all.
 */
export function renderAudit(state: ApprovalState): string {
  const lines: string[] = [];
  lines.push(safe`approval ${state.id}: ${state.status}${state.reasonCode !== undefined ? ` (${state.reasonCode}${state.reason !== undefined ? `: ${state.reason}` : ""})` : ""}`);
  lines.push(safe`  requested  ${at(state.requestedAtMs)}  tenant=${state.tenant} tool=${state.tool}`);
  lines.push(safe`             principal=${state.principal} (issuer ${state.principalIssuer})`);
  lines.push(safe`             agent=${state.agent}${state.agentJkt !== undefined ? ` key=${state.agentJkt}` : ""}`);
  lines.push(safe`             task=${state.intent.taskId} "${state.intent.summary}"  args_sha256=${state.argsSha256}`);
  if (state.identity !== undefined) {
    lines.push(safe`  identity   ${at(state.identity.verifiedAtMs)}  workload identity verified in trust domain ${state.identity.trustDomain}${state.identity.jkt !== undefined ? `, key ${state.identity.jkt} proven` : ""}`);
  }
  type Row = { atMs: number; text: string };
  const rows: Row[] = [
    ...state.policy.map((p) => ({
      atMs: p.atMs,
      text: safe`  policy     ${at(p.atMs)}  ${p.stage.padEnd(10)} ${p.decision}${p.reason !== undefined ? ` (${p.reason})` : ""}${p.approver !== undefined ? ` for ${p.approver}` : ""}  ${p.policyVersion}  [${p.policyIds.join(", ")}]${p.detail !== undefined ? `  ${p.detail}` : ""}`,
    })),
    ...(state.slack?.errors ?? []).map((e) => ({
      atMs: e.atMs,
      text: safe`  slack      ${at(e.atMs)}  failed: ${e.code}${e.channel !== undefined ? ` in ${e.channel}` : ""}${e.message !== undefined ? `  ${e.message}` : ""}`,
    })),
    ...state.decisions.map((d) => ({
      atMs: d.atMs,
      text: safe`  decision   ${at(d.atMs)}  ${d.approver} ${d.decision}s via ${d.via}${d.reason !== undefined ? `: "${d.reason}"` : ""}${d.groups !== undefined ? `  groups [${d.groups.join(", ")}]` : ""}${d.osUser !== undefined ? `  operating-system user ${d.osUser}` : ""}${d.slack !== undefined ? `  Slack user ${d.slack.userId} in workspace ${d.slack.teamId}` : ""}${d.assertionId !== undefined ? `  assertion ${d.assertionId}` : ""}`,
    })),
  ];
  rows.sort((a, b) => a.atMs - b.atMs);
  if (state.routing !== undefined) {
    lines.push(safe`  routing    quorum ${state.routing.quorum} from [${state.routing.approverGroups.join(", ")}], deadline ${at(state.routing.deadlineAtMs)}`);
  }
  if (state.slack !== undefined) {
    const cards = state.slack.cards.map((c) => `${c.channel}${c.ts !== undefined ? ` (message ${c.ts})` : " (not posted)"}`);
    lines.push(safe`  slack      cards in ${cards.length > 0 ? cards.join(", ") : "no channel"}; ${state.slack.remindersSent} reminder(s)${state.slack.escalatedTo !== undefined ? `; escalated to [${state.slack.escalatedTo.join(", ")}]` : ""}${state.slack.requesterNotified === true ? "; requester told" : ""}`);
  }
  for (const r of rows) lines.push(r.text);
  if (state.unrecordedRefusals !== undefined) lines.push(safe`  refusals   ${state.unrecordedRefusals} more refused decisions not recorded (the record is capped)`);
  if (state.grant !== undefined) {
    lines.push(safe`  grant      jti=${state.grant.jti} aud=${state.grant.audience} expires ${at(state.grant.expiresAtMs)}`);
  }
  if (state.redeemedAtMs !== undefined) lines.push(safe`  redeemed   ${at(state.redeemedAtMs)}  by ${state.redeemedBy ?? "-"}`);
  return lines.join("\n");
}
