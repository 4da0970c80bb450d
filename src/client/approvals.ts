// Talks to approval workflows for the HTTP server and the CLI: start (idempotent), read, long-poll,
// decide, redeem, revoke, list. Maps Temporal failures to countersign's stable error codes.
import { createHash, randomUUID } from "node:crypto";
import {
  WorkflowExecutionAlreadyStartedError,
  WorkflowFailedError,
  WorkflowNotFoundError,
  WorkflowUpdateFailedError,
  WorkflowUpdateRPCTimeoutOrCancelledError,
  type Client,
  type WorkflowHandle,
} from "@temporalio/client";
import { ApplicationFailure, TypedSearchAttributes } from "@temporalio/common";
import proto from "@temporalio/proto";
import { ApprovalError, CountersignError, isErrorCode, RequestError } from "../errors.js";
import { KeyedLimit, KeyedLimitTimeout } from "./keyed-limit.js";
import { TOOL_NAME_PATTERN } from "../config.js";
import { approvalWorkflow } from "../../workflows/approval.js";
import {
  agentSearchAttribute,
  decideUpdate,
  FINAL_STATUSES,
  initialState,
  isDecided,
  OPEN_STATUSES,
  principalSearchAttribute,
  redeemUpdate,
  revokeUpdate,
  requestQuery,
  stateQuery,
  statusSearchAttribute,
  tenantSearchAttribute,
  toolSearchAttribute,
  withoutGrantToken,
  type ApprovalInput,
  type ApprovalRequest,
  type ApprovalState,
  type DecideInput,
  type RedeemInput,
  type RedeemResult,
  type RevokeInput,
} from "../../workflows/definitions.js";

const UPSERT_SEARCH_ATTRIBUTES = proto.temporal.api.enums.v1.EventType.EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES;

/**
 * Whether a history event is a status change: the workflow upserts its status search attribute with
 * every change, in the same workflow task (other upserts, e.g. the SDK's for a patch, are not).
 */
function isStatusChange(event: proto.temporal.api.history.v1.IHistoryEvent): boolean {
  if (event.eventType !== UPSERT_SEARCH_ATTRIBUTES) return false;
  const fields = event.upsertWorkflowSearchAttributesEventAttributes?.searchAttributes?.indexedFields ?? {};
  return Object.hasOwn(fields, statusSearchAttribute.name);
}

/** Approval ids as {@link approvalId} makes them (the workflow ids of approvals). */
export const APPROVAL_ID_PATTERN = /^appr_[A-Za-z0-9_-]{32}$/;
/** Most runs of one approval id {@link ApprovalsClient.tenantsOf} reads. */
const MAX_RUNS_READ = 100;

/** Tenant names: safe to quote in a visibility query. The HTTP edge refuses others at filing. */
export const TENANT_PATTERN = /^[A-Za-z0-9._:@-]{1,256}$/;

/**
 * Default bound on one call to Temporal (start, query, describe) in ms; past it the caller gets
 * `unavailable`. Short on purpose: with Temporal or every worker down, an edge answers within seconds.
 */
export const DEFAULT_RPC_DEADLINE_MS = 5_000;
/**
 * Default bound on an Update (decide, redeem, revoke) in ms, re-sends included. Above the handlers'
 * activity schedule-to-close timeouts (workflows/approval.ts), so a handler that can finish does so
 * within it; a caller that still gets `unavailable` re-attaches to the same Update by retrying.
 */
export const DEFAULT_UPDATE_DEADLINE_MS = 10_000;
/**
 * One send of an Update waits at most this long, in ms, then the same Update id is sent again: Temporal
 * deduplicates by id, so a re-send attaches to the Update if it was delivered and delivers it if it was lost.
 */
const UPDATE_ATTEMPT_MS = 3_000;
/**
 * Default bound on the Updates one client has in flight on one workflow. Temporal refuses Updates
 * beyond its per-workflow limit (`history.maxInFlightUpdates`, default 10), and each refusal clears
 * the workflow's in-memory state on the server: every admitted Update is aborted and re-sent, and the
 * workflow task carrying them is lost ("Task not found when completing" on the worker). Under a
 * storm that churn can hold Updates for tens of seconds, so the client stays below the limit.
 */
