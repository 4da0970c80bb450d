// Composition of a Temporal worker: the approval workflow plus activities over the given dependencies.
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import type { DataConverter } from "@temporalio/common";
import { Worker, bundleWorkflowCode, type NativeConnection, type WorkflowBundle } from "@temporalio/worker";
import { createActivities, type ActivityDeps, type Activities } from "../activities/index.js";
import { failureConverterPath } from "../src/codec/payload-codec.js";
import { CountersignError } from "../src/errors.js";
import type { Tracing } from "../src/tracing/index.js";

/** Absolute path of the compiled workflow entry point. */
export const WORKFLOWS_PATH = fileURLToPath(new URL("../workflows/index.js", import.meta.url));
/** The workflow interceptors of tracing, bundled only when tracing is on. */
export const TRACING_INTERCEPTORS_PATH = fileURLToPath(new URL("../workflows/tracing-interceptors.js", import.meta.url));

/** The approval workflow's bundle: its entry point, the failure converter and, with `tracing`, the workflow's tracing interceptors. */
function approvalBundle(opts: { tracing?: boolean }): BundleRequest {
  return { workflowsPath: WORKFLOWS_PATH, failureConverterPath, ...(opts.tracing === true ? { workflowInterceptorModules: [TRACING_INTERCEPTORS_PATH] } : {}) };
}

/**
 * Bundle the workflow code once (a few seconds); workers created from the bundle start fast. With
 * `tracing`, the bundle carries the workflow's tracing interceptors: give it only to traced workers.
 */
export async function bundleWorkflows(opts: { tracing?: boolean } = {}): Promise<WorkflowBundle> {
  const bundle = await bundleWorkflowCode({ ...approvalBundle(opts), logger: { trace() {}, debug() {}, info() {}, warn() {}, error() {}, log() {} } });
  return { code: bundle.code };
}

const BUNDLE_CHILD = fileURLToPath(new URL("./bundle-child.js", import.meta.url));

/** What worker/bundle-child.ts bundles: a workflows module, the failure converter when there is one, and workflow interceptor modules. */
export interface BundleRequest {
  workflowsPath: string;
  failureConverterPath?: string;
  workflowInterceptorModules?: string[];
}

/**
 * Bundle workflow code in a child process (worker/bundle-child.ts): the asking process never loads
 * webpack, whose module graph and caches would stay in its memory (about 80 MB of RSS on Node 20)
 * for as long as it runs. Rejects with the child's error output when bundling fails.
 */
export async function bundleApart(request: BundleRequest, opts: { timeoutMs?: number } = {}): Promise<WorkflowBundle> {
  const child = spawn(process.execPath, [BUNDLE_CHILD, JSON.stringify(request)], { stdio: ["ignore", "pipe", "pipe"] });
  const out: Buffer[] = [];
  let err = "";
  child.stdout.on("data", (chunk: Buffer) => out.push(chunk));
  child.stderr.on("data", (chunk: Buffer) => {
    err = (err + chunk.toString("utf8")).slice(-4000);
  });
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    child.kill("SIGKILL");
  }, opts.timeoutMs ?? BUNDLE_TIMEOUT_MS);
  const ended = await new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve, reject) => {
    child.once("error", reject);
    child.once("close", (code, signal) => resolve({ code, signal }));
  }).finally(() => clearTimeout(timer));
  if (ended.code !== 0) {
    const how = timedOut ? `did not finish within ${opts.timeoutMs ?? BUNDLE_TIMEOUT_MS} ms` : ended.signal !== null ? `was killed (${ended.signal})` : `failed (exit ${ended.code})`;
    // Webpack's reason (the child writes it to standard error) is what an operator needs to fix the code.
    throw new CountersignError("internal", `bundling the workflow code ${how}${err.trim() !== "" ? `: ${err.trim()}` : ""}`);
  }
  return { code: Buffer.concat(out).toString("utf8") };
}

/** Longest a bundle may take (a few seconds normally; a cold disk or a loaded machine takes longer). */
const BUNDLE_TIMEOUT_MS = 180_000;

/** The same bundle as {@link bundleWorkflows} (with `tracing`, the traced one), built in a child process ({@link bundleApart}). */
export function bundleWorkflowsApart(opts: { tracing?: boolean } = {}): Promise<WorkflowBundle> {
  return bundleApart(approvalBundle(opts));
}

export interface WorkerOptions {
  connection: NativeConnection;
  namespace: string;
  taskQueue: string;
  dataConverter: DataConverter;
  deps: ActivityDeps;
  /**
   * A pre-built bundle; when absent `WORKFLOWS_PATH` is bundled in a child process ({@link bundleWorkflowsApart}),
   * with the tracing interceptors when `tracing` is given. A bundle given with `tracing` must have been built
   * with them (`bundleWorkflows({ tracing: true })`), or the workflow's spans are missing.
   */
  workflowBundle?: WorkflowBundle;
  /** Trace activities and workflows (README "Tracing"); without it the worker installs no interceptor. */
  tracing?: Tracing;
  identity?: string;
  /** Wrap the activities built from `deps` (tests slow one down or count calls). */
  wrapActivities?: (real: Activities) => Activities;
  /** Workflows kept in the sticky cache (the SDK's default when absent; 0 replays every task from history). */
  maxCachedWorkflows?: number;
}

/** A worker that runs the approval workflow and its activities. Run it with `worker.run()`. */
export async function createApprovalWorker(opts: WorkerOptions): Promise<Worker> {
  const traced = opts.tracing?.workerOptions();
  return Worker.create({
    connection: opts.connection,
    namespace: opts.namespace,
    taskQueue: opts.taskQueue,
    dataConverter: opts.dataConverter,
    activities: (opts.wrapActivities ?? ((real) => real))(createActivities(opts.deps)),
    ...(opts.maxCachedWorkflows !== undefined ? { maxCachedWorkflows: opts.maxCachedWorkflows } : {}),
    // The workflow's tracing interceptors are in the bundle; the worker gets the activity ones and the sink.
    workflowBundle: opts.workflowBundle ?? (await bundleWorkflowsApart({ tracing: traced !== undefined })),
    ...(opts.identity !== undefined ? { identity: opts.identity } : {}),
    ...(traced !== undefined ? { sinks: traced.sinks, interceptors: traced.interceptors } : {}),
  });
}
