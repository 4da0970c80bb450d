// Tracing over a real stack (HTTP server, Temporal client, worker, workflow) with an in-memory exporter:
// one trace holds an approval's request, policy decisions, grant minting and redemption; nothing
// secret becomes a span's name, attribute, event or link; recorded histories replay on a traced
// worker; and without tracing nothing is installed.
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import { createServer, type IncomingHttpHeaders } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { SpanKind, SpanStatusCode } from "@opentelemetry/api";
import { InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan, type SpanProcessor } from "@opentelemetry/sdk-trace-base";
import type { Context } from "@opentelemetry/api";
import proto from "@temporalio/proto";
import { Worker } from "@temporalio/worker";
import { createDataConverter } from "../../src/codec/payload-codec.js";
import { loadPayloadKeys } from "../../src/codec/payload-keys.js";
import { recordedWorkflowId } from "../../src/client/history.js";
import { signDecision } from "../../src/decisions/assertion.js";
import { startTracing } from "../../src/tracing/sdk.js";
import { startTracingFromConfig, type Tracing } from "../../src/tracing/index.js";
import { fixtureKeyFile, historiesDir } from "../support/scenarios.js";
import { activityDeps } from "../../src/runtime/services.js";
import { connectWorker } from "../../src/temporal/connection.js";
import { bundleWorkflowsApart, createApprovalWorker } from "../../worker/worker.js";
import { assertNoSecrets, PAYMENTS_SERVER, refundRequest, requestPendingRefund, sharedBundle, startStack, temporalTargetForTests, type TestStack } from "../support/stack.js";

/** The in-memory exporter behind a processor that also tells a test when a span it waits for has ended. */
class RecordingProcessor implements SpanProcessor {
  readonly exporter = new InMemorySpanExporter();
  private readonly inner = new SimpleSpanProcessor(this.exporter);
  private waiters: Array<{ match: (s: ReadableSpan) => boolean; resolve: (s: ReadableSpan) => void }> = [];

