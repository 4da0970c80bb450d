// Talks to approval workflows for the HTTP server and the CLI: start (idempotent), read, long-poll,
// decide, redeem, revoke, list. Maps Temporal failures to countersign's stable error codes.
import { createHash } from "node:crypto";
import {
  WorkflowExecutionAlreadyStartedError,
  WorkflowNotFoundError,
  WorkflowUpdateFailedError,
  WorkflowUpdateRPCTimeoutOrCancelledError,
  type Client,
  type WorkflowHandle,
} from "@temporalio/client";
import { ApplicationFailure, TypedSearchAttributes } from "@temporalio/common";
import { ApprovalError, CountersignError, isErrorCode, RequestError } from "../errors.js";
import { approvalWorkflow } from "../../workflows/approval.js";
import {
  agentSearchAttribute,
  decideUpdate,
  FINAL_STATUSES,
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

/** Tenant names: safe to quote in a visibility query. The HTTP edge refuses others at filing. */
export const TENANT_PATTERN = /^[A-Za-z0-9._:@-]{1,256}$/;

/** Default bound on a query or Update waiting for a worker, in ms; past it the caller gets `unavailable`. */
export const DEFAULT_RPC_DEADLINE_MS = 30_000;

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
  if (err instanceof WorkflowUpdateRPCTimeoutOrCancelledError) return new CountersignError("unavailable", "no worker answered in time", { cause: err });
  if (err instanceof WorkflowUpdateFailedError && err.cause instanceof ApplicationFailure) {
    const type = err.cause.type;
    if (isErrorCode(type)) return new CountersignError(type, err.cause.message, { cause: err });
  }
  if (hasGrpcCode(err, 14, 4)) return new CountersignError("unavailable", "Temporal is unavailable", { cause: err });
  return new CountersignError("internal", "internal error", { cause: err });
}

