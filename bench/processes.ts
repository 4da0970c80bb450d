// Shared by the benchmarks: workers as processes of their own — countersign's through its CLI
// (`countersign --config <file> worker`, as production runs it), the bare baseline's through
// bench/bare/worker.ts — so that each one's memory is read apart from the benchmark's, and a worker
// that dies is seen as an exit instead of taking the benchmark down with it.
import { spawn } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

export interface WorkerProcess {
  pid: number;
  /** Resident set size now and its peak so far (VmRSS, VmHWM), in bytes; undefined once exited or off Linux. */
  memory(): { rss: number; peak: number } | undefined;
  /** How the process ended, once it has. */
  exit(): { code: number | null; signal: NodeJS.Signals | null } | undefined;
  /** Its last lines of output (standard output and error), for a crash report. */
  tail(): string;
  /** SIGTERM, then SIGKILL after `graceMs` (default 15 000); resolves once it has exited. */
  stop(graceMs?: number): Promise<void>;
}

const CLI = fileURLToPath(new URL("../src/cli/index.js", import.meta.url));
const BARE_WORKER = fileURLToPath(new URL("./bare/worker.js", import.meta.url));
const TAIL_LINES = 40;

/** countersign's worker for `configFile`, against the Temporal at `temporalAddress`. */
export function startCountersignWorker(configFile: string, temporalAddress: string): Promise<WorkerProcess> {
  // It logs "worker running" at info once it polls; the SDK's own logs stay at warn (src/log.ts).
  return startWorkerProcess([CLI, "--config", configFile, "worker"], { TEMPORAL_ADDRESS: temporalAddress, COUNTERSIGN_LOG_LEVEL: "info" }, "worker running");
}

/** The bare baseline's worker on `taskQueue`, caching `maxCachedWorkflows` workflows. */
export function startBareWorkerProcess(taskQueue: string, temporalAddress: string, maxCachedWorkflows: number): Promise<WorkerProcess> {
  return startWorkerProcess([BARE_WORKER], { TEMPORAL_ADDRESS: temporalAddress, BARE_TASK_QUEUE: taskQueue, BARE_MAX_CACHED_WORKFLOWS: String(maxCachedWorkflows) }, "bare worker running");
}

/** Resolves once a line of the process's output contains `ready`; rejects if it exits first or takes over two minutes. */
async function startWorkerProcess(args: string[], env: Record<string, string>, ready: string): Promise<WorkerProcess> {
  const child = spawn(process.execPath, args, { env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
  const pid = child.pid;
  if (pid === undefined) throw new Error(`could not start ${args.join(" ")}`);
  const lines: string[] = [];
  let ended: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  const exited = new Promise<void>((resolve) =>
    child.once("exit", (code, signal) => {
      ended = { code, signal };
      resolve();
    }),
  );
  let onReady: () => void = () => undefined;
  const isReady = new Promise<void>((resolve) => (onReady = resolve));
  for (const stream of [child.stdout, child.stderr]) {
    let partial = "";
    stream.on("data", (chunk: Buffer) => {
      const text = partial + chunk.toString("utf8");
      const complete = text.split("\n");
      partial = complete.pop() ?? "";
      for (const line of complete) {
        if (line.includes(ready)) onReady();
        lines.push(line);
      }
      if (lines.length > TAIL_LINES) lines.splice(0, lines.length - TAIL_LINES);
    });
  }
  const worker: WorkerProcess = {
    pid,
    memory() {
      if (ended !== undefined) return undefined;
      try {
        const status = readFileSync(`/proc/${pid}/status`, "utf8");
        const kib = (field: string): number => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(status)?.[1] ?? Number.NaN) * 1024;
        return { rss: kib("VmRSS"), peak: kib("VmHWM") };
      } catch {
        return undefined;
      }
    },
    exit: () => ended,
    tail: () => lines.join("\n"),
    async stop(graceMs = 15_000) {
      if (ended !== undefined) return;
      child.kill("SIGTERM");
      const killer = setTimeout(() => child.kill("SIGKILL"), graceMs);
      await exited;
      clearTimeout(killer);
    },
  };
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<"timeout">((resolve) => (timer = setTimeout(() => resolve("timeout"), 120_000)));
  const outcome = await Promise.race([isReady.then(() => "ready" as const), exited.then(() => "exited" as const), timeout]);
  clearTimeout(timer);
  if (outcome !== "ready") {
    await worker.stop();
    throw new Error(`${args.map((a) => a.split("/").slice(-2).join("/")).join(" ")} ${outcome === "exited" ? `exited (${JSON.stringify(ended)})` : "was not ready within 120 s"} before it was ready:\n${worker.tail()}`);
  }
  return worker;
}

/** Bytes as whole MiB. */
export function mib(bytes: number | undefined): string {
  return bytes === undefined || Number.isNaN(bytes) ? "n/a" : (bytes / (1024 * 1024)).toFixed(0);
}

/** CPU time (user + system) a process has used so far, in ms, from /proc/<pid>/stat; undefined off Linux or once it has exited. */
export function cpuMs(pid: number): number | undefined {
  try {
    // Fields after the command name (which may hold spaces, so split after its closing parenthesis): utime is 14th, stime 15th.
    const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]?.split(" ") ?? [];
    const ticks = Number(fields[11]) + Number(fields[12]);
    return Number.isFinite(ticks) ? ticks * (1000 / CLOCK_TICKS) : undefined;
  } catch {
    return undefined;
  }
}
/** USER_HZ: 100 on every Linux this runs on. */
const CLOCK_TICKS = 100;

/** The pid of this process's child `temporal server start-dev` listening at `address` (`host:port`), if there is one. */
export function devServerPid(address: string): number | undefined {
  const port = address.split(":").pop() ?? "";
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const cmd = readFileSync(`/proc/${entry}/cmdline`, "utf8").split("\0");
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8").split(") ")[1]?.split(" ") ?? [];
      if (Number(stat[1]) === process.pid && cmd.includes("start-dev") && cmd.includes(port)) return Number(entry);
    } catch {
      // gone meanwhile
    }
  }
  return undefined;
}
