// The Slack edge: a Bolt app over countersign's own HTTP server (`POST /slack/events`, signed
// requests) or, when an app-level token is configured, Socket Mode. Listeners ack first and decide
// through the one edge path; the workflow writes the cards.
import { App, SocketModeReceiver, type AuthorizeResult } from "@slack/bolt";
import type { WebClient } from "@slack/web-api";
import { ConfigError } from "../errors.js";
import { registerListeners } from "./listeners/index.js";
import { HttpSlackReceiver } from "./receiver.js";
import { SlackDecisions, type SlackEdge } from "./edge.js";
import { createSlackClient, slackCall, slackLogger } from "./web.js";

/**
 * Bolt's authorization for our one bot token: `auth.test` once, at the first event, remembered on
 * success only. (Bolt's own choices either call it at start-up and keep a failure for good — Slack
 * down at start would refuse every click until a restart — or call it on every event.)
 */
function botAuthorization(client: WebClient, botToken: string): () => Promise<AuthorizeResult> {
  let known: Promise<AuthorizeResult> | undefined;
  return () => {
    known ??= slackCall("auth.test", () => client.auth.test()).then(
      (r) => ({ botToken, ...(r.bot_id !== undefined ? { botId: r.bot_id } : {}), ...(r.user_id !== undefined ? { botUserId: r.user_id } : {}), ...(r.team_id !== undefined ? { teamId: r.team_id } : {}) }),
      (err: unknown) => {
        known = undefined;
        throw err;
      },
    );
    return known;
  };
}

export interface RunningSlackEdge {
  /** The receiver `POST /slack/events` hands requests to (HTTP mode), else undefined (Socket Mode). */
  http: HttpSlackReceiver | undefined;
  mode: "http" | "socket";
  start(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * How a server receives from Slack with this config: `socket` with an app-level token, else `http`.
 * Call it at start-up, before connecting anywhere, so missing secrets fail fast.
 * @throws ConfigError `config_invalid` naming the missing secret.
 */
export function slackMode(slack: SlackEdge["slack"]): "http" | "socket" {
  if (slack.botToken === undefined) throw new ConfigError("config_invalid", "slack is configured but SLACK_BOT_TOKEN (or slack.botTokenFile) is not set");
  if (slack.appToken !== undefined) return "socket";
  if (slack.signingSecret === undefined) throw new ConfigError("config_invalid", "slack is configured but neither SLACK_SIGNING_SECRET (HTTP mode) nor SLACK_APP_TOKEN (Socket Mode) is set");
  return "http";
}

/**
 * Build the Slack edge from `edge.slack`: HTTP mode with the signing secret, Socket Mode with the
 * app-level token (`SLACK_APP_TOKEN`). Call `start()` before serving.
 * @throws ConfigError `config_invalid` when the bot token, or both the signing secret and the app token, are missing.
 */
export function createSlackEdge(edge: SlackEdge): RunningSlackEdge {
  const { slack } = edge;
  slackMode(slack);
  if (slack.botToken === undefined) throw new ConfigError("config_invalid", "slack is configured but SLACK_BOT_TOKEN (or slack.botTokenFile) is not set");
  const clientOptions = { slackApiUrl: slack.apiUrl, timeout: slack.requestTimeoutMs, rejectRateLimitedCalls: true, retryConfig: { retries: 0 } };
  const logger = slackLogger(edge.logger);
  // One client with the bot token for everything the edge itself calls (auth.test, ephemeral
  // refusals, users.info); Bolt's own `app.client` carries no token when `authorize` is used.
  const client = createSlackClient(slack, slack.botToken, edge.logger);
  const authorize = botAuthorization(client, slack.botToken);
  let http: HttpSlackReceiver | undefined;
  let app: App;
  if (slack.appToken !== undefined) {
    const receiver = new SocketModeReceiver({ appToken: slack.appToken, logger, installerOptions: { clientOptions } });
    app = new App({ authorize, receiver, clientOptions, logger });
  } else {
    if (slack.signingSecret === undefined) throw new ConfigError("config_invalid", "slack is configured but neither SLACK_SIGNING_SECRET (HTTP mode) nor SLACK_APP_TOKEN (Socket Mode) is set");
    http = new HttpSlackReceiver({ signingSecret: slack.signingSecret, logger: edge.logger });
    app = new App({ authorize, receiver: http, clientOptions, logger });
  }
  registerListeners(app, new SlackDecisions(edge, client));
  app.error(async (err) => {
    edge.logger.error({ err }, "a Slack listener failed");
    await Promise.resolve();
  });
  return {
    http,
    mode: http !== undefined ? "http" : "socket",
    start: async () => {
      await app.start();
    },
    stop: async () => {
      await app.stop();
    },
  };
}
