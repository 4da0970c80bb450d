// Prometheus metrics of one server process (its own registry, so tests can run several apps), followed
// by what the workers' endpoints serve (the Temporal SDK's worker metrics), scraped on each render.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";
import type { Logger } from "../log.js";
import { DEFAULT_WORKER_SCRAPE_TIMEOUT_MS, WORKER_ADDRESS_LABEL, mergeWorkerMetrics, scrapeWorkerMetrics } from "./worker-metrics.js";

export interface MetricsOptions {
  /** Node.js process metrics (prom-client's defaults) too. Default false. */
  defaultMetrics?: boolean;
  /** `host:port` of each worker metrics endpoint to append (`server.workerMetricsAddresses`). Default none. */
  workerMetricsAddresses?: readonly string[];
  /** Bound on each of those scrapes, in ms. Default 2000. */
  workerScrapeTimeoutMs?: number;
  /** Told when a worker endpoint stops or starts answering (once per change, not per scrape). */
  logger?: Pick<Logger, "warn" | "info">;
}

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
  readonly workerMetricsUp = new Gauge({
    name: "countersign_worker_metrics_up",
    help: "1 when the last scrape of this worker's metrics endpoint succeeded, else 0 (its metrics are then missing here)",
    labelNames: [WORKER_ADDRESS_LABEL] as const,
    registers: [this.registry],
  });

  private readonly workerAddresses: readonly string[];
  private readonly workerScrapeTimeoutMs: number;
  private readonly logger: Pick<Logger, "warn" | "info"> | undefined;
  private readonly workerWasUp = new Map<string, boolean>();

  constructor(opts: MetricsOptions = {}) {
    if (opts.defaultMetrics === true) collectDefaultMetrics({ register: this.registry });
    this.workerAddresses = [...new Set(opts.workerMetricsAddresses ?? [])];
    this.workerScrapeTimeoutMs = opts.workerScrapeTimeoutMs ?? DEFAULT_WORKER_SCRAPE_TIMEOUT_MS;
    this.logger = opts.logger;
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  observeRequest(method: string, route: string, status: number, seconds: number): void {
    this.httpDuration.observe({ method, route, status: String(status) }, seconds);
  }

  /**
   * Our metrics, then the workers'. Never rejects because of a worker: one that does not answer is
   * reported as `countersign_worker_metrics_up 0` and left out.
   */
  async render(): Promise<string> {
    const scrapes = await Promise.all(
      this.workerAddresses.map(async (address) => {
        try {
          const text = await scrapeWorkerMetrics(address, this.workerScrapeTimeoutMs);
          this.workerUp(address, true);
          return [{ address, text }];
        } catch (err) {
          this.workerUp(address, false, err);
          return [];
        }
      }),
    );
    const own = await this.registry.metrics();
    const reserved = new Set(this.registry.getMetricsAsArray().map((m) => m.name));
    return own + mergeWorkerMetrics(scrapes.flat(), reserved);
  }

  private workerUp(address: string, up: boolean, err?: unknown): void {
    this.workerMetricsUp.set({ [WORKER_ADDRESS_LABEL]: address }, up ? 1 : 0);
    const was = this.workerWasUp.get(address);
    this.workerWasUp.set(address, up);
    if (was === up) return;
    if (!up) this.logger?.warn({ address, err }, "worker metrics endpoint not answering");
    else if (was === false) this.logger?.info({ address }, "worker metrics endpoint answering again");
  }
}
