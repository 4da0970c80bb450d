// Configuration: one YAML file parsed once with zod, secrets from the environment.
// This is the only module that reads process.env. Relative paths resolve against the config file.
import { readFileSync } from "node:fs";
import { dirname, isAbsolute, resolve } from "node:path";
import { parse as parseYaml } from "yaml";
import { z } from "zod";
import { ConfigError } from "./errors.js";

/** Tool names in the catalog: letters, digits, '_', '.', ':', '-'; safe to quote in a visibility query. */
export const TOOL_NAME_PATTERN = /^[A-Za-z0-9_.:-]+$/;

const DurationSeconds = z.number().int().positive();
/** `host:port` (an IPv6 host in brackets), as the Temporal SDK's Prometheus exporter binds it. */
const HostPortSchema = z
  .string()
  .regex(/^[A-Za-z0-9._-]+:[0-9]{1,5}$|^\[[0-9a-fA-F:]+\]:[0-9]{1,5}$/, "host:port")
  .refine((v) => Number(v.slice(v.lastIndexOf(":") + 1)) <= 65535, "port must be at most 65535");
/** No approval waits longer than a year, whatever the config says. */
const MAX_DEADLINE_CEILING_SECONDS = 365 * 24 * 3600;

const JwksSourceSchema = z
  .string()
  .min(1)
  .describe("a JWKS file path (relative to the config file) or an https:// URL");

const PrincipalIssuerSchema = z.strictObject({
  issuer: z.string().min(1),
  audience: z.string().min(1),
  jwks: JwksSourceSchema,
  requiredScopes: z.array(z.string().min(1)).default([]),
  /**
   * Prepended to the token's `sub` to form the directory user id. Required (and distinct) when several
   * issuers are trusted, so no issuer can mint a subject that names another issuer's user.
   */
  subjectPrefix: z.string().max(64).default(""),
  algorithms: z.array(z.enum(["RS256", "PS256", "ES256", "ES384", "EdDSA"])).nonempty().default(["RS256", "ES256", "EdDSA"]),
});

const AgentTrustDomainSchema = z.strictObject({
  trustDomain: z.string().regex(/^[a-z0-9._-]+$/, "a SPIFFE trust domain: lower-case letters, digits, '.', '-', '_'"),
  jwks: JwksSourceSchema,
  audience: z.string().min(1),
  algorithms: z.array(z.enum(["RS256", "PS256", "ES256", "ES384", "EdDSA"])).nonempty().default(["RS256", "ES256", "EdDSA"]),
  /**
   * Require proof of possession: every workload token of this domain must carry a `cnf.jwk` key and
   * every request a Workload-Proof-Token signed with it. Without it, proof is required only of
   * workloads whose token carries a key.
   */
  requireProof: z.boolean().default(false),
});

const ToolSchema = z.strictObject({
  audience: z.string().regex(/^spiffe:\/\/[^/]+\/.+$/, "the tool server's SPIFFE ID"),
  displayName: z.string().min(1).optional(),
  /**
   * Argument fields approvers never see: a dotted path from the root (`card.number`) or a bare key,
   * which matches that key at any depth (`card_number`).
   */
  redact: z.array(z.string().min(1)).default([]),
  /** OAuth scopes an MCP caller's token must hold to call this tool through `/mcp` (the coarse first gate; README "MCP gateway"). */
  scopes: z.array(z.string().regex(/^[\x21\x23-\x5b\x5d-\x7e]+$/, "an OAuth scope token (RFC 6749 §3.3)")).default([]),
  /** The argument whose text is the approval's summary when an MCP caller names none in `_meta` (a string argument). */
  intentArgument: z.string().min(1).optional(),
});

const McpUpstreamSchema = z.strictObject({
  /** The upstream MCP server's Streamable HTTP endpoint. */
  url: z.url(),
  /** Its SPIFFE ID: the `aud` of every grant it is handed (each listed tool's catalog `audience`). */
  audience: z.string().regex(/^spiffe:\/\/[^/]+\/.+$/, "the tool server's SPIFFE ID"),
  /** Catalog tools it serves, under the same names: the gateway shows and calls only these. */
  tools: z.array(z.string().min(1)).nonempty(),
});

