// Composition of a Temporal worker: the approval workflow plus activities over the given dependencies.
import { fileURLToPath } from "node:url";
import type { DataConverter } from "@temporalio/common";
import { Worker, bundleWorkflowCode, type NativeConnection, type WorkflowBundle } from "@temporalio/worker";
import { createActivities, type ActivityDeps, type Activities } from "../activities/index.js";
import { failureConverterPath } from "../src/codec/payload-codec.js";
import type { Tracing } from "../src/tracing/index.js";

/** Absolute path of the compiled workflow entry point. */
export const WORKFLOWS_PATH = fileURLToPath(new URL("../workflows/index.js", import.meta.url));
/** The workflow interceptors of tracing, bundled only when tracing is on. */
export const TRACING_INTERCEPTORS_PATH = fileURLToPath(new URL("../workflows/tracing-interceptors.js", import.meta.url));

/**
 * Bundle the workflow code once (a few seconds); workers created from the bundle start fast. With
 * `tracing`, the bundle carries the workflow's tracing interceptors: give it only to traced workers.
 */
export async function bundleWorkflows(opts: { tracing?: boolean } = {}): Promise<WorkflowBundle> {
  const bundle = await bundleWorkflowCode({
    workflowsPath: WORKFLOWS_PATH,
    failureConverterPath,
    ...(opts.tracing === true ? { workflowInterceptorModules: [TRACING_INTERCEPTORS_PATH] } : {}),
    logger: { trace() {}, debug() {}, info() {}, warn() {}, error() {}, log() {} },
  });
  return { code: bundle.code };
}

export interface WorkerOptions {
  connection: NativeConnection;
  namespace: string;
  taskQueue: string;
  dataConverter: DataConverter;
  deps: ActivityDeps;
  /**
   * A pre-built bundle; when absent the worker bundles `WORKFLOWS_PATH` itself. With `tracing`, build it
   * with `bundleWorkflows({ tracing: true })`, or the workflow's spans are missing.
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
    ...(opts.workflowBundle !== undefined ? { workflowBundle: opts.workflowBundle } : { workflowsPath: WORKFLOWS_PATH }),
    ...(opts.identity !== undefined ? { identity: opts.identity } : {}),
    ...(traced !== undefined
      ? {
          sinks: traced.sinks,
          // A pre-built bundle has its workflow interceptors already; otherwise the worker bundles them.
          interceptors: { ...traced.interceptors, ...(opts.workflowBundle === undefined ? { workflowModules: [TRACING_INTERCEPTORS_PATH] } : {}) },
        }
      : {}),
  });
}
