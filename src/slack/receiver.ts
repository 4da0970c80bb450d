// Bolt's receiver for `POST /slack/events` on countersign's own HTTP server (HTTP mode): verifies
// Slack's signature over the raw body within a 5-minute window, hands the payload to Bolt, and
// answers Slack as soon as a listener calls ack() — listeners ack first and work afterwards.
import { verifySlackRequest, ReceiverMultipleAckError, type App, type Receiver, type ReceiverEvent } from "@slack/bolt";
import { RequestError, SlackError } from "../errors.js";
import type { Logger } from "../log.js";

/** Oldest (and furthest in the future) request timestamp accepted, in seconds: Slack's replay window. */
export const SLACK_TIMESTAMP_WINDOW_SECONDS = 300;
/** When Slack gets its answer at the latest, acked or not, in ms (Slack waits 3 s). */
const ACK_DEADLINE_MS = 2_500;
/** Largest request body read, in bytes (interaction payloads carry the whole message: well below this). */
export const SLACK_BODY_LIMIT_BYTES = 1024 * 1024;

/** What the HTTP route hands over: the raw body and the headers Slack's signing covers. */
export interface SlackHttpRequest {
  rawBody: string;
  contentType: string | undefined;
  signature: string | undefined;
  timestamp: string | undefined;
  retryNum: string | undefined;
  retryReason: string | undefined;
}

export interface SlackHttpResponse {
  status: number;
  body: string;
  contentType?: string;
}

/** Longest `stop()` waits for listeners still at work (a decision retries an unavailable Temporal for 30 s), in ms. */
const DRAIN_MS = 45_000;

export class HttpSlackReceiver implements Receiver {
  private app: App | undefined;
  /** Listener work still running after its ack: `stop()` lets it finish. */
  private readonly inflight = new Set<Promise<unknown>>();

  constructor(private readonly opts: { signingSecret: string; logger: Logger; nowMs?: () => number }) {}

  init(app: App): void {
    this.app = app;
  }

  start(): Promise<void> {
    return Promise.resolve();
  }

  /** Let listeners that already acked finish their work (at most {@link DRAIN_MS}), so a deploy loses no click. */
  async stop(): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, DRAIN_MS);
    });
    await Promise.race([Promise.allSettled([...this.inflight]), timeout]);
    clearTimeout(timer);
  }

  /**
   * Verify and dispatch one request from Slack.
   * @throws SlackError `slack_signature_invalid` (401) for a missing or wrong signature or a timestamp
   * outside ±{@link SLACK_TIMESTAMP_WINDOW_SECONDS}; RequestError `invalid_request` for a signed body that does not parse.
   */
  async handle(req: SlackHttpRequest): Promise<SlackHttpResponse> {
    this.verify(req);
    const body = parseBody(req.rawBody, req.contentType);
    if (typeof body.ssl_check === "string") return { status: 200, body: "" };
    if (body.type === "url_verification") return { status: 200, body: JSON.stringify({ challenge: body.challenge }), contentType: "application/json" };
    const app = this.app;
    if (app === undefined) throw new Error("the Slack receiver was not initialised by Bolt");

    let acked = false;
    let answer!: (response: unknown) => void;
    const ackResponse = new Promise<{ response: unknown }>((resolve) => {
      answer = (response) => resolve({ response });
    });
    const event: ReceiverEvent = {
      body,
      ack: (response?: unknown) => {
        if (acked) throw new ReceiverMultipleAckError();
        acked = true;
        answer(response);
        return Promise.resolve();
      },
      ...(req.retryNum !== undefined && /^[0-9]{1,3}$/.test(req.retryNum) ? { retryNum: Number(req.retryNum) } : {}),
      ...(req.retryReason !== undefined ? { retryReason: req.retryReason } : {}),
      customProperties: {},
    };
    // The listener's work goes on after the answer: its failures are logged, never sent to Slack late.
    const processing = app.processEvent(event).then(
      () => ({ done: true as const }),
      (err: unknown) => {
        this.opts.logger.error({ err }, "a Slack listener failed");
        return { failed: true as const };
      },
    );
    this.inflight.add(processing);
    void processing.finally(() => this.inflight.delete(processing));
    // Slack gives up after 3 s (and shows the clicker an error, or retries). Our listeners ack
    // first, but Bolt's own steps before them (the bot's auth.test on a first event) can be slow:
    // then Slack gets an empty 200 in time and the listener still runs.
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<{ response: undefined }>((resolve) => {
      timer = setTimeout(() => {
        this.opts.logger.warn({ afterMs: ACK_DEADLINE_MS }, "a Slack request was answered before its listener acked");
        resolve({ response: undefined });
      }, ACK_DEADLINE_MS);
    });
    const first = await Promise.race([ackResponse, processing, late]);
    clearTimeout(timer);
    if ("response" in first) {
      const { response } = first;
      if (response === undefined || response === null || response === "") return { status: 200, body: "" };
      if (typeof response === "string") return { status: 200, body: response };
      return { status: 200, body: JSON.stringify(response), contentType: "application/json" };
    }
    return "failed" in first ? { status: 500, body: "" } : { status: 404, body: "" };
  }

  private verify(req: SlackHttpRequest): void {
    const refuse = (why: string): never => {
      throw new SlackError("slack_signature_invalid", "the request is not signed by Slack", { detail: { why } });
    };
    if (req.signature === undefined || req.timestamp === undefined || !/^[0-9]{1,12}$/.test(req.timestamp)) refuse("missing signature or timestamp");
    const timestamp = Number(req.timestamp);
    const nowMs = this.opts.nowMs?.() ?? Date.now();
    // Bolt refuses only old timestamps; a request dated in the future is refused too.
    if (Math.abs(nowMs / 1000 - timestamp) > SLACK_TIMESTAMP_WINDOW_SECONDS) refuse("timestamp outside the 5-minute window");
    try {
      verifySlackRequest({
        signingSecret: this.opts.signingSecret,
        body: req.rawBody,
        headers: { "x-slack-signature": req.signature ?? "", "x-slack-request-timestamp": timestamp },
        nowMilliseconds: nowMs,
      });
    } catch {
      refuse("signature mismatch");
    }
  }
}

/** Interactivity arrives as `payload=<json>` form data, the Events API as JSON. */
function parseBody(rawBody: string, contentType: string | undefined): Record<string, unknown> {
  const invalid = (): never => {
    throw new RequestError("invalid_request", "the Slack request body does not parse");
  };
  try {
    const type = (contentType ?? "").split(";")[0]?.trim().toLowerCase();
    if (type === "application/x-www-form-urlencoded") {
      const form = new URLSearchParams(rawBody);
      const payload = form.get("payload");
      if (payload !== null) return asObject(JSON.parse(payload)) ?? invalid();
      return Object.fromEntries(form.entries());
    }
    return asObject(JSON.parse(rawBody)) ?? invalid();
  } catch (err) {
    if (err instanceof RequestError) throw err;
    return invalid();
  }
}

function asObject(value: unknown): Record<string, unknown> | undefined {
  return typeof value === "object" && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
}
