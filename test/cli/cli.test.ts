// The operator commands against a real Temporal server: pending, history, replay, audit, keys.
import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { WorkflowClient, type ListOptions } from "@temporalio/client";
import { parse as parseYaml, stringify as stringifyYaml } from "yaml";
import { runCli as run } from "../support/run-cli.js";
import { refundRequest, startStack, type TestStack } from "../support/stack.js";


describe("countersign CLI (real Temporal server)", function () {
  let stack: TestStack;
  let redeemedId: string;
  let pendingId: string;
  let grantToken: string;

  before(async function () {
    stack = await startStack();
    const body = refundRequest({ arguments: { payment_id: "pay-cli-SECRET", amount_cents: 100 } });
    redeemedId = (await stack.http("POST", "/v1/approvals", await stack.agentHeaders("alice"), body)).body.id as string;
    const state = await stack.decide(redeemedId, "bob", "approve", "duplicate charge");
    assert.equal(state.status, "approved");
    grantToken = await stack.grantOf(redeemedId);
    const res = await stack.http("POST", "/v1/grants/redeem", await stack.toolHeaders(), { grant: grantToken, tool: "payments.refund", arguments: body.arguments });
    assert.equal(res.status, 200);
    await stack.client.workflow.getHandle(redeemedId).result();
    pendingId = (await stack.http("POST", "/v1/approvals", await stack.agentHeaders("dave"), refundRequest())).body.id as string;
  });
  after(async function () {
    await stack?.stop();
  });

  it("pending lists open approvals of a tenant and not closed ones", async function () {
    // Temporal visibility is eventually consistent: ask again (bounded) until it has caught up.
    const deadline = Date.now() + 10_000;
    for (;;) {
      const { code, out } = await run(["--config", stack.configFile, "pending", "--tenant", "acme", "--json"]);
      assert.equal(code, 0);
      const ids = (JSON.parse(out) as Array<{ id: string }>).map((r) => r.id);
      if ((ids.includes(pendingId) && !ids.includes(redeemedId)) || Date.now() > deadline) {
        assert.ok(ids.includes(pendingId), "the pending approval is listed");
        assert.ok(!ids.includes(redeemedId), "the redeemed approval is not");
        break;
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  });

  it("pending refuses a tenant name it could not quote safely instead of listing another tenant", async function () {
    const res = await run(["--config", stack.configFile, "pending", "--tenant", "acme' OR CountersignTenant = 'globex"]);
    assert.equal(res.code, 1);
    assert.match(res.err, /invalid_request/);
  });

  it("pending --limit shows at most that many and asks Temporal for a page of no more (default 100); a bad limit is a usage error", async function () {
    const more = (await stack.http("POST", "/v1/approvals", await stack.agentHeaders("dave"), refundRequest())).body.id as string;
    const asked: Array<number | undefined> = [];
    // Every Temporal client in this process, the CLI's own included: what `pending` hands the SDK's list().
    const { list } = WorkflowClient.prototype as { list: (this: WorkflowClient, options?: ListOptions) => ReturnType<WorkflowClient["list"]> };
    WorkflowClient.prototype.list = function (this: WorkflowClient, options?: ListOptions) {
      asked.push(options?.pageSize);
      return list.call(this, options);
    };
    try {
      const deadline = Date.now() + 10_000;
      let all: string[] = [];
      while (!(all.includes(pendingId) && all.includes(more)) && Date.now() < deadline) {
        const res = await run(["--config", stack.configFile, "pending", "--tenant", "acme", "--json"]);
        assert.equal(res.code, 0);
        all = (JSON.parse(res.out) as Array<{ id: string }>).map((r) => r.id);
      }
      assert.ok(all.length >= 2, "two open approvals at least");
      assert.equal(asked.at(-1), 100, "the default page is the default limit");
      const one = await run(["--config", stack.configFile, "pending", "--tenant", "acme", "--json", "--limit", "1"]);
      assert.equal(one.code, 0);
      assert.equal((JSON.parse(one.out) as unknown[]).length, 1);
      assert.equal(asked.at(-1), 1, "Temporal is asked for one row");
    } finally {
      WorkflowClient.prototype.list = list;
    }
    for (const bad of ["0", "-1", "1001", "1.5", "ten", ""]) {
      const res = await run(["--config", stack.configFile, "pending", "--limit", bad]);
      assert.equal(res.code, 2, `--limit ${JSON.stringify(bad)}`);
    }
  });

  it("audit tells who asked, what policy decided, who approved, the grant and the redemption, without secrets", async function () {
    const { code, out } = await run(["--config", stack.configFile, "audit", redeemedId]);
    assert.equal(code, 0);
    assert.match(out, /: redeemed/);
    assert.match(out, /principal=alice/);
    assert.match(out, /workload identity verified in trust domain agents\.test/);
    assert.match(out, /request\s+allow/);
    assert.match(out, /approve\s+allow for bob/);
    assert.match(out, /decision\s+allow/);
    assert.match(out, /redemption\s+allow/);
    assert.match(out, /bob approves via api: "duplicate charge"/);
    assert.match(out, /grant\s+jti=/);
    assert.match(out, /redeemed .* by spiffe:\/\/agents\.test\/tools\/payments/);
    assert.ok(!out.includes(grantToken) && !out.includes("pay-cli-SECRET"));
    const json = await run(["--config", stack.configFile, "audit", redeemedId, "--json"]);
    assert.ok(!json.out.includes(grantToken));
    assert.equal(JSON.parse(json.out).status, "redeemed");
  });

  it("history exports Temporal JSON whose payloads stay encrypted, and replay of it passes", async function () {
    const file = join(stack.dir, "history.json");
    const exported = await run(["--config", stack.configFile, "history", redeemedId, "--out", file]);
    assert.equal(exported.code, 0);
    const text = readFileSync(file, "utf8");
    assert.ok(Array.isArray(JSON.parse(text).events));
    assert.ok(!text.includes(grantToken) && !text.includes("pay-cli-SECRET"));
    const replayed = await run(["--config", stack.configFile, "replay", file]);
    assert.equal(replayed.code, 0, replayed.out + replayed.err);
    assert.match(replayed.out, /1 replayed cleanly, 0 failed/);
    const byId = await run(["--config", stack.configFile, "replay", "--id", redeemedId, pendingId]);
    assert.equal(byId.code, 0, byId.out + byId.err);
    assert.match(byId.out, /2 replayed cleanly, 0 failed/);
  });

  it("replay fails with exit 1 when a history does not match the workflow code", async function () {
    const file = join(stack.dir, "history.json");
    const history = JSON.parse(readFileSync(file, "utf8")) as { events: Array<Record<string, unknown>> };
    // Where the code ran its first local activity (verifying the agent), the history now says a
    // timer fired: recorded commands and code disagree.
    const at = history.events.findIndex((e) => e.markerRecordedEventAttributes !== undefined);
    assert.ok(at > 0, "the history records the identity check");
    const marker = history.events[at]!;
    delete marker.markerRecordedEventAttributes;
    marker.eventType = "EVENT_TYPE_TIMER_STARTED";
    marker.timerStartedEventAttributes = { timerId: "1", startToFireTimeout: "1s", workflowTaskCompletedEventId: String(Number(marker.eventId) - 1) };
    const tampered = join(stack.dir, "tampered.json");
    writeFileSync(tampered, JSON.stringify(history));
    const res = await run(["--config", stack.configFile, "replay", tampered]);
    assert.equal(res.code, 1);
    assert.match(res.out, /0 replayed cleanly, 1 failed/);
    assert.match(res.out, /FAIL .*Determinism/i, res.out);
  });

  it("show gives an approver the request with the catalog's redactions applied", async function () {
    const body = refundRequest({
      arguments: { payment_id: "pay_77", card_number: "4111111111111111", customer: { email: "c@example.test", name: "Casey" } },
      reason: "customer was charged twice",
    });
    const id = (await stack.http("POST", "/v1/approvals", await stack.agentHeaders("alice"), body)).body.id as string;
    const { code, out } = await run(["--config", stack.configFile, "show", id]);
    assert.equal(code, 0);
    assert.match(out, /pending {2}Refund a payment \(payments\.refund\)/);
    assert.match(out, /requested by alice through agent spiffe:\/\/agents\.test\/agents\/support-bot/);
    assert.match(out, /reason: customer was charged twice/);
    assert.match(out, /approvals 0\/1 from \[payments-approver\]/);
    assert.match(out, /"payment_id": "pay_77"/);
    assert.match(out, /"name": "Casey"/);
    assert.ok(!out.includes("4111111111111111") && !out.includes("c@example.test"), "redacted fields stay hidden");
  });

  it("show refuses to print arguments of a tool its config has no redaction rules for", async function () {
    const body = refundRequest({ arguments: { payment_id: "pay_78", card_number: "4000000000000002" } });
    const id = (await stack.http("POST", "/v1/approvals", await stack.agentHeaders("alice"), body)).body.id as string;
    const raw = parseYaml(readFileSync(stack.configFile, "utf8")) as { tools: Record<string, unknown> };
    delete raw.tools["payments.refund"];
    const otherConfig = join(stack.dir, "other.config.yaml");
    writeFileSync(otherConfig, stringifyYaml(raw));
    const res = await run(["--config", otherConfig, "show", id]);
    assert.equal(res.code, 1);
    assert.match(res.err, /unknown_tool/);
    assert.ok(!res.out.includes("4000000000000002"));
  });

  it("replay without exactly one source is a usage error (exit 2), not a replay failure", async function () {
    assert.equal((await run(["--config", stack.configFile, "replay"])).code, 2);
    assert.equal((await run(["--config", stack.configFile, "replay", "--id", "a", "--query", "b"])).code, 2);
  });

  it("deny from the terminal ends a pending approval", async function () {
    const token = await stack.ids.principalToken("carol", { scope: "countersign:approve" });
    const { code, out } = await run(["--config", stack.configFile, "deny", pendingId, "--token", token, "--reason", "not today", "--url", stack.baseUrl]);
    assert.equal(code, 0, out);
    assert.match(out, /denied \(denied_by_approver\)/);
  });

  it("keys generate adds a signing key that the running server publishes", async function () {
    const before = (await stack.http("GET", "/.well-known/jwks.json", {})).body.keys.length as number;
    const { code, out } = await run(["--config", stack.configFile, "keys", "generate"]);
    assert.equal(code, 0);
    const kid = /new grant-signing key (\S+)/.exec(out)?.[1];
    const after = (await stack.http("GET", "/.well-known/jwks.json", {})).body.keys as Array<{ kid: string }>;
    assert.equal(after.length, before + 1);
    assert.ok(after.some((k) => k.kid === kid));
  });

  it("a bad invocation exits 2 and an unknown approval exits 1 with its code", async function () {
    assert.equal((await run(["--config", stack.configFile, "approve", pendingId])).code, 2);
    const missing = await run(["--config", stack.configFile, "audit", "appr_doesnotexist"]);
    assert.equal(missing.code, 1);
    assert.match(missing.err, /not_found/);
  });
});
