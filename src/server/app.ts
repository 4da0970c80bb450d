// The HTTP API of the README (agent API, approver decisions, grant redemption, the Temporal UI's codec, JWKS, health, metrics) as a Hono app.
// Every body is parsed with zod; every failure is `{"error":{"code","message"}}` with a stable code.
import { Hono, type Context } from "hono";
import { APPROVE_SCOPE, OPS_SCOPE } from "../auth/scopes.js";
import type { VerifiedAgent } from "../auth/verify-agent.js";
import type { VerifiedPrincipal } from "../auth/verify-principal.js";
import { IDEMPOTENCY_KEY_PATTERN, type ApprovalsClient } from "../client/approvals.js";
import { ApprovalError, AuthError, CountersignError, RequestError, toCountersignError } from "../errors.js";
import { bearer, codedBodyLimit, jsonBody, parse } from "./request.js";
import { argsSha256 } from "../grants/args-hash.js";
import { checkBinding, verifyGrant } from "../grants/verify.js";
import type { Logger } from "../log.js";
import type { Services } from "../runtime/services.js";
import { UNDECIDED_STATUSES, type ApprovalState } from "../../workflows/definitions.js";
import { Metrics } from "./metrics.js";
import { ApprovalIdSchema, CreateApprovalBodySchema, DecisionBodySchema, RedeemBodySchema, RevokeBodySchema, WaitQuerySchema } from "./schemas.js";
import { submitDecision } from "../decisions/submit.js";
import { approvalView } from "./view.js";
import { mountCodec } from "./codec.js";
import { fileApproval } from "./file-approval.js";
import { mountMcp, type McpGateway } from "../mcp/index.js";
import { SLACK_BODY_LIMIT_BYTES, type HttpSlackReceiver } from "../slack/receiver.js";
import type { Tracing } from "../tracing/index.js";
import { traceRequests } from "./trace-requests.js";

/** Request header by which the CLI labels its decisions `via: cli` (a label, not a proof: the token is the proof). */
const CLIENT_HEADER = "countersign-client";
/** `Retry-After` of a 503 `unavailable`, in seconds. */
const RETRY_AFTER_SECONDS = 2;

export interface AppDeps {
  services: Services;
  approvals: ApprovalsClient;
  logger: Logger;
  metrics?: Metrics;
  /** Slack's receiver for `POST /slack/events` (HTTP mode); without it the route answers 404. */
  slack?: HttpSlackReceiver;
  /** The MCP gateway (config `mcp`): mounted at its resource path, with its resource metadata. */
  mcp?: McpGateway;
  /** A span per request (README "Tracing"); none when absent. */
  tracing?: Tracing;
  /** The origin of a Temporal UI that may call the codec besides `codec.uiOrigins` (the one `countersign dev` runs). */
  temporalUiOrigin?: string;
}

/**
 * The caller's `Idempotency-Key`, if any: a retry of a decision, redemption or revocation with the
 * same key (by the same authenticated caller) answers with the original outcome. 1-255 visible ASCII
 * characters; anything else is refused (`invalid_request`).
 */
function idempotencyKey(c: Context): string | undefined {
  const key = c.req.header("idempotency-key");
  if (key === undefined) return undefined;
  if (!IDEMPOTENCY_KEY_PATTERN.test(key)) throw new RequestError("invalid_request", "Idempotency-Key must be 1-255 visible ASCII characters");
  return key;
}

function workloadToken(c: Context): string {
  const token = c.req.header("workload-identity-token");
  if (token === undefined || token === "") throw new AuthError("token_missing", "Workload-Identity-Token header is required");
  return token;
}

