// The MCP gateway's core, apart from the protocol: a tools/call becomes an action request filed with
// the approval workflow, and the upstream is called only with a fresh grant for that exact call, once.
// How a paused call is surfaced (progress on a blocked request, or a task) is the protocol adapter's
// business (server.ts); this module only answers "here is the result" or "still waiting on this approval".
import { createHash } from "node:crypto";
import canonicalize from "canonicalize";
import type { CallToolResult, Tool } from "@modelcontextprotocol/server";
import { z } from "zod";
import type { VerifiedAgent } from "../auth/verify-agent.js";
import type { VerifiedPrincipal } from "../auth/verify-principal.js";
import { approvalId, type ApprovalsClient } from "../client/approvals.js";
import { toolEntry, type McpConfig } from "../config.js";
import { ApprovalError, AuthError, CountersignError, toCountersignError } from "../errors.js";
import { checkIntent } from "../auth/intent.js";
import { argsSha256 } from "../grants/args-hash.js";
import type { Logger } from "../log.js";
import type { Services } from "../runtime/services.js";
import { fileApproval } from "../server/file-approval.js";
import type { Metrics } from "../server/metrics.js";
import { CreateApprovalBodySchema, IntentSchema, JsonSchema, RequestIdSchema, ResourceSchema } from "../server/schemas.js";
import { approvedBy, UNDECIDED_STATUSES, type ApprovalState, type Json } from "../../workflows/definitions.js";
import type { Upstreams } from "./upstream.js";

/** `_meta` keys the gateway reads on a tools/call and writes on its results (README "MCP gateway"). */
export const META = {
  /** `{taskId?, summary?}`: the task the human authorized and what this call is for. */
  intent: "countersign/intent",
  /** `{type, id}`: the resource the call touches (a Cedar entity reference). */
  resource: "countersign/resource",
  /** A caller's own request id, to file the same call again as a new approval. */
  requestId: "countersign/requestId",
  /** On results and in tools/list: the approval behind the answer, or what the policy says of a tool. */
  approval: "countersign/approval",
} as const;

/** Who calls: verified on every request (README "MCP gateway"). */
export interface GatewayCaller {
  principal: VerifiedPrincipal;
  agent: VerifiedAgent;
  /** The agent's Workload-Identity-Token: the workflow verifies it again. Never sent upstream. */
  agentToken: string;
}

export type CallOutcome = { kind: "result"; result: CallToolResult } | { kind: "waiting"; state: ApprovalState };

export interface GatewayDeps {
  services: Services;
  approvals: ApprovalsClient;
  metrics: Metrics;
  logger: Logger;
  upstreams: Upstreams;
  config: McpConfig;
}

/** `_meta` values: the HTTP API's own schemas (an intent may leave out what the gateway can fill in). */
const IntentMetaSchema = IntentSchema.partial();

/** A tool error result naming countersign's code: the call did not run. */
export function refusal(code: string, message: string, approval?: ApprovalState): CallToolResult {
  return {
    content: [{ type: "text", text: `countersign refused this call: ${code}: ${message}${approval !== undefined ? ` (approval ${approval.id})` : ""}` }],
    isError: true,
    _meta: { [META.approval]: { ...(approval !== undefined ? { id: approval.id, status: approval.status } : {}), code } },
  };
}

/** Where an undecided approval waits: "0 of 1 from payments-approver, deadline …". */
export function waitingLine(state: ApprovalState): string {
  const routing = state.routing;
  if (routing === undefined) return `waiting for approval ${state.id}: checking identity and policy`;
  return `waiting for approval ${state.id}: ${approvedBy(state).length} of ${routing.quorum} from ${routing.approverGroups.join(", ")}, deadline ${new Date(routing.deadlineAtMs).toISOString()}`;
}

/** `value` parsed with `schema`; otherwise `invalid_request` naming `where` and the paths, never the values. */
function parseOrRefuse<S extends z.ZodType>(schema: S, value: unknown, where: string): z.infer<S> {
  const parsed = schema.safeParse(value);
  if (!parsed.success) throw new CountersignError("invalid_request", `${where}: ${parsed.error.issues.map((i) => `${i.path.join(".") || "(value)"}: ${i.message}`).join("; ")}`);
  return parsed.data;
}

