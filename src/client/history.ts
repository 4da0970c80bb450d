// Operator views of recorded approvals: export a workflow history (Temporal's JSON format), replay
// histories against the current workflow code, and render an approval's decision trail for audit.
import { readFile } from "node:fs/promises";
import type { Client } from "@temporalio/client";
import type { DataConverter } from "@temporalio/common";
import { historyFromJSON, historyToJSON } from "@temporalio/common/lib/proto-utils.js";
import { Worker, type ReplayResult } from "@temporalio/worker";
import { WORKFLOWS_PATH } from "../../worker/worker.js";
import type { ApprovalState } from "../../workflows/definitions.js";
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

export type HistorySource = { files: string[] } | { client: Client; ids: string[] } | { client: Client; query: string };

async function* histories(source: HistorySource): AsyncIterable<{ workflowId: string; history: unknown }> {
  if ("files" in source) {
    for (const file of source.files) {
      const history = historyFromJSON(JSON.parse(await readFile(file, "utf8")));
      yield { workflowId: recordedWorkflowId(history) ?? file, history };
    }
  } else if ("ids" in source) {
    for (const id of source.ids) yield { workflowId: id, history: await source.client.workflow.getHandle(id).fetchHistory() };
  } else {
    yield* source.client.workflow.list({ query: source.query }).intoHistories();
  }
}

/**
 * Replay histories against the current workflow code. Resolves with one result per history; a
 * result with `error` is a non-determinism (or a history that cannot be read with these keys).
 */
export async function replay(source: HistorySource, dataConverter: DataConverter): Promise<ReplayResult[]> {
  const results: ReplayResult[] = [];
  const options = { workflowsPath: WORKFLOWS_PATH, dataConverter, replayName: "countersign-replay" };
  for await (const result of Worker.runReplayHistories(options, histories(source))) results.push(result);
  return results;
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