export const DEFAULT_MAX_IN_FLIGHT_UPDATES_PER_WORKFLOW = 5;
/** Approvals whose grant this client saw redeemed, remembered so later redemptions are refused without an Update. */
const MAX_REMEMBERED_REDEMPTIONS = 10_000;
/** How many generations of one caller's Update id are tried after failed outcomes (see `ApprovalsClient.update`). */
const MAX_UPDATE_GENERATIONS = 8;
/**
 * Reason codes of a failed approval that the same requestId may file again: infrastructure or time, not a
 * verdict. Not `request_stale` nor `payload_rejected`: those runs refused their input (a copy started late,
 * or a forged one), so anyone with write access to the namespace can make them an id's latest run, over a
 * denied, expired or redeemed approval; re-filing there would reopen it.
 */
export const REFILEABLE_FAILURES: readonly string[] = ["token_expired", "unavailable", "internal"];

/** An `Idempotency-Key`: 1-255 visible ASCII characters. */
export const IDEMPOTENCY_KEY_PATTERN = /^[\x21-\x7e]{1,255}$/;

/**
 * The Update id of a caller's message sent with an idempotency key: deterministic, so a caller that lost
 * an answer and retries with the same key attaches to its own Update (Temporal deduplicates by id, also
 * after the workflow closed) and receives the original outcome. `who` is the authenticated caller (the
 * tool server, the approver, the revoker), so nobody else can attach to it with the same key.
 */
export function keyedUpdateId(kind: UpdateKind, approval: string, who: string, key: string): string {
  const digest = createHash("sha256").update(JSON.stringify([kind, approval, who, key])).digest("base64url");
  return `${kind}-${digest.slice(0, 32)}`;
}

export type UpdateKind = "redeem" | "decide" | "revoke";

/**
 * The workflow id of an approval: derived from tenant, agent, principal and the agent's requestId,
 * so a retried request attaches to the same approval and another agent or principal never does.
 */
export function approvalId(parts: { tenant: string; agent: string; principalIssuer: string; principal: string; requestId: string }): string {
  const digest = createHash("sha256")
    .update(JSON.stringify([parts.tenant, parts.agent, parts.principalIssuer, parts.principal, parts.requestId]))
    .digest("base64url");
  return `appr_${digest.slice(0, 32)}`;
}

/** Translate a Temporal client failure into a coded error. */
export function toCodedError(err: unknown): CountersignError {
  if (err instanceof CountersignError) return err;
  if (err instanceof WorkflowNotFoundError) return new ApprovalError("not_found", "no such approval", { cause: err });
  // No worker answered in time, or this client's Updates on the workflow did not get a slot in time.
  if (err instanceof WorkflowUpdateRPCTimeoutOrCancelledError || err instanceof KeyedLimitTimeout) return new CountersignError("unavailable", "no worker answered in time", { cause: err });
  if (err instanceof WorkflowUpdateFailedError && err.cause instanceof ApplicationFailure) {
    const type = err.cause.type;
    if (isErrorCode(type)) return new CountersignError(type, err.cause.message, { cause: err });
  }
  if (hasGrpcCode(err, 14)) return new CountersignError("unavailable", "Temporal is unreachable", { cause: err });
  // Still refused for load when the deadline passed (too many Updates in flight on the workflow from
  // several edges, a namespace rate limit): transient, so the caller is told to retry, not that we broke.
  if (isResourceExhausted(err)) return new CountersignError("unavailable", "Temporal is busy with this approval", { cause: err });
  if (isDeadlineExceeded(err)) return new CountersignError("unavailable", "Temporal or its workers did not answer in time", { cause: err });
  // Temporal answers a query that no worker is polling for with "no poller seen" (FAILED_PRECONDITION).
  if (hasGrpcCode(err, 9) && /poller/i.test(messages(err))) return new CountersignError("unavailable", "no worker is polling for approvals", { cause: err });
  return new CountersignError("internal", "internal error", { cause: err });
}

