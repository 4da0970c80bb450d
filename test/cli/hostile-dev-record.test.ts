// Review test: a `.countersign/dev.json` that the CLI user did not write (committed to a repository
// they cloned, dropped into a shared directory) must not decide where their access token goes.
// The operator names a trusted config explicitly (--config) and passes their approver token; the
// token must go to that config's server, never to a URL out of a record in the working directory.
import assert from "node:assert/strict";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { stringify as stringifyYaml } from "yaml";
import { run } from "../support/new-user.js";
import { projectRoot } from "../support/stack.js";

const cliEntry = join(projectRoot, "dist", "src", "cli", "index.js");

/** A loopback HTTP server that records the Authorization header of every request and answers 503. */
async function recorder(): Promise<{ url: string; seen: string[]; server: Server }> {
  const seen: string[] = [];
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    seen.push(req.headers.authorization ?? "");
    req.resume();
    res.writeHead(503, { "content-type": "application/json" }).end(JSON.stringify({ error: { code: "unavailable", message: "recorder" } }));
  });
  await new Promise<void>((done) => server.listen(0, "127.0.0.1", done));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, seen, server };
}

describe("CLI: a dev record the user did not write", function () {
  this.timeout(30_000);
  let root: string;
  let legit: Awaited<ReturnType<typeof recorder>>;
  let attacker: Awaited<ReturnType<typeof recorder>>;
  before(async function () {
    root = mkdtempSync(join(tmpdir(), "countersign-hostile-dev-"));
    legit = await recorder();
    attacker = await recorder();
  });
  after(function () {
    legit?.server.close();
    attacker?.server.close();
    rmSync(root, { recursive: true, force: true });
  });

  it("approve --config <trusted> --token never sends the token to a server named by ./.countersign/dev.json", async function () {
    // The operator's trusted config (think /etc/countersign/countersign.config.yaml): a well-known path.
    const trustedDir = join(root, "etc-countersign");
    mkdirSync(trustedDir);
    const trustedConfig = join(trustedDir, "countersign.config.yaml");
    writeFileSync(
      trustedConfig,
      stringifyYaml({
        server: { publicUrl: legit.url },
        identity: {
          principals: [{ issuer: "https://idp.example", audience: "countersign", jwks: "https://idp.example/jwks.json" }],
          agents: [{ trustDomain: "example.org", jwks: "https://idp.example/agents.json", audience: "countersign" }],
        },
        directory: "./directory.yaml",
        policies: "./policies",
        tools: {},
        grants: { keyFile: "./grant-keys.json" },
      }),
    );
    // A checkout the operator happens to work in, with a planted record: it names the trusted
    // config (so the CLI treats the record as "the running dev of this config"), an attacker's
    // server, and pid 1 (always "alive": signal 0 to init succeeds or fails with EPERM).
    const checkout = join(root, "some-checkout");
    mkdirSync(join(checkout, ".countersign"), { recursive: true });
    writeFileSync(
      join(checkout, ".countersign", "dev.json"),
      JSON.stringify({ configFile: trustedConfig, stateDir: join(checkout, ".countersign"), temporalAddress: "127.0.0.1:1", temporalNamespace: "default", serverUrl: attacker.url, pid: 1 }),
    );
    const env: NodeJS.ProcessEnv = { ...process.env };
    for (const name of Object.keys(env)) if (name.startsWith("COUNTERSIGN_")) delete env[name];
    const token = "eyJhbGciOiJFZERTQSJ9.eyJzdWIiOiJib2IifQ.operator-secret-token";
    const result = await run([cliEntry, "--config", trustedConfig, "approve", "appr_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "--token", token], checkout, env);
    assert.notEqual(result.code, 0, "both recorders refuse");
    assert.deepEqual(attacker.seen, [], `the planted record's server received: ${attacker.seen.join(", ")}`);
    assert.deepEqual(legit.seen, [`Bearer ${token}`], "the token goes to the trusted config's server");

    // The same record made private (an archive that keeps modes): it still names a server off this
    // machine, which no `countersign dev` ever records.
    const record = join(checkout, ".countersign", "dev.json");
    writeFileSync(
      record,
      JSON.stringify({ configFile: trustedConfig, stateDir: join(checkout, ".countersign"), temporalAddress: "127.0.0.1:1", temporalNamespace: "default", serverUrl: "http://collector.invalid", pid: 1 }),
    );
    chmodSync(record, 0o600);
    const again = await run([cliEntry, "--config", trustedConfig, "approve", "appr_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "--token", token], checkout, env);
    assert.equal(again.err.includes("collector.invalid"), false, again.err);
    assert.deepEqual(legit.seen, [`Bearer ${token}`, `Bearer ${token}`], "the token goes to the trusted config's server again");
  });
});
