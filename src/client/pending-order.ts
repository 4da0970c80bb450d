// The order `countersign pending --sort` shows open approvals in: newest first (visibility's own order),
// oldest first, or soonest deadline first. The deadline is in each approval's encrypted state, not in a
// search attribute, so sorting by it reads the state of every row listed (a query each, answered by a worker).
import type { ApprovalState } from "../../workflows/definitions.js";
import type { PendingRow } from "./approvals.js";

export const PENDING_SORTS = ["newest", "age", "deadline"] as const;
export type PendingSort = (typeof PENDING_SORTS)[number];

/** A listed row, with when it ends by itself (`deadline`) once that was read (`--sort deadline`). */
export type OrderedPendingRow = PendingRow & { deadline?: Date | null };

/** States read at once while sorting by deadline: enough to hide round trips, few enough to spare the workers. */
const STATE_READS_AT_ONCE = 8;

/**
 * When an open approval ends by itself if nobody acts, in epoch ms: its approval deadline while it
 * waits for approvers, its grant's expiry once approved; undefined while that is not known yet
 * (`verifying`, before policy routed it).
 */
export function endsAtMs(state: ApprovalState): number | undefined {
  if (state.status === "approved") return state.grant?.expiresAtMs;
  return state.routing?.deadlineAtMs;
}

/**
 * `rows` (as `ApprovalsClient.pending` listed them, newest first) in the order `sort` asks for:
 * `newest` keeps them, `age` puts the oldest first, `deadline` the one that ends soonest first (rows
 * whose deadline is not known yet last), each row then carrying its `deadline`. Only these rows are
 * sorted: when more approvals are open than were listed, the ones not listed are not considered.
 * @throws what `readState` throws (a coded error: `unavailable` when no worker answers, `not_found`).
 */
export async function orderPending(rows: PendingRow[], sort: PendingSort, readState: (id: string) => Promise<ApprovalState>): Promise<OrderedPendingRow[]> {
  const byStart = (a: PendingRow, b: PendingRow): number => a.startedAt.getTime() - b.startedAt.getTime();
  if (sort === "newest") return rows;
  if (sort === "age") return [...rows].sort(byStart);
  const withDeadlines: Array<OrderedPendingRow & { deadline: Date | null }> = [];
  for (let i = 0; i < rows.length; i += STATE_READS_AT_ONCE) {
    const chunk = rows.slice(i, i + STATE_READS_AT_ONCE);
    const ends = await Promise.all(chunk.map(async (r) => endsAtMs(await readState(r.id))));
    chunk.forEach((r, k) => {
      const ms = ends[k];
      withDeadlines.push({ ...r, deadline: ms === undefined ? null : new Date(ms) });
    });
  }
  const at = (r: { deadline: Date | null }): number => r.deadline?.getTime() ?? Number.POSITIVE_INFINITY;
  return withDeadlines.sort((a, b) => at(a) - at(b) || byStart(a, b));
}