/** An error and its causes, outermost first. */
function* causes(err: unknown): Generator<{ code?: unknown; message?: unknown }> {
  for (let e: unknown = err; e !== undefined && e !== null; e = (e as { cause?: unknown }).cause) yield e;
}

/** The messages along an error's cause chain, for the few Temporal answers told apart only by text. */
function messages(err: unknown): string {
  return [...causes(err)].flatMap((e) => (typeof e.message === "string" ? [e.message] : [])).join(" | ");
}

/** Whether a gRPC status code from `codes` appears anywhere in the error's cause chain. */
export function hasGrpcCode(err: unknown, ...codes: number[]): boolean {
  return [...causes(err)].some((e) => typeof e.code === "number" && codes.includes(e.code));
}

/** DEADLINE_EXCEEDED or CANCELLED: our own deadline fired. */
const isDeadlineExceeded = (err: unknown): boolean => hasGrpcCode(err, 4, 1);
/** RESOURCE_EXHAUSTED: e.g. too many Updates in flight on one workflow. */
const isResourceExhausted = (err: unknown): boolean => hasGrpcCode(err, 8);

function isCompletedError(err: unknown): boolean {
  const text = String((err as Error | undefined)?.message ?? "");
  return /already completed/i.test(text);
}

export class ApprovalsClient {
  private readonly rpcDeadlineMs: number;
  private readonly updateDeadlineMs: number;
  /** Updates in flight per workflow id. */
  private readonly updateSlots: KeyedLimit;
  /** Redemptions in flight per approval id: one at a time (only one can ever succeed). */
  private readonly redemptionSlots = new KeyedLimit(1);
  /** Approval ids whose grant is known to be burned, oldest first. */
  private readonly redeemed = new Set<string>();

  /**
   * `rpcDeadlineMs`: bound on one start, query or describe (default {@link DEFAULT_RPC_DEADLINE_MS});
   * `updateDeadlineMs`: bound on an Update, waiting for a free Update slot and re-sends included
   * (default {@link DEFAULT_UPDATE_DEADLINE_MS}); `maxInFlightUpdatesPerWorkflow`: Updates this client
   * sends to one workflow at once, the others wait their turn (default {@link DEFAULT_MAX_IN_FLIGHT_UPDATES_PER_WORKFLOW}).
   */
  constructor(
    private readonly client: Client,
    private readonly taskQueue: string,
    opts: { rpcDeadlineMs?: number; updateDeadlineMs?: number; maxInFlightUpdatesPerWorkflow?: number } = {},
  ) {
    this.rpcDeadlineMs = opts.rpcDeadlineMs ?? DEFAULT_RPC_DEADLINE_MS;
    this.updateDeadlineMs = opts.updateDeadlineMs ?? Math.max(DEFAULT_UPDATE_DEADLINE_MS, this.rpcDeadlineMs);
    this.updateSlots = new KeyedLimit(opts.maxInFlightUpdatesPerWorkflow ?? DEFAULT_MAX_IN_FLIGHT_UPDATES_PER_WORKFLOW);
  }

  /** Run one call to Temporal bounded by the RPC deadline (or `until`): with Temporal or every worker down, it would wait much longer. */
  private async rpc<R>(run: () => Promise<R>, until = Date.now() + this.rpcDeadlineMs): Promise<R> {
    try {
      return await this.client.withDeadline(until, run);
    } catch (err) {
      throw toCodedError(err);
    }
  }

  handle(id: string): WorkflowHandle<typeof approvalWorkflow> {
    return this.client.workflow.getHandle<typeof approvalWorkflow>(id);
  }

