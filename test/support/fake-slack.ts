// A small fake of Slack's Web API at the HTTP boundary (the only thing tests fake): the methods
// countersign calls, with messages kept per channel, every call recorded, and faults on demand
// (429 with Retry-After, 500, platform errors, an answer delayed after the effect, a full outage).
// Plus the signing Slack applies to the requests it sends us, and realistic interaction payloads.
import { createHmac, randomUUID } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { WebSocketServer, type WebSocket } from "ws";

export interface FakeSlackOptions {
  /** Calls with another bearer token answer `invalid_auth`. */
  botToken: string;
  teamId: string;
  /** For users.info. */
  users?: Array<{ id: string; teamId: string; email?: string; name?: string }>;
  /** Channels that exist (others answer `channel_not_found`); a user id (`U…`) is a direct message. */
  channels: string[];
  /** Channels the bot is not a member of (`not_in_channel`). */
  notInChannel?: string[];
}

export interface RecordedCall {
  method: string;
  /** Form fields, with the JSON-encoded ones (blocks, metadata, view) parsed. */
  args: Record<string, unknown>;
  atMs: number;
  status: number;
  answer: unknown;
}

export interface FakeMessage {
  channel: string;
  ts: string;
  text?: string;
  blocks?: unknown[];
  metadata?: { event_type: string; event_payload: Record<string, unknown> };
  thread_ts?: string;
  /** How many chat.update calls changed it. */
  updates: number;
}

export type FakeFault = { rateLimitedSeconds: number } | { status: 500 } | { error: string } | { acceptThenDelayMs: number };

export interface FakeSlack {
  /** Base URL of the fake Web API, ending in `/api/`. */
  apiUrl: string;
  calls: RecordedCall[];
  callsTo(method: string): RecordedCall[];
  /** Top-level messages of a channel, oldest first. */
  messages(channel: string): FakeMessage[];
  replies(channel: string, threadTs: string): FakeMessage[];
  ephemerals: Array<{ channel: string; user: string; text?: string }>;
  /** Modals opened (with views.open), as they are now (views.update replaces `view`). */
  views: Array<{ id: string; triggerId: string; view: Record<string, unknown>; updates: number }>;
  /** The next `times` (default 1) calls to `method` (`*`: any) answer `fault`. */
  fail(method: string, fault: FakeFault, times?: number): void;
  /**
   * Socket Mode: send `payload` as an `interactive` envelope to the connected app (after
   * `apps.connections.open` and the `hello`) and resolve once the app acks it, with the ack's payload.
   */
  sendOverSocket(payload: unknown, timeoutMs?: number): Promise<unknown>;
  /** Every call answers HTTP 503 until `up()`. */
  down(): void;
  up(): void;
  /** The first call (recorded already or to come) to `method` (`*`: any) that satisfies `predicate`. */
  waitForCall(method: string, predicate?: (c: RecordedCall) => boolean, timeoutMs?: number): Promise<RecordedCall>;
  close(): Promise<void>;
}

const JSON_FIELDS = new Set(["blocks", "metadata", "view", "attachments"]);

function parseForm(body: string): Record<string, unknown> {
  const args: Record<string, unknown> = {};
  for (const [key, value] of new URLSearchParams(body)) {
    if (JSON_FIELDS.has(key)) {
      try {
        args[key] = JSON.parse(value) as unknown;
        continue;
      } catch {
        // kept as text: the method then refuses it
      }
    }
    args[key] = value;
  }
  return args;
}

