// The MCP gateway at `/mcp` (README "MCP gateway"): an OAuth resource server (RFC 9728 metadata,
// RFC 8707 audience, per-tool scopes as the coarse gate) that verifies the agent's workload identity
// on every request and serves the gateway over Streamable HTTP with the MCP SDK, on the current
// revision (2026-07-28, with the tasks extension) and 2025-11-25. A call that waits for approvers
// becomes a task when the client negotiated tasks, and otherwise blocks with progress notifications
// up to `mcp.waitSeconds`, then answers that the same call resumes it.
import {
  CLIENT_CAPABILITIES_META_KEY,
  createMcpHandler,
  getOAuthProtectedResourceMetadataUrl,
  MissingRequiredClientCapabilityError,
  ProtocolError,
  ProtocolErrorCode,
  Server,
  type AuthInfo,
  type CallToolResult,
  type McpHttpHandler,
  type ServerContext,
} from "@modelcontextprotocol/server";
import type { Context, Hono } from "hono";
import { z } from "zod";
import type { McpConfig } from "../config.js";
import { CountersignError, toCountersignError } from "../errors.js";
import type { Logger } from "../log.js";
import type { Services } from "../runtime/services.js";
import { parseStrictJson } from "../server/strict-json.js";
import type { ApprovalState } from "../../workflows/definitions.js";
import { META, waitingLine, type CallOutcome, type GatewayCaller, type McpGateway } from "./gateway.js";

/** The tasks extension of the 2026-07-28 revision (SEP-2663). */
export const TASKS_EXTENSION = "io.modelcontextprotocol/tasks";
const SERVER_INFO = { name: "countersign", version: "0.1.0" };
/** The tasks extension's methods that follow one task (each checked like the call that started it). */
const TASK_METHODS: readonly string[] = ["tasks/get", "tasks/update", "tasks/cancel"];
/** How often a task's client is asked to poll, in ms. */
const TASK_POLL_INTERVAL_MS = 2_000;

export interface McpRoutesDeps {
  services: Services;
  gateway: McpGateway;
  config: McpConfig;
  logger: Logger;
}

/** `Bearer <token>` (scheme in any case, one token68), or undefined. */
function bearerOf(header: string | undefined): string | undefined {
  return /^bearer ([A-Za-z0-9._~+/-]+=*)$/i.exec(header ?? "")?.[1];
}

function quoted(value: string): string {
  return `"${value.replace(/["\\]/g, "")}"`;
}

/** What the HTTP layer verified of a request: who calls, and the tasks it authorized (as it read them). */
interface Verified {
  caller: GatewayCaller;
  tasks: Map<string, ApprovalState>;
}

function verifiedOf(authInfo: AuthInfo | undefined): Verified {
  const verified = authInfo?.extra?.verified as Verified | undefined;
  if (verified === undefined) throw new ProtocolError(ProtocolErrorCode.InternalError, "unauthenticated request reached the gateway");
  return verified;
}

/** A task method's failure as the protocol says it: another caller's task, or none, is "not found". */
function taskError(err: unknown): ProtocolError {
  const coded = toCountersignError(err);
  if (coded.code === "not_found") return new ProtocolError(ProtocolErrorCode.InvalidParams, "Failed to retrieve task: Task not found");
  return new ProtocolError(ProtocolErrorCode.InternalError, `countersign: ${coded.code}: ${coded.message}`);
}

function declaresTasks(ctx: ServerContext): boolean {
  // The envelope's declared type is opaque in the SDK; the probe of 2.4.0 shows the keys as sent.
  const envelope = ctx.mcpReq.envelope as Record<string, unknown> | undefined;
  const caps = envelope?.[CLIENT_CAPABILITIES_META_KEY] as { extensions?: Record<string, unknown> } | undefined;
  return caps?.extensions?.[TASKS_EXTENSION] !== undefined;
}

const iso = (ms: number): string => new Date(ms).toISOString();

/** The task an approval's tools/call became: its id is the approval id, answered only to the caller that filed it. */
function taskOf(state: ApprovalState, outcome: CallOutcome, retentionMs: number): Record<string, unknown> {
  const base = {
    taskId: state.id,
    createdAt: iso(state.requestedAtMs),
    lastUpdatedAt: iso(state.statusChangedAtMs ?? state.requestedAtMs),
    ttlMs: Math.max(0, (state.routing?.deadlineAtMs ?? Date.now()) - Date.now()) + retentionMs,
    pollIntervalMs: TASK_POLL_INTERVAL_MS,
  };
  if (outcome.kind === "waiting") return { ...base, status: "working", statusMessage: waitingLine(outcome.state) };
  // Withdrawn by the agent itself (tasks/cancel) reads as cancelled; every other end is a tool result.
  if (state.status === "revoked" && state.revokedBy === state.principal) return { ...base, status: "cancelled", statusMessage: "cancelled by the agent" };
  return { ...base, status: "completed", statusMessage: outcome.result.isError === true ? "ended without running the tool" : `approved; the tool ran (approval ${state.id})`, result: outcome.result };
}