  onStart(span: Parameters<SpanProcessor["onStart"]>[0], parent: Context): void {
    this.inner.onStart(span, parent);
  }
  onEnd(span: ReadableSpan): void {
    this.inner.onEnd(span);
    for (const w of this.waiters.filter((x) => x.match(span))) w.resolve(span);
    this.waiters = this.waiters.filter((x) => !x.match(span));
  }
  forceFlush(): Promise<void> {
    return this.inner.forceFlush();
  }
  shutdown(): Promise<void> {
    return this.inner.shutdown();
  }
  spans(): ReadableSpan[] {
    return this.exporter.getFinishedSpans();
  }
  /** Resolves with the first ended span that matches (one ended already, or the next), or rejects after `timeoutMs`. */
  ended(match: (s: ReadableSpan) => boolean, timeoutMs = 15_000): Promise<ReadableSpan> {
    const done = this.spans().find(match);
    if (done !== undefined) return Promise.resolve(done);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no matching span ended within ${timeoutMs} ms`)), timeoutMs);
      this.waiters.push({ match, resolve: (s) => (clearTimeout(timer), resolve(s)) });
    });
  }
}

const named = (name: string) => (s: ReadableSpan) => s.name === name;
const inTrace = (traceId: string) => (s: ReadableSpan) => s.spanContext().traceId === traceId;

/** Everything a span exports that a secret could hide in: name, attributes, events, links, status, resource. */
function exported(spans: ReadableSpan[]): string {
  return JSON.stringify(
    spans.map((s) => ({
      name: s.name,
      attributes: s.attributes,
      events: s.events.map((e) => ({ name: e.name, attributes: e.attributes })),
      links: s.links.map((l) => ({ attributes: l.attributes, context: l.context })),
      status: s.status,
      resource: s.resource.attributes,
      scope: s.instrumentationLibrary,
    })),
  );
}

describe("tracing (real Temporal server, in-memory exporter)", function () {
  let recorder: RecordingProcessor;
  let tracing: Tracing;
  let stack: TestStack;

  before(async function () {
    recorder = new RecordingProcessor();
    tracing = startTracing({ serviceName: "countersign-test", spanProcessor: recorder });
    stack = await startStack({ tracing });
  });
  after(async function () {
    await stack?.stop();
    await tracing?.shutdown();
  });

  it("one trace holds the request, the policy decisions, the mint and the redemption; no token, grant or argument value is in any span", async function () {
    // Argument values long enough to be found if they leaked, one of them a field approvers never see.
    const args = { payment_id: `pay_${randomUUID()}`, amount_cents: 4200, currency: "EUR", card_number: `4111-${randomUUID()}` };
    const agentHeaders = await stack.agentHeaders("alice");
    const filed = await stack.http("POST", "/v1/approvals", agentHeaders, refundRequest({ arguments: args }));
    assert.equal(filed.status, 202, JSON.stringify(filed.body));
    const id = filed.body.id as string;

    const approverToken = await stack.ids.principalToken("bob", { scope: "countersign:approve" });
    const decided = await stack.http("POST", `/v1/approvals/${id}/decisions`, { authorization: `Bearer ${approverToken}` }, { decision: "approve" });
    assert.equal(decided.status, 200, JSON.stringify(decided.body));
    const view = await stack.http("GET", `/v1/approvals/${id}`, agentHeaders);
    const grant = view.body.grant as string;
    assert.equal(typeof grant, "string");

    const toolHeaders = await stack.toolHeaders(PAYMENTS_SERVER);
    const redeem = { grant, tool: "payments.refund", arguments: args };
    const redeemed = await stack.http("POST", "/v1/grants/redeem", toolHeaders, redeem);
    assert.equal(redeemed.status, 200, JSON.stringify(redeemed.body));
    const again = await stack.http("POST", "/v1/grants/redeem", toolHeaders, redeem);
    assert.equal(again.status, 409);
    await stack.client.workflow.getHandle(id).result();

    // The filing request: the server span whose child started this approval's workflow.
    const started = recorder.spans().find((s) => s.name === "StartWorkflow:approvalWorkflow" && s.attributes.temporalWorkflowId === id);
    assert.ok(started !== undefined, "the client's start of the workflow is a span");
    const filing = recorder.spans().find((s) => s.spanContext().spanId === started.parentSpanId);
    assert.ok(filing !== undefined && filing.name === "POST /v1/approvals", "the workflow was started while handling POST /v1/approvals");
    // The workflow's own span ends with the workflow, and leaves the sandbox through the worker's sink.
    await recorder.ended((s) => s.name === "RunWorkflow:approvalWorkflow" && inTrace(filing.spanContext().traceId)(s));
    assert.equal(filing.kind, SpanKind.SERVER);
    assert.equal(filing.parentSpanId, undefined, "the filing request is the trace's root (the agent sent no traceparent)");
    assert.equal(filing.attributes["http.route"], "/v1/approvals");

    const trace = recorder.spans().filter(inTrace(filing.spanContext().traceId));
    const names = trace.map((s) => s.name);
    for (const name of [
      "StartWorkflow:approvalWorkflow",
      "RunWorkflow:approvalWorkflow",
      "RunActivity:verifyAgentIdentity",
      "RunActivity:authorizeRequest",
      "HandleUpdate:decide",
      "RunActivity:authorizeDecision",
      "RunActivity:settleApproval",
      "HandleUpdate:redeem",
    ]) {
      assert.ok(names.includes(name), `${name} is in the approval's trace (it has ${names.join(", ")})`);
    }
    // Validators and queries make no workflow span (they do not run again on replay; see workflows/tracing-interceptors.ts).
    assert.equal(recorder.spans().some((s) => s.name.startsWith("ValidateUpdate:") || s.name.startsWith("HandleQuery:")), false);
    // The policy decision at filing and the re-check at redemption.
    assert.ok(names.filter((n) => n === "RunActivity:authorizeRequest").length >= 2, names.join(", "));
    // One tree: every span's parent is in the trace, up to the filing request.
    const ids = new Set(trace.map((s) => s.spanContext().spanId));
    for (const s of trace) if (s !== filing) assert.ok(s.parentSpanId !== undefined && ids.has(s.parentSpanId), `${s.name}'s parent is in the trace`);
    for (const s of trace.filter((x) => x.name.startsWith("RunActivity:"))) assert.equal(s.attributes.temporalWorkflowId, id);
    // A workflow span names its workflow, never its search attributes (principal, agent), memo or last result.
    const run = trace.find(named("RunWorkflow:approvalWorkflow"));
    assert.deepEqual(run?.attributes, { workflowId: id, runId: run?.attributes.runId, workflowType: "approvalWorkflow" });
    assert.deepEqual(Object.keys(trace.find(named("HandleUpdate:decide"))?.attributes ?? {}).sort(), ["runId", "temporalUpdateId", "workflowId", "workflowType"]);
    // Every attribute is a value OpenTelemetry allows: a primitive or an array of primitives.
    for (const s of recorder.spans()) {
      for (const [key, value] of Object.entries(s.attributes)) {
        const primitive = (v: unknown): boolean => ["string", "number", "boolean"].includes(typeof v);
        assert.ok(primitive(value) || (Array.isArray(value) && value.every(primitive)), `${s.name}: ${key} is a primitive`);
      }
    }