export async function startFakeSlack(opts: FakeSlackOptions): Promise<FakeSlack> {
  const calls: RecordedCall[] = [];
  const messages: FakeMessage[] = [];
  const ephemerals: FakeSlack["ephemerals"] = [];
  const views: FakeSlack["views"] = [];
  const faults: Array<{ method: string; fault: FakeFault; times: number }> = [];
  const waiters: Array<{ method: string; predicate: (c: RecordedCall) => boolean; resolve: (c: RecordedCall) => void }> = [];
  let isDown = false;
  // Message timestamps as Slack makes them: the time of posting, unique in the workspace.
  let clock = 0;
  const nextTs = (): string => {
    clock = Math.max(clock + 1, Date.now());
    return `${Math.floor(clock / 1000)}.${String((clock % 1000) * 1000).padStart(6, "0")}`;
  };

  const matches = (method: string, c: RecordedCall): boolean => method === "*" || c.method === method;
  const record = (call: RecordedCall): void => {
    calls.push(call);
    for (const w of [...waiters]) {
      if (matches(w.method, call) && w.predicate(call)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(call);
      }
    }
  };
  const takeFault = (method: string): FakeFault | undefined => {
    const f = faults.find((x) => x.method === method || x.method === "*");
    if (f === undefined) return undefined;
    f.times -= 1;
    if (f.times <= 0) faults.splice(faults.indexOf(f), 1);
    return f.fault;
  };

  /** A channel the bot may post to: its id as messages are stored, or an error. */
  const channelOf = (raw: unknown): { id: string } | { error: string } => {
    if (typeof raw !== "string" || raw === "") return { error: "channel_not_found" };
    if (/^[UW][A-Z0-9]+$/.test(raw)) return { id: `D${raw}` };
    if (/^D[UW][A-Z0-9]+$/.test(raw)) return { id: raw };
    if (!opts.channels.includes(raw)) return { error: "channel_not_found" };
    if (opts.notInChannel?.includes(raw) === true) return { error: "not_in_channel" };
    return { id: raw };
  };
  const publicMessage = (m: FakeMessage, withMetadata: boolean): Record<string, unknown> => ({
    type: "message",
    ts: m.ts,
    text: m.text,
    blocks: m.blocks,
    ...(m.thread_ts !== undefined ? { thread_ts: m.thread_ts } : {}),
    ...(withMetadata && m.metadata !== undefined ? { metadata: m.metadata } : {}),
  });

  /** The effect of one method: the answer body (`ok` true or false). */
  const perform = (method: string, a: Record<string, unknown>): Record<string, unknown> => {
    const str = (v: unknown): string | undefined => (typeof v === "string" ? v : undefined);
    switch (method) {
      case "apps.connections.open":
        return { ok: true, url: `ws://127.0.0.1:${port}/socket` };
      case "auth.test":
        return { ok: true, url: "https://acme.slack.test/", team: "acme", team_id: opts.teamId, user: "countersign", user_id: "UBOT", bot_id: "BBOT" };
      case "chat.postMessage": {
        const channel = channelOf(a.channel);
        if ("error" in channel) return { ok: false, error: channel.error };
        if (a.text === undefined && a.blocks === undefined) return { ok: false, error: "no_text" };
        if (a.blocks !== undefined && !Array.isArray(a.blocks)) return { ok: false, error: "invalid_blocks" };
        const message: FakeMessage = {
          channel: channel.id,
          ts: nextTs(),
          ...(str(a.text) !== undefined ? { text: str(a.text) } : {}),
          ...(Array.isArray(a.blocks) ? { blocks: a.blocks as unknown[] } : {}),
          ...(a.metadata !== undefined ? { metadata: a.metadata as FakeMessage["metadata"] } : {}),
          ...(str(a.thread_ts) !== undefined ? { thread_ts: str(a.thread_ts) } : {}),
          updates: 0,
        };
        messages.push(message);
        return { ok: true, channel: channel.id, ts: message.ts, message: publicMessage(message, false) };
      }
      case "chat.update": {
        const channel = channelOf(a.channel);
        if ("error" in channel) return { ok: false, error: channel.error };
        const message = messages.find((m) => m.channel === channel.id && m.ts === a.ts);
        if (message === undefined) return { ok: false, error: "message_not_found" };
        if (str(a.text) !== undefined) message.text = str(a.text);
        if (Array.isArray(a.blocks)) message.blocks = a.blocks as unknown[];
        if (a.metadata !== undefined) message.metadata = a.metadata as FakeMessage["metadata"];
        message.updates += 1;
        return { ok: true, channel: channel.id, ts: message.ts, text: message.text };
      }
      case "chat.postEphemeral": {
        const channel = channelOf(a.channel);
        if ("error" in channel) return { ok: false, error: channel.error };
        if (str(a.user) === undefined) return { ok: false, error: "user_not_found" };
        ephemerals.push({ channel: channel.id, user: str(a.user) ?? "", ...(str(a.text) !== undefined ? { text: str(a.text) } : {}) });
        return { ok: true, message_ts: nextTs() };
      }
      case "views.open": {
        if (str(a.trigger_id) === undefined || typeof a.view !== "object" || a.view === null) return { ok: false, error: "invalid_arguments" };
        const id = `V${randomUUID().slice(0, 8).toUpperCase()}`;
        views.push({ id, triggerId: str(a.trigger_id) ?? "", view: a.view as Record<string, unknown>, updates: 0 });
        return { ok: true, view: { id, ...(a.view as Record<string, unknown>) } };
      }
      case "views.update": {
        const target = views.find((v) => v.id === a.view_id);
        if (target === undefined || typeof a.view !== "object" || a.view === null) return { ok: false, error: "not_found" };
        target.view = a.view as Record<string, unknown>;
        target.updates += 1;
        return { ok: true, view: { id: target.id, ...target.view } };
      }
      case "conversations.open": {
        const user = str(a.users);
        if (user === undefined || !/^[UW][A-Z0-9]+$/.test(user)) return { ok: false, error: "user_not_found" };
        return { ok: true, channel: { id: `D${user}` } };
      }
      case "users.info": {
        const user = opts.users?.find((u) => u.id === a.user);
        if (user === undefined) return { ok: false, error: "user_not_found" };
        return { ok: true, user: { id: user.id, team_id: user.teamId, name: user.name ?? user.id, profile: { ...(user.email !== undefined ? { email: user.email } : {}) } } };
      }
      case "conversations.history": {
        const channel = channelOf(a.channel);
        if ("error" in channel) return { ok: false, error: channel.error };
        const limit = Number(a.limit ?? 100);
        const oldest = Number(a.oldest ?? 0);
        const withMetadata = a.include_all_metadata === "true" || a.include_all_metadata === true;
        const found = messages.filter((m) => m.channel === channel.id && m.thread_ts === undefined && Number(m.ts) >= oldest).reverse().slice(0, limit);
        return { ok: true, messages: found.map((m) => publicMessage(m, withMetadata)), has_more: false };
      }
      case "conversations.replies": {
        const channel = channelOf(a.channel);
        if ("error" in channel) return { ok: false, error: channel.error };
        const parent = messages.find((m) => m.channel === channel.id && m.ts === a.ts && m.thread_ts === undefined);
        if (parent === undefined) return { ok: false, error: "thread_not_found" };
        const withMetadata = a.include_all_metadata === "true" || a.include_all_metadata === true;
        const thread = [parent, ...messages.filter((m) => m.channel === channel.id && m.thread_ts === parent.ts)].slice(0, Number(a.limit ?? 1000));
        return { ok: true, messages: thread.map((m) => publicMessage(m, withMetadata)), has_more: false };
      }
      default:
        return { ok: false, error: "unknown_method" };
    }
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks).toString("utf8");
    const method = (req.url ?? "").replace(/^\/api\//, "").split("?")[0] ?? "";
    const args = (req.headers["content-type"] ?? "").includes("application/json") ? (JSON.parse(body || "{}") as Record<string, unknown>) : parseForm(body);
    const answer = (status: number, payload: unknown, headers: Record<string, string> = {}, delayMs = 0): void => {
      record({ method, args, atMs: Date.now(), status, answer: payload });
      const send = (): void => {
        if (res.destroyed) return;
        res.writeHead(status, { "content-type": "application/json", ...headers });
        res.end(JSON.stringify(payload));
      };
      if (delayMs > 0) setTimeout(send, delayMs);
      else send();
    };
    if (isDown) return answer(503, { ok: false, error: "service_unavailable" });
    // apps.connections.open takes the app-level token (xapp-…), every other method the bot token.
    // Slack takes the token as a bearer header or as the `token` form field.
    const presented = req.headers.authorization?.replace(/^Bearer /, "") ?? (typeof args.token === "string" ? args.token : "");
    const token = method === "apps.connections.open" ? /^xapp-[\w-]+$/.test(presented) : presented === opts.botToken;
    if (!token) return answer(200, { ok: false, error: "invalid_auth" });
    const fault = takeFault(method);
    if (fault !== undefined && "rateLimitedSeconds" in fault) return answer(429, { ok: false, error: "ratelimited" }, { "retry-after": String(fault.rateLimitedSeconds) });
    if (fault !== undefined && "status" in fault) return answer(500, { ok: false, error: "internal_error" });
    if (fault !== undefined && "error" in fault) return answer(200, { ok: false, error: fault.error });
    const result = perform(method, args);
    answer(200, result, {}, fault !== undefined && "acceptThenDelayMs" in fault ? fault.acceptThenDelayMs : 0);
  };

  const server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      res.writeHead(500);
      res.end(String(err));
    });
  });
  // Socket Mode: one WebSocket endpoint; the app connects after apps.connections.open.
  const sockets = new WebSocketServer({ server, path: "/socket" });
  let socket: WebSocket | undefined;
  let connected: () => void = () => undefined;
  let isConnected = new Promise<void>((resolve) => {
    connected = resolve;
  });
  const acks = new Map<string, (payload: unknown) => void>();
  sockets.on("connection", (ws) => {
    socket = ws;
    ws.on("message", (data: Buffer) => {
      const message = JSON.parse(data.toString("utf8")) as { envelope_id?: string; payload?: unknown };
      if (message.envelope_id !== undefined) acks.get(message.envelope_id)?.(message.payload);
    });
    ws.send(JSON.stringify({ type: "hello", num_connections: 1, debug_info: { host: "fake-slack", approximate_connection_time: 3600 }, connection_info: { app_id: "A0COUNTERSIGN" } }));
    connected();
  });

  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;

  return {
    apiUrl: `http://127.0.0.1:${port}/api/`,
    calls,
    callsTo: (method) => calls.filter((c) => c.method === method),
    messages: (channel) => messages.filter((m) => m.channel === channel && m.thread_ts === undefined),
    replies: (channel, threadTs) => messages.filter((m) => m.channel === channel && m.thread_ts === threadTs),
    ephemerals,
    views,
    async sendOverSocket(payload, timeoutMs = 10_000) {
      await isConnected;
      const envelopeId = randomUUID();
      const acked = new Promise<unknown>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no ack for envelope ${envelopeId} within ${timeoutMs} ms`)), timeoutMs);
        acks.set(envelopeId, (p) => {
          clearTimeout(timer);
          resolve(p);
        });
      });
      socket?.send(JSON.stringify({ envelope_id: envelopeId, type: "interactive", payload, accepts_response_payload: false, retry_attempt: 0, retry_reason: "" }));
      return acked;
    },
    fail(method, fault, times = 1) {
      faults.push({ method, fault, times });
    },
    down() {
      isDown = true;
    },
    up() {
      isDown = false;
    },
    waitForCall(method, predicate = () => true, timeoutMs = 20_000) {
      const past = calls.find((c) => matches(method, c) && predicate(c));
      if (past !== undefined) return Promise.resolve(past);
      return new Promise((resolve, reject) => {
        const waiter = { method, predicate, resolve: (c: RecordedCall) => {
          clearTimeout(timer);
          resolve(c);
        } };
        const timer = setTimeout(() => {
          waiters.splice(waiters.indexOf(waiter), 1);
          reject(new Error(`no ${method} call matched within ${timeoutMs} ms (calls so far: ${calls.map((c) => `${c.method}:${c.status}`).join(", ")})`));
        }, timeoutMs);
        waiters.push(waiter);
      });
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const client of sockets.clients) client.terminate();
        sockets.close();
        isConnected = Promise.reject(new Error("the fake Slack is closed"));
        isConnected.catch(() => undefined);
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** The headers Slack signs a request with: `v0=` HMAC-SHA256 of `v0:<timestamp>:<body>` under the signing secret. */
export function slackSignatureHeaders(signingSecret: string, rawBody: string, timestampSeconds = Math.floor(Date.now() / 1000)): Record<string, string> {
  const signature = createHmac("sha256", signingSecret).update(`v0:${timestampSeconds}:${rawBody}`).digest("hex");
  return { "x-slack-request-timestamp": String(timestampSeconds), "x-slack-signature": `v0=${signature}` };
}

/** The form body Slack posts for interactivity: `payload=<JSON>`. */
export function interactionBody(payload: unknown): string {
  return new URLSearchParams({ payload: JSON.stringify(payload) }).toString();
}

/** A block_actions payload for a button click on a message, shaped as Slack sends it. */
export function blockActionPayload(o: { teamId: string; userId: string; actionId: string; value: string; channel: string; messageTs: string; triggerId?: string; actionTs?: string; responseUrl?: string }): Record<string, unknown> {
  return {
    type: "block_actions",
    team: { id: o.teamId, domain: "acme" },
    user: { id: o.userId, username: o.userId.toLowerCase(), name: o.userId.toLowerCase(), team_id: o.teamId },
    api_app_id: "A0COUNTERSIGN",
    token: "verification-token-unused",
    container: { type: "message", message_ts: o.messageTs, channel_id: o.channel, is_ephemeral: false },
    trigger_id: o.triggerId ?? `${Date.now()}.trigger`,
    channel: { id: o.channel, name: "approvals" },
    message: { type: "message", ts: o.messageTs, text: "card" },
    response_url: o.responseUrl ?? "https://hooks.slack.test/actions/unused",
    actions: [{ type: "button", action_id: o.actionId, block_id: "countersign_decide", value: o.value, action_ts: o.actionTs ?? String(Date.now() / 1000) }],
  };
}

/** A view_submission payload for a modal, shaped as Slack sends it. */
export function viewSubmissionPayload(o: { teamId: string; userId: string; callbackId: string; privateMetadata: string; values: Record<string, Record<string, { type: "plain_text_input"; value: string }>>; viewId?: string }): Record<string, unknown> {
  return {
    type: "view_submission",
    team: { id: o.teamId, domain: "acme" },
    user: { id: o.userId, username: o.userId.toLowerCase(), name: o.userId.toLowerCase(), team_id: o.teamId },
    api_app_id: "A0COUNTERSIGN",
    token: "verification-token-unused",
    trigger_id: `${Date.now()}.trigger`,
    view: {
      id: o.viewId ?? "V0REASON",
      type: "modal",
      team_id: o.teamId,
      callback_id: o.callbackId,
      private_metadata: o.privateMetadata,
      state: { values: o.values },
      hash: "1700000000.hash",
      title: { type: "plain_text", text: "Reason" },
    },
  };
}
