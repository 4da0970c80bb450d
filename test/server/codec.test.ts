// The Temporal UI's remote codec at /codec/* against a real approval's history: decoding for the ops
// user's own tenant with tokens masked, the encode/decode round trip, key rotation, refusals without or
// with a wrong token, CORS for exactly the UI's origin, and the browser sign-in cookie.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { TypedSearchAttributes } from "@temporalio/common";
import { exportHistory } from "../../src/client/history.js";
import { rotatePayloadKey } from "../../src/codec/payload-keys.js";
import { ENCRYPTED_ENCODING, KEY_ID_METADATA } from "../../src/codec/payload-codec.js";
import { createLogger } from "../../src/log.js";
import { buildServices } from "../../src/runtime/services.js";
import { createApp } from "../../src/server/app.js";
import { CODEC_COOKIE, NOT_DECODED_METADATA } from "../../src/server/codec.js";
import { listen } from "../../src/server/serve.js";
import { approvalWorkflow } from "../../workflows/approval.js";
import { tenantSearchAttribute } from "../../workflows/definitions.js";
import { requestPendingRefund, startStack, type TestStack } from "../support/stack.js";
import { signWithUnknownKey, principalClaims } from "../support/tokens.js";

const UI_ORIGIN = "http://127.0.0.1:18233";
const b64 = (text: string): string => Buffer.from(text, "utf8").toString("base64");
const unb64 = (value: string | undefined): string => Buffer.from(value ?? "", "base64").toString("utf8");

interface PayloadJson {
  metadata?: Record<string, string>;
  data?: string;
}

/**
 * Every payload countersign wrote into an approval's history, as the Temporal UI sends them (proto3
 * JSON, encrypted). The SDK's own marker details (patch ids, local activity sequence numbers) are
 * plain JSON in the history and not countersign's: left out.
 */
async function historyPayloads(stack: TestStack, id: string): Promise<PayloadJson[]> {
  const found: PayloadJson[] = [];
  const walk = (node: unknown): void => {
    if (Array.isArray(node)) node.forEach(walk);
    else if (node !== null && typeof node === "object") {
      const record = node as Record<string, unknown>;
      const metadata = record.metadata as Record<string, unknown> | undefined;
      if (metadata !== undefined && typeof metadata === "object" && typeof metadata.encoding === "string") found.push(record);
      // Search attributes and headers are for Temporal itself: never encoded, never sent to a codec.
      else Object.entries(record).forEach(([key, value]) => !["searchAttributes", "header"].includes(key) && walk(value));
    }
  };
  walk(JSON.parse(await exportHistory(stack.client, id)));
  return found.filter((p) => unb64(p.metadata?.encoding) === ENCRYPTED_ENCODING);
}

const opsToken = (stack: TestStack, user: string, opts: { expiresInSeconds?: number } = {}): Promise<string> =>
  stack.ids.principalToken(user, { scope: "countersign:ops", ...opts });

/** POST a codec call; `headers` replace the defaults (X-Namespace of the suite, JSON). */
async function codec(baseUrl: string, op: "decode" | "encode", payloads: PayloadJson[], headers: Record<string, string>): Promise<{ status: number; headers: Headers; body: any }> { // eslint-disable-line @typescript-eslint/no-explicit-any -- assertions read arbitrary JSON
  const res = await fetch(`${baseUrl}/codec/${op}?preserveStorageRefs=true`, {
    method: "POST",
    headers: { "content-type": "application/json", "x-namespace": process.env.TEMPORAL_NAMESPACE ?? "default", ...headers },
    body: JSON.stringify({ payloads }),
  });
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: text === "" ? undefined : JSON.parse(text) };
}

const JWT_SHAPE = /eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\./;