  /**
   * File a request: start its approval workflow, or attach to the one already started for the same id.
   * A new approval answers with its opening state at once (no worker needed: filing is durable once the
   * workflow has started). An approval of the same id that ended `failed` for a reason of infrastructure
   * or time ({@link REFILEABLE_FAILURES}) is filed again as a new run; any other existing approval is
   * returned as it is. Either only when `sameRequest` says the filed request is this one.
   * @throws ApprovalError `idempotency_conflict` when it is not, or when the id's latest run refused its
   * input (nothing to compare with).
   */
  async start(input: ApprovalInput, sameRequest: (filed: ApprovalRequest, state: ApprovalState) => boolean): Promise<{ state: ApprovalState; created: boolean }> {
    if (await this.startRun(input, "REJECT_DUPLICATE")) return { state: initialState(input), created: true };
    const description = await this.rpc(() => this.handle(input.approvalId).describe());
    const closed = description.status.name !== "RUNNING";
    const state = closed ? await this.finalState(input.approvalId) : await this.state(input.approvalId);
    // Such a run holds no request to compare with (and answers no request query).
    if (refusedInput(state)) throw new ApprovalError("idempotency_conflict", "requestId was already used and cannot be filed again");
    if (!sameRequest(await this.request(input.approvalId), state)) throw new ApprovalError("idempotency_conflict", "requestId was already used for a different request");
    if (closed && state.status === "failed" && REFILEABLE_FAILURES.includes(state.reasonCode ?? "")) {
      // A concurrent re-filing may win the race; then this call attaches to the run it started.
      if (await this.startRun(input, "ALLOW_DUPLICATE")) return { state: initialState(input), created: true };
      return { state: await this.state(input.approvalId), created: false };
    }
    return { state, created: false };
  }

  /** Start a run; false when one with this id exists (running, or closed and `reuse` forbids another). */
  private async startRun(input: ApprovalInput, reuse: "REJECT_DUPLICATE" | "ALLOW_DUPLICATE"): Promise<boolean> {
    try {
      await this.rpc(() =>
        this.client.workflow.start(approvalWorkflow, {
          workflowId: input.approvalId,
          taskQueue: this.taskQueue,
          args: [input],
          // A second start with the same id (running, or closed under REJECT_DUPLICATE) fails, and the
          // caller attaches to the existing approval; unlike USE_EXISTING this tells us whether this call created it.
          workflowIdConflictPolicy: "FAIL",
          workflowIdReusePolicy: reuse,
          typedSearchAttributes: new TypedSearchAttributes([
            { key: tenantSearchAttribute, value: input.tenant },
            { key: toolSearchAttribute, value: input.tool },
            { key: statusSearchAttribute, value: "verifying" },
            { key: principalSearchAttribute, value: input.principal.subject },
            { key: agentSearchAttribute, value: input.agent.spiffeId },
          ]),
        }),
      );
      return true;
    } catch (err) {
      if ((err as { cause?: unknown }).cause instanceof WorkflowExecutionAlreadyStartedError) return false;
      throw err;
    }
  }

  /**
   * Whether approval `id` exists, runs, and when it closed: from the workflow's description, without a
   * worker (a query on a closed workflow would replay its history). Undefined when there is no such approval.
   */
  async runStatus(id: string): Promise<{ running: boolean; closedAtMs?: number } | undefined> {
    try {
      const d = await this.rpc(() => this.handle(id).describe());
      return d.status.name === "RUNNING" ? { running: true } : { running: false, ...(d.closeTime !== undefined ? { closedAtMs: d.closeTime.getTime() } : {}) };
    } catch (err) {
      if (err instanceof CountersignError && err.code === "not_found") return undefined;
      throw err;
    }
  }

  /** The current state, read with a query (works after the workflow closed too). */
  async state(id: string): Promise<ApprovalState> {
    return this.rpc(() => this.handle(id).query(stateQuery));
  }

  /**
   * The state of an approval whose workflow has closed: its result, read from history without a
   * worker (a query would make a worker replay the whole history, which under many concurrent
   * refusals can outlast the deadline). Falls back to the query for a workflow that did not complete.
   */
  private async finalState(id: string): Promise<ApprovalState> {
    try {
      return await this.client.withDeadline(Date.now() + this.rpcDeadlineMs, () => this.handle(id).result());
    } catch (err) {
      // Failed, terminated, timed out: no result, but its state query still answers. Anything else
      // (Temporal unreachable, the deadline) is the caller's answer, not a second wait.
      if (err instanceof WorkflowFailedError) return this.state(id);
      throw toCodedError(err);
    }
  }

  /** What was asked, arguments included (callers redact before showing it to anyone). */
  async request(id: string): Promise<ApprovalRequest> {
    return this.rpc(() => this.handle(id).query(requestQuery));
  }

