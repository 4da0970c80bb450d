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

/**
 * The process logger: JSON lines on stderr so stdout stays free for command output. `destination`
 * replaces stderr (tests read what would have been logged).
 */
export function createLogger(level: string, name = "countersign", destination?: { write(line: string): void }): Logger {
  return pino({ name, level, redact: { paths: REDACT, censor: "[redacted]" } }, destination ?? pino.destination(2));
}

type SdkLevel = "TRACE" | "DEBUG" | "INFO" | "WARN" | "ERROR";
const SDK_TO_PINO = { TRACE: "trace", DEBUG: "debug", INFO: "info", WARN: "warn", ERROR: "error" } as const;

/**
 * The Temporal SDK's logger interface over pino, so worker and workflow logs are JSON lines too.
 * The SDK is chatty at INFO (worker state, bundling): it logs at `warn` and above unless the
 * process logs at debug or trace.
 */
export function temporalSdkLogger(logger: Logger): {
  log(level: SdkLevel, message: string, meta?: Record<string, unknown>): void;
  trace(message: string, meta?: Record<string, unknown>): void;
  debug(message: string, meta?: Record<string, unknown>): void;
  info(message: string, meta?: Record<string, unknown>): void;
  warn(message: string, meta?: Record<string, unknown>): void;
  error(message: string, meta?: Record<string, unknown>): void;
} {
  const verbose = logger.level === "debug" || logger.level === "trace";
  const sdk = logger.child({ component: "temporal-sdk" }, { level: verbose ? logger.level : "warn" });
  const log = (level: SdkLevel, message: string, meta?: Record<string, unknown>): void => {
    sdk[SDK_TO_PINO[level]](meta ?? {}, message);
  };
  return {
    log,
    trace: (m, meta) => log("TRACE", m, meta),
    debug: (m, meta) => log("DEBUG", m, meta),
    info: (m, meta) => log("INFO", m, meta),
    warn: (m, meta) => log("WARN", m, meta),
    error: (m, meta) => log("ERROR", m, meta),
  };
}
