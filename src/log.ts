// Structured logging (pino): a constant message plus attributes; secrets are redacted by path as a
// second line of defence — callers must not pass tokens, grants or argument values in the first place.
import { pino, type Logger } from "pino";

export type { Logger };

const REDACT = [
  "token",
  "*.token",
  "grant",
  "*.grant",
  "arguments",
  "*.arguments",
  "authorization",
  "*.authorization",
  "headers.authorization",
  'headers["workload-identity-token"]',
  "agentToken",
  "*.agentToken",
];

/** The process logger: JSON lines on stderr so stdout stays free for command output. */
export function createLogger(level: string, name = "countersign"): Logger {
  return pino({ name, level, redact: { paths: REDACT, censor: "[redacted]" } }, pino.destination(2));
}
