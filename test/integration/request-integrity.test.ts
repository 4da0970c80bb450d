// What the approver sees is what will run: bodies with one meaning at the edge, the resource bound
// into the grant, idempotency over the whole request, and views that neutralise agent strings.
import assert from "node:assert/strict";
import { runCli } from "../support/run-cli.js";
import { decodeJwt } from "jose";
import { refundRequest, requestPendingRefund, startStack, type TestStack } from "../support/stack.js";

describe("request integrity (real Temporal server)", function () {
  let stack: TestStack;
  before(async function () {
    stack = await startStack();
  });
  after(async function () {
    await stack?.stop();
  });

  /** POST raw bytes as a JSON body. */
  async function postRaw(body: Uint8Array | string): Promise<{ status: number; body: { error?: { code: string; message: string }; id?: string } }> {
    const res = await fetch(`${stack.baseUrl}/v1/approvals`, { method: "POST", headers: { ...(await stack.agentHeaders("alice")), "content-type": "application/json" }, body });
    return { status: res.status, body: (await res.json()) as { error?: { code: string; message: string } } };
  }

  it("bodies with more than one meaning are refused with invalid_request and start nothing", async function () {
    const valid = JSON.stringify(refundRequest());
    const cases: Array<[string, Uint8Array | string]> = [
      // Two different byte strings used to become the same U+FFFD and hash alike.
      ["invalid UTF-8", Buffer.concat([Buffer.from(valid.replace('"EUR"', '"EU')), Buffer.from([0xff]), Buffer.from(valid.slice(valid.indexOf('"EUR"') + 4))])],
      ["a lone surrogate", valid.replace('"EUR"', '"EU\\ud800"')],
      ["a duplicate key", valid.replace('"amount_cents":4200', '"amount_cents":4200,"amount_cents":99999900')],
      ["an integer beyond the safe range", valid.replace('"amount_cents":4200', '"amount_cents":9007199254740993')],
      ["10 000 levels of nesting", valid.replace('"currency":"EUR"', `"currency":${"[".repeat(10_000)}${"]".repeat(10_000)}`)],
    ];
    for (const [what, body] of cases) {
      const res = await postRaw(body);
      assert.equal(res.status, 400, `${what}: ${JSON.stringify(res.body)}`);
      assert.equal(res.body.error?.code, "invalid_request", what);
    }
    assert.equal((await postRaw(valid)).status, 202, "the same body without the defect is accepted");
  });

  it("the resource a request names is bound into the grant and must be named again at redemption", async function () {
    const resource = { type: "Resource", id: "acme-order-1042" };
    const { id, body } = await requestPendingRefund(stack, { resource });
    await stack.decide(id, "bob", "approve");
    const grant = await stack.grantOf(id);
    assert.deepEqual(decodeJwt(grant).resource, resource);
    const tool = await stack.toolHeaders();
    const redeem = (extra: Record<string, unknown>) => stack.http("POST", "/v1/grants/redeem", tool, { grant, tool: "payments.refund", arguments: body.arguments, ...extra });
    for (const [what, extra] of [
      ["no resource", {}],
      ["another resource", { resource: { type: "Resource", id: "globex-order-7" } }],
      ["another resource type", { resource: { type: "Invoice", id: "acme-order-1042" } }],
    ] as const) {
      const res = await redeem(extra);
      assert.equal(res.status, 403, what);
      assert.equal(res.body.error.code, "binding_mismatch", what);
    }
    assert.equal((await stack.approvals.state(id)).status, "approved", "a mismatch burns nothing");
    assert.equal((await redeem({ resource })).status, 200);
  });

  it("a grant for a request without a resource is refused when redemption names one", async function () {
    const { id, body } = await requestPendingRefund(stack);
    await stack.decide(id, "bob", "approve");
    const grant = await stack.grantOf(id);
    assert.equal(decodeJwt(grant).resource, undefined);
    const res = await stack.http("POST", "/v1/grants/redeem", await stack.toolHeaders(), { grant, tool: "payments.refund", arguments: body.arguments, resource: { type: "Resource", id: "acme-order-1042" } });
    assert.equal(res.body.error.code, "binding_mismatch");
  });

  it("the same requestId with any difference in the filed request is 409 idempotency_conflict", async function () {
    const headers = await stack.agentHeaders("alice");
    const first = refundRequest({ reason: "duplicate charge" });
    const created = await stack.http("POST", "/v1/approvals", headers, first);
    assert.equal(created.status, 202);
    const same = await stack.http("POST", "/v1/approvals", headers, first);
    assert.equal(same.body.id, created.body.id, "an identical retry attaches");
    for (const [what, changed] of [
      ["summary", { ...first, intent: { taskId: "ticket-1042", summary: "Refund everything" } }],
      ["reason", { ...first, reason: "customer asked" }],
      ["reason removed", { ...first, reason: undefined }],
      ["resource added", { ...first, resource: { type: "Resource", id: "acme-order-1042" } }],
      ["arguments", { ...first, arguments: { payment_id: "pay_1042", amount_cents: 4201, currency: "EUR" } }],
    ] as const) {
      const res = await stack.http("POST", "/v1/approvals", headers, changed);
      assert.equal(res.status, 409, what);
      assert.equal(res.body.error.code, "idempotency_conflict", what);
    }
  });

  it("show and audit neutralise every agent string: an agent cannot hide the real arguments from the approver", async function () {
    const hidden = "\u001b[8m";
    // Policy denies it (the resource is not in the directory); approvers and operators still read it.
    const filed = await stack.http("POST", "/v1/approvals", await stack.agentHeaders("alice"), refundRequest({
      arguments: { payment_id: "pay_1042", amount_cents: 99_999_900, currency: "EUR", note: "ok\u009b2J\u202e" },
      intent: { taskId: "ticket-1042\u001b]8;;http://evil\u0007", summary: `Refund {"amount_cents": 4200}${hidden}` },
      reason: "dup\u2028licate\u200b",
      resource: { type: "Resource", id: "pay\u001b[2A" },
    }));
    const id = filed.body.id as string;
    for (const verb of ["show", "audit"]) {
      const { code, all: out } = await runCli(["--config", stack.configFile, verb, id]);
      assert.equal(code, 0, out);
      // Line breaks between lines are the view's own; anything else in Cc, Cf or Zl must not reach the terminal.
      assert.doesNotMatch(out.replaceAll("\n", ""), /[\p{Cc}\p{Cf}\p{Zl}]/u, `${verb} prints no raw control, format or separator character`);
      assert.ok(out.includes("\\u{001B}[8m"), `${verb} shows the conceal code visibly`);
    }
    const shown = (await runCli(["--config", stack.configFile, "show", id])).all;
    assert.match(shown, /"amount_cents": 99999900/, "the real amount is on the screen");
    assert.ok(shown.includes("\\u{202E}") && shown.includes("\\u{009B}"), "bidi override and C1 CSI in arguments are visible");
    const json = (await runCli(["--config", stack.configFile, "audit", id, "--json"])).out;
    assert.doesNotMatch(json, /[\u007f-\u009f\u200b\u202e\u2028]/u);
    assert.equal((JSON.parse(json) as { intent: { summary: string } }).intent.summary, `Refund {"amount_cents": 4200}${hidden}`, "--json stays exact JSON");
  });
});
