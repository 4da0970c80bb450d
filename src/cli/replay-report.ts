// What `countersign replay` tells its operator: the tally of a run (replayed cleanly and failed, by
// workflow type, each failure by workflow id and error) as a table for people or one JSON object for CI.
import { safe } from "../text/neutralise.js";

/** One replayed history, as `replay` (src/client/history.ts) yields it. */
export interface ReplayedHistory {
  workflowId: string;
  runId: string;
  workflowType: string;
  error?: Error;
}

/** A history that did not replay: which one, and the error's name and message. */
export interface ReplayFailure {
  workflowId: string;
  runId: string;
  workflowType: string;
  error: { name: string; message: string };
}

/** The `--json` summary: one object, counts first, failures last. */
export interface ReplaySummaryJson {
  histories: number;
  replayed: number;
  failed: number;
  byWorkflowType: Array<{ workflowType: string; histories: number; replayed: number; failed: number }>;
  failures: ReplayFailure[];
}

/** Tallies outcomes as they arrive; keeps only counts and failures, so a long run holds little. */
export class ReplayTally {
  private readonly types = new Map<string, { replayed: number; failed: number }>();
  private readonly failureList: ReplayFailure[] = [];
  private replayedCount = 0;

  add(outcome: ReplayedHistory): void {
    const byType = this.types.get(outcome.workflowType) ?? { replayed: 0, failed: 0 };
    this.types.set(outcome.workflowType, byType);
    if (outcome.error === undefined) {
      byType.replayed++;
      this.replayedCount++;
      return;
    }
    byType.failed++;
    this.failureList.push({
      workflowId: outcome.workflowId,
      runId: outcome.runId,
      workflowType: outcome.workflowType,
      error: { name: outcome.error.name, message: outcome.error.message },
    });
  }

  get histories(): number {
    return this.replayedCount + this.failureList.length;
  }

  get failed(): number {
    return this.failureList.length;
  }

  toJSON(): ReplaySummaryJson {
    return {
      histories: this.histories,
      replayed: this.replayedCount,
      failed: this.failed,
      byWorkflowType: [...this.types.entries()]
        .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
        .map(([workflowType, n]) => ({ workflowType, histories: n.replayed + n.failed, replayed: n.replayed, failed: n.failed })),
      failures: this.failureList,
    };
  }
}

/**
 * The summary table: a row per workflow type and a total (histories, replayed cleanly, failed), then a
 * `FAIL` line per failure (workflow id, type, error), then `N replayed cleanly, M failed`. Workflow ids
 * and error text pass through the neutraliser: ids and messages can carry what an agent chose.
 */
export function renderReplaySummary(summary: ReplaySummaryJson): string {
  const rows = [
    ["workflow type", "histories", "replayed", "failed"],
    ...summary.byWorkflowType.map((t) => [safe`${t.workflowType}`, String(t.histories), String(t.replayed), String(t.failed)]),
    ["total", String(summary.histories), String(summary.replayed), String(summary.failed)],
  ];
  const width = (column: number): number => Math.max(...rows.map((r) => (r[column] ?? "").length));
  const widths = [0, 1, 2, 3].map(width);
  const lines = rows.map((r) => r.map((cell, i) => (i === 0 ? cell.padEnd(widths[i] ?? 0) : cell.padStart(widths[i] ?? 0))).join("  "));
  for (const f of summary.failures) lines.push(safe`FAIL  ${f.workflowId}  ${f.workflowType}  ${f.error.name}: ${f.error.message}`);
  lines.push(`${summary.replayed} replayed cleanly, ${summary.failed} failed`);
  return lines.join("\n");
}
