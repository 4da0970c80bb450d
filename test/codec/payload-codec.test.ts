// The AES-256-GCM payload codec and the shared data converter.
import assert from "node:assert/strict";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import { fileURLToPath } from "node:url";
import type { Payload } from "@temporalio/common";
import { ApplicationFailure } from "@temporalio/common";
import { encodeErrorToFailure, loadDataConverter } from "@temporalio/common/lib/internal-non-workflow/index.js";
import { bundleWorkflowCode } from "@temporalio/worker";
import { createCipheriv } from "node:crypto";
import proto from "@temporalio/proto";
import { REFUSED_PAYLOAD } from "../../workflows/definitions.js";
import { ENCRYPTED_ENCODING, ENVELOPE_METADATA, KEY_ID_METADATA, OWNER_SLOT_METADATA, OWNER_WORKFLOW_METADATA, createDataConverter, createPayloadCodec, decryptAsStated, encryptForOwner, failureConverterPath } from "../../src/codec/payload-codec.js";
import { ensurePayloadKeys, loadPayloadKeys, rotatePayloadKey } from "../../src/codec/payload-keys.js";
import type { PayloadKeys } from "../../src/codec/payload-keys.js";

const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s);
const text = (b: Uint8Array | null | undefined): string => new TextDecoder().decode(b ?? new Uint8Array());
const tempKeyFile = (): string => join(mkdtempSync(join(tmpdir(), "countersign-codec-")), "payload-keys.json");

function jsonPayload(value: unknown): Payload {
  return { metadata: { encoding: utf8("json/plain"), messageType: utf8("secret-type") }, data: utf8(JSON.stringify(value)) };
}

function envKeys(entries: Array<{ id: string; key: string }>): Promise<PayloadKeys> {
  return loadPayloadKeys({ keyFile: tempKeyFile(), keysFromEnv: JSON.stringify({ keys: entries }) });
}

function assertSamePayload(actual: Payload | undefined, expected: Payload): void {
  assert.ok(actual);
  assert.deepEqual(
    Object.fromEntries(Object.entries(actual.metadata ?? {}).map(([k, v]) => [k, text(v)])),
    Object.fromEntries(Object.entries(expected.metadata ?? {}).map(([k, v]) => [k, text(v)])),
  );
  assert.equal(Buffer.compare(Buffer.from(actual.data ?? []), Buffer.from(expected.data ?? [])), 0);
}

