// `countersign replay` over many histories: a progress line on a terminal (and nothing on stderr
// otherwise), a summary by workflow type with each failure named, `--json` for CI, exit 1 on any
// failure; over the replay corpus (files) and over what a visibility query finds (paged).
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { randomUUID } from "node:crypto";
import { parse as parseYaml, stringify as stringifyYaml } from "yaml";
import { historyToJSON } from "@temporalio/common/lib/proto-utils.js";
import proto from "@temporalio/proto";
import { bundleWorkflowCode, type WorkflowBundle } from "@temporalio/worker";
import { fileURLToPath } from "node:url";
import { failureConverterPath } from "../../src/codec/payload-codec.js";
import type { ReplaySummaryJson } from "../../src/cli/replay-report.js";
import { recordedWorkflowId, replay } from "../../src/client/history.js";
import { runCli as run, type CliRun } from "../support/run-cli.js";
import { fixtureKeyFile, historiesDir } from "../support/scenarios.js";
import { projectRoot, requestPendingRefund, startStack, type TestStack } from "../support/stack.js";
import { startWorker } from "../support/workers.js";
import { WORKFLOWS_PATH } from "../../worker/worker.js";

const ERASE_LINE = "\r\u001b[2K";

/** Run the CLI with process.stderr a terminal (`tty`) or not, capturing what is written to it directly. */
async function runWithStderr(tty: boolean, args: string[]): Promise<CliRun & { stderrWrites: string }> {
  const stderr = process.stderr;
  const isTTY = Object.getOwnPropertyDescriptor(stderr, "isTTY");
  const write = stderr.write.bind(stderr);
  const chunks: string[] = [];
  Object.defineProperty(stderr, "isTTY", { value: tty, configurable: true, writable: true });
  stderr.write = (chunk: string | Uint8Array) => {
    chunks.push(typeof chunk === "string" ? chunk : Buffer.from(chunk).toString("utf8"));
    return true;
  };
  try {
    return { ...(await run(args)), stderrWrites: chunks.join("") };
  } finally {
    stderr.write = write;
    if (isTTY !== undefined) Object.defineProperty(stderr, "isTTY", isTTY);
    else delete (stderr as { isTTY?: boolean }).isTTY;
  }
}

const corpus = readdirSync(historiesDir)
  .filter((f) => f.endsWith(".history.binpb"))
  .sort()
  .map((f) => join(historiesDir, f));

/** The current workflow with a variant's change (test/fixtures/workflow-variants) bundled in. */
async function bundleVariant(name: string): Promise<WorkflowBundle> {
  const module = fileURLToPath(new URL(`../fixtures/workflow-variants/${name}.js`, import.meta.url));
  const quiet = { trace() {}, debug() {}, info() {}, warn() {}, error() {}, log() {} };
  const bundle = await bundleWorkflowCode({ workflowsPath: WORKFLOWS_PATH, workflowInterceptorModules: [module], failureConverterPath, logger: quiet });
  return { code: bundle.code };
}

/**
 * The corpus's first history with its first local activity (the identity check) turned into a timer,
 * as JSON in `dir`: code and history disagree, so it fails replay with non-determinism.
 */
function writeTamperedHistory(dir: string): { file: string; workflowId: string } {
  const original = proto.temporal.api.history.v1.History.decode(readFileSync(corpus[0] ?? ""));
  const workflowId = recordedWorkflowId(original);
  assert.ok(workflowId !== undefined);
  const history = JSON.parse(historyToJSON(original)) as { events: Array<Record<string, unknown>> };
  const at = history.events.findIndex((e) => e.markerRecordedEventAttributes !== undefined);
  assert.ok(at > 0, "the history records the identity check");
  const marker = history.events[at] ?? {};
  delete marker.markerRecordedEventAttributes;
  marker.eventType = "EVENT_TYPE_TIMER_STARTED";
  marker.timerStartedEventAttributes = { timerId: "1", startToFireTimeout: "1s", workflowTaskCompletedEventId: String(Number(marker.eventId) - 1) };
  const file = join(dir, "tampered.json");
  writeFileSync(file, JSON.stringify(history));
  return { file, workflowId };
}

