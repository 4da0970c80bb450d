// A process of its own for bundling the workflow code (worker/worker.ts, bundleWorkflowsApart):
// webpack's module graph and caches stay out of the worker's memory (about 80 MB of RSS it would never
// give back). Reads the bundle options as JSON from its first argument and writes the bundle's code
// to standard output; a failure goes to standard error with exit code 1.
import { bundleWorkflowCode } from "@temporalio/worker";

import type { BundleRequest } from "./worker.js";

/**
 * Webpack's own account of a failure (the module it could not resolve, the import not allowed in
 * workflow code) goes to standard error, without the indented resolution details that follow each
 * error (hundreds of lines); the rest of its output is dropped.
 */
const toStderr = (message: string): void => {
  const lines = message.split("\n").filter((line) => line.trim() !== "" && !/^\s/.test(line));
  process.stderr.write(`${lines.slice(0, 30).join("\n")}\n`);
};
const logger = { trace() {}, debug() {}, info() {}, warn: toStderr, error: toStderr, log() {} };

async function main(): Promise<void> {
  const request = JSON.parse(process.argv[2] ?? "null") as BundleRequest | null;
  if (typeof request?.workflowsPath !== "string") throw new Error("usage: bundle-child.js '<BundleRequest as JSON>'");
  const bundle = await bundleWorkflowCode({ ...request, logger });
  await new Promise<void>((resolve, reject) => process.stdout.write(bundle.code, (err) => (err ? reject(err) : resolve())));
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);
