// Determinism: recorded approval histories (encrypted, with their fixture payload key) and a fresh
// full run must replay without non-determinism against the current workflow code.
import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import proto from "@temporalio/proto";
import { Worker } from "@temporalio/worker";
import { createDataConverter } from "../../src/codec/payload-codec.js";
import { signDecision } from "../../src/decisions/assertion.js";
import { loadPayloadKeys } from "../../src/codec/payload-keys.js";
import { recordedWorkflowId } from "../../src/client/history.js";
import { projectRoot, refundRequest, sharedBundle, startStack } from "../support/stack.js";

const { History } = proto.temporal.api.history.v1;
const fixtures = join(projectRoot, "test", "fixtures", "histories");
const fixtureKeyFile = join(fixtures, "payload-keys.json");

async function replay(history: unknown, workflowId: string): Promise<void> {
  const keys = await loadPayloadKeys({ keyFile: fixtureKeyFile, keysFromEnv: undefined });
  await Worker.runReplayHistory({ workflowBundle: await sharedBundle(), dataConverter: createDataConverter(keys) }, history, workflowId);
}

describe("workflow replay", function () {
  it("every recorded history in test/fixtures/histories replays against the current code", async function () {
    // Binary protobuf (the wire form of temporal.api.history.v1.History): exact, and its payloads stay encrypted.
    const files = readdirSync(fixtures).filter((f) => f.endsWith(".history.binpb"));
    assert.ok(files.length >= 2, "the corpus: histories recorded before and after decision assertions");
    for (const file of files) {
      const history = History.decode(readFileSync(join(fixtures, file)));
      await replay(history, recordedWorkflowId(history) ?? file);
    }
  });

  it("a fresh full run (request with a resource, a refused and an accepted proven decision, redeem, second redeem refused) replays cleanly", async function () {
    const stack = await startStack({ payloadKeyFile: fixtureKeyFile });
    try {
      const body = refundRequest({ requestId: "replay-fixture", resource: { type: "Resource", id: "acme-order-1042" } });
      const res = await stack.http("POST", "/v1/approvals", await stack.agentHeaders("alice"), body);
      const id = res.body.id as string;
      // Past the edge, so the workflow itself refuses (and records) dave's proven but unentitled decision.
      const asDave = await signDecision(stack.services.grantKeys, { approvalId: id, approver: "dave", decision: "approve", via: "api" }, { issuer: stack.config.issuer });
      await assert.rejects(stack.approvals.decide(id, { approver: "dave", decision: "approve", via: "api", assertion: asDave.assertion, jti: asDave.jti, expiresAtMs: asDave.expiresAtMs }), { code: "approver_not_entitled" });
      await stack.decide(id, "bob", "approve");
      const redeem = { grant: await stack.grantOf(id), tool: "payments.refund", arguments: body.arguments, resource: body.resource };
      assert.equal((await stack.http("POST", "/v1/grants/redeem", await stack.toolHeaders(), redeem)).status, 200);
      assert.equal((await stack.http("POST", "/v1/grants/redeem", await stack.toolHeaders(), redeem)).status, 409);
      const handle = stack.client.workflow.getHandle(id);
      await handle.result();
      const history = await handle.fetchHistory();
      await replay(history, id);
      // RECORD_HISTORY=<name> adds this run to the corpus as <name>.history.binpb after an intended
      // workflow change. Recorded histories are never overwritten: open approvals must keep replaying.
      const name = process.env.RECORD_HISTORY;
      if (name !== undefined && name !== "") {
        const file = join(fixtures, `${name}.history.binpb`);
        assert.ok(!existsSync(file), `${file} exists: recorded histories are never overwritten, choose a new name`);
        writeFileSync(file, History.encode(history).finish());
      }
    } finally {
      await stack.stop();
    }
  });
});
