// The Slack Web API client countersign uses (Bolt's WebClient): pointed at `slack.apiUrl`, bounded by
// `slack.requestTimeoutMs`, making no retries of its own (Temporal retries the activities that call
// it), and one classification of its failures into our codes.
import { WebClient, ErrorCode as SlackErrorCode, LogLevel, type Logger as SlackLogger } from "@slack/web-api";
import type { SlackConfig } from "../config.js";
import { SlackError } from "../errors.js";
import type { Logger } from "../log.js";

// Slack's platform errors (`ok: false`) are final unless listed below: `invalid_auth`, `not_authed`,
// `token_revoked`, `missing_scope`, `channel_not_found`, `not_in_channel`, `is_archived`,
// `invalid_blocks`, `msg_too_long` and the like cannot be mended by a retry, so they fail for good
// (`slack_rejected`) and the audit trail shows them instead of a retry loop.
/** Platform errors Slack documents as passing: retried like an outage. */
const TRANSIENT_PLATFORM_ERRORS = new Set(["ratelimited", "internal_error", "fatal_error", "service_unavailable", "request_timeout"]);

/** A Web API client for the bot token: no client-side retries, rate limits rejected (Temporal owns the retry). */
export function createSlackClient(cfg: Pick<SlackConfig, "apiUrl" | "requestTimeoutMs">, token: string, logger?: Logger): WebClient {
  return new WebClient(token, {
    slackApiUrl: cfg.apiUrl,
    timeout: cfg.requestTimeoutMs,
    rejectRateLimitedCalls: true,
    retryConfig: { retries: 0 },
    logLevel: LogLevel.ERROR,
    ...(logger !== undefined ? { logger: slackLogger(logger) } : {}),
  });
}

/**
 * Our error for a failed Web API call: `slack_unavailable` (retryable: no answer, 5xx, rate
 * limited; `detail.retryAfterSeconds` when Slack said) or `slack_rejected` (final; `detail.slackError`).
 */
export function slackCallError(method: string, err: unknown): SlackError {
  const e = err as { code?: unknown; data?: { error?: unknown }; retryAfter?: unknown; statusCode?: unknown };
  if (e.code === SlackErrorCode.RateLimitedError) {
    const retryAfterSeconds = typeof e.retryAfter === "number" ? e.retryAfter : 1;
    return new SlackError("slack_unavailable", `Slack rate-limited ${method}; retry after ${retryAfterSeconds} s`, { cause: err, detail: { method, retryAfterSeconds } });
  }
  if (e.code === SlackErrorCode.PlatformError) {
    const slackError = typeof e.data?.error === "string" ? e.data.error : "unknown_error";
    const code = TRANSIENT_PLATFORM_ERRORS.has(slackError) ? "slack_unavailable" : "slack_rejected";
    return new SlackError(code, `Slack refused ${method}: ${slackError}`, { cause: err, detail: { method, slackError } });
  }
  const status = typeof e.statusCode === "number" ? e.statusCode : undefined;
  return new SlackError("slack_unavailable", `Slack did not answer ${method}${status !== undefined ? ` (HTTP ${status})` : ""}`, { cause: err, detail: { method, status } });
}

/** Call `fn` (one Web API method), mapping its failure with {@link slackCallError}. */
export async function slackCall<T>(method: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw slackCallError(method, err);
  }
}

/** The WebClient's logger routed to ours (it logs request metadata, never tokens: it redacts them). */
export function slackLogger(logger: Logger): SlackLogger {
  let level = LogLevel.ERROR;
  return {
    debug: (...msg: unknown[]) => logger.debug({ slack: msg.map(String).join(" ") }, "slack client"),
    info: (...msg: unknown[]) => logger.info({ slack: msg.map(String).join(" ") }, "slack client"),
    warn: (...msg: unknown[]) => logger.warn({ slack: msg.map(String).join(" ") }, "slack client"),
    error: (...msg: unknown[]) => logger.error({ slack: msg.map(String).join(" ") }, "slack client"),
    setLevel: (l: LogLevel) => {
      level = l;
    },
    getLevel: () => level,
    setName: () => undefined,
  };
}
