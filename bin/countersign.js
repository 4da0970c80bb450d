#!/usr/bin/env node
// Launcher for the compiled CLI (run `npm run build` first; `npm start` and `npm test` do).
import { main } from "../dist/src/cli/index.js";

main(process.argv).then(
  (code) => process.exit(code),
  () => process.exit(1),
);