describe("payload codec", () => {
  let keyFile: string;
  let keys: PayloadKeys;

  beforeEach(async () => {
    keyFile = tempKeyFile();
    keys = await ensurePayloadKeys(keyFile);
  });

  it("decodes what it encoded, metadata included, for several payloads at once", async () => {
    const codec = createPayloadCodec(keys);
    const originals: Payload[] = [jsonPayload({ token: "eyJhbGciOi.secret" }), { metadata: { encoding: utf8("binary/null") } }, jsonPayload("x".repeat(100_000))];
    const encoded = await codec.encode(originals);
    assert.equal(encoded.length, 3);
    const decoded = await codec.decode(encoded);
    originals.forEach((original, i) => assertSamePayload(decoded[i], original));
    assert.deepEqual(await codec.encode([]), []);
  });

  it("labels encrypted payloads with only the encoding, key id, envelope version and owner, and leaks no plaintext", async () => {
    const codec = createPayloadCodec(keys);
    const [encoded] = await codec.encode([jsonPayload({ argument: "PLAINTEXT-MARKER" })], { type: "activity", namespace: "default", workflowId: "appr_A", activityId: "7", isLocal: false });
    assert.ok(encoded);
    assert.deepEqual(Object.keys(encoded.metadata ?? {}).sort(), [ENVELOPE_METADATA, "encoding", KEY_ID_METADATA, OWNER_WORKFLOW_METADATA, OWNER_SLOT_METADATA].sort());
    assert.equal(text(encoded.metadata?.[ENVELOPE_METADATA]), "4");
    assert.equal(text(encoded.metadata?.[OWNER_WORKFLOW_METADATA]), "appr_A");
    assert.equal(text(encoded.metadata?.[OWNER_SLOT_METADATA]), "activity:7");
    assert.equal(text(encoded.metadata?.encoding), ENCRYPTED_ENCODING);
    assert.equal(text(encoded.metadata?.[KEY_ID_METADATA]), keys.encryptionKey().id);
    const data = Buffer.from(encoded.data ?? []);
    assert.equal(data.indexOf("PLAINTEXT-MARKER"), -1);
    assert.equal(data.indexOf("secret-type"), -1);
    assert.equal(data.indexOf("json/plain"), -1);
  });

  it("uses a fresh IV for every payload, so equal payloads encrypt differently", async () => {
    const codec = createPayloadCodec(keys);
    const [a, b] = await codec.encode([jsonPayload(1), jsonPayload(1)]);
    const ivA = Buffer.from(a?.data ?? []).subarray(0, 12);
    const ivB = Buffer.from(b?.data ?? []).subarray(0, 12);
    assert.equal(ivA.length, 12);
    assert.notDeepEqual(ivA, ivB);
    assert.notDeepEqual(Buffer.from(a?.data ?? []), Buffer.from(b?.data ?? []));
  });

  it("rejects a payload whose ciphertext, IV or tag was changed", async () => {
    const codec = createPayloadCodec(keys);
    const [encoded] = await codec.encode([jsonPayload({ amount: 10 })]);
    assert.ok(encoded);
    const length = encoded.data?.length ?? 0;
    for (const index of [0, 12, Math.floor(length / 2), length - 1]) {
      const data = Buffer.from(encoded.data ?? []);
      data[index] = (data[index] ?? 0) ^ 0x01;
      await assert.rejects(codec.decode([{ ...encoded, data }]), { code: "payload_rejected" });
    }
    await assert.rejects(codec.decode([{ ...encoded, data: Buffer.from(encoded.data ?? []).subarray(0, 20) }]), { code: "payload_rejected" });
  });

  it("binds the key id: relabelling a payload to another id of the same key material fails", async () => {
    const material = randomBytes(32).toString("base64");
    const twins = await envKeys([{ id: "first", key: material }, { id: "second", key: material }]);
    const codec = createPayloadCodec(twins);
    const [encoded] = await codec.encode([jsonPayload("x")]);
    assert.ok(encoded);
    assert.equal(text(encoded.metadata?.[KEY_ID_METADATA]), "second");
    const relabelled = { ...encoded, metadata: { ...encoded.metadata, [KEY_ID_METADATA]: utf8("first") } };
    await assert.rejects(codec.decode([relabelled]), { code: "payload_rejected" });
  });

  it("decodes payloads encrypted before a key rotation, and encrypts new ones with the new key", async () => {
    const before = await createPayloadCodec(keys).encode([jsonPayload({ step: 1 })]);
    const { id: newId } = await rotatePayloadKey(keyFile);
    const rotated = createPayloadCodec(await loadPayloadKeys({ keyFile }));
    assertSamePayload((await rotated.decode(before))[0], jsonPayload({ step: 1 }));
    const [after] = await rotated.encode([jsonPayload({ step: 2 })]);
    assert.equal(text(after?.metadata?.[KEY_ID_METADATA]), newId);
  });

  it("rejects a payload encrypted with a key it does not have, naming the key id but not the key", async () => {
    const otherFile = tempKeyFile();
    const other = await ensurePayloadKeys(otherFile);
    const [encoded] = await createPayloadCodec(other).encode([jsonPayload("x")]);
    assert.ok(encoded);
    const otherId = other.encryptionKey().id;
    await assert.rejects(createPayloadCodec(keys).decode([encoded]), (err: Error & { code?: string }) => {
      assert.equal(err.code, "payload_rejected");
      assert.ok(err.message.includes(otherId));
      assert.ok(!err.message.includes(other.encryptionKey().key.export().toString("base64")));
      return true;
    });
  });

  it("refuses payloads that are not encrypted, with payload_rejected", async () => {
    const codec = createPayloadCodec(keys);
    await assert.rejects(codec.decode([jsonPayload({ approver: "bob" })]), { code: "payload_rejected" });
    await assert.rejects(codec.decode([{ data: utf8("raw") }]), { code: "payload_rejected" });
    await assert.rejects(codec.decode([{ metadata: { encoding: utf8(ENCRYPTED_ENCODING) }, data: utf8("x".repeat(40)) }]), { code: "payload_rejected" });
  });

  it("binds a payload to its approval: one encrypted for another workflow id does not decode", async () => {
    const codec = createPayloadCodec(keys);
    const mine = { type: "workflow" as const, namespace: "default", workflowId: "appr_A" };
    const [encoded] = await codec.encode([jsonPayload({ approver: "bob" })], mine);
    assert.ok(encoded);
    assertSamePayload((await codec.decode([encoded], mine))[0], jsonPayload({ approver: "bob" }));
    await assert.rejects(codec.decode([encoded], { ...mine, workflowId: "appr_B" }), { code: "payload_rejected" });
    await assert.rejects(codec.decode([encoded]), { code: "payload_rejected" });
    // Nor is a workflow message an activity's payload, nor one activity's result another's.
    await assert.rejects(codec.decode([encoded], { type: "activity", namespace: "default", workflowId: "appr_A", activityId: "1", isLocal: false }), { code: "payload_rejected" });
    const first = { type: "activity" as const, namespace: "default", workflowId: "appr_A", activityId: "1", isLocal: true };
    const [verdict] = await codec.encode([jsonPayload({ decision: "allow" })], first);
    assert.ok(verdict);
    assertSamePayload((await codec.decode([verdict], first))[0], jsonPayload({ decision: "allow" }));
    await assert.rejects(codec.decode([verdict], { ...first, activityId: "5", isLocal: false }), { code: "payload_rejected" });
    await assert.rejects(codec.decode([verdict], mine), { code: "payload_rejected" });
  });

  it("refuses a payload whose stated owner is not the decoder's context, even when the additional data would match", async () => {
    const codec = createPayloadCodec(keys);
    const mine = { type: "workflow" as const, namespace: "default", workflowId: "appr_A" };
    const [encoded] = await codec.encode([jsonPayload({ approver: "bob" })], mine);
    assert.ok(encoded);
    const restated = { ...encoded, metadata: { ...encoded.metadata, [OWNER_WORKFLOW_METADATA]: utf8("appr_B") } };
    await assert.rejects(codec.decode([restated], mine), { code: "payload_rejected" });
    await assert.rejects(codec.decode([restated], { ...mine, workflowId: "appr_B" }), { code: "payload_rejected" });
    const unstated = { ...encoded, metadata: { ...encoded.metadata } };
    delete unstated.metadata[OWNER_SLOT_METADATA];
    await assert.rejects(codec.decode([unstated], mine), { code: "payload_rejected" });
  });

  it("lets a reader without context decrypt an envelope-4 payload as its metadata states, authenticated", async () => {
    const context = { type: "activity" as const, namespace: "default", workflowId: "appr_A", activityId: "2", isLocal: true };
    const [encoded] = await createPayloadCodec(keys).encode([jsonPayload({ decision: "allow" })], context);
    assert.ok(encoded);
    const read = decryptAsStated(keys, encoded);
    assert.deepEqual(read.owner, { workflowId: "appr_A", slot: "activity:2" });
    assertSamePayload(read.payload, jsonPayload({ decision: "allow" }));
    // A restated owner breaks the additional data: the reader is never told a payload belongs elsewhere.
    for (const [name, value] of [[OWNER_WORKFLOW_METADATA, "appr_B"], [OWNER_SLOT_METADATA, "workflow"]] as const) {
      assert.throws(() => decryptAsStated(keys, { ...encoded, metadata: { ...encoded.metadata, [name]: utf8(value) } }), { code: "payload_rejected" });
    }
    assert.throws(() => decryptAsStated(keys, jsonPayload("plain")), { code: "payload_rejected" });
  });

  it("refuses in workers what the codec server encoded for a tenant: no workflow or activity context names that slot", async () => {
    const sealed = encryptForOwner(keys, jsonPayload({ decision: "approve" }), { workflowId: "", slot: "codec:acme" });
    assert.deepEqual(decryptAsStated(keys, sealed).owner, { workflowId: "", slot: "codec:acme" });
    const codec = createPayloadCodec(keys);
    await assert.rejects(codec.decode([sealed]), { code: "payload_rejected" });
    await assert.rejects(codec.decode([sealed], { type: "workflow", namespace: "default", workflowId: "appr_A" }), { code: "payload_rejected" });
    const relabelled = { ...sealed, metadata: { ...sealed.metadata, [OWNER_WORKFLOW_METADATA]: utf8("appr_A"), [OWNER_SLOT_METADATA]: utf8("workflow") } };
    await assert.rejects(codec.decode([relabelled], { type: "workflow", namespace: "default", workflowId: "appr_A" }), { code: "payload_rejected" });
  });

  it("still decodes version-3 envelopes (owner bound but not stated), and a context-free reader refuses them", async () => {
    const { id, key } = keys.encryptionKey();
    const iv = randomBytes(12);
    const cipher = createCipheriv("aes-256-gcm", key, iv, { authTagLength: 16 });
    cipher.setAAD(utf8(JSON.stringify(["countersign-payload", 3, id, "appr_A", "activity:3"])));
    const plaintext = proto.temporal.api.common.v1.Payload.encode(jsonPayload({ v: 3 })).finish();
    const data = Buffer.concat([iv, cipher.update(plaintext), cipher.final(), cipher.getAuthTag()]);
    const v3: Payload = { metadata: { encoding: utf8(ENCRYPTED_ENCODING), [KEY_ID_METADATA]: utf8(id), [ENVELOPE_METADATA]: utf8("3") }, data };
    const activity = { type: "activity" as const, namespace: "default", workflowId: "appr_A", activityId: "3", isLocal: false };
    assertSamePayload((await createPayloadCodec(keys).decode([v3], activity))[0], jsonPayload({ v: 3 }));
    await assert.rejects(createPayloadCodec(keys).decode([v3], { ...activity, activityId: "4" }), { code: "payload_rejected" });
    assert.throws(() => decryptAsStated(keys, v3), { code: "payload_rejected" });
  });

  it("still decodes version-2 envelopes (key id and workflow id as additional data)", async () => {
    const { id, key } = keys.encryptionKey();
    const iv = randomBytes(12);
    const cipher = createCipheriv("aes-256-gcm", key, iv, { authTagLength: 16 });
    cipher.setAAD(utf8(JSON.stringify(["countersign-payload", 2, id, "appr_A"])));
    const plaintext = proto.temporal.api.common.v1.Payload.encode(jsonPayload({ v: 2 })).finish();
    const data = Buffer.concat([iv, cipher.update(plaintext), cipher.final(), cipher.getAuthTag()]);
    const v2: Payload = { metadata: { encoding: utf8(ENCRYPTED_ENCODING), [KEY_ID_METADATA]: utf8(id), [ENVELOPE_METADATA]: utf8("2") }, data };
    assertSamePayload((await createPayloadCodec(keys).decode([v2], { type: "activity", namespace: "default", workflowId: "appr_A", activityId: "3", isLocal: false }))[0], jsonPayload({ v: 2 }));
    await assert.rejects(createPayloadCodec(keys).decode([v2], { type: "workflow", namespace: "default", workflowId: "appr_B" }), { code: "payload_rejected" });
  });

  it("still decodes version-1 envelopes (key id as the only additional data), so older histories replay", async () => {
    const { id, key } = keys.encryptionKey();
    const iv = randomBytes(12);
    const cipher = createCipheriv("aes-256-gcm", key, iv, { authTagLength: 16 });
    cipher.setAAD(utf8(id));
    const plaintext = proto.temporal.api.common.v1.Payload.encode(jsonPayload({ legacy: true })).finish();
    const data = Buffer.concat([iv, cipher.update(plaintext), cipher.final(), cipher.getAuthTag()]);
    const v1: Payload = { metadata: { encoding: utf8(ENCRYPTED_ENCODING), [KEY_ID_METADATA]: utf8(id) }, data };
    assertSamePayload((await createPayloadCodec(keys).decode([v1], { type: "workflow", namespace: "default", workflowId: "any" }))[0], jsonPayload({ legacy: true }));
    await assert.rejects(createPayloadCodec(keys).decode([{ ...v1, metadata: { ...v1.metadata, [ENVELOPE_METADATA]: utf8("9") } }]), { code: "payload_rejected" });
  });

  it("in worker mode hands the workflow a refusal marker instead of throwing, and still decodes good payloads", async () => {
    const codec = createPayloadCodec(keys, { refused: "mark" });
    const context = { type: "workflow" as const, namespace: "default", workflowId: "appr_A" };
    const [good] = await codec.encode([jsonPayload({ ok: 1 })], context);
    assert.ok(good);
    const [plain, decodedGood] = await codec.decode([jsonPayload({ approver: "bob" }), good], context);
    assert.equal(text(plain?.metadata?.encoding), "json/plain");
    const marker = JSON.parse(text(plain?.data)) as Record<string, unknown>;
    assert.deepEqual(Object.keys(marker), [REFUSED_PAYLOAD]);
    assert.equal(JSON.stringify(marker).includes("bob"), false);
    assertSamePayload(decodedGood, jsonPayload({ ok: 1 }));
  });
});

