// Determinism: every recorded approval history (encrypted, with the fixture payload key) replays
// without non-determinism against the current workflow code; the corpus holds one history per path
// of scenarios.ts, ending where that path ends, and a history that took each patch's new path.
import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { defaultPayloadConverter } from "@temporalio/common";
import proto from "@temporalio/proto";
import { Worker } from "@temporalio/worker";
import { createDataConverter, createPayloadCodec } from "../../src/codec/payload-codec.js";
import { loadPayloadKeys } from "../../src/codec/payload-keys.js";
import { recordedWorkflowId } from "../../src/client/history.js";
import type { ApprovalState } from "../../workflows/definitions.js";
import { fixtureFile, fixtureKeyFile, historiesDir, SCENARIOS } from "../support/scenarios.js";
import { projectRoot, sharedBundle } from "../support/stack.js";

const { History } = proto.temporal.api.history.v1;
type History = proto.temporal.api.history.v1.History;

function readHistory(file: string): History {
  return History.decode(readFileSync(file));
}

function recordedFiles(): string[] {
  return readdirSync(historiesDir).filter((f) => f.endsWith(".history.binpb"));
}

/** The workflow's result in a recorded history (decrypted with the fixture key). */
async function resultOf(history: History): Promise<ApprovalState> {
  const workflowId = recordedWorkflowId(history);
  assert.ok(workflowId !== undefined, "the history starts with its workflow id");
  const payload = history.events.at(-1)?.workflowExecutionCompletedEventAttributes?.result?.payloads?.[0];
  assert.ok(payload !== undefined && payload !== null, `${workflowId}: the history ends with the workflow's result`);
  const codec = createPayloadCodec(await loadPayloadKeys({ keyFile: fixtureKeyFile, keysFromEnv: undefined }));
  const [decoded] = await codec.decode([payload], { type: "workflow", namespace: "default", workflowId });
  assert.ok(decoded !== undefined);
  return defaultPayloadConverter.fromPayload<ApprovalState>(decoded);
}

/** Patch ids the workflow passes to `patched()` (string constants in workflows/approval.ts). */
function patchIds(): string[] {
  const source = readFileSync(join(projectRoot, "workflows", "approval.ts"), "utf8");
  const constants = new Map([...source.matchAll(/const (\w+) = "([^"]+)";/g)].map((m) => [m[1] ?? "", m[2] ?? ""]));
  const ids = [...source.matchAll(/patched\((\w+|"[^"]+")\)/g)].map((m) => {
    const arg = m[1] ?? "";
    const id = arg.startsWith('"') ? arg.slice(1, -1) : constants.get(arg);
    assert.ok(id !== undefined, `patched(${arg}): a string constant in workflows/approval.ts`);
    return id;
  });
  assert.equal(ids.length, source.split("patched(").length - 1, "every patched() call names its id directly");
  return ids;
}

/** Patch ids recorded in a history's patch markers (the new path was taken). */
function recordedPatches(history: History): string[] {
  return history.events.flatMap((e) => {
    const marker = e.markerRecordedEventAttributes;
    const data = marker?.markerName === "core_patch" ? marker.details?.["patch-data"]?.payloads?.[0]?.data : undefined;
    return data !== undefined && data !== null ? [(JSON.parse(Buffer.from(data).toString("utf8")) as { id: string }).id] : [];
  });
}

describe("workflow replay", function () {
  it("every recorded history in test/fixtures/histories replays against the current code", async function () {
    // Binary protobuf (the wire form of temporal.api.history.v1.History): exact, and its payloads stay encrypted.
    const keys = await loadPayloadKeys({ keyFile: fixtureKeyFile, keysFromEnv: undefined });
    const files = recordedFiles();
    assert.ok(files.length >= SCENARIOS.length, "the corpus: a history per path, and those recorded by earlier code");
    for (const file of files) {
      const history = readHistory(join(historiesDir, file));
      await Worker.runReplayHistory({ workflowBundle: await sharedBundle(), dataConverter: createDataConverter(keys) }, history, recordedWorkflowId(history) ?? file);
    }
  });

  it("the corpus holds a history for every path in scenarios.ts, and each ends where its path does", async function () {
    for (const scenario of SCENARIOS) {
      const file = fixtureFile(scenario.fixture);
      assert.ok(existsSync(file), `no recorded history for "${scenario.path}": run npm run record-histories`);
      const state = await resultOf(readHistory(file));
      assert.deepEqual({ status: state.status, reasonCode: state.reasonCode }, { status: scenario.ends.status, reasonCode: scenario.ends.reasonCode }, scenario.fixture);
    }
    const readme = readFileSync(join(historiesDir, "README.md"), "utf8");
    for (const file of recordedFiles()) assert.ok(readme.includes(`| \`${file.replace(".history.binpb", "")}\` |`), `${file} is described in the corpus README`);
  });

  it("for every patch the workflow takes, the corpus holds a history recorded on its new path", function () {
    const recorded = new Set(recordedFiles().flatMap((f) => recordedPatches(readHistory(join(historiesDir, f)))));
    for (const id of patchIds()) assert.ok(recorded.has(id), `patch "${id}": record a history that takes it (npm run record-histories)`);
  });
});