const McpSchema = z.strictObject({
  /** The MCP resource's URL: the `aud` a caller's access token must name (RFC 8707). Default `<publicUrl>/mcp`. */
  resource: z.url().optional(),
  /** How long a tools/call blocks waiting for approvers before answering "still waiting" (clients without tasks), in s. */
  waitSeconds: z.number().int().min(1).max(300).default(40),
  /** How often a blocked tools/call sends a progress notification, in s. */
  progressEverySeconds: z.number().int().min(1).max(60).default(5),
  /**
   * How long the same call is a retry of the last one after its approval ended, in s: it gets the held
   * result (or the same refusal), and is never executed twice; later it is a new call. Cover clients' retries.
   */
  resultRetentionSeconds: z.number().int().min(1).max(86_400).default(900),
  /** How long an upstream's tools/list answer is reused, in s. */
  listCacheSeconds: z.number().int().min(0).max(3600).default(60),
  /** Upstream MCP servers by name. */
  upstreams: z.record(z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/, "letters, digits, '_', '.', '-'"), McpUpstreamSchema),
});

/** A web origin exactly as browsers send it in `Origin`: scheme, host and port only (`https://temporal.example.com`). */
const OriginSchema = z
  .string()
  .refine((v) => URL.canParse(v) && ["http:", "https:"].includes(new URL(v).protocol) && new URL(v).origin === v, "an origin: http(s)://host[:port], no path or trailing slash");

const CodecSchema = z.strictObject({
  /**
   * Origins of the Temporal UIs whose pages may call `/codec/*` from the browser (CORS, exact match).
   * `dev` adds the UI it runs.
   */
  uiOrigins: z.array(OriginSchema).default([]),
});

const SlackIdSchema = (what: string, prefix: string) => z.string().regex(new RegExp(`^${prefix}[A-Z0-9]{2,32}$`), `a Slack ${what} id (${prefix}…)`);

const SlackTenantSchema = z.strictObject({
  /** The Slack workspace (team id, `T…`) whose users may decide this tenant's approvals. */
  teamId: SlackIdSchema("team", "T"),
  /** Channel id (`C…` or `G…`) of the tenant's approval cards when no group has its own. */
  channel: z.string().regex(/^[CG][A-Z0-9]{2,32}$/, "a Slack channel id (C… or G…)").optional(),
  /** Channel per approver group (`Role` id → channel id): each routed group's channel gets a card. */
  groups: z.record(z.string().min(1), z.string().regex(/^[CG][A-Z0-9]{2,32}$/, "a Slack channel id (C… or G…)")).default({}),
});

const SlackSchema = z.strictObject({
  /** Base URL of Slack's Web API (tests point it at a fake). */
  apiUrl: z.url().default("https://slack.com/api/"),
  /** Files holding the secrets, when not in SLACK_BOT_TOKEN / SLACK_SIGNING_SECRET / SLACK_APP_TOKEN (never the secrets themselves). */
  botTokenFile: z.string().min(1).optional(),
  signingSecretFile: z.string().min(1).optional(),
  appTokenFile: z.string().min(1).optional(),
  /** How long one Web API call may take before it is abandoned (and retried by Temporal), in ms; below the activities' 30 s. */
  requestTimeoutMs: z.number().int().min(100).max(20_000).default(5_000),
  /** Base URL of the Temporal UI, for the card's link to the approval (`countersign dev` sets its own). */
  temporalUiUrl: z.url().optional(),
  /** Map a Slack user to the directory by the email `users.info` returns, when no user has that `slackUserId`. */
  mapUsersByEmail: z.boolean().default(false),
  /** Remind the approver channels in the card's thread this often while pending (policy `@remind_every_seconds` wins); 0: never. */
  reminders: z.strictObject({ everySeconds: z.number().int().min(0).default(0), max: z.number().int().min(1).max(100).default(12) }).prefault({}),
  /** Ask a policy's `@escalate_to` groups after this long pending, when it names no `@escalate_after_seconds`. */
  escalation: z.strictObject({ afterSeconds: DurationSeconds.default(1800) }).prefault({}),
  /** Per tenant: its workspace and approval channels. A tenant not listed gets no cards. */
  tenants: z.record(z.string().min(1), SlackTenantSchema),
});

const TracingSchema = z.strictObject({
  /**
   * The OTLP/HTTP traces endpoint, the full URL (as OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: a collector's
   * `http://host:4318/v1/traces`). Spans carry no token, grant or argument value, only ids and names.
   */
  otlpEndpoint: z.url({ protocol: /^https?$/, error: "an http:// or https:// URL" }),
  /** `service.name` of every span this process exports. */
  serviceName: z.string().min(1).max(128).default("countersign"),
});

