// Payload codec keys: from the environment or the key file, creation, rotation and validation.
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { randomBytes } from "node:crypto";
import { ensurePayloadKeys, loadPayloadKeys, rotatePayloadKey } from "../../src/codec/payload-keys.js";
import type { PayloadKeyFile } from "../../src/codec/payload-keys.js";

const tempKeyFile = (): string => join(mkdtempSync(join(tmpdir(), "countersign-payload-")), "nested", "payload-keys.json");
const readJson = (file: string): PayloadKeyFile => JSON.parse(readFileSync(file, "utf8")) as PayloadKeyFile;
const key32 = (): string => randomBytes(32).toString("base64");

function writeRaw(file: string, content: unknown): void {
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, typeof content === "string" ? content : JSON.stringify(content));
}

describe("payload keys", () => {
  it("creates a missing key file with one random 32-byte key, owner-only, in a new directory", async () => {
    const file = tempKeyFile();
    const keys = await ensurePayloadKeys(file);
    assert.equal(statSync(file).mode & 0o777, 0o600);
    const content = readJson(file);
    assert.equal(content.keys.length, 1);
    const [entry] = content.keys;
    assert.ok(entry);
    assert.equal(Buffer.from(entry.key, "base64").length, 32);
    assert.ok(!Number.isNaN(Date.parse(entry.createdAt)));
    assert.equal(keys.encryptionKey().id, entry.id);
    assert.equal(keys.encryptionKey().key.symmetricKeySize, 32);
  });

  it("keeps an existing key file instead of replacing it", async () => {
    const file = tempKeyFile();
    const first = await ensurePayloadKeys(file);
    const second = await ensurePayloadKeys(file);
    assert.equal(second.encryptionKey().id, first.encryptionKey().id);
    assert.equal(readJson(file).keys.length, 1);
  });

  it("rotation appends a key that encrypts from then on, and keeps the old one for decryption", async () => {
    const file = tempKeyFile();
    const oldId = (await ensurePayloadKeys(file)).encryptionKey().id;
    const { id: newId } = await rotatePayloadKey(file);
    assert.notEqual(newId, oldId);
    const keys = await loadPayloadKeys({ keyFile: file });
    assert.equal(keys.encryptionKey().id, newId);
    assert.ok(keys.decryptionKey(oldId));
    assert.deepEqual(readJson(file).keys.map((k) => k.id), [oldId, newId]);
    assert.equal(statSync(file).mode & 0o777, 0o600);
  });

  it("uses keys from the environment variable instead of the key file, newest last", async () => {
    const keys = await loadPayloadKeys({
      keyFile: tempKeyFile(), // does not exist, and is not needed
      keysFromEnv: JSON.stringify({ keys: [{ id: "old", key: key32() }, { id: "new", key: key32() }] }),
    });
    assert.equal(keys.encryptionKey().id, "new");
    assert.ok(keys.decryptionKey("old"));
    assert.equal(keys.decryptionKey("other"), undefined);
  });

  it("treats an empty environment variable as unset and reads the key file", async () => {
    const file = tempKeyFile();
    const id = (await ensurePayloadKeys(file)).encryptionKey().id;
    assert.equal((await loadPayloadKeys({ keyFile: file, keysFromEnv: "" })).encryptionKey().id, id);
  });

  it("refuses a missing key file with key_file_invalid", async () => {
    await assert.rejects(loadPayloadKeys({ keyFile: tempKeyFile() }), { name: "ConfigError", code: "key_file_invalid" });
  });

  const secret = key32();
  const badSources: Array<[string, string]> = [
    ["text that is not JSON", `{"keys":[{"id":"a","key":"${secret}"`],
    ["no keys", JSON.stringify({ keys: [] })],
    ["a key of 16 bytes", JSON.stringify({ keys: [{ id: "a", key: randomBytes(16).toString("base64") }] })],
    ["a key that is not base64", JSON.stringify({ keys: [{ id: "a", key: `${"!".repeat(43)}=` }] })],
    ["duplicate ids", JSON.stringify({ keys: [{ id: "a", key: secret }, { id: "a", key: key32() }] })],
    ["an id with spaces", JSON.stringify({ keys: [{ id: "a b", key: secret }] })],
    ["an unknown field", JSON.stringify({ keys: [{ id: "a", key: secret, alg: "A256GCM" }] })],
  ];
  for (const [what, text] of badSources) {
    it(`refuses an environment value with ${what} with key_file_invalid, without quoting keys`, async () => {
      await assert.rejects(loadPayloadKeys({ keyFile: tempKeyFile(), keysFromEnv: text }), (err: Error & { code?: string }) => {
        assert.equal(err.code, "key_file_invalid");
        assert.match(err.message, /COUNTERSIGN_PAYLOAD_KEYS/);
        assert.ok(!err.message.includes(secret));
        return true;
      });
    });
  }

  it("refuses a key file without createdAt, or otherwise malformed, and rotation leaves it unchanged", async () => {
    const file = tempKeyFile();
    const noCreatedAt = JSON.stringify({ keys: [{ id: "a", key: secret }] });
    writeRaw(file, noCreatedAt);
    await assert.rejects(loadPayloadKeys({ keyFile: file }), { code: "key_file_invalid" });
    await assert.rejects(ensurePayloadKeys(file), { code: "key_file_invalid" });
    await assert.rejects(rotatePayloadKey(file), { code: "key_file_invalid" });
    assert.equal(readFileSync(file, "utf8"), noCreatedAt);
  });
});
