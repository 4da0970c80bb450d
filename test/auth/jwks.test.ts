// Tests of key sources: JWKS files (rotation, cooldown, failures), SPIFFE bundles and JWKS URLs.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, statSync, utimesSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { jwtVerify } from "jose";
import { createKeySource, type KeySource } from "../../src/auth/jwks.js";
import { ConfigError } from "../../src/errors.js";
import { createIssuer, mintAgentToken, writeJwks, type TestIssuer } from "../support/tokens.js";
import { rejectsWithCode } from "./expect-error.js";

const SUBJECT = "spiffe://agents.test/agent/demo";

async function subjectOf(token: string, keys: KeySource): Promise<string | undefined> {
  return (await jwtVerify(token, keys, { algorithms: ["EdDSA", "ES256"] })).payload.sub;
}

function tokenFrom(issuer: TestIssuer): Promise<string> {
  return mintAgentToken(issuer, { spiffeId: SUBJECT });
}

async function serve(body: () => string): Promise<{ server: Server; url: string; hits: () => number }> {
  let count = 0;
  const server = createServer((_req, res) => {
    count += 1;
    res.writeHead(200, { "content-type": "application/json" }).end(body());
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return { server, url: `http://127.0.0.1:${port}/jwks.json`, hits: () => count };
}

describe("createKeySource", () => {
  let dir: string;
  let file: string;
  let first: TestIssuer;
  let second: TestIssuer;

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), "countersign-jwks-"));
    file = join(dir, "jwks.json");
    first = await createIssuer({ kid: "key-a" });
    second = await createIssuer({ kid: "key-b" });
  });

  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it("verifies with keys from a SPIFFE bundle marked use jwt-svid, with spiffe_sequence and other members", async () => {
    writeFileSync(
      file,
      JSON.stringify({
        spiffe_sequence: 7,
        spiffe_refresh_hint: 60,
        keys: [{ ...first.publicJwk, use: "jwt-svid" }, { kty: "RSA", use: "x509-svid", x5c: ["AAAA"] }, "not a key"],
      }),
    );
    assert.equal(await subjectOf(await tokenFrom(first), createKeySource(file)), SUBJECT);
  });

  it("never uses a bundle key meant for X.509-SVIDs to verify a JWT", async () => {
    writeFileSync(file, JSON.stringify({ keys: [{ ...first.publicJwk, use: "x509-svid" }] }));
    const token = await tokenFrom(first);
    await rejectsWithCode(subjectOf(token, createKeySource(file)), "token_key_unknown", token);
  });

  it("refuses an unknown kid with token_key_unknown", async () => {
    writeJwks(file, [first]);
    const token = await tokenFrom(second);
    await rejectsWithCode(subjectOf(token, createKeySource(file)), "token_key_unknown", token);
  });

  it("picks up a rotated JWKS file: the new kid verifies and a removed kid stops verifying", async () => {
    writeJwks(file, [first]);
    const keys = createKeySource(file);
    const oldToken = await tokenFrom(first);
    assert.equal(await subjectOf(oldToken, keys), SUBJECT);

    writeJwks(file, [first, second]);
    assert.equal(await subjectOf(await tokenFrom(second), keys), SUBJECT);

    writeJwks(file, [second]);
    await rejectsWithCode(subjectOf(oldToken, keys), "token_key_unknown", oldToken);
  });

  it("re-reads an unchanged-looking file for an unknown kid at most once per cooldown", async () => {
    // Same size, same inode, same mtime: only the unknown-kid path can notice the new key.
    const fixedTimeSeconds = 1_700_000_000;
    writeFileSync(file, JSON.stringify({ keys: [first.publicJwk] }));
    utimesSync(file, fixedTimeSeconds, fixedTimeSeconds);
    let nowMs = 0;
    const keys = createKeySource(file, { cooldownMs: 1000, nowMs: () => nowMs });
    assert.equal(await subjectOf(await tokenFrom(first), keys), SUBJECT);

    const before = statSync(file);
    writeFileSync(file, JSON.stringify({ keys: [second.publicJwk] }));
    utimesSync(file, fixedTimeSeconds, fixedTimeSeconds);
    const after = statSync(file);
    assert.deepEqual([after.mtimeMs, after.size, after.ino], [before.mtimeMs, before.size, before.ino]);

    const token = await tokenFrom(second);
    nowMs = 999;
    await rejectsWithCode(subjectOf(token, keys), "token_key_unknown", token);
    nowMs = 1000;
    assert.equal(await subjectOf(token, keys), SUBJECT);
  });

  it("re-reads a changed file at once, even within the cooldown", async () => {
    writeJwks(file, [first]);
    const keys = createKeySource(file, { cooldownMs: 60_000, nowMs: () => 0 });
    assert.equal(await subjectOf(await tokenFrom(first), keys), SUBJECT);
    writeJwks(file, [second]);
    assert.equal(await subjectOf(await tokenFrom(second), keys), SUBJECT);
  });

  it("fails closed with unavailable while the file is missing or not JSON, and recovers when it is fixed", async () => {
    const keys = createKeySource(file);
    const token = await tokenFrom(first);
    await rejectsWithCode(subjectOf(token, keys), "unavailable", token);
    writeFileSync(file, "{ not json");
    await rejectsWithCode(subjectOf(token, keys), "unavailable", token);
    writeFileSync(file, JSON.stringify({ no_keys: [] }));
    await rejectsWithCode(subjectOf(token, keys), "unavailable", token);
    writeJwks(file, [first]);
    assert.equal(await subjectOf(token, keys), SUBJECT);
  });

  it("refuses a relative path at once with config_invalid", () => {
    assert.throws(
      () => createKeySource("jwks.json"),
      (err: unknown) => err instanceof ConfigError && err.code === "config_invalid",
    );
  });

  it("verifies with a SPIFFE bundle served over HTTP and refuses an unknown kid without refetching in the cooldown", async () => {
    const bundle = JSON.stringify({ spiffe_sequence: 1, keys: [{ ...first.publicJwk, use: "jwt-svid" }] });
    const { server, url, hits } = await serve(() => bundle);
    try {
      const keys = createKeySource(url);
      assert.equal(await subjectOf(await tokenFrom(first), keys), SUBJECT);
      const unknown = await tokenFrom(second);
      await rejectsWithCode(subjectOf(unknown, keys), "token_key_unknown", unknown);
      assert.equal(hits(), 1);
    } finally {
      server.close();
    }
  });

  it("fails closed with unavailable when the JWKS URL cannot be reached", async () => {
    const { server, url } = await serve(() => "{}");
    await new Promise<void>((resolve) => server.close(() => resolve()));
    const token = await tokenFrom(first);
    await rejectsWithCode(subjectOf(token, createKeySource(url)), "unavailable", token);
  });
});