    // The decision and the redemption are their callers' requests, each in its own trace, linked from the Update it sent.
    for (const [route, update] of [
      [`/v1/approvals/:id/decisions`, "HandleUpdate:decide"],
      ["/v1/grants/redeem", "HandleUpdate:redeem"],
    ] as const) {
      const request = recorder.spans().find((s) => s.attributes["http.route"] === route && s.attributes["http.response.status_code"] === 200);
      assert.ok(request !== undefined, `a span for ${route}`);
      const handled = trace.find(named(update));
      assert.ok(handled !== undefined);
      const linked = handled.links.map((l) => l.context);
      assert.equal(linked.length, 1, `${update} links to its caller`);
      const caller = recorder.spans().find((s) => s.spanContext().spanId === linked[0]?.spanId);
      assert.ok(caller !== undefined && caller.name === `StartWorkflowUpdate:${update.slice("HandleUpdate:".length)}`, `${update} links to the client's Update span`);
      assert.equal(caller.parentSpanId, request.spanContext().spanId, `that Update was sent while handling ${route}`);
    }
    const refused = recorder.spans().find((s) => s.attributes["http.route"] === "/v1/grants/redeem" && s.attributes["http.response.status_code"] === 409);
    assert.equal(refused?.attributes["countersign.error_code"], "grant_already_redeemed");