export const ConfigFileSchema = z.strictObject({
  server: z
    .strictObject({
      host: z.string().default("127.0.0.1"),
      port: z.number().int().min(0).max(65535).default(8787),
      publicUrl: z.url().optional(),
      bodyLimitBytes: z.number().int().positive().default(64 * 1024),
      /**
       * `host:port` of each worker's metrics endpoint (its `worker.metricsAddress`): `/metrics` appends what
       * they serve, the Temporal SDK's worker metrics among it. `dev` adds its own worker's by itself.
       */
      workerMetricsAddresses: z.array(HostPortSchema).default([]),
    })
    .prefault({}),
  identity: z.strictObject({
    clockToleranceSeconds: z.number().int().min(0).max(300).default(30),
    principals: z.array(PrincipalIssuerSchema).nonempty(),
    agents: z.array(AgentTrustDomainSchema).nonempty(),
  }),
  directory: z.string().min(1),
  policies: z.string().min(1),
  tools: z.record(z.string().regex(TOOL_NAME_PATTERN, "tool names use letters, digits, '_', '.', ':', '-'"), ToolSchema),
  grants: z.strictObject({
    keyFile: z.string().min(1),
    ttlSeconds: DurationSeconds.max(3600).default(300),
  }),
  payloads: z
    .strictObject({
      keyFile: z.string().min(1).optional(),
    })
    .prefault({}),
  approvals: z
    .strictObject({
      deadlineSeconds: DurationSeconds.default(900),
      /** Longest approval deadline anything may set: `deadlineSeconds` and every policy's `@deadline_seconds`. */
      maxDeadlineSeconds: DurationSeconds.max(MAX_DEADLINE_CEILING_SECONDS).default(7 * 24 * 3600),
      /** Break-glass: an operator decides from the CLI without the approver's token (recorded, counted). Off unless enabled. */
      breakGlass: z.strictObject({ enabled: z.boolean().default(false) }).prefault({}),
    })
    .prefault({})
    .refine((a) => a.deadlineSeconds <= a.maxDeadlineSeconds, { message: "deadlineSeconds must not exceed maxDeadlineSeconds", path: ["deadlineSeconds"] }),
  worker: z
    .strictObject({
      /** host:port where the worker serves Prometheus metrics (the Temporal SDK's and countersign's own). Off when absent. */
      metricsAddress: HostPortSchema.optional(),
      /**
       * Open approvals a worker keeps in memory (the SDK's workflow cache). One that is not cached is
       * replayed from its history on its next event: memory against a few ms on that event.
       */
      maxCachedWorkflows: z.number().int().min(0).max(100_000).default(500),
    })
    .prefault({}),
  /** Approvers decide in Slack (see README "Slack"). Off when absent. */
  slack: SlackSchema.optional(),
  /** The MCP gateway at `/mcp` (see README "MCP gateway"). Off when absent. */
  mcp: McpSchema.optional(),
  /** OpenTelemetry tracing, exported over OTLP/HTTP (see README "Tracing"). Off when absent: no tracer, no interceptor. */
  tracing: TracingSchema.optional(),
  /** The Temporal UI's remote codec at `/codec/*` (see README "Reading approvals in the Temporal UI"). */
  codec: CodecSchema.prefault({}),
  temporal: z
    .strictObject({
      taskQueue: z.string().min(1).default("countersign"),
      namespace: z.string().min(1).optional(),
    })
    .prefault({}),
});
export type ConfigFile = z.infer<typeof ConfigFileSchema>;

