// Integration harness: a complete countersign (worker + HTTP server) against the suite's real
// Temporal dev server, with the example tenant's policies and directory copied into a temp dir.
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import type { Client, Connection } from "@temporalio/client";
import { stringify as stringifyYaml } from "yaml";
import type { Worker, WorkflowBundle } from "@temporalio/worker";
import { ApprovalsClient } from "../../src/client/approvals.js";
import { CountersignError, isErrorCode } from "../../src/errors.js";
import { withoutGrantToken, type ApprovalState } from "../../workflows/definitions.js";
import { resolveConfig, type Config } from "../../src/config.js";
import { createLogger } from "../../src/log.js";
import { activityDeps, buildServices, type Services } from "../../src/runtime/services.js";
import { createMcpGateway, type McpGateway } from "../../src/mcp/index.js";
import { createApp } from "../../src/server/app.js";
import { createSlackEdge } from "../../src/slack/app.js";
import { Metrics } from "../../src/server/metrics.js";
import { listen, type RunningHttpServer } from "../../src/server/serve.js";
import { connectClient, connectWorker, type TemporalTarget } from "../../src/temporal/connection.js";
import type { Tracing } from "../../src/tracing/index.js";
import { bundleWorkflows, createApprovalWorker, type WorkerOptions } from "../../worker/worker.js";
import { createTestIdentities, TEST_TRUST_DOMAIN, type TestIdentities } from "./tokens.js";

export const projectRoot = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..", "..");
export const exampleTenant = join(projectRoot, "examples", "tenant");

export const AGENT = `spiffe://${TEST_TRUST_DOMAIN}/agents/support-bot`;
export const OTHER_AGENT = `spiffe://${TEST_TRUST_DOMAIN}/agents/other-bot`;
export const PAYMENTS_SERVER = `spiffe://${TEST_TRUST_DOMAIN}/tools/payments`;
export const KB_SERVER = `spiffe://${TEST_TRUST_DOMAIN}/tools/kb`;

let bundle: Promise<WorkflowBundle> | undefined;
let tracedBundle: Promise<WorkflowBundle> | undefined;
/** The workflow bundle, built once per test run; with `tracing`, the one carrying the workflow's tracing interceptors. */
export function sharedBundle(opts: { tracing?: boolean } = {}): Promise<WorkflowBundle> {
  if (opts.tracing === true) return (tracedBundle ??= bundleWorkflows({ tracing: true }));
  bundle ??= bundleWorkflows();
  return bundle;
}

export function temporalTargetForTests(): TemporalTarget {
  const address = process.env.TEMPORAL_ADDRESS;
  if (address === undefined) throw new Error("TEMPORAL_ADDRESS is not set: run the suite with `npm test`");
  return { connectionOptions: { address }, namespace: process.env.TEMPORAL_NAMESPACE ?? "default" };
}

export interface StackOptions {
  /** Use this payload key file (e.g. a fixture's) instead of a fresh random key. */
  payloadKeyFile?: string;
  deadlineSeconds?: number;
  grantTtlSeconds?: number;
  /** Start no worker (to see how the edge behaves when none is running). */
  worker?: boolean;
  /** Bound on one start, query or describe, in ms (ApprovalsClient's rpcDeadlineMs). */
  rpcDeadlineMs?: number;
  /** Bound on an Update, re-sends included, in ms (ApprovalsClient's updateDeadlineMs). */
  updateDeadlineMs?: number;
  /** Passed to the worker: wrap its activities, or size its workflow cache (0: every task replays the history). */
  wrapActivities?: WorkerOptions["wrapActivities"];
  maxCachedWorkflows?: number;
  /** Enable break-glass decisions (approvals.breakGlass.enabled). */
  breakGlass?: boolean;
  /** Receives the server's log lines (at debug level) instead of them being dropped. */
  logSink?: { write(line: string): void };
  /**
   * `server.workerMetricsAddresses`: where `/metrics` scrapes worker metrics. Default: the Prometheus
   * exporter of this process's Temporal runtime (the test runner's), which serves this stack's worker,
   * as `countersign dev` does; none outside the test runner (benchmarks install their own runtime).
   */
  workerMetricsAddresses?: string[];
  /**
   * Turn Slack on (the `slack:` config section, its secrets written to files in the stack's folder):
   * the worker posts cards to `apiUrl` (a fake Slack), the server receives at `POST /slack/events`.
   */
  slack?: {
    apiUrl: string;
    botToken: string;
    signingSecret: string;
    /** Written to keys/slack-app-token (name it as `appTokenFile` in `section` for Socket Mode). */
    appToken?: string;
    /** The rest of the `slack:` section (tenants default to acme in T0ACME, channel C0APPROVALS). */
    section?: Record<string, unknown>;
  };
  /** Turn the MCP gateway on: the `mcp:` config section (upstreams and limits). */
  mcp?: Record<string, unknown>;
  /** The `codec:` config section (the Temporal UI origins allowed to call `/codec/*`). */
  codec?: Record<string, unknown>;
  /** Per catalog tool, fields to add to its entry (e.g. `scopes`, `intentArgument`). */
  toolExtras?: Record<string, Record<string, unknown>>;
  /** The fetch the MCP gateway calls its upstreams with (to record what they receive). */
  upstreamFetch?: typeof fetch;
  /** Trace the stack (HTTP server, Temporal client, worker, workflow) with this process's tracing; the caller shuts it down. */
  tracing?: Tracing;
}

