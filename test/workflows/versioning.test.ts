// Changing the workflow safely: a change to its commands behind patched() replays every recorded
// history, and the same change without it fails the corpus with non-determinism. The changes are
// workflow interceptor modules in test/fixtures/workflow-variants, bundled with the current workflow.
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import proto from "@temporalio/proto";
import { bundleWorkflowCode, Worker, type ReplayResult, type WorkflowBundle } from "@temporalio/worker";
import { DeterminismViolationError } from "@temporalio/workflow";
import { createDataConverter, failureConverterPath } from "../../src/codec/payload-codec.js";
import { loadPayloadKeys } from "../../src/codec/payload-keys.js";
import { recordedWorkflowId } from "../../src/client/history.js";
import { TIMER_PATCH } from "../fixtures/workflow-variants/timer-before-verification-patched.js";
import { fixtureKeyFile, historiesDir } from "../support/scenarios.js";
import { KB_SERVER, refundRequest, startStack } from "../support/stack.js";
import { startWorker } from "../support/workers.js";
import { WORKFLOWS_PATH } from "../../worker/worker.js";

const { History } = proto.temporal.api.history.v1;
const variants = fileURLToPath(new URL("../fixtures/workflow-variants/", import.meta.url));
const quiet = { trace() {}, debug() {}, info() {}, warn() {}, error() {}, log() {} };

async function bundleVariant(name: string): Promise<WorkflowBundle> {
  const bundle = await bundleWorkflowCode({ workflowsPath: WORKFLOWS_PATH, workflowInterceptorModules: [join(variants, `${name}.js`)], failureConverterPath, logger: quiet });
  return { code: bundle.code };
}

/** Replay every recorded history against `bundle`; one result per file. */
async function replayCorpus(bundle: WorkflowBundle): Promise<Array<{ file: string; result: ReplayResult }>> {
  const files = readdirSync(historiesDir).filter((f) => f.endsWith(".history.binpb")).sort();
  const histories = files.map((file) => {
    const history = History.decode(readFileSync(join(historiesDir, file)));
    return { file, workflowId: recordedWorkflowId(history) ?? file, history };
  });
  const dataConverter = createDataConverter(await loadPayloadKeys({ keyFile: fixtureKeyFile, keysFromEnv: undefined }));
  const results: Array<{ file: string; result: ReplayResult }> = [];
  for await (const result of Worker.runReplayHistories({ workflowBundle: bundle, dataConverter }, histories)) {
    const file = histories.find((h) => h.workflowId === result.workflowId)?.file ?? result.workflowId;
    results.push({ file, result });
  }
  assert.equal(results.length, files.length, "one result per recorded history");
  return results;
}

describe("changing the workflow safely", function () {
  this.timeout(120_000);
  let unpatched: WorkflowBundle;
  let patched: WorkflowBundle;
  before(async function () {
    unpatched = await bundleVariant("timer-before-verification");
    patched = await bundleVariant("timer-before-verification-patched");
  });

  it("a timer inserted before verification without patched() fails every recorded history with a DeterminismViolationError", async function () {
    for (const { file, result } of await replayCorpus(unpatched)) {
      assert.ok(result.error instanceof DeterminismViolationError, `${file}: ${result.error === undefined ? "replayed cleanly" : `${result.error.name}: ${result.error.message}`}`);
    }
  });

  it("the same timer behind patched() replays every recorded history", async function () {
    for (const { file, result } of await replayCorpus(patched)) {
      assert.equal(result.error, undefined, `${file}: ${result.error?.name ?? ""}: ${result.error?.message ?? ""}`);
    }
  });

  it("a new approval on the patched code takes the timer and records the patch marker", async function () {
    const stack = await startStack({ worker: false });
    const worker = await startWorker(stack, { bundle: patched });
    try {
      const body = refundRequest({ tool: "kb.search", arguments: { query: "refund policy" } });
      const res = await stack.http("POST", "/v1/approvals", await stack.agentHeaders("alice"), body);
      assert.equal(res.body.status, "approved", JSON.stringify(res.body));
      const id = res.body.id as string;
      const redeemed = await stack.http("POST", "/v1/grants/redeem", await stack.toolHeaders(KB_SERVER), { grant: await stack.grantOf(id), tool: "kb.search", arguments: body.arguments });
      assert.equal(redeemed.status, 200);
      const history = await stack.client.workflow.getHandle(id).fetchHistory();
      const events = history.events ?? [];
      const patches = events.flatMap((e) => {
        const data = e.markerRecordedEventAttributes?.markerName === "core_patch" ? e.markerRecordedEventAttributes.details?.["patch-data"]?.payloads?.[0]?.data : undefined;
        return data !== undefined && data !== null ? [(JSON.parse(Buffer.from(data).toString("utf8")) as { id: string }).id] : [];
      });
      assert.deepEqual(patches, [TIMER_PATCH]);
      const firstTimer = events.findIndex((e) => e.timerStartedEventAttributes !== undefined && e.timerStartedEventAttributes !== null);
      const firstLocalActivity = events.findIndex((e) => e.markerRecordedEventAttributes?.markerName === "core_local_activity");
      assert.ok(firstTimer >= 0 && firstTimer < firstLocalActivity, "a timer ran before verification");
      // And that history is one the code without the change cannot replay: patches only go forward.
      const keys = await loadPayloadKeys({ keyFile: join(stack.dir, "keys", "payload-keys.json"), keysFromEnv: undefined });
      await assert.rejects(Worker.runReplayHistory({ workflowBundle: unpatched, dataConverter: createDataConverter(keys) }, history, id), DeterminismViolationError);
    } finally {
      await worker.stop();
      await stack.stop();
    }
  });
});
