// The grant key file: creation, validation, rotation and the published JWKS.
import assert from "node:assert/strict";
import { readFileSync, statSync, writeFileSync, mkdirSync } from "node:fs";
import { dirname } from "node:path";
import { calculateJwkThumbprint } from "jose";
import { ensureKeyStore, loadKeyStore, rotateKey } from "../../src/grants/key-store.js";
import type { GrantKeyFile } from "../../src/grants/key-store.js";
import { tempKeyFile } from "./helpers.js";

const readJson = (file: string): GrantKeyFile => JSON.parse(readFileSync(file, "utf8")) as GrantKeyFile;

function writeRaw(file: string, content: unknown): void {
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, typeof content === "string" ? content : JSON.stringify(content));
}

describe("grant key store", () => {
  it("creates a missing key file with one key, owner-only, in a new directory", async () => {
    const file = tempKeyFile();
    const store = await ensureKeyStore(file);
    assert.equal(statSync(file).mode & 0o777, 0o600);
    const content = readJson(file);
    assert.equal(content.keys.length, 1);
    const [entry] = content.keys;
    assert.ok(entry);
    assert.deepEqual(Object.keys(entry).sort(), ["alg", "createdAt", "kid", "privateJwk", "publicJwk"]);
    assert.equal(entry.alg, "EdDSA");
    assert.equal(entry.kid, await calculateJwkThumbprint(entry.publicJwk, "sha256"));
    assert.equal(store.signingKey().kid, entry.kid);
    assert.ok(!Number.isNaN(Date.parse(entry.createdAt)));
  });

  it("keeps an existing key file instead of replacing it", async () => {
    const file = tempKeyFile();
    const first = await ensureKeyStore(file);
    const second = await ensureKeyStore(file);
    assert.equal(second.signingKey().kid, first.signingKey().kid);
    assert.equal(readJson(file).keys.length, 1);
  });

  it("agrees on one key when several processes create the file at once", async () => {
    const file = tempKeyFile();
    const stores = await Promise.all(Array.from({ length: 6 }, () => ensureKeyStore(file)));
    const kids = new Set(stores.map((s) => s.signingKey().kid));
    assert.equal(kids.size, 1);
    assert.deepEqual([...kids], readJson(file).keys.map((k) => k.kid));
  });

  it("publishes only public keys, each with kid, alg and use", async () => {
    const file = tempKeyFile();
    await ensureKeyStore(file);
    await rotateKey(file);
    const store = await loadKeyStore(file);
    const jwks = store.jwks();
    const kids = readJson(file).keys.map((k) => k.kid);
    assert.deepEqual(jwks.keys.map((k) => k.kid), kids);
    for (const jwk of jwks.keys) {
      assert.deepEqual(Object.keys(jwk).sort(), ["alg", "crv", "kid", "kty", "use", "x"]);
      assert.equal(jwk.alg, "EdDSA");
      assert.equal(jwk.use, "sig");
      assert.equal(jwk.crv, "Ed25519");
    }
  });

  it("rotation appends a new signing key and keeps the old ones for verification", async () => {
    const file = tempKeyFile();
    const before = await ensureKeyStore(file);
    const oldKid = before.signingKey().kid;
    const { kid: newKid } = await rotateKey(file);
    assert.notEqual(newKid, oldKid);
    const after = await loadKeyStore(file);
    assert.equal(after.signingKey().kid, newKid);
    assert.ok(after.verificationKey(oldKid));
    assert.ok(after.verificationKey(newKid));
    assert.equal(after.verificationKey("not-a-kid"), undefined);
    assert.deepEqual(readJson(file).keys.map((k) => k.kid), [oldKid, newKid]);
    assert.equal(statSync(file).mode & 0o777, 0o600);
  });

  it("a running store picks up a rotation at its next refresh, and fails closed on a broken file", async () => {
    const file = tempKeyFile();
    const store = await ensureKeyStore(file);
    const before = store.signingKey().kid;
    const { kid } = await rotateKey(file);
    assert.equal(store.verificationKey(kid), undefined, "not seen before refresh");
    await store.refresh();
    assert.equal(store.signingKey().kid, kid);
    assert.ok(store.verificationKey(before), "old key still verifies");
    assert.deepEqual(store.jwks().keys.map((k) => k.kid), [before, kid]);
    writeFileSync(file, "{ not json");
    await assert.rejects(store.refresh(), { code: "key_file_invalid" });
    // Still broken on the next use, although the file has not changed since.
    await assert.rejects(store.refresh(), { code: "key_file_invalid" });
    assert.throws(() => store.verificationKey(kid), { code: "key_file_invalid" });
  });

  it("rotation creates the key file when there is none", async () => {
    const file = tempKeyFile();
    const { kid } = await rotateKey(file);
    assert.equal((await loadKeyStore(file)).signingKey().kid, kid);
    assert.equal(statSync(file).mode & 0o777, 0o600);
  });

  it("refuses a missing key file with key_file_invalid", async () => {
    await assert.rejects(loadKeyStore(tempKeyFile()), { name: "ConfigError", code: "key_file_invalid" });
  });

  it("refuses a key file that is not JSON without quoting its content", async () => {
    const file = tempKeyFile();
    writeRaw(file, '{"keys": [ {"d": "SECRETSECRET" ');
    await assert.rejects(loadKeyStore(file), (err: Error & { code?: string }) => {
      assert.equal(err.code, "key_file_invalid");
      assert.doesNotMatch(err.message, /SECRETSECRET/);
      return true;
    });
  });

  describe("refuses a malformed key file with key_file_invalid", () => {
    const cases: Array<[string, (f: GrantKeyFile) => unknown]> = [
      ["no keys", () => ({ keys: [] })],
      ["an unknown top-level field", (f) => ({ ...f, extra: 1 })],
      ["an unknown key field", (f) => ({ keys: f.keys.map((k) => ({ ...k, note: "x" })) })],
      ["a wrong alg", (f) => ({ keys: f.keys.map((k) => ({ ...k, alg: "ES256" })) })],
      ["a kid that is not the thumbprint", (f) => ({ keys: f.keys.map((k) => ({ ...k, kid: "A".repeat(43) })) })],
      ["a private key of another key pair", (f) => ({ keys: f.keys.map((k, i) => ({ ...k, privateJwk: f.keys[(i + 1) % f.keys.length]?.privateJwk })) })],
      ["a private key whose x was swapped for the public one", (f) => ({ keys: f.keys.map((k, i) => ({ ...k, privateJwk: { ...f.keys[(i + 1) % f.keys.length]?.privateJwk, x: k.publicJwk.x } })) })],
      ["duplicate kids", (f) => ({ keys: [...f.keys, ...f.keys] })],
      ["a bad createdAt", (f) => ({ keys: f.keys.map((k) => ({ ...k, createdAt: "yesterday" })) })],
    ];
    for (const [what, mutate] of cases) {
      it(`with ${what}`, async () => {
        const file = tempKeyFile();
        await ensureKeyStore(file);
        await rotateKey(file);
        const original = readJson(file);
        writeRaw(file, mutate(original));
        await assert.rejects(loadKeyStore(file), (err: Error & { code?: string }) => {
          assert.equal(err.code, "key_file_invalid");
          for (const k of original.keys) assert.ok(!err.message.includes(k.privateJwk.d), "message must not contain key material");
          return true;
        });
        await assert.rejects(rotateKey(file), { code: "key_file_invalid" });
      });
    }
  });
});