/** `host:port` of the test runner's runtime metrics exporter. */
export function runnerWorkerMetricsAddress(): string {
  const url = process.env.COUNTERSIGN_TEST_WORKER_METRICS;
  if (url === undefined) throw new Error("COUNTERSIGN_TEST_WORKER_METRICS is not set: run the suite with `npm test`");
  return new URL(url).host;
}

export interface HttpResult {
  status: number;
  body: any; // eslint-disable-line @typescript-eslint/no-explicit-any -- assertions read arbitrary JSON
}

export interface TestStack {
  dir: string;
  /** The config file written for the CLI. */
  configFile: string;
  config: Config;
  services: Services;
  ids: TestIdentities;
  client: Client;
  approvals: ApprovalsClient;
  baseUrl: string;
  /** Headers of an agent acting for `principal`. */
  agentHeaders(principal: string, agent?: string): Promise<Record<string, string>>;
  /** Headers of a tool server. */
  toolHeaders(spiffeId?: string): Promise<Record<string, string>>;
  http(method: string, path: string, headers: Record<string, string>, body?: unknown): Promise<HttpResult>;
  /**
   * Decide as `approver` through the approver endpoint (their own token, scope countersign:approve).
   * Resolves with the approval's state afterwards (grant token blanked, as every approver-facing
   * answer); rejects with a CountersignError carrying the endpoint's error code.
   */
  decide(id: string, approver: string, decision: "approve" | "deny", reason?: string): Promise<ApprovalState>;
  /** The grant token of an approved approval, read with the state query (a harness privilege). */
  grantOf(id: string): Promise<string>;
  /** Replace a file of the copied tenant (policies/… or directory.yaml). */
  writeTenantFile(relative: string, text: string): void;
  readTenantFile(relative: string): string;
  /** Start the worker (when none runs: `worker: false`, or after `stopWorker`). */
  startWorker(): Promise<void>;
  /** Shut the worker down (graceful) and wait until it has stopped. */
  stopWorker(): Promise<void>;
  /**
   * Another server of this stack (a fresh app and MCP gateway on its own port, sharing Temporal and the
   * services), as a restarted or second gateway process would be; `close` ends its connections and gateway.
   */
  startServer(): Promise<{ url: string; close(): Promise<void> }>;
  stop(): Promise<void>;
}

