// A span per HTTP request (README "Tracing"), installed only when tracing is on. Named and described
// after OpenTelemetry's HTTP server conventions: method, route template, path, status; a refusal adds
// its error code. Never a header, a query or a body: tokens and arguments travel there.
import { context, propagation, ROOT_CONTEXT, SpanKind, SpanStatusCode, trace, type Tracer } from "@opentelemetry/api";
import type { MiddlewareHandler } from "hono";
import { toCountersignError } from "../errors.js";

/**
 * The middleware: the caller's W3C `traceparent` (when it sends one) is the span's parent, and the
 * span is the active context while the request is handled, so the Temporal calls it makes are its
 * children and carry its trace into the workflow.
 */
export function traceRequests(tracer: Tracer): MiddlewareHandler {
  return async (c, next) => {
    const parent = propagation.extract(ROOT_CONTEXT, c.req.header());
    const method = c.req.method;
    const span = tracer.startSpan(method, { kind: SpanKind.SERVER, attributes: { "http.request.method": method, "url.path": c.req.path } }, parent);
    try {
      await context.with(trace.setSpan(parent, span), next);
    } finally {
      // The template of the route that answered; a request answered before any route (not found, a
      // body over the limit) has none, and its span is named by the method alone.
      const route = c.req.routePath;
      const status = c.res.status;
      span.setAttribute("http.response.status_code", status);
      if (!route.endsWith("*")) {
        span.updateName(`${method} ${route}`);
        span.setAttribute("http.route", route);
      }
      // A request Hono answered through onError: the code the caller was told, never the message.
      if (c.error !== undefined) span.setAttribute("countersign.error_code", toCountersignError(c.error).code);
      if (status >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
      span.end();
    }
  };
}
