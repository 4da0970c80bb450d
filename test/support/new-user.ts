// A new user's terminal, for the tests that run the compiled CLI and examples as real child
// processes (the README's quick start, the browser test, hostile dev records).
import { spawn, type ChildProcess } from "node:child_process";
import { join } from "node:path";

/**
 * The environment of a new user's terminal: none of the variables that would tell the CLI where
 * the config or Temporal is (the suite itself exports TEMPORAL_ADDRESS), and no Temporal profile file.
 */
export function newUserEnv(dir: string, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const name of Object.keys(env)) {
    if ((name.startsWith("TEMPORAL_") && name !== "TEMPORAL_CLI_PATH") || name.startsWith("COUNTERSIGN_")) delete env[name];
  }
  return { ...env, TEMPORAL_CONFIG_FILE: join(dir, "no-temporal-profile.toml"), COUNTERSIGN_LOG_LEVEL: "warn", ...extra };
}

/** Run a Node script with `args` to completion in `cwd` and collect its output. */
export function run(args: string[], cwd: string, env: NodeJS.ProcessEnv): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, args, { cwd, env, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let err = "";
    child.stdout.on("data", (chunk: Buffer) => (out += chunk.toString("utf8")));
    child.stderr.on("data", (chunk: Buffer) => (err += chunk.toString("utf8")));
    child.once("error", fail);
    child.once("close", (code) => done({ code, out, err }));
  });
}

/** Resolves with what `child` printed once that matches `pattern`; rejects if it exits first or the bound passes. */
export function waitForOutput(child: ChildProcess, pattern: RegExp, timeoutMs: number, stderrTail: () => string): Promise<string> {
  return new Promise((done, fail) => {
    let seen = "";
    const timer = setTimeout(() => fail(new Error(`no ${String(pattern)} within ${timeoutMs} ms:\n${seen}\n${stderrTail()}`)), timeoutMs);
    child.stdout?.on("data", (chunk: Buffer) => {
      seen += chunk.toString("utf8");
      if (pattern.test(seen)) {
        clearTimeout(timer);
        done(seen);
      }
    });
    child.once("exit", (code) => {
      clearTimeout(timer);
      fail(new Error(`countersign dev exited with ${String(code)} before ${String(pattern)}:\n${seen}\n${stderrTail()}`));
    });
  });
}