/** Whether a gRPC status code from `codes` appears anywhere in the error's cause chain. */
function hasGrpcCode(err: unknown, ...codes: number[]): boolean {
  for (let e: unknown = err; e !== undefined && e !== null; e = (e as { cause?: unknown }).cause) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === "number" && codes.includes(code)) return true;
  }
  return false;
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

  /** `rpcDeadlineMs`: how long a query or Update may wait for a worker (default 30 000). */
  constructor(
    private readonly client: Client,
    private readonly taskQueue: string,
    opts: { rpcDeadlineMs?: number } = {},
  ) {
    this.rpcDeadlineMs = opts.rpcDeadlineMs ?? DEFAULT_RPC_DEADLINE_MS;
  }

  /** Run a query bounded by the RPC deadline: with no worker polling, Temporal would hold it. */
  private async query<R>(run: () => Promise<R>): Promise<R> {
    try {
      return await this.client.withDeadline(Date.now() + this.rpcDeadlineMs, run);
    } catch (err) {
      if (isDeadlineExceeded(err)) throw new CountersignError("unavailable", "no worker answered in time", { cause: err });
      throw toCodedError(err);
    }
  }

  handle(id: string): WorkflowHandle<typeof approvalWorkflow> {
    return this.client.workflow.getHandle<typeof approvalWorkflow>(id);
  }

  /**
   * Start the approval workflow, or attach to the one already running for the same id.
   * Returns the state and whether this call started it.
   */
  async start(input: ApprovalInput): Promise<{ state: ApprovalState; created: boolean }> {
    let created = true;
    try {
      await this.client.workflow.start(approvalWorkflow, {
        workflowId: input.approvalId,
        taskQueue: this.taskQueue,
        args: [input],
        // A second start with the same id (running or closed) fails, and the catch below attaches to
        // the existing approval; unlike USE_EXISTING this tells us whether this call created it.
        workflowIdConflictPolicy: "FAIL",
        workflowIdReusePolicy: "REJECT_DUPLICATE",
        typedSearchAttributes: new TypedSearchAttributes([
          { key: tenantSearchAttribute, value: input.tenant },
          { key: toolSearchAttribute, value: input.tool },
          { key: statusSearchAttribute, value: "verifying" },
          { key: principalSearchAttribute, value: input.principal.subject },
          { key: agentSearchAttribute, value: input.agent.spiffeId },
        ]),
      });
    } catch (err) {
      if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw toCodedError(err);
      created = false;
    }
    return { state: await this.state(input.approvalId), created };
  }

  /** The current state, read with a query (works after the workflow closed too). */
  async state(id: string): Promise<ApprovalState> {
    return this.query(() => this.handle(id).query(stateQuery));
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
      if (err instanceof WorkflowNotFoundError) throw toCodedError(err);
      return this.state(id);
    }
  }

  /** What was asked, arguments included (callers redact before showing it to anyone). */
  async request(id: string): Promise<ApprovalRequest> {
    return this.query(() => this.handle(id).query(requestQuery));
  }

  /**
   * Long-poll: wait until the status is none of `from` or `waitMs` passes. Event-driven and
   * read-only: it long-polls the workflow's history for new events (Temporal's own `waitNewEvent`)
   * and re-reads the state when one lands, so waiting agents never spend the workflow's Update budget.
   */
  async waitForStatusChange(id: string, from: ReadonlyArray<ApprovalState["status"]>, waitMs: number): Promise<ApprovalState> {
    const until = Date.now() + waitMs;
    let state = await this.state(id);
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
        return this.state(id); // the wait ended with no new event: answer with the state as it is
      }
      state = await this.state(id);
      const token = page.nextPageToken;
      if (token === undefined || token === null || token.length === 0) break; // the workflow closed
      nextPageToken = token;
    }
    return state;
  }

  /**
   * Send an Update bounded by a deadline. When Temporal refuses it because too many Updates are in
   * flight on this workflow (RESOURCE_EXHAUSTED), back off with jitter and send it again until the deadline.
   */
  private async update<R>(id: string, run: (h: WorkflowHandle<typeof approvalWorkflow>) => Promise<R>, onClosed: (s: ApprovalState) => CountersignError): Promise<R> {
    const deadline = Date.now() + this.rpcDeadlineMs;
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.client.withDeadline(deadline, () => run(this.handle(id)));
      } catch (err) {
        // An Update to a closed workflow fails as "not found" or "already completed"; its last state says why.
        if (isCompletedError(err) || err instanceof WorkflowNotFoundError) throw onClosed(await this.finalState(id));
        if (isResourceExhausted(err) && Date.now() < deadline) {
          await new Promise((r) => setTimeout(r, Math.min(1000, 20 * 2 ** Math.min(attempt, 6)) * (0.5 + Math.random())));
          continue;
        }
        throw toCodedError(err);
      }
    }
  }

  /**
   * Send one approver's decision, with its edge-signed assertion (see `submitDecision`, the one
   * path every edge uses). The answer never carries the grant token.
   */
  async decide(id: string, input: DecideInput): Promise<ApprovalState> {
    const state = await this.update(id, (h) => h.executeUpdate(decideUpdate, { args: [input] }), (s) =>
      isDecided(s) ? new ApprovalError("already_decided", "the approval has already been decided") : new ApprovalError("approval_not_pending", `approval is ${s.status}`),
    );
    return withoutGrantToken(state);
  }

  /** Burn the grant of approval `id` for this exact call. */
  async redeem(id: string, input: RedeemInput): Promise<RedeemResult> {
    return this.update(id, (h) => h.executeUpdate(redeemUpdate, { args: [input] }), (s) => closedGrantError(s));
  }

  /** Revoke a pending approval or an unredeemed grant. The answer never carries the grant token. */
  async revoke(id: string, input: RevokeInput): Promise<ApprovalState> {
    const state = await this.update(id, (h) => h.executeUpdate(revokeUpdate, { args: [input] }), (s) =>
      new ApprovalError("approval_not_pending", `approval is ${s.status}`),
    );
    return withoutGrantToken(state);
  }

  /**
   * Open approvals (undecided, or approved and unredeemed), newest first, from Temporal visibility.
   * @throws RequestError `invalid_request` for a tenant name that could not be quoted safely in the query.
   */
  async pending(tenant?: string, limit = 100): Promise<Array<{ id: string; tenant: string; tool: string; principal: string; agent: string; status: string; startedAt: Date }>> {
    const clauses = [`${statusSearchAttribute.name} IN (${OPEN_STATUSES.map((s) => `'${s}'`).join(", ")})`, `ExecutionStatus = 'Running'`];
    if (tenant !== undefined) {
      // Refuse rather than rewrite: a stripped quote would silently list another tenant.
      if (!TENANT_PATTERN.test(tenant)) throw new RequestError("invalid_request", "tenant must be 1-256 letters, digits, '.', '_', ':', '@', '-'");
      clauses.push(`${tenantSearchAttribute.name} = '${tenant}'`);
    }
    const out = [];
    for await (const wf of this.client.workflow.list({ query: clauses.join(" AND ") })) {
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

/** The answer for a redemption attempt on an approval that has already closed. */
export function closedGrantError(s: ApprovalState): CountersignError {
  if (s.status === "redeemed") return new CountersignError("grant_already_redeemed", "grant already redeemed");
  if (s.status === "expired") return new CountersignError("grant_expired", "grant expired");
  if (s.status === "denied" && s.grant !== undefined && (s.reasonCode === "policy_denied" || s.reasonCode === "policy_unavailable")) {
    return new CountersignError(s.reasonCode, "policy refused this grant at redemption");
  }
  return new CountersignError("invalid_grant", `approval is ${s.status}`);
}
