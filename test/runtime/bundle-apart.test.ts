// The worker `countersign worker` and `dev` start bundles its workflow code in a child process
// (worker/bundle-child.ts): the same bundle as bundling in process, and the worker's own process never
// loads webpack (whose module graph and caches it would otherwise keep, about 80 MB of RSS).
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { CountersignError } from "../../src/errors.js";
import { bundleApart, bundleWorkflowsApart } from "../../worker/worker.js";
import { sharedBundle } from "../support/stack.js";

const WORKER_MODULE = fileURLToPath(new URL("../../worker/worker.js", import.meta.url));

describe("the workflow code is bundled in a child process", function () {
  this.timeout(120_000);

  it("gives the same bundle as bundling in process", async function () {
    const apart = await bundleWorkflowsApart();
    assert.equal(apart.code, (await sharedBundle()).code);
  });

  it("leaves webpack out of the process that asked for the bundle", function () {
    // A fresh process: this one may have loaded webpack for the tests' shared bundle.
    const script = [
      `import { createRequire } from "node:module";`,
      `const { bundleWorkflows, bundleWorkflowsApart } = await import(${JSON.stringify(WORKER_MODULE)});`,
      `const webpack = () => Object.keys(createRequire(import.meta.url).cache).filter((k) => k.includes("/node_modules/webpack/")).length;`,
      `const bundle = await bundleWorkflowsApart();`,
      `const apart = webpack();`,
      `await bundleWorkflows();`,
      `console.log(JSON.stringify({ bytes: bundle.code.length, apart, inProcess: webpack() }));`,
    ].join("\n");
    const run = spawnSync(process.execPath, ["--input-type=module", "-e", script], { encoding: "utf8", timeout: 110_000 });
    assert.equal(run.status, 0, run.stderr);
    const seen = JSON.parse(run.stdout.trim()) as { bytes: number; apart: number; inProcess: number };
    assert.ok(seen.bytes > 100_000, `a bundle came back (${seen.bytes} bytes)`);
    // @temporalio/worker itself loads webpack's entry point, whose members load lazily; bundling loads hundreds of modules.
    assert.ok(seen.apart <= 2, `webpack modules in the asking process after bundling apart: ${seen.apart}`);
    assert.ok(seen.inProcess > 100, `bundling in process loads webpack's modules (${seen.inProcess}): the check above can fail`);
  });

  describe("a bundle that fails", function () {
    let dir: string;
    before(function () {
      dir = mkdtempSync(join(tmpdir(), "countersign-bundle-"));
      writeFileSync(join(dir, "broken.js"), 'import { thing } from "./no-such-module.js";\nexport async function w() { return thing; }\n');
      writeFileSync(join(dir, "ok.js"), "export async function w() { return 1; }\n");
    });
    after(function () {
      rmSync(dir, { recursive: true, force: true });
    });

    it("says why: webpack's reason reaches the coded error an operator sees", async function () {
      await assert.rejects(bundleApart({ workflowsPath: join(dir, "broken.js") }), (err: unknown) => {
        assert.ok(err instanceof CountersignError, String(err));
        assert.equal(err.code, "internal");
        assert.match(err.message, /no-such-module/);
        return true;
      });
    });

    it("is stopped at its deadline instead of hanging the worker's start", async function () {
      await assert.rejects(bundleApart({ workflowsPath: join(dir, "ok.js") }, { timeoutMs: 50 }), (err: unknown) => {
        assert.ok(err instanceof CountersignError, String(err));
        assert.match(err.message, /did not finish within 50 ms/);
        return true;
      });
    });
  });
});
