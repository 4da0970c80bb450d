// The long-running processes: worker, HTTP server, and `dev` (both plus an embedded Temporal dev
// server persisted to .countersign/). Each resolves when its stop signal fires and cleans up in finally.
import { resolve } from "node:path";
import { Runtime, type Worker } from "@temporalio/worker";
import type { Config } from "../config.js";
import { ConfigError } from "../errors.js";
import { temporalSdkLogger, type Logger } from "../log.js";
import type { RunningHttpServer } from "../server/serve.js";
import type { RunningSlackEdge } from "../slack/app.js";
import { freePort, startDevServer, type DevServer } from "../temporal/dev-server.js";
import { connectClient, connectWorker, temporalTarget, type TemporalTarget } from "../temporal/connection.js";
import { createApprovalWorker } from "../../worker/worker.js";
import { startTracingFromConfig, type Tracing } from "../tracing/index.js";
import { removeDevRecord, writeDevRecord } from "./dev-record.js";
import { activityDeps, buildServices, type Services } from "./services.js";

/** Resolves on the first SIGINT or SIGTERM. */
export function untilSignal(): Promise<string> {
  return new Promise((done) => {
    const on = (sig: string) => () => done(sig);
    process.once("SIGINT", on("SIGINT"));
    process.once("SIGTERM", on("SIGTERM"));
  });
}

let runtimeInstalled = false;
/**
 * Route the SDK's logs through our logger and, given a metrics address (`worker.metricsAddress`), serve
 * the worker's metrics (the SDK's own and countersign's, e.g. `countersign_break_glass_decisions`) for
 * Prometheus there, with the SDK's names and units, which Temporal's metrics reference documents;
 * once per process, before the first worker. Throws when the address cannot be bound.
 */
export function installRuntime(logger: Logger, metricsAddress?: string): void {
  if (runtimeInstalled) return;
  Runtime.install({
    logger: temporalSdkLogger(logger),
    ...(metricsAddress !== undefined ? { telemetryOptions: { metrics: { prometheus: { bindAddress: metricsAddress } } } } : {}),
  });
  runtimeInstalled = true;
}

/** `opts.temporalUiUrl`: the UI the Slack cards link to when the config names none (dev's own); `opts.tracing`: trace the worker's activities and workflows. */
export async function startWorker(services: Services, target: TemporalTarget, logger?: Logger, opts: { temporalUiUrl?: string; tracing?: Tracing } = {}): Promise<{ worker: Worker; done: Promise<void> }> {
  const connection = await connectWorker(target);
  let worker: Worker;
  try {
    worker = await createApprovalWorker({
      connection,
      namespace: target.namespace,
      taskQueue: services.config.temporal.taskQueue,
      dataConverter: services.workerDataConverter,
      deps: activityDeps(services, logger, opts),
      maxCachedWorkflows: services.config.worker.maxCachedWorkflows,
      ...(opts.tracing !== undefined ? { tracing: opts.tracing } : {}),
    });
  } catch (err) {
    await connection.close();
    throw err;
  }
  const done = worker.run().finally(() => connection.close());
  return { worker, done };
}

/**
 * The HTTP server; its `/metrics` appends what the worker metrics endpoints at `workerMetricsAddresses` serve.
 * `opts.temporalUiOrigin`: a Temporal UI whose browser may call the codec besides `codec.uiOrigins` (dev's own);
 * `opts.tracing`: a span per request, and its Temporal calls traced.
 */
export async function startServer(
  services: Services,
  target: TemporalTarget,
  logger: Logger,
  workerMetricsAddresses: readonly string[],
  opts: { temporalUiOrigin?: string; tracing?: Tracing } = {},
): Promise<RunningHttpServer & { closeAll(): Promise<void> }> {
  // The HTTP side (Hono, the MCP SDK, Bolt, the metrics registry) loads only where it serves: `countersign worker` never holds it in memory.
  const [{ ApprovalsClient }, { createApp }, { createMcpGateway }, { Metrics }, { listen }, { createSlackEdge, slackMode }] = await Promise.all([
    import("../client/approvals.js"),
    import("../server/app.js"),
    import("../mcp/index.js"),
    import("../server/metrics.js"),
    import("../server/serve.js"),
    import("../slack/app.js"),
  ]);
  // Missing Slack secrets are a start-up error, before anything connects.
  if (services.config.slack !== undefined) slackMode(services.config.slack);
  const { client, connection } = await connectClient(target, services.dataConverter, opts.tracing !== undefined ? { tracing: opts.tracing } : {});
  const approvals = new ApprovalsClient(client, services.config.temporal.taskQueue);
  const metrics = new Metrics({ defaultMetrics: true, workerMetricsAddresses, logger });
  let slack: RunningSlackEdge | undefined;
  let http: RunningHttpServer;
  const mcp = createMcpGateway({ services, approvals, metrics, logger });
  try {
    const slackConfig = services.config.slack;
    slack =
      slackConfig !== undefined
        ? createSlackEdge({ slack: slackConfig, tools: services.config.tools, approvals, policy: services.policy, grantKeys: services.grantKeys, issuer: services.config.issuer, logger, metrics })
        : undefined;
    const app = createApp({ services, approvals, logger, metrics, ...(slack?.http !== undefined ? { slack: slack.http } : {}), ...(mcp !== undefined ? { mcp } : {}), ...opts });
    http = await listen(app, services.config.server.host, services.config.server.port);
    await slack?.start();
  } catch (err) {
    await connection.close();
    throw err;
  }
  if (slack !== undefined) logger.info({ mode: slack.mode }, "slack edge running");
  return {
    ...http,
    async closeAll() {
      await slack?.stop().catch((err: unknown) => logger.error({ err }, "stopping the Slack edge failed"));
      mcp?.close();
      await http.close();
      await connection.close();
    },
  };
}

