// The server's /metrics with worker endpoints to append (no Temporal here: the endpoints are small
// local HTTP servers serving fixed Prometheus text, or not answering at all).
import assert from "node:assert/strict";
import { createServer, type Server } from "node:http";
import { createServer as createTcpServer, type Server as TcpServer, type Socket } from "node:net";
import { Metrics } from "../../src/server/metrics.js";
import { freePort } from "../../src/temporal/dev-server.js";

/** What the Temporal SDK's exporter serves, trimmed: a gauge, a histogram and a counter. */
const SDK_TEXT = `# HELP temporal_worker_task_slots_available Current number of available slots per task type
# TYPE temporal_worker_task_slots_available gauge
temporal_worker_task_slots_available{namespace="default",task_queue="q",worker_type="WorkflowWorker"} 40
# HELP temporal_workflow_task_schedule_to_start_latency Histogram of workflow task schedule-to-start latencies
# TYPE temporal_workflow_task_schedule_to_start_latency histogram
temporal_workflow_task_schedule_to_start_latency_bucket{namespace="default",task_queue="q",le="50"} 3
temporal_workflow_task_schedule_to_start_latency_bucket{namespace="default",task_queue="q",le="+Inf"} 3
temporal_workflow_task_schedule_to_start_latency_sum{namespace="default",task_queue="q"} 5
temporal_workflow_task_schedule_to_start_latency_count{namespace="default",task_queue="q"} 3
# HELP countersign_break_glass_decisions Break-glass decisions accepted by policy
# TYPE countersign_break_glass_decisions counter
countersign_break_glass_decisions{decision="approve"} 1
`;

/** A worker metrics endpoint serving `text` with `status`; resolves with its `host:port`. */
async function endpoint(text: string, status = 200): Promise<{ address: string; server: Server }> {
  const server = createServer((_req, res) => {
    res.writeHead(status, { "content-type": "text/plain; version=0.0.4" });
    res.end(text);
  });
  await new Promise<void>((done) => server.listen(0, "127.0.0.1", done));
  const addr = server.address();
  assert.ok(typeof addr === "object" && addr !== null);
  return { address: `127.0.0.1:${addr.port}`, server };
}

/** Every HELP and TYPE line names a family once: what Prometheus needs to accept the exposition. */
function assertOneDescriptorPerFamily(text: string): void {
  for (const kind of ["HELP", "TYPE"]) {
    const names = text.split("\n").filter((l) => l.startsWith(`# ${kind} `)).map((l) => l.split(" ")[2]);
    assert.deepEqual(names.filter((n, i) => names.indexOf(n) !== i), [], `a family with two ${kind} lines`);
  }
}

function upOf(text: string, address: string): string | undefined {
  return text.split("\n").find((l) => l.startsWith(`countersign_worker_metrics_up{worker_address="${address}"}`))?.split(" ").at(-1);
}

