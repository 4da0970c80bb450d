// Workflow interceptors of tracing, bundled with the workflow code only when tracing is on
// (worker/worker.ts): the Temporal SDK's OpenTelemetry interceptors, with two changes.
// - An Update (decide, redeem, revoke) is traced as a child of the context the approval was started
//   with, not of its caller's: the trace begun by `POST /v1/approvals` goes on through the approval's
//   decisions, the grant's minting and its redemption, whoever sends them; the Update's span links to
//   its caller's span.
// - Update validators and queries make no span. The tracer draws span ids from the workflow's seeded
//   random numbers, and validators and queries do not run again when a workflow is replayed (after
//   its eviction from the worker's cache): their ids would shift every id drawn after them, and spans
//   ended after a replay would carry ids their children never saw. Without them, a replay draws the
//   same ids as the first run. (Workflow code itself draws no random numbers: if it ever did, tracing
//   would change the numbers it gets.)
// No commands: the SDK's own interceptors run unchanged otherwise, only the parent context differs.
import { isSpanContextValid, trace, type SpanContext } from "@opentelemetry/api";
import type { Payload } from "@temporalio/common";
import type { Next, QueryInput, UpdateInput, WorkflowExecuteInput, WorkflowInboundCallsInterceptor, WorkflowInterceptorsFactory } from "@temporalio/workflow";
import { extractContextFromHeaders, TRACE_HEADER } from "@temporalio/interceptors-opentelemetry/lib/instrumentation.js";
import { OpenTelemetryInboundInterceptor, OpenTelemetryInternalsInterceptor, OpenTelemetryOutboundInterceptor } from "@temporalio/interceptors-opentelemetry/lib/workflow/index.js";

/** The span context a call's headers carry, when they carry a valid one. */
function callerSpanContext(headers: UpdateInput["headers"]): SpanContext | undefined {
  const extracted = extractContextFromHeaders(headers);
  const span = extracted !== undefined ? trace.getSpanContext(extracted) : undefined;
  return span !== undefined && isSpanContextValid(span) ? span : undefined;
}

class ApprovalTraceInboundInterceptor extends OpenTelemetryInboundInterceptor {
  /** The trace header the workflow was started with; absent when its starter did not trace. */
  private startedWith: Payload | undefined;

  override execute(input: WorkflowExecuteInput, next: Next<WorkflowInboundCallsInterceptor, "execute">): Promise<unknown> {
    this.startedWith = input.headers[TRACE_HEADER];
    return super.execute(input, next);
  }

  override handleUpdate(input: UpdateInput, next: Next<WorkflowInboundCallsInterceptor, "handleUpdate">): Promise<unknown> {
    const caller = this.startedWith !== undefined ? callerSpanContext(input.headers) : undefined;
    return super.handleUpdate(this.underApproval(input), (traced) => {
      linkActiveSpan(caller);
      return next({ ...traced, headers: input.headers });
    });
  }

  override validateUpdate(input: UpdateInput, next: Next<WorkflowInboundCallsInterceptor, "validateUpdate">): void {
    next(input);
  }

  override handleQuery(input: QueryInput, next: Next<WorkflowInboundCallsInterceptor, "handleQuery">): Promise<unknown> {
    return next(input);
  }

  /** The Update as the SDK's interceptor should see it: carrying the approval's own trace header (when it has one). */
  private underApproval(input: UpdateInput): UpdateInput {
    const startedWith = this.startedWith;
    return startedWith === undefined ? input : { ...input, headers: { ...input.headers, [TRACE_HEADER]: startedWith } };
  }
}

/** Link the span the SDK's interceptor just opened for an Update to the Update's caller. */
function linkActiveSpan(caller: SpanContext | undefined): void {
  const span = trace.getActiveSpan();
  if (caller !== undefined && span?.isRecording() === true) span.addLink({ context: caller });
}

export const interceptors: WorkflowInterceptorsFactory = () => ({
  inbound: [new ApprovalTraceInboundInterceptor()],
  outbound: [new OpenTelemetryOutboundInterceptor()],
  internals: [new OpenTelemetryInternalsInterceptor()],
});
