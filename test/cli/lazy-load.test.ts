// The CLI loads its runtime lazily: a decision over HTTP (`approve`, `deny`) and `--help` load neither
// the worker side (the Temporal worker, its bundler) nor the Temporal client nor Slack. Each case runs
// the CLI in a fresh Node process and lists the packages it loaded; a control run proves the probe
// sees the worker when it is loaded.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { projectRoot } from "../support/stack.js";

const cliModule = pathToFileURL(join(projectRoot, "dist", "src", "cli", "index.js")).href;
const processesModule = pathToFileURL(join(projectRoot, "dist", "src", "runtime", "processes.js")).href;
const configFile = join(projectRoot, "examples", "tenant", "countersign.config.yaml");

/** Packages that belong to the worker, server or Temporal client side, never to a decision over HTTP. */
const heavy = ["@temporalio/worker", "@temporalio/client", "@temporalio/core-bridge", "webpack", "@slack/bolt", "@cedar-policy/cedar-wasm"];

// Run in the child: import `load`, run the CLI's main with `args` when given, then print the npm packages
// in the CommonJS module cache (every package above is CommonJS, so loading one puts it there, also
// when an ES module imports it).
const probe = `
import { createRequire } from "node:module";
const [load, args] = JSON.parse(process.argv[1]);
const mod = await import(load);
const code = args === null ? 0 : await mod.main(["node", "countersign", ...args]);
const names = Object.keys(createRequire(import.meta.url).cache).map((p) => /node_modules\\/((?:@[^/]+\\/)?[^/]+)/.exec(p)?.[1]).filter((n) => n !== undefined);
process.stderr.write("\\nPROBE " + JSON.stringify({ code, packages: [...new Set(names)].sort() }) + "\\n");
process.exit(0);
`;

function loaded(load: string, args: string[] | null): Promise<{ code: number; packages: string[] }> {
  return new Promise((resolve, reject) => {
    const env = { ...process.env };
    delete env.COUNTERSIGN_TOKEN;
    delete env.COUNTERSIGN_URL;
    const child = spawn(process.execPath, ["--input-type=module", "-e", probe, JSON.stringify([load, args])], { cwd: projectRoot, env, stdio: ["ignore", "pipe", "pipe"] });
    let err = "";
    child.stdout.resume();
    child.stderr.on("data", (c: Buffer) => (err += c.toString("utf8")));
    child.once("error", reject);
    child.once("close", () => {
      const line = err.split("\n").find((l) => l.startsWith("PROBE "));
      if (line === undefined) reject(new Error(`the probe printed nothing: ${err}`));
      else resolve(JSON.parse(line.slice("PROBE ".length)) as { code: number; packages: string[] });
    });
  });
}

describe("the CLI loads the worker side only where a command needs it", function () {
  this.timeout(60_000);
  let server: Server;
  let url: string;
  before(async function () {
    // A countersign server as far as `approve` can tell: the decision endpoint answers with an approval view.
    server = createServer((req, res) => {
      req.resume();
      req.on("end", () => {
        res.writeHead(200, { "content-type": "application/json" });
        res.end(JSON.stringify({ id: "appr-lazy", status: "approved", tool: "payments.refund", tenant: "acme", decision: { code: null, approvers: ["bob"] } }));
      });
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(async function () {
    await new Promise((r) => server.close(r));
  });

  it("the probe sees the worker and its bundler when the runtime is loaded (control)", async function () {
    const { packages } = await loaded(processesModule, null);
    assert.ok(packages.includes("@temporalio/worker") && packages.includes("webpack"), `loaded: ${packages.join(", ")}`);
  });

  it("approve over HTTP loads no worker, bundler, Temporal client, Slack or policy engine", async function () {
    const { code, packages } = await loaded(cliModule, ["--config", configFile, "approve", "appr-lazy", "--token", "t", "--url", url]);
    assert.equal(code, 0, "the decision went through");
    assert.deepEqual(packages.filter((p) => heavy.includes(p)), [], `loaded: ${packages.join(", ")}`);
  });

  it("deny over HTTP and --help load none of them either", async function () {
    for (const args of [["--config", configFile, "deny", "appr-lazy", "--token", "t", "--reason", "no", "--url", url], ["--help"]]) {
      const { code, packages } = await loaded(cliModule, args);
      assert.equal(code, 0, args.join(" "));
      assert.deepEqual(packages.filter((p) => heavy.includes(p)), [], `${args.join(" ")} loaded: ${packages.join(", ")}`);
    }
  });
});
