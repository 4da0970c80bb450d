// Exactly once under faults, at the edges: a caller that lost its answer and retries with its
// Idempotency-Key gets that answer back; outages answer fast with `unavailable` and Retry-After;
// filing is durable once the workflow has started; identity is what it was at receipt.
import assert from "node:assert/strict";
import { Connection, Client } from "@temporalio/client";
import { ApplicationFailure } from "@temporalio/common";
import { ApprovalsClient, approvalId, toCodedError } from "../../src/client/approvals.js";
import type { Activities } from "../../activities/index.js";
import { signDecision } from "../../src/decisions/assertion.js";
import type { DecideInput } from "../../workflows/definitions.js";
import { AGENT, KB_SERVER, refundRequest, requestPendingRefund, startStack, type TestStack } from "../support/stack.js";
import { TEST_PRINCIPAL_ISSUER } from "../support/tokens.js";
import { runCli } from "../support/run-cli.js";
import { grpcInterceptors } from "../../src/temporal/connection.js";

/** A gate an activity waits at while `closed`; `open()` lets every waiter through. */
function gate(): { closed: boolean; wait(): Promise<void>; open(): void } {
  let release: () => void = () => undefined;
  let opened = new Promise<void>((r) => (release = r));
  const g = {
    closed: false,
    wait: () => (g.closed ? opened : Promise.resolve()),
    open() {
      g.closed = false;
      release();
      opened = new Promise<void>((r) => (release = r));
    },
  };
  return g;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe("a caller that retries gets its own answer back (real Temporal server)", function () {
  // The Update deadline is short here, the handlers' activities are held at a gate beyond it: the first
  // call gets 503 while its Update goes on and completes; the retry must find that outcome.
  const redeemGate = gate();
  const decideGate = gate();
  /** While set, the decide handler's entitlement check fails (as with the policy engine down): the Update fails `unavailable`. */
  let failDecisions = false;
  let stack: TestStack;
  before(async function () {
    stack = await startStack({
      updateDeadlineMs: 1500,
      wrapActivities: (real: Activities) => ({
        ...real,
        async authorizeRequest(facts) {
          await redeemGate.wait();
          return real.authorizeRequest(facts);
        },
        async authorizeDecision(input) {
          await decideGate.wait();
          if (failDecisions) throw ApplicationFailure.nonRetryable("the policy engine is down", "unavailable");
          return real.authorizeDecision(input);
        },
      }),
    });
  });
  after(async function () {
    redeemGate.open();
    decideGate.open();
    await stack?.stop();
  });

  it("a tool server whose redemption answer was lost gets the same 200 on retry with its Idempotency-Key; every other call is refused", async function () {
    const { id, body } = await requestPendingRefund(stack);
    await stack.decide(id, "bob", "approve");
    const redeem = { grant: await stack.grantOf(id), tool: "payments.refund", arguments: body.arguments };
    const keyed = { ...(await stack.toolHeaders()), "idempotency-key": "call-7f3a" };

    redeemGate.closed = true;
    const lost = await stack.http("POST", "/v1/grants/redeem", keyed, redeem);
    assert.equal(lost.status, 503, JSON.stringify(lost.body));
    assert.equal(lost.body.error.code, "unavailable");
    redeemGate.open(); // the Update goes on without its caller
    await stack.approvals.waitForStatusChange(id, ["approved"], 10_000);
    assert.equal((await stack.approvals.state(id)).status, "redeemed");

    const retried = await stack.http("POST", "/v1/grants/redeem", keyed, redeem);
    assert.equal(retried.status, 200, JSON.stringify(retried.body));
    assert.deepEqual(retried.body, { principal: "alice", agent: AGENT, approvalId: id });
    const again = await stack.http("POST", "/v1/grants/redeem", keyed, redeem);
    assert.deepEqual(again.body, retried.body, "every retry gets the same answer");

    const unkeyed = await stack.http("POST", "/v1/grants/redeem", await stack.toolHeaders(), redeem);
    assert.equal(unkeyed.status, 409);
    assert.equal(unkeyed.body.error.code, "grant_already_redeemed");
    const otherKey = await stack.http("POST", "/v1/grants/redeem", { ...(await stack.toolHeaders()), "idempotency-key": "call-other" }, redeem);
    assert.equal(otherKey.status, 409);
    const otherServer = await stack.http("POST", "/v1/grants/redeem", { ...(await stack.toolHeaders(KB_SERVER)), "idempotency-key": "call-7f3a" }, redeem);
    assert.equal(otherServer.status, 403);
    assert.equal(otherServer.body.error.code, "binding_mismatch");
    const state = await stack.approvals.state(id);
    assert.equal(state.policy.filter((p) => p.stage === "redemption").length, 1, "one redemption, one policy check at use");
  });

  it("concurrent redemptions under one key attach to one Update; without keys exactly one wins", async function () {
    const { id, body } = await requestPendingRefund(stack);
    await stack.decide(id, "bob", "approve");
    const redeem = { grant: await stack.grantOf(id), tool: "payments.refund", arguments: body.arguments };
    const keyed = { ...(await stack.toolHeaders()), "idempotency-key": "same-call" };
    const answers = await Promise.all(Array.from({ length: 10 }, () => stack.http("POST", "/v1/grants/redeem", keyed, redeem)));
    assert.deepEqual(
      answers.map((a) => a.status),
      Array(10).fill(200),
      JSON.stringify(answers.map((a) => a.body)),
    );
  });

  it("an approver whose decision answer was lost gets the recorded decision on retry with the key, not already_decided", async function () {
    const { id } = await requestPendingRefund(stack);
    const token = await stack.ids.principalToken("bob", { scope: "countersign:approve" });
    const headers = { authorization: `Bearer ${token}`, "idempotency-key": "click-1" };

    decideGate.closed = true;
    const lost = await stack.http("POST", `/v1/approvals/${id}/decisions`, headers, { decision: "approve" });
    assert.equal(lost.status, 503, JSON.stringify(lost.body));
    decideGate.open();
    await stack.approvals.waitForStatusChange(id, ["pending"], 10_000);
    assert.equal((await stack.approvals.state(id)).status, "approved");

    const retried = await stack.http("POST", `/v1/approvals/${id}/decisions`, headers, { decision: "approve" });
    assert.equal(retried.status, 200, JSON.stringify(retried.body));
    assert.equal(retried.body.status, "approved");
    assert.deepEqual(retried.body.decision.approvers, ["bob"]);
    assert.equal(retried.body.grant, undefined, "an approver-facing answer never carries the grant");
    const unkeyed = await stack.http("POST", `/v1/approvals/${id}/decisions`, { authorization: `Bearer ${token}` }, { decision: "approve" });
    assert.equal(unkeyed.status, 409);
    assert.equal(unkeyed.body.error.code, "already_decided");
    // Another approver's key is another approver's: it attaches to nothing of bob's.
    const carol = await stack.ids.principalToken("carol", { scope: "countersign:approve" });
    const other = await stack.http("POST", `/v1/approvals/${id}/decisions`, { authorization: `Bearer ${carol}`, "idempotency-key": "click-1" }, { decision: "approve" });
    assert.equal(other.status, 409);
    assert.equal((await stack.approvals.state(id)).decisions.length, 1);
  });

  it("an Idempotency-Key reused by the same approver for a different decision is idempotency_conflict, not the other decision's 200", async function () {
    const { id } = await requestPendingRefund(stack);
    const token = await stack.ids.principalToken("bob", { scope: "countersign:approve" });
    const headers = { authorization: `Bearer ${token}`, "idempotency-key": "click-2" };
    const approved = await stack.http("POST", `/v1/approvals/${id}/decisions`, headers, { decision: "approve" });
    assert.equal(approved.status, 200, JSON.stringify(approved.body));
    assert.equal(approved.body.status, "approved");

    const denied = await stack.http("POST", `/v1/approvals/${id}/decisions`, headers, { decision: "deny", reason: "wrong customer" });
    assert.equal(denied.status, 409, `a deny under an approve's key answered ${denied.status} ${JSON.stringify(denied.body)}`);
    assert.equal(denied.body.error.code, "idempotency_conflict");
    const otherReason = await stack.http("POST", `/v1/approvals/${id}/decisions`, headers, { decision: "approve", reason: "looks fine" });
    assert.equal(otherReason.status, 409, JSON.stringify(otherReason.body));
    assert.equal(otherReason.body.error.code, "idempotency_conflict");
    // The same body under the key still gets its own answer.
    const same = await stack.http("POST", `/v1/approvals/${id}/decisions`, headers, { decision: "approve" });
    assert.equal(same.status, 200, JSON.stringify(same.body));
    const state = await stack.approvals.state(id);
    assert.deepEqual(state.decisions.map((d) => [d.approver, d.decision]), [["bob", "approve"]]);
  });

  it("two decisions racing under one approver's key, an approve and a deny, never both answer as done: the one that attached to the other's Update is idempotency_conflict", async function () {
    const { id } = await requestPendingRefund(stack);
    // Both past their edge checks at once, as two edges (or two requests of one edge) would be: neither finds
    // an Update under the key, both send under it, and Temporal delivers one and attaches the other to it.
    const decision = async (d: "approve" | "deny", reason?: string): Promise<DecideInput> => {
      const statement = { approvalId: id, approver: "bob", decision: d, via: "api" as const, ...(reason !== undefined ? { reason } : {}) };
      const signed = await signDecision(stack.services.grantKeys, statement, { issuer: stack.config.issuer });
      return { approver: "bob", decision: d, via: "api", ...(reason !== undefined ? { reason } : {}), assertion: signed.assertion, jti: signed.jti, expiresAtMs: signed.expiresAtMs };
    };
    const [approve, deny] = await Promise.allSettled([
      stack.approvals.decide(id, await decision("approve"), "click-race"),
      stack.approvals.decide(id, await decision("deny", "wrong customer"), "click-race"),
    ]);
    const state = await stack.approvals.state(id);
    assert.equal(state.decisions.length, 1);
    const recorded = state.decisions[0]?.decision;
    const [won, lost] = recorded === "approve" ? [approve, deny] : [deny, approve];
    assert.equal(won.status, "fulfilled", String((won as PromiseRejectedResult).reason));
    assert.equal(lost.status, "rejected", `the decision that was not recorded was answered as done: ${JSON.stringify((lost as PromiseFulfilledResult<unknown>).value)}`);
    assert.equal((lost.reason as { code?: unknown }).code, "idempotency_conflict");
  });

  it("a key whose every generation failed answers a final idempotency_conflict, not an unavailable that retries forever; a new key goes through", async function () {
    const { id } = await requestPendingRefund(stack);
    const token = await stack.ids.principalToken("bob", { scope: "countersign:approve" });
    const headers = { authorization: `Bearer ${token}`, "idempotency-key": "click-flaky" };
    failDecisions = true;
    try {
      for (let attempt = 0; attempt < 9; attempt++) {
        const res = await stack.http("POST", `/v1/approvals/${id}/decisions`, headers, { decision: "approve" });
        assert.equal(res.status, 503, `attempt ${attempt}: ${JSON.stringify(res.body)}`);
      }
    } finally {
      failDecisions = false;
    }
    // The policy engine is back; the key has used up its generations.
    const exhausted = await stack.http("POST", `/v1/approvals/${id}/decisions`, headers, { decision: "approve" });
    assert.equal(exhausted.status, 409, `an exhausted key answered ${exhausted.status} ${JSON.stringify(exhausted.body)}`);
    assert.equal(exhausted.body.error.code, "idempotency_conflict");
    assert.equal((await stack.approvals.state(id)).decisions.length, 0);
    const fresh = await stack.http("POST", `/v1/approvals/${id}/decisions`, { ...headers, "idempotency-key": "click-flaky-2" }, { decision: "approve" });
    assert.equal(fresh.status, 200, JSON.stringify(fresh.body));
    assert.equal(fresh.body.status, "approved");
  });

  it("a malformed Idempotency-Key is refused and changes nothing", async function () {
    const { id } = await requestPendingRefund(stack);
    const token = await stack.ids.principalToken("bob", { scope: "countersign:approve" });
    const res = await stack.http("POST", `/v1/approvals/${id}/decisions`, { authorization: `Bearer ${token}`, "idempotency-key": "x".repeat(256) }, { decision: "approve" });
    assert.equal(res.status, 400);
    assert.equal(res.body.error.code, "invalid_request");
    assert.equal((await stack.approvals.state(id)).decisions.length, 0);
  });
});

describe("outages answer fast, with the right code (real Temporal server)", function () {
  it("with no worker: filing answers 202 within seconds (the approval exists), reads and decisions answer 503 unavailable with Retry-After", async function () {
    const stack = await startStack({ worker: false });
    try {
      const body = refundRequest();
      let started = Date.now();
      const filed = await stack.http("POST", "/v1/approvals", await stack.agentHeaders("alice"), body);
      assert.equal(filed.status, 202, JSON.stringify(filed.body));
      assert.equal(filed.body.status, "pending");
      assert.equal(filed.body.decision, null);
      assert.ok(Date.now() - started < 5_000, `filing took ${Date.now() - started} ms`);
      const id = filed.body.id as string;
      assert.equal(id, approvalId({ tenant: "acme", agent: AGENT, principalIssuer: TEST_PRINCIPAL_ISSUER, principal: "alice", requestId: body.requestId as string }));

      started = Date.now();
      const view = await fetch(`${stack.baseUrl}/v1/approvals/${id}`, { headers: await stack.agentHeaders("alice") });
      assert.equal(view.status, 503);
      assert.equal(((await view.json()) as { error: { code: string } }).error.code, "unavailable");
      assert.equal(view.headers.get("retry-after"), "2");
      assert.ok(Date.now() - started < 7_000, `a read took ${Date.now() - started} ms`);

      started = Date.now();
      await assert.rejects(stack.decide(id, "bob", "approve"), { code: "unavailable" });
      assert.ok(Date.now() - started < 7_000, `a decision took ${Date.now() - started} ms`);

      // The worker comes back: the approval filed during the outage goes on.
      await stack.startWorker();
      const pending = await stack.approvals.waitForStatusChange(id, ["verifying"], 15_000);
      assert.equal(pending.status, "pending");
    } finally {
      await stack.stop();
    }
  });

  it("an agent token that expires while no worker runs still counts: identity is verified as of receipt", async function () {
    const stack = await startStack({ worker: false });
    try {
      const headers = { authorization: `Bearer ${await stack.ids.principalToken("alice")}`, "workload-identity-token": await stack.ids.agentToken(AGENT, { expiresInSeconds: 2 }) };
      const filed = await stack.http("POST", "/v1/approvals", headers, refundRequest());
      assert.equal(filed.status, 202, JSON.stringify(filed.body));
      await sleep(2_000 + 5_000 + 500); // past exp and the clock tolerance
      await stack.startWorker();
      const state = await stack.approvals.waitForStatusChange(filed.body.id as string, ["verifying"], 15_000);
      assert.equal(state.status, "pending", `${state.status} (${state.reasonCode ?? ""})`);
    } finally {
      await stack.stop();
    }
  });

  it("Temporal's 'no poller' answer and an unreachable Temporal both mean unavailable", function () {
    const noPoller = Object.assign(new Error("no poller seen for task queue recently"), { code: 9 });
    assert.equal(toCodedError(noPoller).code, "unavailable");
    assert.equal(toCodedError(Object.assign(new Error("connect ECONNREFUSED"), { code: 14 })).code, "unavailable");
    assert.equal(toCodedError(Object.assign(new Error("precondition"), { code: 9 })).code, "internal", "other failed preconditions stay internal");
  });

  it("Temporal refusing for load (RESOURCE_EXHAUSTED: too many Updates in flight, a rate limit) is unavailable with Retry-After, not internal", function () {
    // What an Update still refused when its deadline passes throws: the SDK's ServiceError over the gRPC status.
    const refused = Object.assign(new Error("Failed to update workflow"), { cause: Object.assign(new Error("8 RESOURCE_EXHAUSTED: limit on number of concurrent in-flight updates has been reached"), { code: 8 }) });
    assert.equal(toCodedError(refused).code, "unavailable");
  });

  it("with Temporal unreachable, a client call answers unavailable within the RPC deadline", async function () {
    // Connected as the server and the CLI connect (the SDK's retry bounded to a few attempts).
    const connection = Connection.lazy({ address: "127.0.0.1:9", interceptors: grpcInterceptors() });
    try {
      const approvals = new ApprovalsClient(new Client({ connection }), "nowhere");
      const started = Date.now();
      await assert.rejects(approvals.state("appr_x"), { code: "unavailable" });
      assert.ok(Date.now() - started < 7_000, `took ${Date.now() - started} ms`);
    } finally {
      await connection.close();
    }
  });

  it("the CLI with Temporal unreachable exits 1 quickly, saying unavailable and the address it tried", async function () {
    const stack = await startStack({ worker: false });
    const suiteAddress = process.env.TEMPORAL_ADDRESS;
    process.env.TEMPORAL_ADDRESS = "127.0.0.1:9"; // nothing listens on the discard port
    try {
      const started = Date.now();
      const res = await runCli(["--config", stack.configFile, "pending"]);
      assert.equal(res.code, 1, res.all);
      assert.match(res.err, /unavailable/);
      assert.match(res.err, /127\.0\.0\.1:9/);
      assert.ok(Date.now() - started < 10_000, `took ${Date.now() - started} ms`);
    } finally {
      process.env.TEMPORAL_ADDRESS = suiteAddress;
      await stack.stop();
    }
  });
});

describe("a request whose approval failed for infrastructure can be filed again (real Temporal server)", function () {
  let failIdentity = true;
  let stack: TestStack;
  before(async function () {
    stack = await startStack({
      wrapActivities: (real: Activities) => ({
        ...real,
        async verifyAgentIdentity(input) {
          // What the real activity throws when the trust domain's keys cannot be loaded.
          if (failIdentity) throw ApplicationFailure.retryable("the trust domain's keys could not be loaded", "unavailable");
          return real.verifyAgentIdentity(input);
        },
      }),
    });
  });
  after(async function () {
    await stack?.stop();
  });

  it("the same requestId files a new run after a failed (unavailable) approval; a different body under it is a conflict", async function () {
    const body = refundRequest();
    const first = await stack.http("POST", "/v1/approvals", await stack.agentHeaders("alice"), body);
    const id = first.body.id as string;
    const failed = first.body.status === "failed" ? first.body : (await stack.http("GET", `/v1/approvals/${id}?wait=20`, await stack.agentHeaders("alice"))).body;
    assert.equal(failed.status, "failed", JSON.stringify(failed));

    const conflict = await stack.http("POST", "/v1/approvals", await stack.agentHeaders("alice"), { ...body, reason: "something else" });
    assert.equal(conflict.status, 409);
    assert.equal(conflict.body.error.code, "idempotency_conflict");

    failIdentity = false;
    const again = await stack.http("POST", "/v1/approvals", await stack.agentHeaders("alice"), body);
    assert.equal(again.status, 202, JSON.stringify(again.body));
    assert.equal(again.body.id, id);
    assert.equal(again.body.status, "pending");
    // Filed again once: a third filing attaches to the new run.
    const third = await stack.http("POST", "/v1/approvals", await stack.agentHeaders("alice"), body);
    assert.equal(third.status, 202);
    assert.equal((await stack.approvals.state(id)).status, "pending");
  });
});
