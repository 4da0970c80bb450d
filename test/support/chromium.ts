// Finds or installs the headless Chromium the browser tests drive: `chromium` on PATH, else Debian's
// `chromium` package, installed once with apt-get when the tests run as root (as CI does). Nothing
// downloads a browser build of its own. When no Chromium can be had, the caller fails with what to do.
import { spawnSync } from "node:child_process";
import { accessSync, constants, realpathSync } from "node:fs";
import { delimiter, join } from "node:path";

function onPath(name: string): string | undefined {
  for (const dir of (process.env.PATH ?? "").split(delimiter)) {
    if (dir === "") continue;
    const candidate = join(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      return realpathSync(candidate);
    } catch {
      // not here
    }
  }
  return undefined;
}

const find = (): string | undefined => onPath("chromium") ?? onPath("chromium-browser");

function apt(args: string[]): { status: number | null; output: string } {
  const result = spawnSync("apt-get", args, { env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" }, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"], timeout: 15 * 60_000 });
  return { status: result.status, output: `${result.stdout ?? ""}${result.stderr ?? ""}`.slice(-2000) };
}

/**
 * The path of a Chromium binary, installing Debian's package first when there is none and this
 * process may (root, apt-get present). Throws an Error saying how to provide one otherwise: a test
 * that needs a browser fails, it is never skipped.
 */
export function provisionChromium(log: (msg: string) => void = () => undefined): string {
  const found = find();
  if (found !== undefined) return found;
  if (onPath("apt-get") === undefined) throw new Error("no Chromium on PATH and no apt-get to install it: install your distribution's chromium package, then run the tests again");
  if (process.getuid?.() !== 0) throw new Error("no Chromium on PATH, and only root can install it: run `sudo apt-get install -y chromium` (Debian's package), then run the tests again");
  log("installing Debian's chromium package for the browser tests (apt-get, once per machine)");
  const install = ["install", "-y", "--no-install-recommends", "chromium"];
  let result = apt(install);
  // A fresh machine may not have read its package lists yet.
  if (result.status !== 0) {
    apt(["update"]);
    result = apt(install);
  }
  const installed = find();
  if (result.status !== 0 || installed === undefined) throw new Error(`apt-get could not install chromium (exit ${String(result.status)}):\n${result.output}`);
  return installed;
}
