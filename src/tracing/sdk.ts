// The OpenTelemetry SDK of a process with tracing on (README "Tracing"), loaded only then: one tracer
// provider registered process-wide with W3C trace context, and the Temporal SDK's OpenTelemetry
// interceptors over it. Plain interceptors rather than the package's OpenTelemetryPlugin: the plugin is
// experimental in SDK 1.24, and our workers run a bundle built beforehand (in a child process), whose
// workflow interceptors are chosen when it is built (worker/worker.ts).
import { context, diag, DiagLogLevel, propagation, trace } from "@opentelemetry/api";
import { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks";
import { W3CTraceContextPropagator } from "@opentelemetry/core";
import { OTLPTraceExporter } from "@opentelemetry/exporter-trace-otlp-http";
import { Resource } from "@opentelemetry/resources";
import { BasicTracerProvider, BatchSpanProcessor, type SpanProcessor } from "@opentelemetry/sdk-trace-base";
import {
  makeWorkflowExporter,
  OpenTelemetryActivityInboundInterceptor,
  OpenTelemetryActivityOutboundInterceptor,
  OpenTelemetryWorkflowClientInterceptor,
} from "@temporalio/interceptors-opentelemetry";
import type { InjectedSinks } from "@temporalio/worker";
import type { OpenTelemetrySinks } from "@temporalio/interceptors-opentelemetry/lib/workflow/definitions.js";
import type { WorkflowInfo } from "@temporalio/workflow";
import type { Logger } from "../log.js";
import type { Tracing } from "./index.js";

/** Name of the tracer (instrumentation scope) of countersign's own spans. */
const TRACER_NAME = "countersign";

let registered = false;

/**
 * Start tracing in this process: a tracer provider whose spans (this process's and, through the
 * worker's sink, its workflows') go to `spanProcessor`, registered as the global provider with
 * AsyncLocalStorage context and the W3C `traceparent` propagator (which the Temporal interceptors use
 * to carry the context in Temporal headers). The SDK's own warnings (a collector that does not answer,
 * spans dropped) go to `logger`. Once per process until `shutdown`; a second start is a programmer
 * error and throws.
 */
export function startTracing(opts: { serviceName: string; spanProcessor: SpanProcessor; logger?: Logger }): Tracing {
  if (registered) throw new Error("tracing is already started in this process");
  const logger = opts.logger?.child({ component: "opentelemetry" });
  // The message only: its arguments are the SDK's objects (requests, errors), not ours to log whole.
  if (logger !== undefined) diag.setLogger({ error: (m) => logger.warn(m), warn: (m) => logger.warn(m), info: () => {}, debug: () => {}, verbose: () => {} }, DiagLogLevel.WARN);
  const resource = new Resource({ "service.name": opts.serviceName });
  const provider = new BasicTracerProvider({ resource, spanProcessors: [opts.spanProcessor] });
  provider.register({ contextManager: new AsyncLocalStorageContextManager().enable(), propagator: new W3CTraceContextPropagator() });
  registered = true;
  let stopped: Promise<void> | undefined;
  return {
    tracer: provider.getTracer(TRACER_NAME),
    clientInterceptors: { workflow: [new OpenTelemetryWorkflowClientInterceptor()] },
    workerOptions: () => ({
      interceptors: {
        activity: [(ctx) => ({ inbound: new OpenTelemetryActivityInboundInterceptor(ctx), outbound: new OpenTelemetryActivityOutboundInterceptor(ctx) })],
      },
      sinks: { exporter: workflowSpanSink(opts.spanProcessor, resource) },
    }),
    shutdown() {
      stopped ??= provider.shutdown().finally(() => {
        trace.disable();
        propagation.disable();
        context.disable();
        diag.disable();
        registered = false;
      });
      return stopped;
    },
  };
}

/**
 * The sink through which workflow spans leave the sandbox (not during replay). The SDK's exporter copies
 * the whole WorkflowInfo into every workflow span's attributes: search attributes (principal, agent),
 * memo, last failure and result. A span names its workflow and nothing more, so it is handed only the ids.
 */
function workflowSpanSink(spanProcessor: SpanProcessor, resource: Resource): InjectedSinks<OpenTelemetrySinks>["exporter"] {
  const sdk = makeWorkflowExporter(spanProcessor, resource);
  return {
    export: {
      ...sdk.export,
      fn: (info, spans) => {
        const named: Pick<WorkflowInfo, "workflowId" | "runId" | "workflowType"> = { workflowId: info.workflowId, runId: info.runId, workflowType: info.workflowType };
        return sdk.export.fn(named as WorkflowInfo, spans);
      },
    },
  };
}

/** Spans in batches to an OTLP/HTTP traces endpoint (JSON; headers such as an API key from OTEL_EXPORTER_OTLP_TRACES_HEADERS, read by the exporter). */
export function otlpSpanProcessor(url: string): SpanProcessor {
  return new BatchSpanProcessor(new OTLPTraceExporter({ url }));
}
