// Test entry point (`npm test`): provisions the Temporal CLI, starts one dev server for the whole
// run, then runs every compiled test file with mocha and stops the server.
import { readdirSync, statSync } from "node:fs";
import { createServer } from "node:net";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { DefaultLogger, Runtime } from "@temporalio/worker";
import Mocha from "mocha";
import { startDevServer } from "../../src/temporal/dev-server.js";

const testRoot = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const projectRoot = resolve(testRoot, "..", "..");

function testFiles(dir: string): string[] {
  return readdirSync(dir)
    .sort()
    .flatMap((name) => {
      const path = join(dir, name);
      if (statSync(path).isDirectory()) return name === "support" ? [] : testFiles(path);
      return name.endsWith(".test.js") ? [path] : [];
    });
}

/** A free loopback port (the OS picks one; closed again before use). */
function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => (typeof address === "object" && address !== null ? resolvePort(address.port) : reject(new Error("no port"))));
    });
  });
}

async function main(): Promise<number> {
  const started = Date.now();
  // The SDK's own logs (worker state changes, workflow logs) only when something is wrong.
  // The workers' metrics (the SDK's and countersign's own) are served on a loopback port the tests can scrape.
  const metricsPort = await freePort();
  process.env.COUNTERSIGN_TEST_WORKER_METRICS = `http://127.0.0.1:${metricsPort}/metrics`;
  Runtime.install({
    logger: new DefaultLogger((process.env.TEST_SDK_LOG_LEVEL as "WARN" | undefined) ?? "WARN"),
    telemetryOptions: { metrics: { prometheus: { bindAddress: `127.0.0.1:${metricsPort}` } } },
  });
  const server = await startDevServer({ projectRoot, log: (m) => console.log(`[test] ${m}`) });
  console.log(`[test] Temporal dev server ready at ${server.address} in ${Date.now() - started} ms`);
  process.env.TEMPORAL_ADDRESS = server.address;
  process.env.TEMPORAL_NAMESPACE = server.namespace;
  try {
    const grep = process.env.TEST_GREP;
    const mocha = new Mocha({ timeout: 60_000, reporter: "spec", ...(grep !== undefined ? { grep } : {}) });
    const filter = process.argv.slice(2);
    for (const file of testFiles(testRoot)) {
      if (filter.length === 0 || filter.some((f) => file.includes(f))) mocha.addFile(file);
    }
    await mocha.loadFilesAsync();
    const stats = await new Promise<{ passes: number; failures: number; pending: number }>((done) => {
      const runner = mocha.run(() => done({ passes: runner.stats?.passes ?? 0, failures: runner.stats?.failures ?? 0, pending: runner.stats?.pending ?? 0 }));
    });
    console.log(`\n${stats.passes} passed, ${stats.failures} failed, ${stats.pending} skipped`);
    console.log(`[test] suite time ${((Date.now() - started) / 1000).toFixed(1)} s`);
    return stats.failures === 0 && stats.passes > 0 ? 0 : 1;
  } finally {
    await server.stop();
  }
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