export function createApp(deps: AppDeps): Hono {
  const { services, approvals, logger } = deps;
  const metrics = deps.metrics ?? new Metrics();
  const app = new Hono();

  // First, so that the span covers everything the request does, refusals at the body limit included.
  if (deps.tracing !== undefined) app.use("*", traceRequests(deps.tracing.tracer));
  app.use("*", async (c, next) => {
    const started = performance.now();
    await next();
    metrics.observeRequest(c.req.method, c.req.routePath, c.res.status, (performance.now() - started) / 1000);
  });
  app.use("/v1/*", codedBodyLimit(services.config.server.bodyLimitBytes));
  const mcpConfig = services.config.mcp;
  if (deps.mcp !== undefined && mcpConfig !== undefined) app.use(new URL(mcpConfig.resource).pathname, codedBodyLimit(services.config.server.bodyLimitBytes));
  app.use("/slack/*", codedBodyLimit(SLACK_BODY_LIMIT_BYTES));

  app.onError((err, c) => {
    const coded = toCountersignError(err);
    const level = coded.status >= 500 ? "error" : "info";
    logger[level]({ code: coded.code, method: c.req.method, path: c.req.routePath, detail: coded.detail, err: coded.code === "internal" ? err : undefined }, "request refused");
    // Temporal or its workers are down: try again shortly (an Update retried re-attaches to its own outcome).
    if (coded.code === "unavailable") c.header("Retry-After", String(RETRY_AFTER_SECONDS));
    return c.json(coded.toJSON(), coded.status as 400);
  });
  app.notFound((c) => c.json(new RequestError("not_found", "no such endpoint").toJSON(), 404));

  /** Absolute URL of this request without its query: what a Workload-Proof-Token's `aud` must name. */
  const requestUrl = (c: Context): string => `${services.config.server.publicUrl.replace(/\/+$/, "")}${new URL(c.req.url).pathname}`;

  /** Verify a workload's identity token and, when it names a key (or its domain demands one), its proof. */
  const authenticateWorkload = async (c: Context, accessToken?: string): Promise<VerifiedAgent> => {
    const identityToken = workloadToken(c);
    const agent = await services.verifyAgent(identityToken);
    await services.verifyProof({
      proof: c.req.header("workload-proof-token"),
      agent,
      identityToken,
      ...(accessToken !== undefined ? { accessToken } : {}),
      audience: requestUrl(c),
    });
    return agent;
  };

  const authenticate = async (c: Context): Promise<{ principal: VerifiedPrincipal; agent: VerifiedAgent }> => {
    const accessToken = bearer(c);
    const [principal, agent] = await Promise.all([services.verifyPrincipal(accessToken), authenticateWorkload(c, accessToken)]);
    return { principal, agent };
  };
  const viewer = (agent: VerifiedAgent): { spiffeId: string; jkt?: string } =>
    agent.proofKey !== undefined ? { spiffeId: agent.spiffeId, jkt: agent.proofKey.jkt } : { spiffeId: agent.spiffeId };

  const ownState = async (id: string, principal: VerifiedPrincipal, agent?: VerifiedAgent): Promise<ApprovalState> => {
    const state = await approvals.state(id);
    // Someone else's approval is indistinguishable from a missing one.
    if (state.principal !== principal.subject || state.principalIssuer !== principal.issuer || (agent !== undefined && state.agent !== agent.spiffeId)) {
      throw new ApprovalError("not_found", "no such approval");
    }
    return state;
  };

  app.post("/v1/approvals", async (c) => {
    const { principal, agent } = await authenticate(c);
    const body = await jsonBody(c, CreateApprovalBodySchema);
    const state = await fileApproval({ services, approvals, metrics, logger }, { principal, agent, agentToken: workloadToken(c) }, body);
    return c.json(approvalView(state, viewer(agent)), UNDECIDED_STATUSES.includes(state.status) ? 202 : 200);
  });

  app.get("/v1/approvals/:id", async (c) => {
    const { principal, agent } = await authenticate(c);
    const id = parse(ApprovalIdSchema, c.req.param("id"), "path.id");
    const { wait } = parse(WaitQuerySchema, c.req.query(), "query");
    let state = await ownState(id, principal, agent);
    // The wait holds the answer only while nobody has decided: an approved, denied or closed
    // approval is answered at once, so an agent that polls after the decision never waits for nothing.
    if (wait > 0 && UNDECIDED_STATUSES.includes(state.status)) {
      state = await approvals.waitForStatusChange(id, UNDECIDED_STATUSES, wait * 1000);
    }
    return c.json(approvalView(state, viewer(agent)));
  });

  app.post("/v1/approvals/:id/decisions", async (c) => {
    // The approver is the user the token names, never a field of the body.
    const approver = await services.verifyPrincipal(bearer(c), { requiredScopes: [APPROVE_SCOPE] });
    const id = parse(ApprovalIdSchema, c.req.param("id"), "path.id");
    const body = await jsonBody(c, DecisionBodySchema);
    const key = idempotencyKey(c);
    const via = c.req.header(CLIENT_HEADER) === "cli" ? "cli" : "api";
    let outcome = "refused";
    try {
      const state = await submitDecision(
        { approvals, policy: services.policy, grantKeys: services.grantKeys, issuer: services.config.issuer },
        { approvalId: id, approver: approver.subject, decision: body.decision, via, ...(body.reason !== undefined ? { reason: body.reason } : {}) },
        key !== undefined ? { idempotencyKey: key } : {},
      );
      outcome = body.decision;
      logger.info({ approvalId: id, approver: approver.subject, decision: body.decision, via, status: state.status }, "decision recorded");
      return c.json(approvalView(state, undefined));
    } catch (err) {
      if (err instanceof CountersignError) outcome = err.code;
      throw err;
    } finally {
      metrics.decisions.inc({ via, outcome });
    }
  });

  app.post("/v1/approvals/:id/revoke", async (c) => {
    const principal = await services.verifyPrincipal(bearer(c));
    const id = parse(ApprovalIdSchema, c.req.param("id"), "path.id");
    const body = c.req.header("content-length") === "0" ? {} : await jsonBody(c, RevokeBodySchema);
    const key = idempotencyKey(c);
    const ops = principal.scopes.includes(OPS_SCOPE);
    if (ops) {
      // Operations staff revoke within their own tenant only: the ops scope of one tenant's IdP
      // user never reaches another tenant's approvals. Anything else is indistinguishable from missing.
      const state = await approvals.state(id);
      const tenant = services.policy.user(principal.subject)?.tenant;
      if (tenant === undefined || tenant !== state.tenant) throw new ApprovalError("not_found", "no such approval");
    } else await ownState(id, principal);
    const state = await approvals.revoke(id, { by: principal.subject, ...(body.reason !== undefined ? { reason: body.reason } : {}) }, key);
    logger.info({ approvalId: id, by: principal.subject, ops }, "approval revoked");
    return c.json(approvalView(state, undefined));
  });

  app.post("/v1/grants/redeem", async (c) => {
    const caller = await authenticateWorkload(c);
    const body = await jsonBody(c, RedeemBodySchema);
    const key = idempotencyKey(c);
    let outcome = "refused";
    try {
      const claims = await verifyGrant(services.grantKeys, body.grant, {
        issuer: services.config.issuer,
        clockToleranceSeconds: services.config.identity.clockToleranceSeconds,
      });
      const hash = argsSha256(body.arguments);
      checkBinding(claims, { audience: caller.spiffeId, tool: body.tool, argsSha256: hash, resource: body.resource });
      const result = await approvals.redeem(
        claims.approval.id,
        {
          jti: claims.jti,
          tool: body.tool,
          argsSha256: hash,
          caller: caller.spiffeId,
          ...(body.resource !== undefined ? { resource: body.resource } : {}),
        },
        key,
      );
      outcome = "redeemed";
      logger.info({ approvalId: result.approvalId, tool: body.tool, caller: caller.spiffeId }, "grant redeemed");
      return c.json(result);
    } catch (err) {
      if (err instanceof CountersignError) outcome = err.code;
      throw err;
    } finally {
      metrics.redemptions.inc({ outcome });
    }
  });

  // Slack's events and interactivity, signed with the app's signing secret (README "Slack").
  app.post("/slack/events", async (c) => {
    const receiver = deps.slack;
    if (receiver === undefined) throw new RequestError("not_found", "Slack is not configured on this server");
    const answer = await receiver.handle({
      rawBody: await c.req.text(),
      contentType: c.req.header("content-type"),
      signature: c.req.header("x-slack-signature"),
      timestamp: c.req.header("x-slack-request-timestamp"),
      retryNum: c.req.header("x-slack-retry-num"),
      retryReason: c.req.header("x-slack-retry-reason"),
    });
    return c.body(answer.body, answer.status as 200, answer.contentType !== undefined ? { "content-type": answer.contentType } : {});
  });

  if (deps.mcp !== undefined && mcpConfig !== undefined) mountMcp(app, { services, gateway: deps.mcp, config: mcpConfig, logger });

  // The Temporal UI's remote codec, for operations staff (README "Reading approvals in the Temporal UI").
  mountCodec(app, { services, approvals, logger, uiOrigins: [...services.config.codec.uiOrigins, ...(deps.temporalUiOrigin !== undefined ? [deps.temporalUiOrigin] : [])] });

  app.get("/.well-known/jwks.json", async (c) => {
    await services.grantKeys.refresh();
    c.header("cache-control", "public, max-age=300");
    return c.json(services.grantKeys.jwks());
  });

  app.get("/healthz", (c) => c.json({ status: "ok", policyVersion: services.policy.version() }));

  app.get("/metrics", async (c) => {
    c.header("content-type", metrics.contentType);
    return c.body(await metrics.render());
  });

  return app;
}