describe("remote codec for the Temporal UI (/codec/decode, /codec/encode)", function () {
  let stack: TestStack;

  before(async function () {
    stack = await startStack({ codec: { uiOrigins: [UI_ORIGIN] } });
  });

  after(async function () {
    await stack?.stop();
  });

  it("decodes an approval's whole history for an ops user of its tenant, with grant, assertion and agent tokens masked", async function () {
    const { id } = await requestPendingRefund(stack);
    await stack.decide(id, "bob", "approve");
    const raw = await historyPayloads(stack, id);
    assert.ok(raw.length >= 5, `the history holds the input, activity payloads, the decision and the grant (${raw.length})`);

    const res = await codec(stack.baseUrl, "decode", raw, { authorization: `Bearer ${await opsToken(stack, "carol")}` });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    const decoded = res.body.payloads as PayloadJson[];
    assert.equal(decoded.length, raw.length, "one answer per payload, in order");
    assert.deepEqual(decoded.filter((p) => p.metadata?.[NOT_DECODED_METADATA] !== undefined), [], "every payload of the caller's tenant decodes");
    const texts = decoded.map((p) => unb64(p.data));
    assert.ok(decoded.every((p) => ["json/plain", "binary/null"].includes(unb64(p.metadata?.encoding))));
    const input = texts.find((t) => t.includes('"agentToken"'));
    assert.ok(input !== undefined, "the workflow input is among them");
    const request = JSON.parse(input) as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any -- reading the recorded input
    assert.equal(request.tenant, "acme");
    assert.equal(request.tool, "payments.refund");
    assert.deepEqual(request.arguments, { payment_id: "pay_1042", amount_cents: 4200, currency: "EUR" });
    assert.match(request.agentToken, /^\[masked token: [A-Za-z0-9.+_-]+\]$/);
    const all = texts.join("\n");
    assert.doesNotMatch(all, JWT_SHAPE, "no token survives decoding");
    assert.ok(all.includes("[masked token: countersign-grant+jwt]"), "the grant shows as masked");
    assert.ok(all.includes("[masked token: countersign-decision+jwt]"), "the decision assertion shows as masked");
    assert.ok(all.includes('"approver":"bob"'), "the decision itself reads in the clear");
  });

  it("redacts tool arguments as the catalog says, like every other view of them: card number and customer email read [redacted]", async function () {
    const secretCard = "4242424242424242";
    const secretEmail = "ada@example.test";
    const { id } = await requestPendingRefund(stack, { arguments: { payment_id: "pay_2077", amount_cents: 1200, currency: "EUR", card_number: secretCard, customer: { email: secretEmail, tier: "gold" } } });
    const raw = await historyPayloads(stack, id);
    const res = await codec(stack.baseUrl, "decode", raw, { authorization: `Bearer ${await opsToken(stack, "carol")}` });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    const texts = (res.body.payloads as PayloadJson[]).map((p) => unb64(p.data));
    const input = texts.find((t) => t.includes('"agentToken"'));
    assert.ok(input !== undefined, "the workflow input is among them");
    const request = JSON.parse(input) as { arguments?: unknown };
    assert.deepEqual(request.arguments, { payment_id: "pay_2077", amount_cents: 1200, currency: "EUR", card_number: "[redacted]", customer: { email: "[redacted]", tier: "gold" } });
    const all = texts.join("\n");
    assert.ok(!all.includes(secretCard) && !all.includes(secretEmail), "no redacted value in any decoded payload");
  });

  it("decodes nothing of another tenant's approval: its payloads come back encrypted, marked not_found", async function () {
    const { id } = await requestPendingRefund(stack);
    const raw = await historyPayloads(stack, id);
    const res = await codec(stack.baseUrl, "decode", raw, { authorization: `Bearer ${await opsToken(stack, "erin")}` });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    for (const [i, payload] of (res.body.payloads as PayloadJson[]).entries()) {
      assert.equal(unb64(payload.metadata?.[NOT_DECODED_METADATA]), "not_found");
      assert.equal(payload.data, raw[i]?.data, "the data is the history's, still encrypted");
      assert.equal(unb64(payload.metadata?.encoding), ENCRYPTED_ENCODING);
    }
  });

  it("decodes nothing of an approval id that also has a run filed for another tenant (a write to the namespace cannot widen who reads)", async function () {
    const { id } = await requestPendingRefund(stack);
    const raw = await historyPayloads(stack, id);
    await stack.client.workflow.getHandle(id).terminate("test: make room for a run of another tenant");
    // Anyone with write access to the namespace can start a run of that id labelled with another tenant.
    await stack.client.workflow.start(approvalWorkflow, {
      workflowId: id,
      taskQueue: `nobody-${randomBytes(4).toString("hex")}`,
      args: [{} as never],
      typedSearchAttributes: new TypedSearchAttributes([{ key: tenantSearchAttribute, value: "globex" }]),
    });
    // Visibility is eventually consistent: wait (bounded) until both runs are listed.
    for (let attempt = 0; attempt < 50 && (await stack.approvals.tenantsOf(id)).length < 2; attempt++) await new Promise((r) => setTimeout(r, 100));
    assert.deepEqual((await stack.approvals.tenantsOf(id)).sort(), ["acme", "globex"]);
    for (const user of ["carol", "erin"]) {
      const res = await codec(stack.baseUrl, "decode", raw, { authorization: `Bearer ${await opsToken(stack, user)}` });
      assert.equal(res.status, 200);
      assert.ok((res.body.payloads as PayloadJson[]).every((p) => unb64(p.metadata?.[NOT_DECODED_METADATA]) === "not_found"), `${user} reads none of it`);
    }
    await stack.client.workflow.getHandle(id).terminate("test done");
  });

  it("round trip: what it encodes for an ops user it decodes for the same tenant, and for no other", async function () {
    const originals: PayloadJson[] = [
      { metadata: { encoding: b64("json/plain") }, data: b64(JSON.stringify({ note: "signal from the UI", n: 1 })) },
      { metadata: { encoding: b64("binary/null") }, data: "" },
    ];
    const carol = { authorization: `Bearer ${await opsToken(stack, "carol")}` };
    const encoded = await codec(stack.baseUrl, "encode", originals, carol);
    assert.equal(encoded.status, 200, JSON.stringify(encoded.body));
    const sealed = encoded.body.payloads as PayloadJson[];
    assert.equal(sealed.length, 2);
    for (const p of sealed) {
      assert.equal(unb64(p.metadata?.encoding), ENCRYPTED_ENCODING);
      assert.ok(!unb64(p.data).includes("signal from the UI"));
    }
    const back = await codec(stack.baseUrl, "decode", sealed, { authorization: `Bearer ${await opsToken(stack, "bob")}` });
    assert.equal(back.status, 200);
    assert.deepEqual(back.body.payloads, originals);
    const elsewhere = await codec(stack.baseUrl, "decode", sealed, { authorization: `Bearer ${await opsToken(stack, "erin")}` });
    assert.ok((elsewhere.body.payloads as PayloadJson[]).every((p) => unb64(p.metadata?.[NOT_DECODED_METADATA]) === "not_found"));
  });

  it("after a payload key rotation, decodes what the old key encrypted and encodes with the new key", async function () {
    const { id } = await requestPendingRefund(stack);
    const before = await historyPayloads(stack, id);
    const oldKeyId = unb64(before[0]?.metadata?.[KEY_ID_METADATA]);
    const { id: newKeyId } = await rotatePayloadKey(stack.config.payloads.keyFile);
    assert.notEqual(newKeyId, oldKeyId);
    // A server started after the rotation (processes load the payload keys at start).
    const rotated = await buildServices(stack.config, { createMissingKeys: false });
    const server = await listen(createApp({ services: rotated, approvals: stack.approvals, logger: createLogger("silent") }), "127.0.0.1", 0);
    try {
      const carol = { authorization: `Bearer ${await opsToken(stack, "carol")}` };
      const decoded = await codec(server.url, "decode", before, carol);
      assert.equal(decoded.status, 200);
      assert.ok((decoded.body.payloads as PayloadJson[]).every((p) => p.metadata?.[NOT_DECODED_METADATA] === undefined && unb64(p.metadata?.encoding) !== ENCRYPTED_ENCODING));
      const encoded = await codec(server.url, "encode", [{ metadata: { encoding: b64("json/plain") }, data: b64('"after"') }], carol);
      assert.equal(unb64((encoded.body.payloads as PayloadJson[])[0]?.metadata?.[KEY_ID_METADATA]), newKeyId);
      const back = await codec(server.url, "decode", encoded.body.payloads as PayloadJson[], carol);
      assert.equal(unb64((back.body.payloads as PayloadJson[])[0]?.data), '"after"');
      // The server that still runs with the old key set cannot read the new key's payload, and says so.
      const stale = await codec(stack.baseUrl, "decode", encoded.body.payloads as PayloadJson[], carol);
      assert.equal(unb64((stale.body.payloads as PayloadJson[])[0]?.metadata?.[NOT_DECODED_METADATA]), "payload_rejected");
    } finally {
      await server.close();
    }
  });

  it("refuses calls without a token or with a wrong one (401/403, coded) and decodes nothing", async function () {
    const { id } = await requestPendingRefund(stack);
    const raw = await historyPayloads(stack, id);
    const cases: Array<[string, Record<string, string>, number, string]> = [
      ["no token", {}, 401, "token_missing"],
      ["not a bearer header", { authorization: "Basic Ym9iOmJvYg==" }, 401, "token_malformed"],
      ["an expired ops token", { authorization: `Bearer ${await opsToken(stack, "carol", { expiresInSeconds: -120 })}` }, 401, "token_expired"],
      ["an untrusted issuer's key", { authorization: `Bearer ${await signWithUnknownKey(principalClaims({ sub: "carol", scope: "countersign:ops" }))}` }, 401, "token_key_unknown"],
      ["an approver's token without the ops scope", { authorization: `Bearer ${await stack.ids.principalToken("carol", { scope: "countersign:approve countersign:request" })}` }, 403, "insufficient_scope"],
      ["an ops token of nobody in the directory", { authorization: `Bearer ${await opsToken(stack, "mallory")}` }, 403, "forbidden"],
      ["a cookie holding a token without the ops scope", { cookie: `${CODEC_COOKIE}=${await stack.ids.principalToken("carol")}` }, 403, "insufficient_scope"],
      ["another namespace", { authorization: `Bearer ${await opsToken(stack, "carol")}`, "x-namespace": "someone-else" }, 403, "forbidden"],
      ["no namespace", { authorization: `Bearer ${await opsToken(stack, "carol")}`, "x-namespace": "" }, 400, "invalid_request"],
    ];
    for (const [what, headers, status, code] of cases) {
      for (const op of ["decode", "encode"] as const) {
        const res = await codec(stack.baseUrl, op, raw, headers);
        assert.equal(res.status, status, `${op} with ${what}: ${JSON.stringify(res.body)}`);
        assert.equal(res.body?.error?.code, code, `${op} with ${what}`);
        assert.equal(res.body.payloads, undefined, `${op} with ${what} returns no payloads`);
      }
    }
    const badBody = await fetch(`${stack.baseUrl}/codec/decode`, {
      method: "POST",
      headers: { authorization: `Bearer ${await opsToken(stack, "carol")}`, "x-namespace": stack.approvals.namespace, "content-type": "application/json" },
      body: JSON.stringify({ payloads: [{ data: "not base64!" }] }),
    });
    assert.equal(badBody.status, 400);
    assert.equal(((await badBody.json()) as { error: { code: string } }).error.code, "invalid_request");
  });

  it("returns payloads it cannot decode as they are: plaintext untouched, another envelope or a tampered one marked payload_rejected", async function () {
    const { id } = await requestPendingRefund(stack);
    const [first] = await historyPayloads(stack, id);
    assert.ok(first?.data !== undefined);
    const data = Buffer.from(first.data, "base64");
    data[20] = (data[20] ?? 0) ^ 1;
    const tampered = { ...first, data: data.toString("base64") };
    const v3 = { ...first, metadata: { encoding: first.metadata?.encoding ?? "", [KEY_ID_METADATA]: first.metadata?.[KEY_ID_METADATA] ?? "", "countersign-envelope": b64("3") } };
    const plain = { metadata: { encoding: b64("json/plain") }, data: b64('"already in the clear"') };
    const res = await codec(stack.baseUrl, "decode", [tampered, v3, plain], { authorization: `Bearer ${await opsToken(stack, "carol")}` });
    assert.equal(res.status, 200);
    const [t, old, p] = res.body.payloads as PayloadJson[];
    assert.equal(unb64(t?.metadata?.[NOT_DECODED_METADATA]), "payload_rejected");
    assert.equal(t?.data, tampered.data);
    assert.equal(unb64(old?.metadata?.[NOT_DECODED_METADATA]), "payload_rejected");
    assert.deepEqual(p, plain);
  });

  it("answers the UI's CORS preflight for exactly its origin, methods and headers, and refuses any other origin before reading anything", async function () {
    const preflight = (origin: string, method = "POST", headers = "content-type,x-namespace"): Promise<Response> =>
      fetch(`${stack.baseUrl}/codec/decode`, { method: "OPTIONS", headers: { origin, "access-control-request-method": method, "access-control-request-headers": headers } });
    const ok = await preflight(UI_ORIGIN);
    assert.equal(ok.status, 204);
    assert.equal(ok.headers.get("access-control-allow-origin"), UI_ORIGIN);
    assert.equal(ok.headers.get("access-control-allow-methods"), "POST");
    assert.equal(ok.headers.get("access-control-allow-headers"), "content-type, x-namespace, authorization, authorization-extras");
    assert.equal(ok.headers.get("access-control-allow-credentials"), "true");
    assert.equal(ok.headers.get("access-control-max-age"), "600");
    assert.match(ok.headers.get("vary") ?? "", /Origin/);
    assert.equal((await preflight(UI_ORIGIN, "POST", "content-type,x-namespace,authorization,authorization-extras")).status, 204, "the UI passing its access token");
    for (const [origin, method, headers] of [
      ["http://127.0.0.1:18234", "POST", "content-type"],
      ["http://localhost:18233", "POST", "content-type"],
      ["null", "POST", "content-type"],
      [UI_ORIGIN, "PUT", "content-type"],
      [UI_ORIGIN, "POST", "content-type,x-namespace,cookie2"],
    ] as const) {
      const refused = await preflight(origin, method, headers);
      assert.equal(refused.status, 403, `${origin} ${method} ${headers}`);
      assert.equal(((await refused.json()) as { error: { code: string } }).error.code, "forbidden");
      assert.equal(refused.headers.get("access-control-allow-origin"), null);
    }
    // The actual calls: a foreign page gets nothing even with a valid token; the UI reads refusals too.
    const { id } = await requestPendingRefund(stack);
    const raw = await historyPayloads(stack, id);
    const carol = `Bearer ${await opsToken(stack, "carol")}`;
    const foreign = await codec(stack.baseUrl, "decode", raw, { origin: "https://evil.example", authorization: carol });
    assert.equal(foreign.status, 403);
    assert.equal(foreign.body.error.code, "forbidden");
    assert.equal(foreign.headers.get("access-control-allow-origin"), null);
    const fromUi = await codec(stack.baseUrl, "decode", raw, { origin: UI_ORIGIN, authorization: carol });
    assert.equal(fromUi.status, 200);
    assert.equal(fromUi.headers.get("access-control-allow-origin"), UI_ORIGIN);
    assert.equal(fromUi.headers.get("access-control-allow-credentials"), "true");
    const refusedFromUi = await codec(stack.baseUrl, "decode", raw, { origin: UI_ORIGIN });
    assert.equal(refusedFromUi.status, 401);
    assert.equal(refusedFromUi.headers.get("access-control-allow-origin"), UI_ORIGIN, "the UI can read the 401 and show that decoding failed");
  });

  it("signs a browser in at /codec/session: an HttpOnly, SameSite=Strict cookie scoped to /codec that the codec accepts, set only from its own page", async function () {
    const token = await opsToken(stack, "carol");
    const signIn = (headers: Record<string, string>, body: string): Promise<Response> =>
      fetch(`${stack.baseUrl}/codec/session`, { method: "POST", redirect: "manual", headers: { "content-type": "application/x-www-form-urlencoded", ...headers }, body });
    const res = await signIn({ origin: stack.baseUrl }, `token=${encodeURIComponent(token)}`);
    assert.equal(res.status, 303);
    assert.equal(res.headers.get("location"), "/codec/session");
    const cookie = res.headers.get("set-cookie") ?? "";
    assert.ok(cookie.startsWith(`${CODEC_COOKIE}=${token};`), cookie.slice(0, 40));
    for (const attribute of ["Path=/codec", "HttpOnly", "SameSite=Strict"]) assert.ok(cookie.includes(attribute), `${attribute} in ${cookie.replace(token, "…")}`);
    const maxAge = Number(/Max-Age=(\d+)/.exec(cookie)?.[1]);
    assert.ok(maxAge > 200 && maxAge <= 300, `the cookie lasts as long as the token (${maxAge} s)`);

    const { id } = await requestPendingRefund(stack);
    const viaCookie = await codec(stack.baseUrl, "decode", await historyPayloads(stack, id), { cookie: `${CODEC_COOKIE}=${token}`, origin: UI_ORIGIN });
    assert.equal(viaCookie.status, 200);
    assert.ok((viaCookie.body.payloads as PayloadJson[]).every((p) => p.metadata?.[NOT_DECODED_METADATA] === undefined));

    const page = await fetch(`${stack.baseUrl}/codec/session`, { headers: { cookie: `${CODEC_COOKIE}=${token}` } });
    assert.equal(page.status, 200);
    assert.match(page.headers.get("content-security-policy") ?? "", /default-src 'none'/);
    const html = await page.text();
    assert.match(html, /Signed in as carol<\/strong> \(tenant acme\)/);
    assert.ok(!html.includes(token), "the page never shows the token");

    const crossSite = await signIn({ origin: "https://evil.example" }, `token=${encodeURIComponent(token)}`);
    assert.equal(crossSite.status, 403);
    assert.equal(crossSite.headers.get("set-cookie"), null);
    const notOps = await signIn({ origin: stack.baseUrl }, `token=${encodeURIComponent(await stack.ids.principalToken("carol"))}`);
    assert.equal(notOps.status, 403);
    assert.equal(((await notOps.json()) as { error: { code: string } }).error.code, "insufficient_scope");
    assert.equal(notOps.headers.get("set-cookie"), null);
    const asJson = await fetch(`${stack.baseUrl}/codec/session`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ token }) });
    assert.equal(asJson.status, 415);
  });
});
