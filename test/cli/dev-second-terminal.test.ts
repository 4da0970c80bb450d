// The README's quick start, verbatim: `countersign dev` in one terminal, then the demo agent and
// `countersign pending|show` in a second one from the same directory, with no --config and no
// TEMPORAL_ADDRESS. Runs the compiled CLI as real child processes.
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parse as parseYaml, stringify as stringifyYaml } from "yaml";
import { freePort } from "../../src/temporal/dev-server.js";
import { newUserEnv, run, waitForOutput } from "../support/new-user.js";
import { exampleTenant, projectRoot } from "../support/stack.js";

const cliEntry = join(projectRoot, "dist", "src", "cli", "index.js");
const demoAgent = join(projectRoot, "dist", "examples", "demo-agent.js");
const mcpAgent = join(projectRoot, "dist", "examples", "agent.js");
/** How long `countersign dev` may take to start its Temporal server, worker and HTTP server, in ms. */
const DEV_READY_TIMEOUT_MS = 45_000;

describe("countersign dev and a second terminal (child processes)", function () {
  let dir: string;
  let dev: ChildProcess | undefined;
  let devExit: Promise<number | null>;
  let devStderr = "";
  let serverUrl: string;
  let approvalId: string;
  const recordFile = (): string => join(dir, ".countersign", "dev.json");

  before(async function () {
    dir = mkdtempSync(join(tmpdir(), "countersign-dev-"));
    // The example tenant, with its keys in this directory's .countersign/ (as `npm start` has them in
    // the project's) and the HTTP server on a free port.
    cpSync(exampleTenant, join(dir, "tenant"), { recursive: true });
    const configFile = join(dir, "tenant", "countersign.config.yaml");
    const raw = parseYaml(readFileSync(configFile, "utf8")) as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any -- rewriting a few known keys
    const intoState = (path: string): string => path.replace(/^\.\.\/\.\.\/\.countersign\//, "../.countersign/");
    // Free ports, as `npm start` has fixed ones: the server's (the MCP resource URL names it) and the example tools server's.
    raw.server.port = await freePort();
    raw.mcp.upstreams.payments.url = `http://127.0.0.1:${await freePort()}/mcp`;
    for (const entry of [...raw.identity.principals, ...raw.identity.agents]) entry.jwks = intoState(entry.jwks);
    raw.grants.keyFile = intoState(raw.grants.keyFile);
    raw.payloads.keyFile = intoState(raw.payloads.keyFile);
    writeFileSync(configFile, stringifyYaml(raw));
    assert.ok(!readFileSync(configFile, "utf8").includes("../../"), "no path leaves the temp directory");

    const args = [cliEntry, "--config", "tenant/countersign.config.yaml", "dev", "--state-dir", ".countersign", "--example-tools"];
    args.push("--temporal-port", String(await freePort()), "--temporal-ui-port", String(await freePort()));
    dev = spawn(process.execPath, args, { cwd: dir, env: newUserEnv(dir), stdio: ["ignore", "pipe", "pipe"] });
    devExit = new Promise((done) => dev?.once("exit", (code) => done(code)));
    dev.stderr?.on("data", (chunk: Buffer) => (devStderr = (devStderr + chunk.toString("utf8")).slice(-8000)));
    const ready = await waitForOutput(dev, /countersign dev is ready[^]*HTTP API +\S+\n/, DEV_READY_TIMEOUT_MS, () => devStderr);
    serverUrl = /HTTP API +(\S+)/.exec(ready)?.[1] ?? "";
  });

  after(async function () {
    // Normally the last test has stopped it; this only cleans up after a failure.
    if (dev !== undefined && dev.exitCode === null && dev.signalCode === null) {
      dev.kill("SIGKILL");
      await devExit;
    }
    rmSync(dir, { recursive: true, force: true });
  });

  it("dev records its config file, state dir, Temporal server, HTTP server and pid in .countersign/dev.json, readable only by its owner", function () {
    assert.ok(dev?.pid !== undefined);
    const record = JSON.parse(readFileSync(recordFile(), "utf8")) as Record<string, unknown>;
    assert.deepEqual(Object.keys(record).sort(), ["configFile", "pid", "serverUrl", "stateDir", "temporalAddress", "temporalNamespace"]);
    assert.equal(record.configFile, join(dir, "tenant", "countersign.config.yaml"));
    assert.equal(record.stateDir, join(dir, ".countersign"));
    assert.equal(record.pid, dev.pid);
    assert.equal(record.temporalNamespace, "default");
    assert.match(String(record.temporalAddress), /^127\.0\.0\.1:\d+$/);
    assert.equal(record.serverUrl, serverUrl);
    assert.equal(statSync(recordFile()).mode & 0o777, 0o600);
  });

  it("the demo agent's request, then `countersign pending` and `countersign show <id>` work verbatim from the same directory", async function () {
    const filed = await run([demoAgent, "request"], dir, newUserEnv(dir, { COUNTERSIGN_URL: serverUrl }));
    assert.equal(filed.code, 0, filed.out + filed.err);
    const id = /"id": "(appr_[A-Za-z0-9_-]+)"/.exec(filed.out)?.[1];
    assert.ok(id !== undefined, `the demo agent printed an approval id:\n${filed.out}`);
    approvalId = id;

    // Temporal visibility is eventually consistent: ask again (bounded) until the listing has caught up.
    let pending = await run([cliEntry, "pending"], dir, newUserEnv(dir));
    for (let attempt = 1; attempt < 20 && pending.code === 0 && !pending.out.includes(id); attempt++) {
      pending = await run([cliEntry, "pending"], dir, newUserEnv(dir));
    }
    assert.equal(pending.code, 0, pending.err);
    assert.ok(pending.out.includes(id), `pending lists ${id}:\n${pending.out}`);

    const shown = await run([cliEntry, "show", id], dir, newUserEnv(dir));
    assert.equal(shown.code, 0, shown.err);
    assert.match(shown.out, new RegExp(`^${id} {2}pending {2}Refund a payment \\(payments\\.refund\\)`));
    assert.ok(!shown.out.includes("4242424242424242"), "the card number stays redacted");
  });

  it("then `approve --as dave` is refused, `approve --as bob` approves and the demo agent redeems: the README's commands verbatim", async function () {
    const dave = await run([cliEntry, "approve", approvalId, "--as", "dave"], dir, newUserEnv(dir));
    assert.equal(dave.code, 1, dave.out + dave.err);
    assert.match(dave.err, /approver_not_entitled/);
    const bob = await run([cliEntry, "approve", approvalId, "--as", "bob"], dir, newUserEnv(dir));
    assert.equal(bob.code, 0, bob.out + bob.err);
    assert.match(bob.out, new RegExp(`^${approvalId} {2}approved .*approved by bob`));
    assert.ok(!bob.out.includes("countersign-grant") && !/eyJ[A-Za-z0-9_-]{20,}/.test(bob.out), "the approver's terminal never shows the grant");
    const redeemed = await run([demoAgent, "redeem", approvalId], dir, newUserEnv(dir, { COUNTERSIGN_URL: serverUrl }));
    assert.equal(redeemed.code, 0, redeemed.out + redeemed.err);
    assert.match(redeemed.out, /redeem: 200/);
    assert.match(redeemed.out, /redeem again: 409/);
  });

  it("dev's /metrics shows its worker's Temporal SDK metrics next to countersign's own, with no metrics config", async function () {
    const res = await fetch(`${serverUrl}/metrics`);
    assert.equal(res.status, 200);
    const text = await res.text();
    assert.match(text, /^countersign_approvals_created_total\{tool="payments\.refund"\} 1$/m);
    assert.match(text, /^countersign_worker_metrics_up\{worker_address="127\.0\.0\.1:\d+"\} 1$/m);
    assert.match(text, /^temporal_worker_task_slots_available\{worker_address="127\.0\.0\.1:\d+",[^}]*task_queue="countersign",[^}]*worker_type="WorkflowWorker"\} [1-9]\d*$/m);
    assert.match(text, /^temporal_workflow_task_schedule_to_start_latency_count\{[^}]*task_queue="countersign"[^}]*\} [1-9]\d*$/m);
  });

  it("the MCP agent through the gateway: a lookup runs at once, the refund waits until `approve --as bob`, then prints the tool's result (README, verbatim)", async function () {
    const agent = spawn(process.execPath, [mcpAgent], { cwd: dir, env: newUserEnv(dir), stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let err = "";
    agent.stdout.on("data", (chunk: Buffer) => (out += chunk.toString("utf8")));
    agent.stderr.on("data", (chunk: Buffer) => (err += chunk.toString("utf8")));
    const exited = new Promise<number | null>((done) => agent.once("exit", (code) => done(code)));
    try {
      const told = await waitForOutput(agent, /approve it in another terminal: +npx countersign approve (appr_\S+) --as bob/, 30_000, () => err);
      const id = /npx countersign approve (appr_\S+) --as bob/.exec(told)?.[1] ?? "";
      assert.match(told, /^401 from http:\/\/127\.0\.0\.1:\d+\/mcp: resource http:\/\/127\.0\.0\.1:\d+\/mcp, authorization server https:\/\/idp\.demo\.test$/m);
      assert.match(told, /^tool payments\.refund: Needs approval \(countersign\): 1 of payments-approver/m);
      assert.match(told, /^pay_1042: settled, 4200 EUR cents$/m);
      assert.match(told, new RegExp(`… waiting for approval ${id}: 0 of 1 from payments-approver, deadline `));
      const bob = await run([cliEntry, "approve", id, "--as", "bob"], dir, newUserEnv(dir));
      assert.equal(bob.code, 0, bob.out + bob.err);
      assert.equal(await exited, 0, out + err);
      assert.match(out, /^result: refunded 4200 EUR cents on pay_1042$/m);
    } finally {
      if (agent.exitCode === null) agent.kill("SIGKILL");
    }
  });

  it("--config, COUNTERSIGN_CONFIG and TEMPORAL_ADDRESS still win over what dev recorded", async function () {
    const missing = join(dir, "elsewhere.yaml");
    const flagged = await run([cliEntry, "--config", missing, "show", approvalId], dir, newUserEnv(dir));
    assert.equal(flagged.code, 1);
    assert.match(flagged.err, new RegExp(`config_invalid: cannot read config file ${missing}`));
    const fromEnv = await run([cliEntry, "show", approvalId], dir, newUserEnv(dir, { COUNTERSIGN_CONFIG: missing }));
    assert.equal(fromEnv.code, 1);
    assert.match(fromEnv.err, new RegExp(`config_invalid: cannot read config file ${missing}`));
    // The suite's own Temporal server knows nothing of this approval.
    const suiteTemporal = process.env.TEMPORAL_ADDRESS;
    assert.ok(suiteTemporal !== undefined);
    const elsewhere = await run([cliEntry, "show", approvalId], dir, newUserEnv(dir, { TEMPORAL_ADDRESS: suiteTemporal }));
    assert.equal(elsewhere.code, 1);
    assert.match(elsewhere.err, /not_found/);
  });

  it("dev stopped with SIGINT exits 0 and removes its record", async function () {
    assert.ok(dev?.pid !== undefined);
    process.kill(dev.pid, "SIGINT");
    assert.equal(await devExit, 0, devStderr);
    assert.equal(existsSync(recordFile()), false);
  });
});