describe("data converter", () => {
  it("encrypts payloads and failure messages with the same keys", async () => {
    const keys = await ensurePayloadKeys(tempKeyFile());
    const converter = createDataConverter(keys);
    assert.equal(converter.failureConverterPath, failureConverterPath);
    const loaded = loadDataConverter(converter);
    assert.equal(loaded.payloadCodecs.length, 1);
    const failure = await encodeErrorToFailure(loaded, ApplicationFailure.nonRetryable("refund of SECRET-ARG failed", "policy_denied"));
    assert.equal(failure.message, "Encoded failure");
    assert.equal(failure.stackTrace, "");
    const attributes = failure.encodedAttributes;
    assert.ok(attributes);
    assert.equal(text(attributes.metadata?.encoding), ENCRYPTED_ENCODING);
    assert.equal(Buffer.from(attributes.data ?? []).indexOf("SECRET-ARG"), -1);
    const [decoded] = await loaded.payloadCodecs[0]!.decode([attributes]);
    assert.match(text(decoded?.data), /SECRET-ARG/);
  });

  it("points at a failure converter that bundles into workflow code", async function () {
    this.timeout(60_000);
    const workflowsPath = fileURLToPath(new URL("./fixtures/noop-workflow.js", import.meta.url));
    const silent = { log() {}, trace() {}, debug() {}, info() {}, warn() {}, error() {} };
    const bundle = await bundleWorkflowCode({ workflowsPath, failureConverterPath, logger: silent });
    assert.match(bundle.code, /encodeCommonAttributes: true/);
  });
});