  /**
   * Long-poll: wait until the status is none of `from` or `waitMs` passes; `known` is the state the
   * caller already holds (else it is read first). Event-driven and read-only: it long-polls the
   * workflow's history (Temporal's own `waitNewEvent`) and re-reads the state only when the status
   * changed (its search-attribute upsert) or the workflow closed, so waiting agents never spend the
   * workflow's Update budget nor a query per unrelated event, and a
   * wait while no worker runs ends with the state as it was instead of a query that cannot be answered.
   */
  async waitForStatusChange(id: string, from: ReadonlyArray<ApprovalState["status"]>, waitMs: number, known?: ApprovalState): Promise<ApprovalState> {
    const until = Date.now() + waitMs;
    let state = known ?? (await this.state(id));
    let nextPageToken: Uint8Array | undefined;
    while (from.includes(state.status) && !FINAL_STATUSES.includes(state.status) && Date.now() < until) {
      let page;
      try {
        page = await this.client.withDeadline(until, () =>
          this.client.workflowService.getWorkflowExecutionHistory({
            namespace: this.client.options.namespace,
            execution: { workflowId: id },
            waitNewEvent: true,
            skipArchival: true,
            ...(nextPageToken !== undefined ? { nextPageToken } : {}),
          }),
        );
      } catch (err) {
        if (!isDeadlineExceeded(err)) throw toCodedError(err);
        return state; // the wait ended with no progress: the state is as it was
      }
      const token = page.nextPageToken;
      const ended = token === undefined || token === null || token.length === 0;
      // Only a status change (or the end) can change what a waiting caller sees: other events (a
      // decision short of the quorum, a Slack card, a reminder) wake nobody and cost no query.
      if (ended || (page.history?.events ?? []).some(isStatusChange)) state = await this.state(id);
      if (ended) break; // the workflow closed
      nextPageToken = token;
    }
    return state;
  }

  /**
   * Send an Update, bounded by the Update deadline, and answer with its outcome. Without `keyed` it goes
   * under a fresh id (re-sent under that id within this call if a send is lost). With `keyed`, the
   * caller's idempotency key decides the id (see {@link keyedUpdateId}): a retry gets the original
   * outcome when that outcome changed the approval (a success; an attempt still in flight is attached
   * to), and a retry after a failed outcome, which changed nothing but a record, is a new attempt under
   * the next generation of the id (`<id>.1`, `<id>.2`, ...), walked in order so that retries attach in turn.
   * A success (past, or attached to while sending) that `keyed.sameRequest` says answered another
   * request is `idempotency_conflict`.
   */
  private async update<R>(
    id: string,
    kind: UpdateKind,
    keyed: KeyedCall<R> | undefined,
    send: (h: WorkflowHandle<typeof approvalWorkflow>, updateId: string) => Promise<R>,
    onClosed: (s: ApprovalState) => CountersignError,
    deadline = Date.now() + this.updateDeadlineMs,
  ): Promise<R> {
    try {
      // One of this workflow's Update slots covers every send of this Update (see DEFAULT_MAX_IN_FLIGHT_UPDATES_PER_WORKFLOW).
      return await this.updateSlots.run(id, deadline, async () => {
        let updateId = `${kind}-${randomUUID()}`;
        if (keyed !== undefined) {
          const past = await this.pastOutcome<R>(id, keyedUpdateId(kind, id, keyed.who, keyed.key), deadline);
          if ("outcome" in past) {
            if (keyed.sameRequest?.(past.outcome) === false) throw keyReusedError();
            return past.outcome;
          }
          updateId = past.next;
        }
        const outcome = await this.persistently(deadline, () => send(this.handle(id), updateId));
        // Two requests under one key that both found no past Update both send under its id: Temporal
        // delivers one and attaches the other to it, whose answer then is the first one's.
        if (keyed?.sameRequest?.(outcome) === false) throw keyReusedError();
        return outcome;
      });
    } catch (err) {
      // An Update to a closed workflow that it has not seen fails as "not found" or "already completed"; its last state says why.
      if (isCompletedError(err) || err instanceof WorkflowNotFoundError) throw onClosed(await this.finalState(id));
      throw toCodedError(err);
    }
  }