    assertNoSecrets(exported(recorder.spans()), {
      principalToken: agentHeaders.authorization?.slice("Bearer ".length) ?? "",
      workloadToken: agentHeaders["workload-identity-token"] ?? "",
      approverToken,
      toolServerToken: toolHeaders["workload-identity-token"] ?? "",
      grant,
      paymentId: args.payment_id,
      cardNumber: args.card_number,
    }, "the exported spans");
  });

  it("a refused decision's spans record its failure, never the assertion or grant it was refused for", async function () {
    const { id } = await requestPendingRefund(stack);
    const earlier = await requestPendingRefund(stack);
    await stack.decide(earlier.id, "bob", "approve");
    const grant = await stack.grantOf(earlier.id);
    const good = await signDecision(stack.services.grantKeys, { approvalId: id, approver: "bob", decision: "approve", via: "api" }, { issuer: stack.config.issuer });
    const tampered = `${good.assertion.slice(0, -4)}AAAA`;
    for (const assertion of [grant, tampered]) {
      await assert.rejects(stack.approvals.decide(id, { approver: "bob", decision: "approve", via: "api", assertion, jti: good.jti, expiresAtMs: good.expiresAtMs }), { code: "decision_assertion_invalid" });
    }
    const refused = await recorder.ended((s) => s.name === "HandleUpdate:decide" && s.attributes.workflowId === id && s.status.code === SpanStatusCode.ERROR);
    assert.ok(refused.events.some((e) => e.name === "exception"), "the failure is an exception event");
    assert.match(JSON.stringify(refused.events), /decision_assertion_invalid|assertion/);
    assertNoSecrets(exported(recorder.spans()), { grant, assertion: good.assertion, tampered }, "the exported spans");
  });

  it("a worker that keeps no approval in memory replays each one and still traces its Updates under its request, each span once", async function () {
    const uncached = await startStack({ tracing, maxCachedWorkflows: 0 });
    try {
      const { id, body } = await requestPendingRefund(uncached);
      await uncached.decide(id, "bob", "approve");
      const redeemed = await uncached.http("POST", "/v1/grants/redeem", await uncached.toolHeaders(), { grant: await uncached.grantOf(id), tool: "payments.refund", arguments: body.arguments });
      assert.equal(redeemed.status, 200, JSON.stringify(redeemed.body));
      await uncached.client.workflow.getHandle(id).result();
      const started = recorder.spans().find((s) => s.name === "StartWorkflow:approvalWorkflow" && s.attributes.temporalWorkflowId === id);
      assert.ok(started !== undefined);
      await recorder.ended((s) => s.name === "RunWorkflow:approvalWorkflow" && s.attributes.workflowId === id);
      const trace = recorder.spans().filter(inTrace(started.spanContext().traceId));
      for (const name of ["HandleUpdate:decide", "RunActivity:settleApproval", "HandleUpdate:redeem"]) assert.ok(trace.some(named(name)), `${name} is in the approval's trace`);
      const ids = trace.map((s) => s.spanContext().spanId);
      assert.equal(new Set(ids).size, ids.length, "no span is exported twice, and no replay hands out an id again");
      assert.equal(trace.filter(named("RunWorkflow:approvalWorkflow")).length, 1);
      // The ids a replay draws are those of the first run: every parent a child names is the span exported under that id.
      const byId = new Map(trace.map((s) => [s.spanContext().spanId, s]));
      for (const s of trace.filter((x) => x.name.startsWith("RunActivity:"))) {
        assert.equal(byId.get(s.parentSpanId ?? "")?.name, s.name.replace("RunActivity:", "StartActivity:"), `${s.name}'s parent is its StartActivity span`);
      }
      for (const s of trace) if (s.name !== "POST /v1/approvals") assert.ok(byId.has(s.parentSpanId ?? ""), `${s.name}'s parent is in the trace`);
    } finally {
      await uncached.stop();
    }
  });

  it("a caller's traceparent makes the approval part of the caller's trace", async function () {
    const traceId = randomUUID().replaceAll("-", "");
    const parentSpanId = traceId.slice(0, 16);
    const filed = await stack.http("POST", "/v1/approvals", { ...(await stack.agentHeaders("alice")), traceparent: `00-${traceId}-${parentSpanId}-01` }, refundRequest());
    assert.equal(filed.status, 202, JSON.stringify(filed.body));
    const request = await recorder.ended((s) => s.name === "POST /v1/approvals" && s.spanContext().traceId === traceId);
    assert.equal(request.parentSpanId, parentSpanId);
    const policy = await recorder.ended((s) => s.name === "RunActivity:authorizeRequest" && s.spanContext().traceId === traceId);
    assert.equal(policy.attributes.temporalWorkflowId, filed.body.id);
  });

  it("every recorded history replays on a traced worker (the workflow's tracing interceptors add no commands)", async function () {
    const keys = await loadPayloadKeys({ keyFile: fixtureKeyFile, keysFromEnv: undefined });
    const files = readdirSync(historiesDir).filter((f) => f.endsWith(".history.binpb"));
    assert.ok(files.length > 0);
    const traced = tracing.workerOptions();
    for (const file of files) {
      const history = proto.temporal.api.history.v1.History.decode(readFileSync(join(historiesDir, file)));
      await Worker.runReplayHistory({ workflowBundle: await sharedBundle({ tracing: true }), dataConverter: createDataConverter(keys), sinks: traced.sinks }, history, recordedWorkflowId(history) ?? file);
    }
  });
});