describe("worker metrics on the server's /metrics", function () {
  const servers: Array<Server | TcpServer> = [];
  after(async function () {
    await Promise.all(servers.map((s) => new Promise((done) => s.close(done))));
  });

  it("appends each worker's families once, every sample labelled with the worker it came from, after our own", async function () {
    const a = await endpoint(SDK_TEXT);
    const b = await endpoint(SDK_TEXT.replace(" 40\n", " 7\n"));
    servers.push(a.server, b.server);
    const metrics = new Metrics({ workerMetricsAddresses: [a.address, b.address] });
    metrics.redemptions.inc({ outcome: "redeemed" });
    const text = await metrics.render();
    assertOneDescriptorPerFamily(text);
    assert.ok(text.indexOf("countersign_grant_redemptions_total") < text.indexOf("temporal_"), "ours come first");
    assert.ok(text.includes(`temporal_worker_task_slots_available{worker_address="${a.address}",namespace="default",task_queue="q",worker_type="WorkflowWorker"} 40\n`));
    assert.ok(text.includes(`temporal_worker_task_slots_available{worker_address="${b.address}",namespace="default",task_queue="q",worker_type="WorkflowWorker"} 7\n`));
    assert.ok(text.includes(`temporal_workflow_task_schedule_to_start_latency_bucket{worker_address="${a.address}",namespace="default",task_queue="q",le="+Inf"} 3\n`));
    assert.ok(text.includes(`countersign_break_glass_decisions{worker_address="${b.address}",decision="approve"} 1\n`));
    // The histogram's samples stay under their family's TYPE line, both workers' together.
    const family = text.slice(text.indexOf("# TYPE temporal_workflow_task_schedule_to_start_latency histogram"));
    const samples = family.split("\n").slice(1).filter((l) => l.startsWith("temporal_workflow_task_schedule_to_start_latency"));
    assert.equal(samples.length, 8);
    assert.equal(upOf(text, a.address), "1");
    assert.equal(upOf(text, b.address), "1");
  });

  it("a worker family with the name of one of ours is left out rather than shadowing ours", async function () {
    const rogue = await endpoint(`# TYPE countersign_grant_redemptions_total counter\ncountersign_grant_redemptions_total{outcome="redeemed"} 99\n${SDK_TEXT}`);
    servers.push(rogue.server);
    const metrics = new Metrics({ workerMetricsAddresses: [rogue.address] });
    const text = await metrics.render();
    assertOneDescriptorPerFamily(text);
    assert.ok(!text.includes(" 99\n"));
    assert.ok(text.includes(`temporal_worker_task_slots_available{worker_address="${rogue.address}"`));
  });

  it("a sample that already carries worker_address keeps it as exported_worker_address (one label once), also behind a value that mentions it", async function () {
    const nested = await endpoint(
      `# TYPE temporal_request counter\ntemporal_request{worker_address="10.0.0.9:9464",operation="Poll"} 4\ntemporal_request{operation="worker_address=\\"x\\"",worker_address="w:1"} 2\n`,
    );
    servers.push(nested.server);
    const text = await new Metrics({ workerMetricsAddresses: [nested.address] }).render();
    assert.ok(text.includes(`temporal_request{worker_address="${nested.address}",exported_worker_address="10.0.0.9:9464",operation="Poll"} 4\n`), text);
    assert.ok(text.includes(`temporal_request{worker_address="${nested.address}",operation="worker_address=\\"x\\"",exported_worker_address="w:1"} 2\n`), text);
  });

  it("a worker that refuses connections or answers 500 is reported down and ours are still served", async function () {
    const refused = `127.0.0.1:${await freePort()}`;
    const failing = await endpoint("oops", 500);
    servers.push(failing.server);
    const warnings: unknown[] = [];
    const logger = { warn: (attrs: unknown) => warnings.push(attrs), info: () => undefined };
    const metrics = new Metrics({ workerMetricsAddresses: [refused, failing.address], logger });
    for (let i = 0; i < 2; i++) {
      const text = await metrics.render();
      assert.equal(upOf(text, refused), "0");
      assert.equal(upOf(text, failing.address), "0");
      assert.ok(text.includes("# TYPE countersign_http_request_duration_seconds histogram"));
      assert.ok(!text.includes("temporal_") && !text.includes("oops"));
    }
    assert.equal(warnings.length, 2, "one warning per endpoint going down, not one per scrape");
  });

  it("a worker that accepts but never answers is given up after the scrape timeout", async function () {
    const sockets: Socket[] = [];
    const silent = createTcpServer((socket) => sockets.push(socket));
    await new Promise<void>((done) => silent.listen(0, "127.0.0.1", done));
    servers.push(silent);
    const addr = silent.address();
    assert.ok(typeof addr === "object" && addr !== null);
    const address = `127.0.0.1:${addr.port}`;
    const metrics = new Metrics({ workerMetricsAddresses: [address], workerScrapeTimeoutMs: 300 });
    try {
      const started = Date.now();
      const text = await metrics.render();
      const tookMs = Date.now() - started;
      assert.ok(tookMs >= 250 && tookMs < 2000, `rendered in ${tookMs} ms`);
      assert.equal(upOf(text, address), "0");
      assert.ok(sockets.length > 0, "the scrape reached the endpoint");
    } finally {
      for (const s of sockets) s.destroy();
    }
  });
});
