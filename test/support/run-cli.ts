// Runs the countersign CLI in process and captures what it prints (standard output and error apart).
import { main as cli } from "../../src/cli/index.js";

export interface CliRun {
  code: number;
  out: string;
  err: string;
  /** Both, in the order printed. */
  all: string;
}

/** `countersign <args>`, in this process; resolves with its exit code and output. */
export async function runCli(args: string[]): Promise<CliRun> {
  const out: string[] = [];
  const err: string[] = [];
  const all: string[] = [];
  const log = console.log;
  const error = console.error;
  const capture = (into: string[]) => (...a: unknown[]) => {
    const line = a.map(String).join(" ");
    into.push(line);
    all.push(line);
  };
  console.log = capture(out);
  console.error = capture(err);
  try {
    const code = await cli(["node", "countersign", ...args]);
    return { code, out: out.join("\n"), err: err.join("\n"), all: all.join("\n") };
  } finally {
    console.log = log;
    console.error = error;
    process.exitCode = undefined;
  }
}
