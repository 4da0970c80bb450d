// Tracing (README "Tracing"): what a process with tracing on hands to its Temporal client, its worker
// and its HTTP server. Off unless the config has a `tracing` section; then the OpenTelemetry SDK is
// loaded (./sdk.ts), and only then: a process without tracing installs no tracer and no interceptor.
import type { Tracer } from "@opentelemetry/api";
import type { ClientInterceptors } from "@temporalio/client";
import type { WorkerOptions } from "@temporalio/worker";
import type { TracingConfig } from "../config.js";
import type { Logger } from "../log.js";

/** One process's tracing: a tracer provider registered process-wide, and the Temporal SDK's interceptors over it. */
export interface Tracing {
  /** countersign's own spans (one per HTTP request). */
  readonly tracer: Tracer;
  /** The Temporal client's interceptors: a span per call, its context sent in the call's headers. */
  readonly clientInterceptors: ClientInterceptors;
  /**
   * The worker's activity interceptors (a span per activity, local ones included) and the sink through
   * which the workflow's spans leave its sandbox. The workflow's own interceptors are bundled with the
   * workflow code (worker/worker.ts).
   */
  workerOptions(): Required<Pick<WorkerOptions, "interceptors" | "sinks">>;
  /** Export what is still buffered (bounded by the exporter's timeout), then unregister. Call once, last. */
  shutdown(): Promise<void>;
}

/**
 * Tracing as the config says: undefined when it has no `tracing` section; otherwise spans of this
 * process go to `tracing.otlpEndpoint` over OTLP/HTTP in batches; failed exports are warnings in `logger`.
 * Registers process-wide (once per process).
 */
export async function startTracingFromConfig(config: { tracing: TracingConfig | undefined }, logger?: Logger): Promise<Tracing | undefined> {
  if (config.tracing === undefined) return undefined;
  const { otlpSpanProcessor, startTracing } = await import("./sdk.js");
  return startTracing({ serviceName: config.tracing.serviceName, spanProcessor: otlpSpanProcessor(config.tracing.otlpEndpoint), ...(logger !== undefined ? { logger } : {}) });
}