/** `countersign worker`: run until a signal, then drain. */
export async function runWorker(config: Config, logger: Logger): Promise<void> {
  installRuntime(logger, config.worker.metricsAddress);
  // A worker writes the Slack cards: with a slack section it needs the bot token (and nothing else).
  if (config.slack !== undefined && config.slack.botToken === undefined) throw new ConfigError("config_invalid", "slack is configured but SLACK_BOT_TOKEN (or slack.botTokenFile) is not set");
  const services = await buildServices(config, { createMissingKeys: false });
  const tracing = await startTracingFromConfig(config, logger);
  try {
    const { worker, done } = await startWorker(services, temporalTarget(config), logger, tracing !== undefined ? { tracing } : {});
    logger.info({ taskQueue: config.temporal.taskQueue, tracing: tracing !== undefined }, "worker running");
    await Promise.race([untilSignal(), done]);
    stopWorker(worker);
    await done;
  } finally {
    await shutdownTracing(tracing, logger);
  }
}

/** `countersign server`: serve HTTP until a signal. */
export async function runServer(config: Config, logger: Logger): Promise<void> {
  const services = await buildServices(config, { createMissingKeys: false });
  const tracing = await startTracingFromConfig(config, logger);
  try {
    const server = await startServer(services, temporalTarget(config), logger, config.server.workerMetricsAddresses, tracing !== undefined ? { tracing } : {});
    logger.info({ url: server.url, tracing: tracing !== undefined }, "server listening");
    try {
      await untilSignal();
    } finally {
      await server.closeAll();
    }
  } finally {
    await shutdownTracing(tracing, logger);
  }
}

/** Export the spans still buffered; a collector that does not answer is logged (its message only), never a failed shutdown. */
async function shutdownTracing(tracing: Tracing | undefined, logger: Logger): Promise<void> {
  await tracing?.shutdown().catch((err: unknown) => logger.warn({ detail: err instanceof Error ? err.message : String(err) }, "exporting the last spans failed"));
}

/**
 * `countersign dev`: Temporal dev server (persisted in `<stateDir>/temporal.db`), worker and HTTP
 * server in one process. Once ready it records itself in `<stateDir>/dev.json` (removed again on
 * shutdown) so that commands in another terminal find it, then calls `onReady`. The worker's metrics
 * are served at `worker.metricsAddress`, else on a free loopback port, and appear on the server's `/metrics`.
 */