/** The blocking path's answer after `waitSeconds`: the call has not run; the same call resumes it. */
function stillWaiting(state: ApprovalState, tool: string): CallToolResult {
  return {
    content: [
      {
        type: "text",
        text: `${waitingLine(state)}. The call has not run. Call ${tool} again with the same arguments to keep waiting on this approval; it is not filed twice and runs once when approved.`,
      },
    ],
    isError: true,
    _meta: { [META.approval]: { id: state.id, status: "pending", resume: true } },
  };
}

const TaskIdParams = z.looseObject({ taskId: z.string().min(1).max(256) });
const LooseResult = z.looseObject({});

/** Build the per-request MCP server of one authenticated request. */
function buildServer(deps: McpRoutesDeps, era: "legacy" | "modern", authInfo: AuthInfo | undefined): Server {
  const { caller, tasks } = verifiedOf(authInfo);
  const { gateway, config } = deps;
  const retentionMs = config.resultRetentionSeconds * 1000;
  const server = new Server(SERVER_INFO, {
    capabilities: { tools: {}, ...(era === "modern" ? { extensions: { [TASKS_EXTENSION]: {} } } : {}) },
    instructions: "countersign gateway: sensitive tools wait for a human approver; a waiting call resumes when called again with the same arguments.",
  });

  server.setRequestHandler("tools/list", async () => ({ tools: await gateway.listTools(caller) }));

  server.setRequestHandler("tools/call", async (request, ctx) => {
    const { name } = request.params;
    const args = request.params.arguments;
    const meta = ctx.mcpReq._meta;
    let outcome: CallOutcome;
    try {
      outcome = await gateway.call(caller, name, args, meta);
    } catch (err) {
      const coded = toCountersignError(err);
      if (coded.code === "unknown_tool") throw new ProtocolError(ProtocolErrorCode.InvalidParams, `Unknown tool: ${name}`);
      throw err;
    }
    if (outcome.kind === "result") return outcome.result;
    if (era === "modern" && declaresTasks(ctx)) {
      gateway.watch(caller, outcome.state);
      return { resultType: "task", ...taskOf(outcome.state, outcome, retentionMs) } as unknown as CallToolResult;
    }
    const progressToken = meta?.progressToken;
    let progress = 0;
    const followed = await gateway.follow(outcome.state, Date.now() + config.waitSeconds * 1000, args as never, {
      signal: ctx.mcpReq.signal,
      onWait: async (state) => {
        if (progressToken === undefined) return;
        progress += 1;
        await ctx.mcpReq.notify({ method: "notifications/progress", params: { progressToken, progress, message: waitingLine(state) } }).catch(() => undefined);
      },
    });
    return followed.kind === "result" ? followed.result : stillWaiting(followed.state, name);
  });

  if (era === "modern") {
    const requireTasks = (ctx: ServerContext): void => {
      if (!declaresTasks(ctx)) throw new MissingRequiredClientCapabilityError({ requiredCapabilities: { extensions: { [TASKS_EXTENSION]: {} } } });
    };
    /** The caller's own task, or the protocol's not-found (another caller's task is indistinguishable from none). */
    const settled = async (taskId: string): Promise<{ state: ApprovalState; outcome: CallOutcome }> => {
      try {
        return await gateway.resume(caller, taskId, tasks.get(taskId));
      } catch (err) {
        throw taskError(err);
      }
    };
    server.setRequestHandler("tasks/get", { params: TaskIdParams, result: LooseResult }, async ({ taskId }, ctx) => {
      requireTasks(ctx);
      const { state, outcome } = await settled(taskId);
      // After a restart no follower carries it on: this one does, from now.
      if (outcome.kind === "waiting") gateway.watch(caller, outcome.state);
      return { resultType: "complete", ...taskOf(state, outcome, retentionMs) };
    });
    server.setRequestHandler("tasks/cancel", { params: TaskIdParams, result: LooseResult }, async ({ taskId }, ctx) => {
      requireTasks(ctx);
      try {
        await gateway.cancel(caller, taskId, tasks.get(taskId));
      } catch (err) {
        throw taskError(err);
      }
      return { resultType: "complete" };
    });
    server.setRequestHandler("tasks/update", { params: TaskIdParams, result: LooseResult }, async ({ taskId }, ctx) => {
      requireTasks(ctx);
      await settled(taskId);
      // An approval asks nothing of the agent: there is never an input request to answer.
      return { resultType: "complete" };
    });
  }
  return server;
}

/**
 * Mount `/mcp` and its Protected Resource Metadata on `app`. Returns the handler, to close on shutdown.
 * Every request is authenticated before the MCP SDK sees it: the access token (audience = the MCP
 * resource, the issuer's required scopes), the workload identity (and its proof when its token names a
 * key), and a tools/call's per-tool scopes.
 */