/** An optional `_meta` value: absent stays absent. */
function parseMeta<S extends z.ZodType>(schema: S, value: unknown, where: string): z.infer<S> | undefined {
  return value === undefined ? undefined : parseOrRefuse(schema, value, where);
}

/** Most results held for retries at once (the oldest goes first). */
const MAX_HELD_RESULTS = 10_000;
/** Generations walked on one call at most (each one a call made at least a retry window after the last ended). */
const MAX_GENERATION_STEPS = 1_000;
/** Most tasks carried on in the background at once. */
const MAX_WATCHED = 10_000;
/** A background follower's long-poll slice: event-driven, so this only bounds one wait. */
const WATCH_SLICE_MS = 60_000;

export class McpGateway {
  /** Executions in flight, by approval id: a retry joins the running call instead of starting another. */
  private readonly running = new Map<string, Promise<CallToolResult>>();
  /** Results of executed calls, by approval id, for retries within `resultRetentionSeconds`. */
  private readonly results = new Map<string, { result: CallToolResult; atMs: number }>();
  /** Approvals whose task this gateway carries on in the background (executes once approved). */
  private readonly watched = new Set<string>();
  private readonly stopping = new AbortController();
  /** Last known requestId generation per call (see {@link generation}). */
  private readonly generations = new Map<string, string>();

  constructor(private readonly deps: GatewayDeps) {}

  /** Stop background work (a shutdown): nothing starts an upstream call after this. */
  close(): void {
    this.stopping.abort();
  }

  /**
   * The catalog tools the upstreams list, each saying in its description and in `_meta` whether a
   * call by this caller needs approval as the policies stand now (the decision at call time counts).
   */
  async listTools(caller: GatewayCaller): Promise<Tool[]> {
    const listed = await this.deps.upstreams.tools();
    const tenant = this.deps.services.policy.user(caller.principal.subject)?.tenant;
    return listed.map(({ tool }) => {
      const verdict = this.policyPreview(caller, tool.name, tenant);
      const entry = toolEntry(this.deps.services.config, tool.name);
      const note =
        verdict.approval === "required"
          ? `Needs approval (countersign): ${verdict.quorum} of ${verdict.approverGroups.join(", ")}; the call waits for them.`
          : verdict.approval === "none"
            ? "Runs without an approver (countersign policy)."
            : "Refused for you by countersign policy.";
      return {
        ...tool,
        description: `${tool.description ?? entry?.displayName ?? tool.name}\n\n${note}`,
        _meta: { ...tool._meta, [META.approval]: verdict },
      };
    });
  }

  private policyPreview(caller: GatewayCaller, tool: string, tenant: string | undefined): { approval: "required"; approverGroups: string[]; quorum: number } | { approval: "none" | "denied" } {
    if (tenant === undefined) return { approval: "denied" };
    const decision = this.deps.services.policy.authorizeRequest({
      tenant,
      principal: caller.principal.subject,
      agent: caller.agent.spiffeId,
      tool,
      taskId: this.defaultTaskId(caller.principal, tool, tenant) ?? "",
      summary: "",
      argsSha256: "",
    });
    if (decision.decision === "deny") return { approval: "denied" };
    if (decision.approval === "none") return { approval: "none" };
    return { approval: "required", approverGroups: decision.routing.approverGroups, quorum: decision.routing.quorum };
  }

  /** The one task in the principal's token that covers this tool and tenant, if exactly one does. */
  private defaultTaskId(principal: VerifiedPrincipal, tool: string, tenant: string): string | undefined {
    const tasks = principal.tasks.filter((t) => (t.tools === undefined || t.tools.includes(tool)) && (t.tenant === undefined || t.tenant === tenant));
    return tasks.length === 1 ? tasks[0]?.taskId : undefined;
  }

