// Benchmark (not a test): `countersign approve` as an operator runs it — a process that starts, decides
// through the approver endpoint and exits — against a one-shot bare Temporal client process that
// connects, sends one Update running an activity to a bare workflow and exits (bench/bare/one-update.ts),
// and against `node -e 0` (what starting Node alone costs). Wall time from spawn to exit, interleaved
// round by round in rotating order; the approvals and bare workflows are opened beforehand, untimed.
//   BENCH_ROUNDS (default 10) sizes it.
import { spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { fileURLToPath } from "node:url";
import { performance } from "node:perf_hooks";
import { Client, Connection } from "@temporalio/client";
import { DefaultLogger, NativeConnection, Runtime } from "@temporalio/worker";
import { startDevServer } from "../src/temporal/dev-server.js";
import { projectRoot, startStack } from "../test/support/stack.js";
import { runBareWorker } from "./bare/run.js";
import { Credentials, fileRefund, startPendingBare } from "./cycles.js";
import { environmentLine, latency, p50p95, type Latency } from "./stats.js";

const CLI = fileURLToPath(new URL("../src/cli/index.js", import.meta.url));
const ONE_UPDATE = fileURLToPath(new URL("./bare/one-update.js", import.meta.url));

/** Run `node <args>` to its exit; resolves with the wall time in ms, rejects on a non-zero exit. */
function timedProcess(args: string[], env: Record<string, string>, cwd: string, expect?: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const t = performance.now();
    const child = spawn(process.execPath, args, { cwd, env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    const collect = (chunk: Buffer): void => {
      output += chunk.toString("utf8");
    };
    child.stdout.on("data", collect);
    child.stderr.on("data", collect);
    child.once("error", reject);
    child.once("exit", (code) => {
      const ms = performance.now() - t;
      if (code !== 0 || (expect !== undefined && !output.includes(expect))) reject(new Error(`node ${args.map((a) => a.split("/").pop()).join(" ")} exited ${code}: ${output.slice(0, 500)}`));
      else resolve(ms);
    });
  });
}

async function main(): Promise<void> {
  const rounds = Number(process.env.BENCH_ROUNDS ?? 10);
  Runtime.install({ logger: new DefaultLogger("ERROR") });
  const server = await startDevServer({ projectRoot });
  process.env.TEMPORAL_ADDRESS = server.address;
  const stack = await startStack();
  const bareQueue = `bare-${randomUUID()}`;
  const connection = await NativeConnection.connect({ address: server.address });
  const worker = await runBareWorker({ connection, taskQueue: bareQueue });
  const bareConnection = await Connection.connect({ address: server.address });
  const samples = { approve: [] as number[], bare: [] as number[], node: [] as number[] };
  try {
    const bare = new Client({ connection: bareConnection });
    const credentials = new Credentials(stack);
    for (let i = 0; i <= rounds; i++) {
      const { id } = await fileRefund(stack, credentials);
      const handle = await startPendingBare(bare, bareQueue);
      const token = (await credentials.approver()).authorization?.replace(/^Bearer /, "") ?? "";
      const measures = [
        // cwd: the stack's folder, where no `countersign dev` record is found; the token through the environment, not argv.
        async () => samples.approve.push(await timedProcess([CLI, "--config", stack.configFile, "approve", id, "--url", stack.baseUrl], { COUNTERSIGN_TOKEN: token }, stack.dir, "approved")),
        async () => samples.bare.push(await timedProcess([ONE_UPDATE, handle.workflowId], { TEMPORAL_ADDRESS: server.address }, stack.dir)),
        async () => samples.node.push(await timedProcess(["-e", "0"], {}, stack.dir)),
      ];
      for (let k = 0; k < measures.length; k++) await measures[(i + k) % measures.length]?.();
      if (i === 0) for (const s of Object.values(samples)) s.length = 0; // warm-up: the file cache
    }
  } finally {
    await worker.stop();
    await connection.close();
    await bareConnection.close();
    await stack.stop();
    await server.stop();
  }
  const ours = latency(samples.approve);
  const row = (name: string, l: Latency): string => `| ${name} | ${p50p95(l)} | ${l === ours ? "" : `${(ours.p50 / l.p50).toFixed(2)}×`} |`;
  console.log(`${environmentLine("countersign approve vs a one-shot bare Temporal client, as processes")}, n = ${rounds} each, interleaved`);
  console.log("| process, spawn → exit | p50 / p95 ms | approve / this (p50) |");
  console.log("|---|---|---|");
  console.log(row("countersign approve <id> (HTTP → approver endpoint → Update)", ours));
  console.log(row("bare client: connect, Update + 1 activity, exit", latency(samples.bare)));
  console.log(row("node -e 0 (Node's start-up alone)", latency(samples.node)));
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
