// `npm run record-histories [fixture…]`: records the history of every path in scenarios.ts whose
// fixture is missing from test/fixtures/histories, against a Temporal dev server of its own. An
// existing history is never overwritten (it is what open approvals were started with): it is kept,
// and a changed path gets a new fixture name instead.
import assert from "node:assert/strict";
import { existsSync, writeFileSync } from "node:fs";
import proto from "@temporalio/proto";
import { DefaultLogger, Runtime, Worker } from "@temporalio/worker";
import { createDataConverter } from "../../src/codec/payload-codec.js";
import { loadPayloadKeys } from "../../src/codec/payload-keys.js";
import { startDevServer } from "../../src/temporal/dev-server.js";
import type { ApprovalState } from "../../workflows/definitions.js";
import { fixtureFile, fixtureKeyFile, SCENARIOS, type PathScenario } from "./scenarios.js";
import { projectRoot, sharedBundle, startStack, type TestStack } from "./stack.js";

const { History } = proto.temporal.api.history.v1;

async function record(scenario: PathScenario): Promise<void> {
  const started: { stack?: TestStack } = {};
  const outside = await scenario.services?.();
  const stack = await startStack({
    ...outside?.options,
    ...scenario.options?.(() => {
      assert.ok(started.stack !== undefined, "the stack has started");
      return started.stack;
    }),
    payloadKeyFile: fixtureKeyFile,
  });
  started.stack = stack;
  try {
    const id = await scenario.run(stack);
    const handle = stack.client.workflow.getHandle(id);
    const state = (await handle.result()) as ApprovalState;
    assert.equal(state.status, scenario.ends.status, `${scenario.fixture} ends ${state.status} (${state.reasonCode ?? "-"})`);
    assert.equal(state.reasonCode, scenario.ends.reasonCode, `${scenario.fixture} ends with ${state.reasonCode ?? "no reason code"}`);
    const history = await handle.fetchHistory();
    const keys = await loadPayloadKeys({ keyFile: fixtureKeyFile, keysFromEnv: undefined });
    await Worker.runReplayHistory({ workflowBundle: await sharedBundle(), dataConverter: createDataConverter(keys) }, history, id);
    // "wx": fails if the file appeared meanwhile; never replaces a recorded history.
    writeFileSync(fixtureFile(scenario.fixture), History.encode(history).finish(), { flag: "wx" });
  } finally {
    await stack.stop();
    await outside?.close();
  }
}

async function main(): Promise<number> {
  const only = process.argv.slice(2);
  const unknown = only.filter((name) => !SCENARIOS.some((s) => s.fixture === name));
  if (unknown.length > 0) {
    console.error(`no scenario named ${unknown.join(", ")} (see test/support/scenarios.ts)`);
    return 2;
  }
  const missing = SCENARIOS.filter((s) => (only.length === 0 || only.includes(s.fixture)) && !existsSync(fixtureFile(s.fixture)));
  for (const s of SCENARIOS) if (!missing.includes(s) && (only.length === 0 || only.includes(s.fixture))) console.log(`kept      ${s.fixture}`);
  if (missing.length === 0) return 0;
  Runtime.install({ logger: new DefaultLogger("ERROR") });
  const server = await startDevServer({ projectRoot, log: (m) => console.log(`[record] ${m}`) });
  process.env.TEMPORAL_ADDRESS = server.address;
  process.env.TEMPORAL_NAMESPACE = server.namespace;
  let failed = 0;
  try {
    for (const scenario of missing) {
      try {
        await record(scenario);
        console.log(`recorded  ${scenario.fixture}`);
      } catch (err) {
        failed++;
        console.error(`FAILED    ${scenario.fixture}: ${err instanceof Error ? err.message : String(err)}`);
      }
    }
  } finally {
    await server.stop();
  }
  return failed === 0 ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