  /**
   * tools/call: file the call (or attach to the approval the same call filed before) and answer with
   * the upstream's result when policy allows it at once or it is approved, a refusal when it is
   * denied, or `waiting`. Refusals are tool error results naming countersign's code; an unknown tool
   * is the caller's protocol error (`unknown_tool` thrown).
   */
  async call(caller: GatewayCaller, tool: string, args: Record<string, unknown> | undefined, meta: Record<string, unknown> | undefined): Promise<CallOutcome> {
    const entry = toolEntry(this.deps.services.config, tool);
    if (entry === undefined || this.deps.upstreams.upstreamOf(tool) === undefined) throw new CountersignError("unknown_tool", `no tool ${tool} behind this gateway`);
    try {
      if (caller.agent.proofKey !== undefined) {
        // Such a grant is bound to the agent's key (cnf.jkt): only the agent could present it, not the gateway.
        return { kind: "result", result: refusal("forbidden", "a workload whose identity names a key calls the tool server itself (README \"Agent client\"), not through the gateway") };
      }
      const argsJson = parseOrRefuse(JsonSchema, args ?? {}, "arguments");
      const tenant = this.deps.services.policy.user(caller.principal.subject)?.tenant;
      if (tenant === undefined) return { kind: "result", result: refusal("policy_denied", "the principal is not a user in the directory") };
      const intent = parseMeta(IntentMetaSchema, meta?.[META.intent], `_meta["${META.intent}"]`);
      const resource = parseMeta(ResourceSchema, meta?.[META.resource], `_meta["${META.resource}"]`);
      const ownRequestId = parseMeta(RequestIdSchema, meta?.[META.requestId], `_meta["${META.requestId}"]`);
      const taskId = intent?.taskId ?? this.defaultTaskId(caller.principal, tool, tenant);
      if (taskId === undefined) {
        return { kind: "result", result: refusal("invalid_request", `name the task this call serves: _meta["${META.intent}"] = {"taskId": "...", "summary": "..."}`) };
      }
      const declared = entry.intentArgument !== undefined ? args?.[entry.intentArgument] : undefined;
      const summary = intent?.summary ?? (typeof declared === "string" && declared.trim() !== "" ? declared : `${entry.displayName ?? tool} (requested over MCP)`);
      const hash = argsSha256(argsJson);
      // One call, one approval: the same principal, agent, tool, arguments, task and summary attach to it again.
      const base = `mcp-${createHash("sha256")
        .update(canonicalize([caller.principal.issuer, caller.principal.subject, caller.agent.spiffeId, tool, hash, taskId, summary, resource ?? null, ownRequestId ?? null]) ?? "")
        .digest("base64url")
        .slice(0, 40)}`;
      const requestId = await this.generation(caller, tenant, base);
      // The action request meets the HTTP API's own schema: whatever it came from (_meta, an argument), a bad value is refused here.
      const body = parseOrRefuse(CreateApprovalBodySchema, { requestId, tenant, tool, arguments: argsJson, ...(resource !== undefined ? { resource } : {}), intent: { taskId, summary } }, "action request");
      const state = await fileApproval(this.deps, caller, body);
      return await this.settle(state, argsJson);
    } catch (err) {
      const coded = toCountersignError(err);
      if (coded.code === "internal") throw err;
      return { kind: "result", result: refusal(coded.code, coded.message) };
    }
  }

  /**
   * The requestId the same call files under now. A call is a retry of an earlier one while that
   * approval is open or ended less than {@link retryWindowMs} ago (it attaches: the held result, the
   * same refusal); later it is a new call, filed as the next generation `<base>.<ms the last one closed>`.
   * The chain's last known link is remembered, so a walk starts where the last one ended.
   */
  private async generation(caller: GatewayCaller, tenant: string, base: string): Promise<string> {
    let requestId = this.generations.get(base) ?? base;
    for (let step = 0; step < MAX_GENERATION_STEPS; step += 1) {
      const id = approvalId({ tenant, agent: caller.agent.spiffeId, principalIssuer: caller.principal.issuer, principal: caller.principal.subject, requestId });
      const run = await this.deps.approvals.runStatus(id);
      if (run === undefined || run.running || run.closedAtMs === undefined || Date.now() - run.closedAtMs < this.retryWindowMs()) break;
      requestId = `${base}.${run.closedAtMs}`;
    }
    this.generations.delete(base);
    this.generations.set(base, requestId);
    if (this.generations.size > MAX_HELD_RESULTS) this.generations.delete(this.generations.keys().next().value as string);
    return requestId;
  }