export async function runDev(
  config: Config,
  logger: Logger,
  opts: { projectRoot: string; stateDir: string; temporalPort: number; temporalUiPort: number; exampleTools?: boolean; onReady?: (info: DevInfo) => void },
): Promise<void> {
  const startedAt = Date.now();
  let temporal: DevServer | undefined;
  let server: (RunningHttpServer & { closeAll(): Promise<void> }) | undefined;
  let worker: { worker: Worker; done: Promise<void> } | undefined;
  let tools: { url: string; close(): Promise<void> } | undefined;
  let recorded = false;
  let tracing: Tracing | undefined;
  const workerMetricsAddress = config.worker.metricsAddress ?? `127.0.0.1:${await freePort()}`;
  installRuntime(logger, workerMetricsAddress);
  try {
    tracing = await startTracingFromConfig(config, logger);
    const services = await buildServices(config, { createMissingKeys: true });
    if (config.slack !== undefined) (await import("../slack/app.js")).slackMode(config.slack);
    // The UI decodes through this server's codec (README "Reading approvals in the Temporal UI").
    const codecEndpoint = codecEndpointOf(config);
    if (codecEndpoint === undefined) logger.info("server.port is 0: the Temporal UI starts without a codec endpoint");
    temporal = await startDevServer({
      projectRoot: opts.projectRoot,
      dbFile: resolve(opts.stateDir, "temporal.db"),
      ui: true,
      port: opts.temporalPort,
      uiPort: opts.temporalUiPort,
      ...(codecEndpoint !== undefined ? { uiCodecEndpoint: codecEndpoint } : {}),
      log: (msg) => logger.info(msg),
    });
    const target = temporalTarget(config, { address: temporal.address, namespace: temporal.namespace });
    // The cards link to the approval in the UI this command runs, unless the config names another.
    worker = await startWorker(services, target, logger, { ...(temporal.uiUrl !== undefined ? { temporalUiUrl: temporal.uiUrl } : {}), ...(tracing !== undefined ? { tracing } : {}) });
    server = await startServer(services, target, logger, [scrapeAddress(workerMetricsAddress), ...config.server.workerMetricsAddresses], {
      ...(temporal.uiUrl !== undefined ? { temporalUiOrigin: new URL(temporal.uiUrl).origin } : {}),
      ...(tracing !== undefined ? { tracing } : {}),
    });
    writeDevRecord({
      configFile: config.file,
      stateDir: resolve(opts.stateDir),
      temporalAddress: temporal.address,
      temporalNamespace: temporal.namespace,
      serverUrl: server.url,
      pid: process.pid,
    });
    recorded = true;
    if (opts.exampleTools === true) tools = await startExampleTools(config, server.url, opts.stateDir, logger);
    opts.onReady?.({
      serverUrl: server.url,
      temporalAddress: temporal.address,
      temporalUiUrl: temporal.uiUrl,
      readyMs: Date.now() - startedAt,
      ...(codecEndpoint !== undefined ? { codecEndpoint } : {}),
      ...(tools !== undefined ? { toolsUrl: tools.url } : {}),
    });
    await Promise.race([untilSignal(), worker.done]);
  } finally {
    // Each step runs even if an earlier one failed: never leave the dev server orphaned. The record
    // goes first, so no command connects to what is shutting down.
    if (recorded) removeDevRecord(opts.stateDir);
    await tools?.close().catch((err: unknown) => logger.error({ err }, "closing the example tools server failed"));
    await server?.closeAll().catch((err: unknown) => logger.error({ err }, "closing the HTTP server failed"));
    if (worker !== undefined) {
      stopWorker(worker.worker);
      await worker.done.catch((err: unknown) => logger.error({ err }, "worker stopped with an error"));
    }
    await temporal?.stop();
    await shutdownTracing(tracing, logger);
  }
}

/**
 * `dev --example-tools`: the example MCP tools server (examples/tools-server.ts, payments tools) as the
 * gateway's upstream, on the port of the config's loopback upstream that serves `payments.refund`,
 * redeeming grants as the demo payments tool server. None when the config names no such upstream.
 */
async function startExampleTools(config: Config, serverUrl: string, stateDir: string, logger: Logger): Promise<{ url: string; close(): Promise<void> } | undefined> {
  const upstream = Object.values(config.mcp?.upstreams ?? {}).find((u) => u.tools.includes("payments.refund") && ["127.0.0.1", "localhost"].includes(new URL(u.url).hostname));
  if (upstream === undefined) {
    logger.info("no loopback MCP upstream serves payments.refund in this config: the example tools server is not started");
    return undefined;
  }
  // Loaded only here: the example ships beside the CLI in dist/, and nothing else of countersign needs it.
  const [{ startToolsServer }, { createToolServerKit }, { demoWorkloadToken }] = await Promise.all([import("../../examples/tools-server.js"), import("../kit/index.js"), import("../demo/identities.js")]);
  const kit = createToolServerKit({ countersignUrl: serverUrl, issuer: config.issuer, audience: upstream.audience, workloadToken: () => demoWorkloadToken(stateDir, new URL(upstream.audience).pathname.slice(1)) });
  return startToolsServer({ kit, port: Number(new URL(upstream.url).port) });
}

/**
 * The codec endpoint of the HTTP server `dev` is about to start, as this machine's browser reaches it
 * (a wildcard host means loopback); undefined for port 0, which is not known before it listens.
 */
function codecEndpointOf(config: Config): string | undefined {
  const { host, port } = config.server;
  if (port === 0) return undefined;
  const shown = host === "0.0.0.0" || host === "::" ? "127.0.0.1" : host.includes(":") ? `[${host}]` : host;
  return `http://${shown}:${port}/codec`;
}

/** Where to reach an exporter bound to `address` from this host: a wildcard host means loopback. */
function scrapeAddress(address: string): string {
  if (address.startsWith("0.0.0.0:")) return `127.0.0.1:${address.slice("0.0.0.0:".length)}`;
  if (address.startsWith("[::]:")) return `[::1]:${address.slice("[::]:".length)}`;
  return address;
}

/** Ask a worker to drain unless it is already stopping (the SDK itself reacts to SIGINT/SIGTERM). */
function stopWorker(worker: Worker): void {
  if (worker.getState() === "RUNNING") worker.shutdown();
}

export interface DevInfo {
  serverUrl: string;
  temporalAddress: string;
  temporalUiUrl: string | undefined;
  readyMs: number;
  /** The example MCP tools server's endpoint (`dev --example-tools`). */
  toolsUrl?: string;
  /** The codec endpoint the Temporal UI was started with. */
  codecEndpoint?: string;
}