  /**
   * The successful outcome of a past (or in-flight) keyed Update, or the id the next attempt goes under:
   * `baseId` if it was never sent, else the first generation that was not a failure.
   */
  private async pastOutcome<R>(id: string, baseId: string, deadline: number): Promise<{ outcome: R } | { next: string }> {
    let updateId = baseId;
    for (let generation = 1; ; generation++) {
      try {
        return { outcome: await this.persistently(deadline, () => this.handle(id).getUpdateHandle<R>(updateId).result()) };
      } catch (err) {
        if (err instanceof WorkflowNotFoundError) return { next: updateId }; // never sent (or the workflow is gone)
        if (!(err instanceof WorkflowUpdateFailedError)) throw err;
        // Final, not the last failure again: that one may be `unavailable`, and a caller told to retry
        // under a key that can no longer make progress would retry forever.
        if (generation > MAX_UPDATE_GENERATIONS) {
          throw new ApprovalError("idempotency_conflict", `this Idempotency-Key was used for ${MAX_UPDATE_GENERATIONS + 1} failed attempts; send the request again under a new key`, { cause: err });
        }
        updateId = `${baseId}.${generation}`; // a past attempt failed: the next one is new
      }
    }
  }

  /**
   * The approval state a past decision under this approver's idempotency key answered with, if it
   * succeeded: the edge returns it before its pre-checks (which would call the approver's retry `already_decided`).
   * @throws ApprovalError `idempotency_conflict` when that decision was another one (approve for deny, another reason).
   */
  async pastDecision(id: string, decision: DecisionBody, key: string): Promise<ApprovalState | undefined> {
    try {
      const past = await this.pastOutcome<ApprovalState>(id, keyedUpdateId("decide", id, decision.approver, key), Date.now() + this.updateDeadlineMs);
      if (!("outcome" in past)) return undefined;
      if (!decidedAs(past.outcome, decision)) throw keyReusedError();
      return withoutGrantToken(past.outcome);
    } catch (err) {
      throw toCodedError(err);
    }
  }