  /** How long after an approval ended the same call is still its retry: as long as its result is held. */
  private retryWindowMs(): number {
    return this.deps.config.resultRetentionSeconds * 1000;
  }

  /**
   * Wait while `state` is undecided, at most until `untilMs`, calling `onWait` every
   * `progressEverySeconds`; then settle it. Stops early (answering `waiting`) when `signal` aborts.
   */
  async follow(state: ApprovalState, untilMs: number, args: Json | undefined, opts: { signal?: AbortSignal; onWait?: (s: ApprovalState) => Promise<void>; sliceMs?: number } = {}): Promise<CallOutcome> {
    let current = state;
    const slice = opts.sliceMs ?? this.deps.config.progressEverySeconds * 1000;
    while (UNDECIDED_STATUSES.includes(current.status) && Date.now() < untilMs) {
      if (opts.signal?.aborted === true || this.stopping.signal.aborted) return { kind: "waiting", state: current };
      await opts.onWait?.(current);
      current = await this.deps.approvals.waitForStatusChange(current.id, UNDECIDED_STATUSES, Math.min(slice, untilMs - Date.now()), current);
    }
    // A caller that went away (or a gateway shutting down) starts no upstream call.
    if (opts.signal?.aborted === true || this.stopping.signal.aborted) return { kind: "waiting", state: current };
    return this.settle(current, args);
  }

  /**
   * The approval `id` filed by this caller (any other caller's is `not_found`, indistinguishable from
   * a missing one), as it stands (`known`: as the request's authorization just read it), and settled:
   * a result, or `waiting`.
   */
  async resume(caller: GatewayCaller, id: string, known?: ApprovalState): Promise<{ state: ApprovalState; outcome: CallOutcome }> {
    const state = known ?? (await this.own(caller, id));
    return { state, outcome: await this.settle(state) };
  }

  /** Withdraw the caller's own approval (a task's cancellation): revoked, so no grant is used. */
  async cancel(caller: GatewayCaller, id: string, known?: ApprovalState): Promise<void> {
    const state = known ?? (await this.own(caller, id));
    if (UNDECIDED_STATUSES.includes(state.status) || state.status === "approved") {
      await this.deps.approvals.revoke(id, { by: caller.principal.subject, reason: "cancelled by the agent (MCP tasks/cancel)" }).catch((err: unknown) => {
        // Decided or used meanwhile: the task's status says what became of it.
        if (!(err instanceof CountersignError && (err.code === "approval_not_pending" || err.code === "grant_already_redeemed"))) throw err;
      });
    }
  }

  /**
   * Carry a task on in the background: wait for the decision, then execute once (a later tasks/get
   * finds the result). At most {@link MAX_WATCHED} at once; beyond that, a tasks/get after the
   * decision settles the task instead.
   */
  watch(caller: GatewayCaller, state: ApprovalState): void {
    if (this.watched.has(state.id) || this.watched.size >= MAX_WATCHED) return;
    this.watched.add(state.id);
    const deadline = state.routing?.deadlineAtMs ?? Date.now() + this.deps.services.config.approvals.maxDeadlineSeconds * 1000;
    void this.follow(state, deadline + 60_000, undefined, { signal: this.stopping.signal, sliceMs: WATCH_SLICE_MS })
      .catch((err: unknown) => this.deps.logger.warn({ approvalId: state.id, err: toCountersignError(err).code }, "background task follow-up failed; the next tasks/get resumes it"))
      .finally(() => this.watched.delete(state.id));
  }

  /** The scopes of catalog tool `tool` that the caller's token lacks (none for a tool outside the catalog). */
  missingScopes(caller: GatewayCaller, tool: string): { required: string[]; missing: string[] } {
    const required = toolEntry(this.deps.services.config, tool)?.scopes ?? [];
    return { required, missing: required.filter((scope) => !caller.principal.scopes.includes(scope)) };
  }