describe("tracing off", function () {
  let stack: TestStack;
  before(async function () {
    stack = await startStack();
  });
  after(async function () {
    await stack?.stop();
  });

  it("without a tracing section the client, the worker and the workflow bundle carry no OpenTelemetry interceptor", async function () {
    assert.equal(stack.config.tracing, undefined);
    assert.deepEqual(stack.client.options.interceptors.workflow ?? [], []);
    // A worker built as the stack's is (no tracing option), run and stopped at once on a queue of its own.
    const connection = await connectWorker(temporalTargetForTests());
    try {
      const worker = await createApprovalWorker({ connection, namespace: temporalTargetForTests().namespace, taskQueue: `test-${randomUUID()}`, dataConverter: stack.services.workerDataConverter, deps: activityDeps(stack.services), workflowBundle: await sharedBundle() });
      assert.deepEqual(worker.options.interceptors.activity, []);
      assert.equal(worker.options.sinks?.exporter, undefined);
      const running = worker.run();
      worker.shutdown();
      await running;
    } finally {
      await connection.close();
    }
    const plain = await sharedBundle();
    assert.equal(plain.code.includes("tracing-interceptors"), false, "the untraced bundle has no tracing interceptors");
    assert.equal((await sharedBundle({ tracing: true })).code.includes("tracing-interceptors"), true, "the traced bundle has them");
  });
});

describe("tracing in a worker that bundles its own workflow code", function () {
  it("bundles the workflow's tracing interceptors in its child process only when tracing is on", async function () {
    assert.equal((await bundleWorkflowsApart({ tracing: true })).code.includes("tracing-interceptors"), true);
    assert.equal((await bundleWorkflowsApart()).code.includes("tracing-interceptors"), false);
  });
});

describe("tracing exported over OTLP/HTTP", function () {
  it("a configured process sends its spans to the OTLP endpoint as JSON, with the service name and the exporter's standard header variable", async function () {
    const received: Array<{ url: string | undefined; headers: IncomingHttpHeaders; body: string }> = [];
    const collector = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        received.push({ url: req.url, headers: req.headers, body: Buffer.concat(chunks).toString("utf8") });
        res.writeHead(200, { "content-type": "application/json" }).end("{}");
      });
    });
    await new Promise<void>((done) => collector.listen(0, "127.0.0.1", done));
    const previous = process.env.OTEL_EXPORTER_OTLP_TRACES_HEADERS;
    process.env.OTEL_EXPORTER_OTLP_TRACES_HEADERS = "x-collector-key=k-123";
    try {
      const endpoint = `http://127.0.0.1:${(collector.address() as AddressInfo).port}/v1/traces`;
      const tracing = await startTracingFromConfig({ tracing: { otlpEndpoint: endpoint, serviceName: "countersign-otlp-test" } });
      assert.ok(tracing !== undefined);
      tracing.tracer.startSpan("probe").end();
      await tracing.shutdown();
    } finally {
      if (previous === undefined) delete process.env.OTEL_EXPORTER_OTLP_TRACES_HEADERS;
      else process.env.OTEL_EXPORTER_OTLP_TRACES_HEADERS = previous;
      await new Promise((done) => collector.close(done));
    }
    assert.equal(received.length, 1, "one batch, flushed at shutdown");
    const [batch] = received;
    assert.equal(batch?.url, "/v1/traces");
    assert.match(batch?.headers["content-type"] ?? "", /^application\/json/);
    assert.equal(batch?.headers["x-collector-key"], "k-123");
    const body = JSON.parse(batch?.body ?? "{}");
    const resource = body.resourceSpans[0].resource.attributes as Array<{ key: string; value: { stringValue?: string } }>;
    assert.equal(resource.find((a) => a.key === "service.name")?.value.stringValue, "countersign-otlp-test");
    assert.equal(body.resourceSpans[0].scopeSpans[0].spans[0].name, "probe");
    assert.equal(await startTracingFromConfig({ tracing: undefined }), undefined, "no tracing section, no tracing");
  });
});