export function mountMcp(app: Hono, deps: McpRoutesDeps): McpHttpHandler {
  const { services, config } = deps;
  const resource = new URL(config.resource);
  const metadataUrl = getOAuthProtectedResourceMetadataUrl(resource);
  const metadataPath = new URL(metadataUrl).pathname;
  const baseScopes = [...new Set(services.config.identity.principals.flatMap((p) => p.requiredScopes))];
  const toolScopes = Object.values(services.config.tools).flatMap((t) => t.scopes);
  const handler = createMcpHandler(({ era, authInfo }) => buildServer(deps, era, authInfo), {
    legacy: "stateless",
    onerror: (err) => deps.logger.warn({ err: err.message }, "MCP request failed"),
  });

  app.get(metadataPath, (c) => {
    c.header("cache-control", "public, max-age=300");
    return c.json({
      resource: config.resource,
      authorization_servers: services.config.identity.principals.map((p) => p.issuer),
      scopes_supported: [...new Set([...baseScopes, ...toolScopes])],
      bearer_methods_supported: ["header"],
      resource_name: "countersign MCP gateway",
    });
  });

  /** A refusal before the MCP layer: coded JSON body, and the OAuth challenge RFC 6750 / RFC 9728 call for. */
  const refuse = (c: Context, err: CountersignError, scope?: string[]): Response => {
    const params = [`resource_metadata=${quoted(metadataUrl)}`];
    if (err.code === "insufficient_scope") params.unshift(`error="insufficient_scope"`, `scope=${quoted((scope ?? baseScopes).join(" "))}`);
    else if (err.code !== "token_missing" && err.status === 401) params.unshift(`error="invalid_token"`);
    params.push(`error_description=${quoted(err.message)}`);
    deps.logger.info({ code: err.code, path: "/mcp" }, "MCP request refused");
    const status = err.status === 403 ? 403 : 401;
    return c.json(err.toJSON(), status, { "WWW-Authenticate": `Bearer ${params.join(", ")}` });
  };

  app.all(resource.pathname, async (c) => {
    const token = bearerOf(c.req.header("authorization"));
    let caller: GatewayCaller;
    try {
      if (token === undefined) {
        throw new CountersignError(c.req.header("authorization") === undefined ? "token_missing" : "token_malformed", "Authorization: Bearer <access token for this MCP resource> is required");
      }
      const agentToken = c.req.header("workload-identity-token");
      if (agentToken === undefined || agentToken === "") throw new CountersignError("token_missing", "Workload-Identity-Token header is required");
      const [principal, agent] = await Promise.all([
        services.verifyPrincipal(token, { audience: config.resource }),
        services.verifyAgent(agentToken).then(async (verified) => {
          await services.verifyProof({ proof: c.req.header("workload-proof-token"), agent: verified, identityToken: agentToken, accessToken: token, audience: config.resource });
          return verified;
        }),
      ]);
      caller = { principal, agent, agentToken };
    } catch (err) {
      const coded = toCountersignError(err);
      if (coded.status >= 500) throw err;
      return refuse(c, coded);
    }

    let parsedBody: unknown;
    const tasks = new Map<string, ApprovalState>();
    if (c.req.method === "POST") {
      try {
        parsedBody = parseStrictJson(new Uint8Array(await c.req.arrayBuffer()));
      } catch {
        return c.json({ jsonrpc: "2.0", id: null, error: { code: ProtocolErrorCode.ParseError, message: "Parse error" } }, 400);
      }
      // The coarse gate per tool, on every message of the body (a 2025-11-25 body may be a batch): the
      // token must hold the tool's scopes before anything is filed, and a task's tool's scopes (and the
      // token's tasks) whenever a task is followed.
      const messages: unknown[] = Array.isArray(parsedBody) ? parsedBody : [parsedBody];
      for (const raw of messages) {
        const message = raw as { method?: unknown; params?: { name?: unknown; taskId?: unknown } } | null;
        if (message === null || typeof message !== "object") continue;
        if (message.method === "tools/call" && typeof message.params?.name === "string") {
          const { required, missing } = deps.gateway.missingScopes(caller, message.params.name);
          if (missing.length > 0) return refuse(c, new CountersignError("insufficient_scope", `calling ${message.params.name} needs scope ${missing.join(" ")}`), [...new Set([...baseScopes, ...required])]);
        }
        if (typeof message.method === "string" && TASK_METHODS.includes(message.method) && typeof message.params?.taskId === "string") {
          let verdict: Awaited<ReturnType<McpGateway["authorizeTask"]>>;
          try {
            verdict = await deps.gateway.authorizeTask(caller, message.params.taskId);
          } catch (err) {
            // Not the caller's task: the task method answers "not found" itself. Anything else fails the request.
            if (toCountersignError(err).code === "not_found") continue;
            throw err;
          }
          if ("refusal" in verdict) return refuse(c, verdict.refusal, [...new Set([...baseScopes, ...(verdict.scopes ?? [])])]);
          tasks.set(message.params.taskId, verdict.state);
        }
      }
    }
    const authInfo: AuthInfo = {
      token: "(verified)",
      clientId: caller.agent.spiffeId,
      scopes: caller.principal.scopes,
      expiresAt: caller.principal.expiresAt,
      resource,
      extra: { verified: { caller, tasks } satisfies Verified },
    };
    return handler.fetch(c.req.raw, { authInfo, ...(parsedBody !== undefined ? { parsedBody } : {}) });
  });
  return handler;
}