/** The resolved configuration every process works from. Paths are absolute. */
export interface Config {
  /** Absolute path of the file this came from. */
  file: string;
  server: { host: string; port: number; publicUrl: string; bodyLimitBytes: number; workerMetricsAddresses: string[] };
  /** countersign's own identity: `iss` of the grants it mints. */
  issuer: string;
  identity: {
    clockToleranceSeconds: number;
    principals: Array<z.infer<typeof PrincipalIssuerSchema>>;
    agents: Array<z.infer<typeof AgentTrustDomainSchema>>;
  };
  directoryFile: string;
  policiesDir: string;
  tools: Record<string, z.infer<typeof ToolSchema>>;
  grants: { keyFile: string; ttlSeconds: number };
  /** Payload codec keys: from COUNTERSIGN_PAYLOAD_KEYS (JSON) when set, else the key file. */
  payloads: { keyFile: string; keysFromEnv: string | undefined };
  approvals: { deadlineSeconds: number; maxDeadlineSeconds: number; breakGlass: { enabled: boolean } };
  worker: { metricsAddress: string | undefined; maxCachedWorkflows: number };
  /** Slack, when configured; secrets resolved from the environment or the named files. */
  slack: SlackConfig | undefined;
  /** The MCP gateway, when configured. */
  mcp: McpConfig | undefined;
  /** Tracing, when configured. */
  tracing: TracingConfig | undefined;
  /** The remote codec: which Temporal UI origins may call it from a browser. */
  codec: { uiOrigins: string[] };
  temporal: { taskQueue: string; namespace: string | undefined };
  logLevel: string;
}

export type TracingConfig = z.infer<typeof TracingSchema>;
export type McpUpstreamConfig = z.infer<typeof McpUpstreamSchema>;
export interface McpConfig {
  /** The resource URL (access tokens' `aud`); `/.well-known/oauth-protected-resource<path>` describes it. */
  resource: string;
  waitSeconds: number;
  progressEverySeconds: number;
  resultRetentionSeconds: number;
  listCacheSeconds: number;
  upstreams: Record<string, McpUpstreamConfig>;
}

export type SlackTenantConfig = z.infer<typeof SlackTenantSchema>;
export interface SlackConfig {
  apiUrl: string;
  /** `xoxb-…`: the bot's token (cards, replies, ephemeral messages, modals). */
  botToken: string | undefined;
  /** Verifies that `POST /slack/events` came from Slack (HTTP mode). */
  signingSecret: string | undefined;
  /** `xapp-…`: Socket Mode instead of `POST /slack/events`. */
  appToken: string | undefined;
  requestTimeoutMs: number;
  temporalUiUrl: string | undefined;
  mapUsersByEmail: boolean;
  reminders: { everySeconds: number; max: number };
  escalation: { afterSeconds: number };
  tenants: Record<string, SlackTenantConfig>;
}

/**
 * The catalog entry of tool `name`, or undefined when the catalog lists no such tool. Own entries
 * only: a name from a request such as `constructor` or `__proto__` must not find Object.prototype's.
 */
export function toolEntry(config: Pick<Config, "tools">, name: string): Config["tools"][string] | undefined {
  return Object.hasOwn(config.tools, name) ? config.tools[name] : undefined;
}

/**
 * Which config file to read: the explicit flag, then $COUNTERSIGN_CONFIG, then the file a running
 * `countersign dev` recorded (`recordedByDev`), then ./countersign.config.yaml. Absolute.
 */
export function configPath(explicit?: string, recordedByDev?: string): string {
  return resolve(explicit ?? nonEmptyEnv("COUNTERSIGN_CONFIG") ?? recordedByDev ?? "countersign.config.yaml");
}

/**
 * Where `countersign dev` keeps its state and its record (`dev.json`), and where the other commands
 * look for that record: $COUNTERSIGN_STATE_DIR, default `.countersign` (relative to the working directory).
 */
export function stateDirFromEnv(): string {
  return nonEmptyEnv("COUNTERSIGN_STATE_DIR") ?? ".countersign";
}

function nonEmptyEnv(name: string): string | undefined {
  const value = process.env[name];
  return value === undefined || value === "" ? undefined : value;
}

function formatIssues(error: z.ZodError): string {
  return error.issues
    .map((issue) => `${issue.path.length > 0 ? issue.path.join(".") : "(root)"}: ${issue.message}`)
    .join("; ");
}

/**
 * Read and validate the config file. Throws ConfigError (`config_invalid`) naming the bad key.
 * Reads the file exactly once; callers pass the result down instead of re-reading.
 */
export function loadConfig(path: string = configPath()): Config {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (cause) {
    throw new ConfigError("config_invalid", `cannot read config file ${path}`, { cause });
  }
  let raw: unknown;
  try {
    raw = parseYaml(text);
  } catch (cause) {
    throw new ConfigError("config_invalid", `config file ${path} is not valid YAML: ${(cause as Error).message}`, { cause });
  }
  return resolveConfig(raw, path);
}

