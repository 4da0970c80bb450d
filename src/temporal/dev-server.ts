// Starts a local Temporal dev server (`temporal server start-dev`) on loopback for `countersign dev`
// and the test suite, with countersign's search attributes registered, and stops it again.
import { spawn, type ChildProcess } from "node:child_process";
import { mkdirSync } from "node:fs";
import { createServer } from "node:net";
import { dirname } from "node:path";
import { Connection } from "@temporalio/client";
import { SearchAttributeType } from "@temporalio/common";
import { TestWorkflowEnvironment } from "@temporalio/testing";
import { SEARCH_ATTRIBUTES } from "../../workflows/definitions.js";
import { provisionTemporalCli } from "./provision.js";

export interface DevServerOptions {
  projectRoot: string;
  /** Persist to this SQLite file; in-memory when omitted. */
  dbFile?: string;
  /** Serve the Web UI (on a free port). */
  ui?: boolean;
  namespace?: string;
  /** gRPC port; a free one when omitted. */
  port?: number;
  /** Web UI port; a free one when omitted. */
  uiPort?: number;
  /** The Web UI's remote codec endpoint (`--ui-codec-endpoint`): the UI sends payloads there to decode. */
  uiCodecEndpoint?: string;
  /** How long to wait for the server to answer, in ms (default 60 000). */
  readyTimeoutMs?: number;
  log?: (msg: string) => void;
}

export interface DevServer {
  address: string;
  uiUrl: string | undefined;
  namespace: string;
  stop(): Promise<void>;
}

/** A free TCP port on 127.0.0.1, chosen by the kernel. */
export async function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const srv = createServer();
    srv.unref();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const addr = srv.address();
      const port = typeof addr === "object" && addr !== null ? addr.port : 0;
      srv.close(() => resolvePort(port));
    });
  });
}

function searchAttributeArgs(): string[] {
  return SEARCH_ATTRIBUTES.flatMap((key) => ["--search-attribute", `${key.name}=${key.type === SearchAttributeType.KEYWORD ? "Keyword" : key.type}`]);
}

async function waitUntilServing(address: string, namespace: string, child: ChildProcess, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`temporal dev server exited with code ${child.exitCode} during start-up`);
    try {
      const connection = await Connection.connect({ address, connectTimeout: 2_000 });
      try {
        await connection.workflowService.describeNamespace({ namespace });
        return;
      } finally {
        await connection.close();
      }
    } catch (err) {
      lastError = err;
      // The process is still starting: back off briefly before asking again (start-up only).
      await new Promise((r) => setTimeout(r, 200));
    }
  }
  throw new Error(`temporal dev server at ${address} not ready after ${timeoutMs} ms: ${String(lastError)}`);
}

/**
 * Start a dev server bound to 127.0.0.1 on free ports. Uses the provisioned CLI when there is one,
 * else the SDK's downloader. Resolves once the namespace answers; `stop()` ends the process it started.
 */
export async function startDevServer(opts: DevServerOptions): Promise<DevServer> {
  const log = opts.log ?? (() => undefined);
  const cli = provisionTemporalCli(opts.projectRoot, log);
  // A free port can be taken between our check and the server's bind, and the server picks its HTTP
  // API and metrics ports itself: a start that lost such a race is retried on new ports.
  for (let attempt = 1; ; attempt++) {
    try {
      return await startOnce(opts, cli, log);
    } catch (err) {
      // Ports the caller chose are not changed.
      if (!(err instanceof PortTakenError) || attempt >= PORT_ATTEMPTS || opts.port !== undefined) throw err;
      log(`a port was taken while the dev server started (attempt ${attempt}); starting it again on new ports`);
    }
  }
}

/** Start attempts when a port is taken meanwhile. */
const PORT_ATTEMPTS = 3;

class PortTakenError extends Error {}

async function startOnce(opts: DevServerOptions, cli: ReturnType<typeof provisionTemporalCli>, log: (msg: string) => void): Promise<DevServer> {
  const namespace = opts.namespace ?? "default";
  const port = opts.port ?? (await freePort());
  const uiPort = opts.ui === true ? (opts.uiPort ?? (await freePort())) : undefined;
  const address = `127.0.0.1:${port}`;

  if (cli === undefined) {
    log("no local Temporal CLI: letting the SDK download the dev server");
    const env = await TestWorkflowEnvironment.createLocal({
      server: {
        ip: "127.0.0.1",
        port,
        namespace,
        ui: uiPort !== undefined,
        ...(uiPort !== undefined ? { uiPort } : {}),
        ...(opts.dbFile !== undefined ? { dbFilename: opts.dbFile } : {}),
        ...(uiPort !== undefined && opts.uiCodecEndpoint !== undefined ? { extraArgs: ["--ui-codec-endpoint", opts.uiCodecEndpoint] } : {}),
        searchAttributes: [...SEARCH_ATTRIBUTES],
      },
    });
    return { address, uiUrl: uiPort !== undefined ? `http://127.0.0.1:${uiPort}` : undefined, namespace, stop: () => env.teardown() };
  }

  const args = ["server", "start-dev", "--ip", "127.0.0.1", "--port", String(port), "--namespace", namespace, "--log-level", "error"];
  args.push("--sqlite-pragma", "journal_mode=WAL", "--sqlite-pragma", "synchronous=OFF");
  if (uiPort !== undefined) args.push("--ui-port", String(uiPort), "--ui-ip", "127.0.0.1");
  if (uiPort !== undefined && opts.uiCodecEndpoint !== undefined) args.push("--ui-codec-endpoint", opts.uiCodecEndpoint);
  else args.push("--headless");
  if (opts.dbFile !== undefined) {
    mkdirSync(dirname(opts.dbFile), { recursive: true });
    args.push("--db-filename", opts.dbFile);
  }
  args.push(...searchAttributeArgs());
  log(`starting Temporal dev server (${cli.path}) on ${address}`);
  const child = spawn(cli.path, args, { stdio: ["ignore", "ignore", "pipe"] });
  let stderr = "";
  child.stderr?.on("data", (chunk: Buffer) => {
    stderr = (stderr + chunk.toString("utf8")).slice(-4000);
  });
  const exited = new Promise<void>((r) => child.once("exit", () => r()));
  try {
    await waitUntilServing(address, namespace, child, opts.readyTimeoutMs ?? 60_000);
  } catch (err) {
    child.kill("SIGKILL");
    const message = `${(err as Error).message}\n${stderr}`;
    throw /address already in use/.test(stderr) ? new PortTakenError(message) : new Error(message);
  }
  return {
    address,
    uiUrl: uiPort !== undefined ? `http://127.0.0.1:${uiPort}` : undefined,
    namespace,
    async stop() {
      if (child.exitCode !== null) return;
      child.kill("SIGTERM");
      const killer = setTimeout(() => child.kill("SIGKILL"), 10_000);
      await exited;
      clearTimeout(killer);
    },
  };
}