export async function startStack(opts: StackOptions = {}): Promise<TestStack> {
  const dir = mkdtempSync(join(tmpdir(), "countersign-it-"));
  cpSync(join(exampleTenant, "policies"), join(dir, "policies"), { recursive: true });
  cpSync(join(exampleTenant, "directory.yaml"), join(dir, "directory.yaml"));
  const ids = await createTestIdentities(dir);
  const configFile = join(dir, "countersign.config.yaml");
  const raw = {
      server: { host: "127.0.0.1", port: 0, publicUrl: "http://countersign.test", workerMetricsAddresses: opts.workerMetricsAddresses ?? (process.env.COUNTERSIGN_TEST_WORKER_METRICS !== undefined ? [runnerWorkerMetricsAddress()] : []) },
      identity: {
        clockToleranceSeconds: 5,
        principals: [ids.principalIssuerConfig],
        agents: [ids.agentTrustConfig],
      },
      directory: "./directory.yaml",
      policies: "./policies",
      tools: {
        "payments.lookup": { audience: PAYMENTS_SERVER, displayName: "Look up a payment", ...opts.toolExtras?.["payments.lookup"] },
        "payments.refund": { audience: PAYMENTS_SERVER, displayName: "Refund a payment", redact: ["card_number", "customer.email"], ...opts.toolExtras?.["payments.refund"] },
        "payments.bulk_refund": { audience: PAYMENTS_SERVER, ...opts.toolExtras?.["payments.bulk_refund"] },
        "kb.search": { audience: KB_SERVER, ...opts.toolExtras?.["kb.search"] },
        "prod.db.drop": { audience: `spiffe://${TEST_TRUST_DOMAIN}/tools/db` },
      },
      ...(opts.mcp !== undefined ? { mcp: opts.mcp } : {}),
      ...(opts.codec !== undefined ? { codec: opts.codec } : {}),
      grants: { keyFile: "./keys/grant-keys.json", ttlSeconds: opts.grantTtlSeconds ?? 300 },
      payloads: { keyFile: "./keys/payload-keys.json" },
      approvals: { deadlineSeconds: opts.deadlineSeconds ?? 600, ...(opts.breakGlass === true ? { breakGlass: { enabled: true } } : {}) },
      temporal: { taskQueue: `test-${randomUUID()}` },
      ...(opts.slack !== undefined
        ? {
            slack: {
              apiUrl: opts.slack.apiUrl,
              botTokenFile: "./keys/slack-bot-token",
              signingSecretFile: "./keys/slack-signing-secret",
              tenants: { acme: { teamId: "T0ACME", channel: "C0APPROVALS" } },
              ...opts.slack.section,
            },
          }
        : {}),
  };
  writeFileSync(configFile, stringifyYaml(raw));
  if (opts.slack !== undefined) {
    mkdirSync(join(dir, "keys"), { recursive: true });
    writeFileSync(join(dir, "keys", "slack-bot-token"), opts.slack.botToken);
    writeFileSync(join(dir, "keys", "slack-signing-secret"), opts.slack.signingSecret);
    if (opts.slack.appToken !== undefined) writeFileSync(join(dir, "keys", "slack-app-token"), opts.slack.appToken);
  }
  if (opts.payloadKeyFile !== undefined) {
    mkdirSync(join(dir, "keys"), { recursive: true });
    cpSync(opts.payloadKeyFile, join(dir, "keys", "payload-keys.json"));
  }
  const config = resolveConfig(raw, configFile);
  const services = await buildServices(config, { createMissingKeys: true });
  const target = temporalTargetForTests();
  const workerConnection = await connectWorker(target);
  let worker: Worker | undefined;
  let workerDone: Promise<void> | undefined;
  const runWorker = async (): Promise<void> => {
    worker = await createApprovalWorker({
      connection: workerConnection,
      namespace: target.namespace,
      taskQueue: config.temporal.taskQueue,
      dataConverter: services.workerDataConverter,
      deps: activityDeps(services),
      workflowBundle: await sharedBundle({ tracing: opts.tracing !== undefined }),
      ...(opts.tracing !== undefined ? { tracing: opts.tracing } : {}),
      ...(opts.wrapActivities !== undefined ? { wrapActivities: opts.wrapActivities } : {}),
      ...(opts.maxCachedWorkflows !== undefined ? { maxCachedWorkflows: opts.maxCachedWorkflows } : {}),
    });
    workerDone = worker.run();
  };
  const stopWorker = async (): Promise<void> => {
    worker?.shutdown();
    await workerDone;
    worker = undefined;
    workerDone = undefined;
  };
  if (opts.worker !== false) await runWorker();
  const { client, connection }: { client: Client; connection: Connection } = await connectClient(target, services.dataConverter, opts.tracing !== undefined ? { tracing: opts.tracing } : {});
  const approvals = new ApprovalsClient(client, config.temporal.taskQueue, {
    ...(opts.rpcDeadlineMs !== undefined ? { rpcDeadlineMs: opts.rpcDeadlineMs } : {}),
    ...(opts.updateDeadlineMs !== undefined ? { updateDeadlineMs: opts.updateDeadlineMs } : {}),
  });
  const logger = opts.logSink !== undefined ? createLogger("debug", "countersign", opts.logSink) : createLogger(process.env.TEST_LOG_LEVEL ?? "silent");
  const metrics = new Metrics({ workerMetricsAddresses: config.server.workerMetricsAddresses, logger });
  const slackEdge = config.slack !== undefined
    ? createSlackEdge({ slack: config.slack, tools: config.tools, approvals, policy: services.policy, grantKeys: services.grantKeys, issuer: config.issuer, logger, metrics })
    : undefined;
  await slackEdge?.start();
  const serve = async (): Promise<RunningHttpServer & { gateway: McpGateway | undefined }> => {
    const gateway = createMcpGateway({ services, approvals, metrics, logger, ...(opts.upstreamFetch !== undefined ? { fetch: opts.upstreamFetch } : {}) });
    const app = createApp({ services, approvals, logger, metrics, ...(slackEdge?.http !== undefined ? { slack: slackEdge.http } : {}), ...(gateway !== undefined ? { mcp: gateway } : {}), ...(opts.tracing !== undefined ? { tracing: opts.tracing } : {}) });
    return { ...(await listen(app, "127.0.0.1", 0)), gateway };
  };
  const server = await serve();
  const servers: Array<RunningHttpServer & { gateway: McpGateway | undefined }> = [server];

  const stack: TestStack = {
    dir,
    configFile,
    config,
    services,
    ids,
    client,
    approvals,
    baseUrl: server.url,
    async agentHeaders(principal, agent = AGENT) {
      return { authorization: `Bearer ${await ids.principalToken(principal)}`, "workload-identity-token": await ids.agentToken(agent) };
    },
    async toolHeaders(spiffeId = PAYMENTS_SERVER) {
      return { "workload-identity-token": await ids.agentToken(spiffeId) };
    },
    async http(method, path, headers, body) {
      const res = await fetch(`${server.url}${path}`, {
        method,
        headers: { ...headers, ...(body !== undefined ? { "content-type": "application/json" } : {}) },
        ...(body !== undefined ? { body: typeof body === "string" ? body : JSON.stringify(body) } : {}),
      });
      const text = await res.text();
      return { status: res.status, body: text === "" ? undefined : (JSON.parse(text) as unknown) };
    },
    async decide(id, approver, decision, reason) {
      const token = await ids.principalToken(approver, { scope: "countersign:approve" });
      const res = await stack.http("POST", `/v1/approvals/${id}/decisions`, { authorization: `Bearer ${token}` }, { decision, ...(reason !== undefined ? { reason } : {}) });
      if (res.status >= 400) {
        const code: unknown = res.body?.error?.code;
        throw new CountersignError(isErrorCode(code) ? code : "internal", String(res.body?.error?.message ?? res.status));
      }
      assert.equal(res.body.grant, undefined, "an approver-facing answer never carries the grant");
      return withoutGrantToken(await approvals.state(id));
    },
    async grantOf(id) {
      const token = (await approvals.state(id)).grant?.token;
      assert.ok(token !== undefined && token !== "", `approval ${id} has a grant`);
      return token;
    },
    writeTenantFile(relative, text) {
      writeFileSync(join(dir, relative), text);
    },
    readTenantFile(relative) {
      return readFileSync(join(dir, relative), "utf8");
    },
    async startWorker() {
      if (worker === undefined) await runWorker();
    },
    stopWorker,
    async startServer() {
      const another = await serve();
      servers.push(another);
      return {
        url: another.url,
        close: async () => {
          another.gateway?.close();
          await another.close();
        },
      };
    },
    async stop() {
      await slackEdge?.stop();
      for (const s of servers) s.gateway?.close();
      await Promise.all(servers.map((s) => s.close()));
      await stopWorker();
      await workerConnection.close();
      await connection.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return stack;
}

/** A refund request body as the demo agent sends it. */
export function refundRequest(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    requestId: randomUUID(),
    tenant: "acme",
    tool: "payments.refund",
    arguments: { payment_id: "pay_1042", amount_cents: 4200, currency: "EUR" },
    intent: { taskId: "ticket-1042", summary: "Refund the duplicate charge" },
    ...overrides,
  };
}

/** File a refund request as `principal`'s agent and check it is waiting for approvers. */
export async function requestPendingRefund(
  stack: TestStack,
  overrides: Record<string, unknown> = {},
  principal = "alice",
): Promise<{ id: string; body: Record<string, unknown> }> {
  const body = refundRequest(overrides);
  const res = await stack.http("POST", "/v1/approvals", await stack.agentHeaders(principal), body);
  assert.equal(res.status, 202, JSON.stringify(res.body));
  assert.equal(res.body.status, "pending");
  return { id: res.body.id as string, body };
}

/** Assert that none of the named secrets (each long enough to be meaningful) occurs in `haystack`. */
export function assertNoSecrets(haystack: string | Buffer, secrets: Record<string, string>, where: string): void {
  for (const [name, secret] of Object.entries(secrets)) {
    assert.ok(secret.length > 10, `${name} is a real value`);
    assert.equal(haystack.includes(secret), false, `${name} appears in ${where}`);
  }
}