  /**
   * Run an Update call until `deadline`, each try bounded by {@link UPDATE_ATTEMPT_MS}: a send under the
   * same id attaches to the Update if it was delivered and delivers it if it was lost. When Temporal
   * refuses because too many Updates are in flight on the workflow (RESOURCE_EXHAUSTED), back off with jitter.
   */
  private async persistently<R>(deadline: number, run: () => Promise<R>): Promise<R> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.client.withDeadline(Math.min(deadline, Date.now() + UPDATE_ATTEMPT_MS), run);
      } catch (err) {
        const busy = isResourceExhausted(err);
        const slow = isDeadlineExceeded(err) || err instanceof WorkflowUpdateRPCTimeoutOrCancelledError;
        if (!(busy || slow) || Date.now() >= deadline) throw err;
        if (busy) await new Promise((r) => setTimeout(r, Math.min(1000, 20 * 2 ** Math.min(attempt, 6)) * (0.5 + Math.random())));
      }
    }
  }

  /**
   * Send one approver's decision, with its edge-signed assertion (see `submitDecision`, the one
   * path every edge uses). The answer never carries the grant token.
   */
  async decide(id: string, input: DecideInput, idempotencyKey?: string): Promise<ApprovalState> {
    const keyed = idempotencyKey !== undefined ? { who: input.approver, key: idempotencyKey, sameRequest: (s: ApprovalState) => decidedAs(s, input) } : undefined;
    const state = await this.update(id, "decide", keyed, (h, updateId) => h.executeUpdate(decideUpdate, { args: [input], updateId }), (s) =>
      isDecided(s) ? new ApprovalError("already_decided", "the approval has already been decided") : new ApprovalError("approval_not_pending", `approval is ${s.status}`),
    );
    return withoutGrantToken(state);
  }

  /**
   * Burn the grant of approval `id` for this exact call. A tool server that retries with the same
   * idempotency key gets the same answer; any other call presenting the grant is refused. Redemptions
   * of one approval go one at a time, and once this client has seen the grant burned it refuses later
   * unkeyed ones (grant_already_redeemed) without asking Temporal: a storm of concurrent redemptions
   * costs the workflow one Update, not one each.
   */
  async redeem(id: string, input: RedeemInput, idempotencyKey?: string): Promise<RedeemResult> {
    const keyed = idempotencyKey !== undefined ? { who: `${input.caller} ${input.jti}`, key: idempotencyKey } : undefined;
    const deadline = Date.now() + this.updateDeadlineMs;
    try {
      return await this.redemptionSlots.run(id, deadline, async () => {
        // A keyed retry still asks: it may be the call that burned the grant, owed its 200.
        if (this.redeemed.has(id) && keyed === undefined) throw new CountersignError("grant_already_redeemed", "grant already redeemed");
        const result = await this.update(
          id,
          "redeem",
          keyed,
          (h, updateId) => h.executeUpdate(redeemUpdate, { args: [input], updateId }),
          (s) => {
            if (s.status === "redeemed") this.rememberRedeemed(id);
            return closedGrantError(s);
          },
          deadline,
        );
        this.rememberRedeemed(id);
        return result;
      });
    } catch (err) {
      throw toCodedError(err);
    }
  }

  /**
   * Only the workflow's own word counts: this client's redemption succeeded, or the closed workflow
   * says redeemed. (A refusal while another redemption is under way is not final: that one can still fail.)
   */
  private rememberRedeemed(id: string): void {
    this.redeemed.add(id);
    if (this.redeemed.size > MAX_REMEMBERED_REDEMPTIONS) {
      const oldest = this.redeemed.values().next();
      if (oldest.done !== true) this.redeemed.delete(oldest.value);
    }
  }

  /** Revoke a pending approval or an unredeemed grant. The answer never carries the grant token. */
  async revoke(id: string, input: RevokeInput, idempotencyKey?: string): Promise<ApprovalState> {
    const keyed = idempotencyKey !== undefined ? { who: input.by, key: idempotencyKey } : undefined;
    const state = await this.update(id, "revoke", keyed, (h, updateId) => h.executeUpdate(revokeUpdate, { args: [input], updateId }), (s) =>
      new ApprovalError("approval_not_pending", `approval is ${s.status}`),
    );
    return withoutGrantToken(state);
  }

  /** The Temporal namespace this client works in. */
  get namespace(): string {
    return this.client.options.namespace;
  }

  /**
   * The tenants that the runs of approval `id` were filed for, from visibility (each run's
   * CountersignTenant, set when it started): one entry for a real approval, none when no run is known,
   * several when someone with write access to the namespace started a run of that id for another
   * tenant. At most {@link MAX_RUNS_READ} runs are read; a longer list counts as an unknown tenant ("").
   * @throws CountersignError `unavailable` when Temporal does not answer within the RPC deadline.
   */
  async tenantsOf(id: string): Promise<string[]> {
    // Ids are quoted into the query: only the form countersign mints reaches it (its own ids never hold a quote).
    if (!APPROVAL_ID_PATTERN.test(id)) return [];
    return this.rpc(async () => {
      const tenants = new Set<string>();
      let runs = 0;
      for await (const wf of this.client.workflow.list({ query: `WorkflowId = '${id}'`, pageSize: MAX_RUNS_READ })) {
        tenants.add(wf.typedSearchAttributes.get(tenantSearchAttribute) ?? "");
        if (++runs >= MAX_RUNS_READ) {
          tenants.add("");
          break;
        }
      }
      return [...tenants];
    });
  }

  /**
   * Open approvals (undecided, or approved and unredeemed), newest first, from Temporal visibility: at
   * most `limit`, and Temporal is asked for a page of no more. `narrow` keeps only one tool's, or those
   * started before a moment (`startedBefore`, on the execution's StartTime).
   * @throws RequestError `invalid_request` for a tenant or tool name that could not be quoted safely in the query.
   */
  async pending(tenant?: string, limit = 100, narrow: { tool?: string | undefined; startedBefore?: Date | undefined } = {}): Promise<PendingRow[]> {
    const clauses = [`${statusSearchAttribute.name} IN (${OPEN_STATUSES.map((s) => `'${s}'`).join(", ")})`, `ExecutionStatus = 'Running'`];
    // Refuse rather than rewrite: a stripped quote would silently list another tenant's or tool's.
    if (tenant !== undefined) {
      if (!TENANT_PATTERN.test(tenant)) throw new RequestError("invalid_request", "tenant must be 1-256 letters, digits, '.', '_', ':', '@', '-'");
      clauses.push(`${tenantSearchAttribute.name} = '${tenant}'`);
    }
    if (narrow.tool !== undefined) {
      if (!TOOL_NAME_PATTERN.test(narrow.tool)) throw new RequestError("invalid_request", "a tool name is letters, digits, '_', '.', ':', '-'");
      clauses.push(`${toolSearchAttribute.name} = '${narrow.tool}'`);
    }
    if (narrow.startedBefore !== undefined) {
      if (Number.isNaN(narrow.startedBefore.getTime())) throw new RequestError("invalid_request", "startedBefore is not a valid time");
      clauses.push(`StartTime < '${narrow.startedBefore.toISOString()}'`);
    }
    const out: PendingRow[] = [];
    // Ask for no more than is shown: a full default page costs the visibility store (and this call) far more.
    for await (const wf of this.client.workflow.list({ query: clauses.join(" AND "), pageSize: limit })) {
      const sa = wf.typedSearchAttributes;
      out.push({
        id: wf.workflowId,
        tenant: sa.get(tenantSearchAttribute) ?? "",
        tool: sa.get(toolSearchAttribute) ?? "",
        principal: sa.get(principalSearchAttribute) ?? "",
        agent: sa.get(agentSearchAttribute) ?? "",
        status: sa.get(statusSearchAttribute) ?? "",
        startedAt: wf.startTime,
      });
      if (out.length >= limit) break;
    }
    return out;
  }
}