/** Validate an already-parsed config object (used by loadConfig and by tests). */
export function resolveConfig(raw: unknown, path: string): Config {
  const parsed = ConfigFileSchema.safeParse(raw ?? {});
  if (!parsed.success) {
    throw new ConfigError("config_invalid", `invalid config ${path}: ${formatIssues(parsed.error)}`);
  }
  const c = parsed.data;
  const base = dirname(resolve(path));
  const abs = (p: string): string => (isAbsolute(p) ? p : resolve(base, p));
  const jwks = (p: string, key: string): string => {
    if (!/^[a-z][a-z0-9+.-]*:\/\//i.test(p)) return abs(p);
    const url = new URL(p);
    // Keys fetched in the clear could be swapped on the way: https only, plain http for loopback tests.
    const loopback = ["127.0.0.1", "[::1]", "localhost"].includes(url.hostname);
    if (url.protocol !== "https:" && !(url.protocol === "http:" && loopback)) {
      throw new ConfigError("config_invalid", `invalid config ${path}: ${key}: a JWKS URL must use https (plain http only on loopback)`);
    }
    return p;
  };
  const unique = (values: string[], key: string): void => {
    const seen = new Set<string>();
    for (const v of values) {
      if (seen.has(v)) throw new ConfigError("config_invalid", `invalid config ${path}: ${key}: ${v} is listed twice`);
      seen.add(v);
    }
  };
  unique(c.identity.principals.map((p) => p.issuer), "identity.principals.issuer");
  if (c.identity.principals.length > 1) {
    const prefixes = c.identity.principals.map((p) => p.subjectPrefix);
    prefixes.forEach((prefix, i) => {
      const clash = prefixes.some((other, j) => j !== i && other.startsWith(prefix));
      if (prefix === "" || clash) {
        throw new ConfigError(
          "config_invalid",
          `invalid config ${path}: identity.principals.${i}.subjectPrefix: with several issuers each needs its own prefix, none the start of another`,
        );
      }
    });
  }
  unique(c.identity.agents.map((a) => a.trustDomain), "identity.agents.trustDomain");
  unique(c.server.workerMetricsAddresses, "server.workerMetricsAddresses");

  for (const [name, tool] of Object.entries(c.tools)) {
    if (!c.identity.agents.some((a) => tool.audience.startsWith(`spiffe://${a.trustDomain}/`))) {
      throw new ConfigError(
        "config_invalid",
        `invalid config ${path}: tools.${name}.audience: ${tool.audience} is in no trust domain listed under identity.agents`,
      );
    }
  }
  const publicUrl = c.server.publicUrl ?? `http://${c.server.host}:${c.server.port}`;
  return {
    file: resolve(path),
    server: { ...c.server, publicUrl },
    issuer: publicUrl,
    identity: {
      clockToleranceSeconds: c.identity.clockToleranceSeconds,
      principals: c.identity.principals.map((p, i) => ({ ...p, jwks: jwks(p.jwks, `identity.principals.${i}.jwks`) })),
      agents: c.identity.agents.map((a, i) => ({ ...a, jwks: jwks(a.jwks, `identity.agents.${i}.jwks`) })),
    },
    directoryFile: abs(c.directory),
    policiesDir: abs(c.policies),
    tools: c.tools,
    grants: { keyFile: abs(c.grants.keyFile), ttlSeconds: c.grants.ttlSeconds },
    payloads: {
      keyFile: abs(c.payloads.keyFile ?? resolve(dirname(abs(c.grants.keyFile)), "payload-keys.json")),
      keysFromEnv: process.env.COUNTERSIGN_PAYLOAD_KEYS === "" ? undefined : process.env.COUNTERSIGN_PAYLOAD_KEYS,
    },
    approvals: c.approvals,
    worker: { metricsAddress: c.worker.metricsAddress, maxCachedWorkflows: c.worker.maxCachedWorkflows },
    slack: c.slack === undefined ? undefined : resolveSlack(c.slack, abs, path),
    mcp: c.mcp === undefined ? undefined : resolveMcp(c.mcp, c.tools, publicUrl, path),
    tracing: c.tracing,
    codec: { uiOrigins: c.codec.uiOrigins },
    temporal: { taskQueue: c.temporal.taskQueue, namespace: c.temporal.namespace },
    logLevel: process.env.COUNTERSIGN_LOG_LEVEL ?? process.env.LOG_LEVEL ?? "info",
  };
}

/** Plain http only to loopback: grants travel as bearer tokens. */
function loopbackOrHttps(url: URL): boolean {
  return url.protocol === "https:" || (url.protocol === "http:" && ["127.0.0.1", "[::1]", "localhost"].includes(url.hostname));
}

function resolveMcp(m: z.infer<typeof McpSchema>, tools: ConfigFile["tools"], publicUrl: string, path: string): McpConfig {
  const bad = (key: string, message: string): ConfigError => new ConfigError("config_invalid", `invalid config ${path}: mcp.${key}: ${message}`);
  const servedBy = new Map<string, string>();
  for (const [name, upstream] of Object.entries(m.upstreams)) {
    if (!loopbackOrHttps(new URL(upstream.url))) throw bad(`upstreams.${name}.url`, "an upstream URL must use https (plain http only on loopback)");
    for (const tool of upstream.tools) {
      const entry = Object.hasOwn(tools, tool) ? tools[tool] : undefined;
      if (entry === undefined) throw bad(`upstreams.${name}.tools`, `${tool} is not in the tool catalog`);
      if (entry.audience !== upstream.audience) throw bad(`upstreams.${name}.tools`, `${tool}'s catalog audience is ${entry.audience}, not this upstream's ${upstream.audience}`);
      const other = servedBy.get(tool);
      if (other !== undefined) throw bad(`upstreams.${name}.tools`, `${tool} is already served by upstream ${other}`);
      servedBy.set(tool, name);
    }
  }
  const resource = m.resource ?? `${publicUrl.replace(/\/+$/, "")}/mcp`;
  if (new URL(resource).hash !== "") throw bad("resource", "a resource URL has no fragment (RFC 8707)");
  return { resource, waitSeconds: m.waitSeconds, progressEverySeconds: m.progressEverySeconds, resultRetentionSeconds: m.resultRetentionSeconds, listCacheSeconds: m.listCacheSeconds, upstreams: m.upstreams };
}

/** A secret from the environment variable, else the named file (trimmed), else undefined. */
function secret(envName: string, file: string | undefined, abs: (p: string) => string, path: string): string | undefined {
  const fromEnv = nonEmptyEnv(envName);
  if (fromEnv !== undefined) return fromEnv;
  if (file === undefined) return undefined;
  try {
    const text = readFileSync(abs(file), "utf8").trim();
    return text === "" ? undefined : text;
  } catch (cause) {
    throw new ConfigError("config_invalid", `invalid config ${path}: cannot read the Slack secret file ${abs(file)}`, { cause });
  }
}

function resolveSlack(s: z.infer<typeof SlackSchema>, abs: (p: string) => string, path: string): SlackConfig {
  for (const [tenant, t] of Object.entries(s.tenants)) {
    if (t.channel === undefined && Object.keys(t.groups).length === 0) {
      throw new ConfigError("config_invalid", `invalid config ${path}: slack.tenants.${tenant}: name a channel, or a channel per approver group`);
    }
  }
  return {
    apiUrl: s.apiUrl.endsWith("/") ? s.apiUrl : `${s.apiUrl}/`,
    botToken: secret("SLACK_BOT_TOKEN", s.botTokenFile, abs, path),
    signingSecret: secret("SLACK_SIGNING_SECRET", s.signingSecretFile, abs, path),
    appToken: secret("SLACK_APP_TOKEN", s.appTokenFile, abs, path),
    requestTimeoutMs: s.requestTimeoutMs,
    temporalUiUrl: s.temporalUiUrl,
    mapUsersByEmail: s.mapUsersByEmail,
    reminders: s.reminders,
    escalation: s.escalation,
    tenants: s.tenants,
  };
}

/** The approver's access token for `countersign approve|deny` (COUNTERSIGN_TOKEN), if set. */
export function cliTokenFromEnv(): string | undefined {
  return nonEmptyEnv("COUNTERSIGN_TOKEN");
}

/** Base URL of the countersign server for CLI verbs that use the HTTP API (COUNTERSIGN_URL), if set. */
export function serverUrlFromEnv(): string | undefined {
  return nonEmptyEnv("COUNTERSIGN_URL");
}

/** Path of a Temporal CLI binary chosen by the operator (TEMPORAL_CLI_PATH), if any. */
export function temporalCliPathFromEnv(): string | undefined {
  return nonEmptyEnv("TEMPORAL_CLI_PATH");
}

/** The environment, for libraries that read the standard variables themselves (Temporal envconfig). */
export function processEnv(): Record<string, string | undefined> {
  return process.env;
}
