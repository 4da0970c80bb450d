// Prometheus metrics of one server process (its own registry, so tests can run several apps).
import { Counter, Histogram, Registry, collectDefaultMetrics } from "prom-client";

export class Metrics {
  readonly registry = new Registry();
  readonly httpDuration = new Histogram({
    name: "countersign_http_request_duration_seconds",
    help: "HTTP request latency by route and status",
    labelNames: ["method", "route", "status"] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
    registers: [this.registry],
  });
  readonly approvalsCreated = new Counter({
    name: "countersign_approvals_created_total",
    help: "Approval workflows started",
    labelNames: ["tool"] as const,
    registers: [this.registry],
  });
  readonly decisions = new Counter({
    name: "countersign_decisions_total",
    help: "Approver decisions received at this edge, by channel and outcome (approve, deny or the refusal code)",
    labelNames: ["via", "outcome"] as const,
    registers: [this.registry],
  });
  readonly redemptions = new Counter({
    name: "countersign_grant_redemptions_total",
    help: "Grant redemption attempts by outcome (redeemed or the error code)",
    labelNames: ["outcome"] as const,
    registers: [this.registry],
  });

  constructor(opts: { defaultMetrics?: boolean } = {}) {
    if (opts.defaultMetrics === true) collectDefaultMetrics({ register: this.registry });
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  observeRequest(method: string, route: string, status: number, seconds: number): void {
    this.httpDuration.observe({ method, route, status: String(status) }, seconds);
  }

  render(): Promise<string> {
    return this.registry.metrics();
  }
}