/** One open approval as `pending` lists it: what visibility's search attributes and start time say. */
export interface PendingRow {
  id: string;
  tenant: string;
  tool: string;
  principal: string;
  agent: string;
  status: string;
  startedAt: Date;
}

/** The state of a run that refused its input (see the workflow): it never became an approval. */
function refusedInput(s: ApprovalState): boolean {
  return s.status === "failed" && s.tenant === "" && (s.reasonCode === "payload_rejected" || s.reasonCode === "request_stale");
}

/**
 * A keyed caller: `who` the authenticated caller, `key` its Idempotency-Key, and, where a key could be
 * reused for a different body, `sameRequest` telling whether a past outcome answered this request.
 * (A redemption's body is bound by its grant, checked at the edge, and its jti is part of `who`.)
 */
interface KeyedCall<R> {
  who: string;
  key: string;
  sameRequest?: (outcome: R) => boolean;
}

/** What an approver's decision says; the rest (assertion, via) is how it travelled. */
interface DecisionBody {
  approver: string;
  decision: DecideInput["decision"];
  reason?: string | undefined;
}

/** Whether `state`, the outcome of a decide Update, records `decision` as this approver's. */
function decidedAs(state: ApprovalState, decision: DecisionBody): boolean {
  const recorded = state.decisions.find((d) => d.approver === decision.approver);
  return recorded !== undefined && recorded.decision === decision.decision && recorded.reason === decision.reason;
}

/** An Idempotency-Key sent again with a different request: never the other request's answer. */
function keyReusedError(): CountersignError {
  return new ApprovalError("idempotency_conflict", "this Idempotency-Key was already used for a different request");
}

/** The answer for a redemption attempt on an approval that has already closed. */
export function closedGrantError(s: ApprovalState): CountersignError {
  if (s.status === "redeemed") return new CountersignError("grant_already_redeemed", "grant already redeemed");
  if (s.status === "expired") return new CountersignError("grant_expired", "grant expired");
  if (s.status === "denied" && s.grant !== undefined && (s.reasonCode === "policy_denied" || s.reasonCode === "policy_unavailable")) {
    return new CountersignError(s.reasonCode, "policy refused this grant at redemption");
  }
  return new CountersignError("invalid_grant", `approval is ${s.status}`);
}
