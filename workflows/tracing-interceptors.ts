// Workflow interceptors of tracing, bundled with the workflow code only when tracing is on
// (worker/worker.ts): the Temporal SDK's OpenTelemetry interceptors, with one change. An Update
// (decide, redeem, revoke) is traced as a child of the context the approval was started with, not of
// its caller's: the trace begun by `POST /v1/approvals` goes on through the approval's decisions, the
// grant's minting and its redemption, whoever sends them; the Update's span links to its caller's span.
// No commands: the SDK's own interceptors run unchanged, only the parent context differs.
import { isSpanContextValid, trace, type SpanContext } from "@opentelemetry/api";
import type { Payload } from "@temporalio/common";
import type { Next, UpdateInput, WorkflowExecuteInput, WorkflowInboundCallsInterceptor, WorkflowInterceptorsFactory } from "@temporalio/workflow";
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
    const caller = this.startedWith !== undefined ? callerSpanContext(input.headers) : undefined;
    super.validateUpdate(this.underApproval(input), (traced) => {
      linkActiveSpan(caller);
      next({ ...traced, headers: input.headers });
    });
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