  /**
   * Whether this caller's token may follow task `id` now: the tool's scopes and the token's tasks are
   * checked on every task request, as on the tools/call that started it. `not_found` when the task
   * is not the caller's; otherwise the approval as read, or the refusal (with the scopes to ask for).
   */
  async authorizeTask(caller: GatewayCaller, id: string): Promise<{ state: ApprovalState } | { refusal: CountersignError; scopes?: string[] }> {
    const state = await this.own(caller, id);
    const { required, missing } = this.missingScopes(caller, state.tool);
    if (missing.length > 0) return { refusal: new AuthError("insufficient_scope", `following a task of ${state.tool} needs scope ${missing.join(" ")}`), scopes: required };
    try {
      checkIntent(caller.principal, { tenant: state.tenant, tool: state.tool, taskId: state.intent.taskId });
    } catch (err) {
      return { refusal: toCountersignError(err) };
    }
    return { state };
  }

  async own(caller: GatewayCaller, id: string): Promise<ApprovalState> {
    const state = await this.deps.approvals.state(id);
    if (state.principal !== caller.principal.subject || state.principalIssuer !== caller.principal.issuer || state.agent !== caller.agent.spiffeId) {
      throw new ApprovalError("not_found", "no such approval");
    }
    return state;
  }

  /** A decided approval's answer; an undecided one is `waiting`. */
  private async settle(state: ApprovalState, args?: Json): Promise<CallOutcome> {
    if (UNDECIDED_STATUSES.includes(state.status)) return { kind: "waiting", state };
    if (state.status === "approved" || state.status === "redeemed") return { kind: "result", result: await this.execute(state, args) };
    return { kind: "result", result: refusal(state.reasonCode ?? state.status, state.reason ?? `the approval is ${state.status}`, state) };
  }

  /** The approved call's upstream result: executed once per approval; a retry joins it or reads its result. */
  private execute(state: ApprovalState, args?: Json): Promise<CallToolResult> {
    this.prune();
    const held = this.results.get(state.id);
    if (held !== undefined) return Promise.resolve(held.result);
    let run = this.running.get(state.id);
    if (run === undefined) {
      run = this.executeOnce(state, args).finally(() => this.running.delete(state.id));
      this.running.set(state.id, run);
    }
    return run;
  }

  private async executeOnce(state: ApprovalState, args?: Json): Promise<CallToolResult> {
    if (state.status === "redeemed") {
      return refusal("grant_already_redeemed", "this approved call has already run; its result is not held by this gateway (the same call made again a while after it ended, or with another countersign/requestId, is a new call)", state);
    }
    const grant = state.grant?.token;
    if (grant === undefined || grant === "") return refusal("internal", "the approval holds no grant", state);
    const callArgs = args ?? (await this.deps.approvals.request(state.id)).arguments;
    let result: CallToolResult;
    try {
      result = await this.deps.upstreams.call(state.tool, callArgs, grant, this.stopping.signal);
    } catch (err) {
      const coded = toCountersignError(err);
      this.deps.logger.warn({ approvalId: state.id, tool: state.tool, code: coded.code }, "upstream call failed");
      // Not held: the grant may be unspent, and the next attempt may get through.
      return refusal(coded.code, `${coded.message}; call again to retry`, state);
    }
    const answered: CallToolResult = { ...result, _meta: { ...result._meta, [META.approval]: { id: state.id, status: "approved" } } };
    // A tool error from an upstream that did not spend the grant (its redemption failed) is not the
    // call's result: the grant may still be used, and a retry runs the call.
    const spent = result.isError !== true || (await this.deps.approvals.state(state.id).catch(() => state)).status !== "approved";
    if (spent) {
      this.results.set(state.id, { result: answered, atMs: Date.now() });
      if (this.results.size > MAX_HELD_RESULTS) this.results.delete(this.results.keys().next().value as string);
    }
    this.deps.logger.info({ approvalId: state.id, tool: state.tool, isError: result.isError === true }, "upstream call made with its grant");
    return answered;
  }

  private prune(): void {
    const oldest = Date.now() - this.deps.config.resultRetentionSeconds * 1000;
    for (const [id, held] of this.results) {
      if (held.atMs >= oldest) break; // insertion order is age order
      this.results.delete(id);
    }
  }
}
