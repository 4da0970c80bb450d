// What the codec server shows of a decrypted payload: tokens masked, text neutralised, the rest as recorded.
import assert from "node:assert/strict";
import type { Payload } from "@temporalio/common";
import { SignJWT, generateKeyPair, CompactEncrypt } from "jose";
import { maskTokens, readingView, UNLISTED_ARGUMENTS } from "../../src/codec/reading-view.js";

const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s);
const text = (b: Uint8Array | null | undefined): string => new TextDecoder().decode(b ?? new Uint8Array());
const json = (value: unknown, encoding = "json/plain"): Payload => ({ metadata: { encoding: utf8(encoding), extra: utf8("kept") }, data: utf8(JSON.stringify(value)) });

describe("reading view of decoded payloads", () => {
  let grant: string;
  let plainJwt: string;
  let jwe: string;

  before(async () => {
    const { privateKey } = await generateKeyPair("EdDSA");
    grant = await new SignJWT({ sub: "alice", tool: "payments.refund" }).setProtectedHeader({ alg: "EdDSA", typ: "countersign-grant+jwt", kid: "k1" }).sign(privateKey);
    plainJwt = await new SignJWT({ sub: "spiffe://demo.test/agents/support-bot" }).setProtectedHeader({ alg: "EdDSA" }).sign(privateKey);
    const enc = await generateKeyPair("ECDH-ES", { crv: "P-256" });
    jwe = await new CompactEncrypt(utf8("secret")).setProtectedHeader({ alg: "ECDH-ES", enc: "A256GCM" }).encrypt(enc.publicKey);
  });

  it("masks every compact JWS and JWE, naming its typ, wherever it sits in a string", () => {
    assert.equal(maskTokens(grant), "[masked token: countersign-grant+jwt]");
    assert.equal(maskTokens(`Bearer ${plainJwt}, then ${jwe}.`), "Bearer [masked token: JWT], then [masked token: JWT].");
    const unsigned = `${Buffer.from('{"alg":"none","typ":"JWT"}').toString("base64url")}.${Buffer.from('{"sub":"x"}').toString("base64url")}.`;
    assert.equal(maskTokens(unsigned), "[masked token: JWT]");
    const oddTyp = `${Buffer.from('{"alg":"EdDSA","typ":"a b<script>"}').toString("base64url")}.e30.c2ln`;
    assert.equal(maskTokens(oddTyp), "[masked token: JWT]", "a typ that is not a plain name is not echoed");
  });

  it("leaves dotted names, versions and other text alone", () => {
    for (const s of ["payments.refund", "v1.2.3", "a.b.c.d.e", "pay_1042", "eyJub3QiOiJhIHRva2VuIn0", "appr_abc.def.ghi", "example.com.evil.test"]) assert.equal(maskTokens(s), s);
  });

  it("keeps the JSON and metadata as recorded apart from masked tokens and neutralised text", () => {
    const value = { tool: "payments.refund", arguments: { amount_cents: 4200, nested: [grant, { deep: plainJwt }] }, agentToken: plainJwt, n: null, ok: true, summary: "refund\u202Egnp.exe", stack: "line 1\nline 2" };
    const shown = readingView(json(value));
    assert.equal(text(shown.metadata?.encoding), "json/plain");
    assert.equal(text(shown.metadata?.extra), "kept");
    assert.deepEqual(JSON.parse(text(shown.data)), {
      tool: "payments.refund",
      arguments: { amount_cents: 4200, nested: ["[masked token: countersign-grant+jwt]", { deep: "[masked token: JWT]" }] },
      agentToken: "[masked token: JWT]",
      n: null,
      ok: true,
      summary: "refund\\u{202E}gnp.exe",
      stack: "line 1\nline 2",
    });
  });

  it("neutralises keys too, and refuses an object whose keys would read alike", () => {
    assert.deepEqual(JSON.parse(text(readingView(json({ "a\u200Bb": 1 })).data)), { "a\\u{200B}b": 1 });
    assert.throws(() => readingView(json({ "a\u200Bb": 1, "a\\u{200B}b": 2 })), { code: "payload_rejected" });
  });

  it("passes a payload without a value, and refuses what it cannot mask: other encodings, non-JSON, non-UTF-8", () => {
    const nothing: Payload = { metadata: { encoding: utf8("binary/null") } };
    assert.equal(readingView(nothing), nothing);
    assert.throws(() => readingView({ metadata: { encoding: utf8("binary/plain") }, data: utf8(grant) }), { code: "payload_rejected" });
    assert.throws(() => readingView({ metadata: { encoding: utf8("json/protobuf") }, data: utf8("{}") }), { code: "payload_rejected" });
    assert.throws(() => readingView({ data: utf8("{}") }), { code: "payload_rejected" });
    assert.throws(() => readingView({ metadata: { encoding: utf8("json/plain") }, data: utf8("{not json") }), { code: "payload_rejected" });
    assert.throws(() => readingView({ metadata: { encoding: utf8("json/plain") }, data: new Uint8Array([0x22, 0xff, 0x22]) }), { code: "payload_rejected" });
  });

  it("applies the catalog's redact rules to every tool call it holds, and shows no arguments of a tool not in the catalog", () => {
    const redactFor = (tool: string): readonly string[] | undefined => (tool === "payments.refund" ? ["card_number", "customer.email"] : undefined);
    const input = { tool: "payments.refund", arguments: { card_number: "4242", customer: { email: "a@b.test", name: "Ada" }, nested: [{ card_number: "1111" }] }, intent: { taskId: "t" } };
    const shown = JSON.parse(text(readingView(json([input, { tool: "shell.exec", arguments: { cmd: "rm -rf /" } }, { arguments: { card_number: "9" } }]), { redactFor }).data)) as unknown;
    assert.deepEqual(shown, [
      { tool: "payments.refund", arguments: { card_number: "[redacted]", customer: { email: "[redacted]", name: "Ada" }, nested: [{ card_number: "[redacted]" }] }, intent: { taskId: "t" } },
      { tool: "shell.exec", arguments: UNLISTED_ARGUMENTS },
      { arguments: { card_number: "9" } },
    ]);
    assert.deepEqual(JSON.parse(text(readingView(json(input)).data)), input, "without rules nothing is redacted");
  });
});