/** `countersign <args>` as a process of its own, its standard streams pipes (as in CI). */
function runProcess(args: string[]): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(projectRoot, "dist", "src", "cli", "index.js"), ...args], { cwd: projectRoot, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let err = "";
    child.stdout.on("data", (c: Buffer) => (out += c.toString("utf8")));
    child.stderr.on("data", (c: Buffer) => (err += c.toString("utf8")));
    child.once("error", reject);
    child.once("close", (code) => resolve({ code, out, err }));
  });
}

describe("replay over many histories: progress, summary, --json (real Temporal server)", function () {
  this.timeout(180_000);
  let stack: TestStack;
  before(async function () {
    // The corpus's payload key, so the corpus and this stack's approvals both decode.
    stack = await startStack({ payloadKeyFile: fixtureKeyFile });
  });
  after(async function () {
    await stack?.stop();
  });

  it("replays the corpus with a progress line on a terminal, then a table by workflow type, exit 0", async function () {
    assert.ok(corpus.length >= 10, "the replay corpus");
    const res = await runWithStderr(true, ["--config", stack.configFile, "replay", ...corpus]);
    assert.equal(res.code, 0, res.all);
    // Progress: one line redrawn in place, counting against the total, erased before the summary.
    assert.ok(res.stderrWrites.startsWith(`${ERASE_LINE}replay: preparing the workflow code`), JSON.stringify(res.stderrWrites.slice(0, 200)));
    assert.match(res.stderrWrites, new RegExp(`replay: \\d+ of ${corpus.length} histories, 0 failed`));
    assert.ok(res.stderrWrites.endsWith(ERASE_LINE), "the line is erased at the end");
    assert.ok(!res.stderrWrites.includes("\n"), "one line, redrawn: never a new line");
    // The summary on stdout, free of terminal control codes.
    assert.ok(!res.out.includes("\u001b"), res.out);
    const lines = res.out.split("\n");
    assert.match(lines[0] ?? "", /^workflow type\s+histories\s+replayed\s+failed$/);
    assert.match(res.out, new RegExp(`^approvalWorkflow\\s+${corpus.length}\\s+${corpus.length}\\s+0$`, "m"));
    assert.match(res.out, new RegExp(`^total\\s+${corpus.length}\\s+${corpus.length}\\s+0$`, "m"));
    assert.equal(lines.at(-1), `${corpus.length} replayed cleanly, 0 failed`);
    assert.ok(!res.out.includes("FAIL"));
  });

  it("--json prints one summary object naming the history that failed, exit 1; off a terminal stderr stays silent", async function () {
    const { file: tampered, workflowId: failingId } = writeTamperedHistory(stack.dir);
    const files = [...corpus.slice(1), tampered];
    const res = await runWithStderr(false, ["--config", stack.configFile, "replay", "--json", ...files]);
    assert.equal(res.code, 1, res.all);
    assert.equal(res.stderrWrites, "", "no progress when stderr is not a terminal");
    assert.equal(res.err, "");
    const summary = JSON.parse(res.out) as ReplaySummaryJson;
    assert.deepEqual(
      { histories: summary.histories, replayed: summary.replayed, failed: summary.failed, byWorkflowType: summary.byWorkflowType },
      {
        histories: files.length,
        replayed: files.length - 1,
        failed: 1,
        byWorkflowType: [{ workflowType: "approvalWorkflow", histories: files.length, replayed: files.length - 1, failed: 1 }],
      },
    );
    assert.equal(summary.failures.length, 1);
    const [failure] = summary.failures;
    assert.equal(failure?.workflowId, failingId);
    assert.equal(failure?.workflowType, "approvalWorkflow");
    assert.equal(failure?.error.name, "DeterminismViolationError");
    assert.match(failure?.error.message ?? "", /nondeterminism/i);
  });

  it("a history these payload keys cannot read fails (ReplayError) and the run goes on", async function () {
    const raw = parseYaml(readFileSync(stack.configFile, "utf8")) as { payloads: { keyFile: string } };
    raw.payloads.keyFile = "./keys/other-payload-keys.json";
    const otherConfig = join(stack.dir, "other-keys.config.yaml");
    writeFileSync(otherConfig, stringifyYaml(raw));
    assert.equal((await run(["--config", otherConfig, "keys", "generate", "--payload"])).code, 0, "a payload key file of its own");
    const files = corpus.slice(0, 2);
    const res = await run(["--config", otherConfig, "replay", "--json", ...files]);
    assert.equal(res.code, 1, res.all);
    const summary = JSON.parse(res.out) as ReplaySummaryJson;
    assert.deepEqual({ histories: summary.histories, replayed: summary.replayed, failed: summary.failed }, { histories: 2, replayed: 0, failed: 2 });
    assert.deepEqual(summary.failures.map((f) => f.error.name), ["ReplayError", "ReplayError"]);
    assert.deepEqual(
      summary.failures.map((f) => f.workflowId),
      files.map((f) => recordedWorkflowId(proto.temporal.api.history.v1.History.decode(readFileSync(f)))),
    );
  });

  it("in a process of its own with stderr not a terminal, a failing replay writes nothing to stderr: the summary says it all", async function () {
    const { file: tampered, workflowId } = writeTamperedHistory(stack.dir);
    const res = await runProcess(["--config", stack.configFile, "replay", corpus[1] ?? "", tampered]);
    assert.equal(res.code, 1, res.out + res.err);
    assert.equal(res.err, "", "no progress, no SDK log lines");
    assert.match(res.out, /^approvalWorkflow\s+2\s+1\s+1$/m);
    assert.match(res.out, new RegExp(`^FAIL  ${workflowId}  approvalWorkflow  DeterminismViolationError: `, "m"));
    assert.match(res.out, /1 replayed cleanly, 1 failed\n$/);
  });

  it("--query replays every execution it finds and names, by workflow type, the approval another code ran", async function () {
    const queue = stack.config.temporal.taskQueue;
    const otherQueue = `${queue}-other`;
    const approvals = [(await requestPendingRefund(stack)).id, (await requestPendingRefund(stack)).id];
    await stack.decide(approvals[1] ?? "", "bob", "deny", "not this one");
    // An approval run by incompatible code (a timer before verification, not behind patched()), as
    // one started before a bad deploy would be: its history does not replay against the current code.
    await stack.stopWorker();
    const incompatible = await startWorker(stack, { bundle: await bundleVariant("timer-before-verification") });
    let strayId: string;
    try {
      strayId = (await requestPendingRefund(stack)).id;
      const started = proto.temporal.api.enums.v1.EventType.EVENT_TYPE_TIMER_STARTED;
      const handle = stack.client.workflow.getHandle(strayId);
      const until = Date.now() + 20_000;
      while (!(await handle.fetchHistory()).events?.some((e) => e.eventType === started) && Date.now() < until) await new Promise((r) => setTimeout(r, 100));
      await handle.terminate("recorded by incompatible code"); // so the current worker never runs its next task
    } finally {
      await incompatible.stop();
      await stack.startWorker();
    }
    // A workflow of a type this code does not define, on another queue (no worker): it fails under its own type.
    const otherId = `not-an-approval-${randomUUID()}`;
    await (await stack.client.workflow.start("notAnApprovalWorkflow", { taskQueue: otherQueue, workflowId: otherId })).terminate("replay test");
    const query = `TaskQueue = '${queue}' OR TaskQueue = '${otherQueue}'`;
    // Visibility is eventually consistent: wait (bounded) until it counts all four.
    const deadline = Date.now() + 20_000;
    while ((await stack.client.workflow.count(query)).count < 4 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));

    const res = await runWithStderr(true, ["--config", stack.configFile, "replay", "--query", query, "--json"]);
    assert.equal(res.code, 1, res.all);
    assert.match(res.stderrWrites, /replay: \d+ of 4 histories/, "the total is Temporal's count for the query");
    const summary = JSON.parse(res.out) as ReplaySummaryJson;
    assert.deepEqual(
      { histories: summary.histories, replayed: summary.replayed, failed: summary.failed, byWorkflowType: summary.byWorkflowType },
      {
        histories: 4,
        replayed: 2,
        failed: 2,
        byWorkflowType: [
          { workflowType: "approvalWorkflow", histories: 3, replayed: 2, failed: 1 },
          { workflowType: "notAnApprovalWorkflow", histories: 1, replayed: 0, failed: 1 },
        ],
      },
    );
    assert.deepEqual(
      summary.failures.map((f) => ({ workflowId: f.workflowId, workflowType: f.workflowType, error: f.error.name })).sort((a, b) => a.workflowType.localeCompare(b.workflowType)),
      [
        { workflowId: strayId, workflowType: "approvalWorkflow", error: "DeterminismViolationError" },
        { workflowId: otherId, workflowType: "notAnApprovalWorkflow", error: "ReplayError" },
      ],
    );
    assert.match(summary.failures.find((f) => f.workflowId === otherId)?.error.message ?? "", /defines no workflow type notAnApprovalWorkflow/);

    // The same failure in the table: a row per type, the failure by workflow id and error.
    const table = await run(["--config", stack.configFile, "replay", "--query", query]);
    assert.equal(table.code, 1, table.all);
    assert.match(table.out, /^approvalWorkflow\s+3\s+2\s+1$/m);
    assert.match(table.out, /^notAnApprovalWorkflow\s+1\s+0\s+1$/m);
    assert.match(table.out, /^total\s+4\s+2\s+2$/m);
    assert.match(table.out, new RegExp(`^FAIL  ${strayId}  approvalWorkflow  DeterminismViolationError: `, "m"));
    assert.match(table.out, new RegExp(`^FAIL  ${otherId}  notAnApprovalWorkflow  ReplayError: this code defines no workflow type notAnApprovalWorkflow$`, "m"));
    assert.match(table.out, /2 replayed cleanly, 2 failed$/);
  });

  it("a query replay reads visibility page by page until every execution is replayed", async function () {
    const queue = stack.config.temporal.taskQueue;
    const more = [(await requestPendingRefund(stack)).id, (await requestPendingRefund(stack)).id, (await requestPendingRefund(stack)).id];
    // The open approvals (not the incompatible one the test before terminated).
    const query = `TaskQueue = '${queue}' AND ExecutionStatus = 'Running'`;
    // Visibility is eventually consistent: wait (bounded) until it lists the three filed here.
    let listed: string[] = [];
    const deadline = Date.now() + 20_000;
    while (!more.every((id) => listed.includes(id)) && Date.now() < deadline) {
      listed = [];
      for await (const wf of stack.client.workflow.list({ query })) listed.push(wf.workflowId);
      if (!more.every((id) => listed.includes(id))) await new Promise((r) => setTimeout(r, 100));
    }
    assert.ok(listed.length >= 3, "three executions at least: two pages of two");

    const service = stack.client.workflowService;
    const original = service.listWorkflowExecutions.bind(service);
    const pages: Array<{ pageSize: number; continued: boolean }> = [];
    service.listWorkflowExecutions = ((request: { pageSize?: number | null; nextPageToken?: Uint8Array | null }) => {
      pages.push({ pageSize: request.pageSize ?? 0, continued: (request.nextPageToken?.length ?? 0) > 0 });
      return original(request);
    }) as typeof service.listWorkflowExecutions;
    const replayed: string[] = [];
    try {
      for await (const outcome of replay({ client: stack.client, query, pageSize: 2 }, stack.services.dataConverter)) {
        assert.equal(outcome.error, undefined, `${outcome.workflowId}: ${String(outcome.error)}`);
        assert.equal(outcome.workflowType, "approvalWorkflow");
        replayed.push(outcome.workflowId);
      }
    } finally {
      service.listWorkflowExecutions = original;
    }
    assert.deepEqual([...replayed].sort(), [...listed].sort(), "every execution the query finds, each once");
    assert.ok(pages.length >= 2 && pages.every((p) => p.pageSize === 2), JSON.stringify(pages));
    assert.ok(pages.slice(1).every((p) => p.continued), "later pages continue from the page token");
  });

  it("a query Temporal refuses and a file that cannot be read are invalid_request, and a query that finds nothing fails (exit 1)", async function () {
    const refused = await run(["--config", stack.configFile, "replay", "--query", "NoSuchAttribute = 'x'"]);
    assert.equal(refused.code, 1, refused.all);
    assert.match(refused.err, /^countersign: invalid_request: Temporal refused the visibility query: .*NoSuchAttribute/);
    const missing = await run(["--config", stack.configFile, "replay", join(stack.dir, "no-such-history.json")]);
    assert.equal(missing.code, 1, missing.all);
    assert.match(missing.err, /^countersign: invalid_request: cannot read .*no-such-history\.json \(ENOENT\)$/);
    const none = await run(["--config", stack.configFile, "replay", "--query", `TaskQueue = 'no-such-queue-${randomUUID()}'`]);
    assert.equal(none.code, 1, none.all);
    assert.match(none.out, /0 replayed cleanly, 0 failed$/);
  });
});
