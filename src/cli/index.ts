// The `countersign` command: production processes (worker, server), the all-in-one `dev`, and
// operator verbs (pending, approve, deny, revoke, keys). Exit codes: 0 ok, 1 refused/failed, 2 usage.
import { writeFile } from "node:fs/promises";
import { resolve, dirname } from "node:path";
import type { Client } from "@temporalio/client";
import type { DataConverter } from "@temporalio/common";
import { fileURLToPath } from "node:url";
import { Command, CommanderError, InvalidArgumentError, Option } from "commander";
import type { ApprovalsClient } from "../client/approvals.js";
import { redactArguments } from "../client/redact.js";
import { cliTokenFromEnv, configPath, loadConfig, serverUrlFromEnv, stateDirFromEnv, TOOL_NAME_PATTERN, toolEntry, type Config } from "../config.js";
import { loadPayloadKeys, rotatePayloadKey } from "../codec/payload-keys.js";
import { CountersignError, isErrorCode, toCountersignError } from "../errors.js";
import { rotateKey } from "../grants/key-store.js";
import { createLogger } from "../log.js";
import { readDevRecord, type DevRecord } from "../runtime/dev-record.js";
import { approvedBy, type ApprovalState } from "../../workflows/definitions.js";
import { DEMO_OPS_TOKEN_TTL_SECONDS, demoApproverToken, demoOpsToken, ensureDemoIdentities } from "../demo/identities.js";
import { loadKeyStore } from "../grants/key-store.js";
import { approvalView, type ApprovalView } from "../server/view.js";
import type { HistorySource } from "../client/history.js";
import { orderPending, PENDING_SORTS, type PendingSort } from "../client/pending-order.js";
import { progressLine } from "./progress.js";
import { renderReplaySummary, ReplayTally } from "./replay-report.js";
import { displayJson, jsonForTerminal, safe } from "../text/neutralise.js";
import { userInfo } from "node:os";

const projectRoot = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..", "..");

let devRecord: { value: DevRecord | undefined } | undefined;
/** The `countersign dev` running from the state dir ($COUNTERSIGN_STATE_DIR, default .countersign), if any; read once per command. */
function runningDev(): DevRecord | undefined {
  devRecord ??= { value: readDevRecord(stateDirFromEnv()) };
  return devRecord.value;
}

/** The HTTP server of the running dev, when `cfg` is the config it runs. */
function devServerUrl(cfg: Config): string | undefined {
  const dev = runningDev();
  return dev !== undefined && dev.configFile === cfg.file ? dev.serverUrl : undefined;
}

/** The config: --config, then $COUNTERSIGN_CONFIG, then a running dev's config file, then ./countersign.config.yaml. */
function config(cmd: Command): Config {
  const opts = cmd.optsWithGlobals<{ config?: string }>();
  return loadConfig(configPath(opts.config, runningDev()?.configFile));
}

async function dataConverterOf(cfg: Config): Promise<DataConverter> {
  const { createDataConverter } = await import("../codec/payload-codec.js");
  return createDataConverter(await loadPayloadKeys({ keyFile: cfg.payloads.keyFile, keysFromEnv: cfg.payloads.keysFromEnv }));
}

/** Temporal from the standard environment or profile when it names an address, else a running dev's, else localhost:7233. */
async function withClient<T>(cfg: Config, fn: (client: Client, approvals: ApprovalsClient) => Promise<T>): Promise<T> {
  // Loaded here, not at start: a decision over HTTP (`approve`, `deny`) never needs a Temporal client.
  const [{ connectClient, temporalTargetWithFallback }, { ApprovalsClient }] = await Promise.all([import("../temporal/connection.js"), import("../client/approvals.js")]);
  const dev = runningDev();
  const target = temporalTargetWithFallback(cfg, dev !== undefined ? { address: dev.temporalAddress, namespace: dev.temporalNamespace } : undefined);
  const { client, connection } = await connectClient(target, await dataConverterOf(cfg));
  try {
    return await fn(client, new ApprovalsClient(client, cfg.temporal.taskQueue));
  } finally {
    await connection.close();
  }
}

async function withApprovals<T>(cfg: Config, fn: (approvals: ApprovalsClient) => Promise<T>): Promise<T> {
  return withClient(cfg, (_client, approvals) => fn(approvals));
}

/** The most `pending --limit` asks for: Temporal's default cap on a visibility page (frontend.visibilityMaxPageSize). */
const PENDING_LIMIT_MAX = 1000;

/** `--tool`: a catalog tool name (TOOL_NAME_PATTERN), which quotes safely in a visibility query. */
function pendingTool(value: string): string {
  if (!TOOL_NAME_PATTERN.test(value)) throw new InvalidArgumentError("a tool name is letters, digits, '_', '.', ':', '-'");
  return value;
}

const DURATION_UNIT_MS = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;
/** The longest `--older-than`: ten years, beyond any approval's life (deadline at most a year, plus the grant's TTL). */
const OLDER_THAN_MAX_MS = 3650 * DURATION_UNIT_MS.d;

/** `--older-than`: a whole number and a unit (s, m, h, d), up to 3650d; in ms. */
function olderThanMs(value: string): number {
  const match = /^([0-9]{1,7})([smhd])$/.exec(value);
  const ms = match !== null ? Number(match[1]) * DURATION_UNIT_MS[match[2] as keyof typeof DURATION_UNIT_MS] : NaN;
  if (!(ms > 0 && ms <= OLDER_THAN_MAX_MS)) throw new InvalidArgumentError("give a whole number of s, m, h or d above zero and up to 3650d (10m, 2h, 7d)");
  return ms;
}

function pendingLimit(value: string): number {
  const n = Number(value);
  if (!/^[0-9]+$/.test(value) || !Number.isSafeInteger(n) || n < 1 || n > PENDING_LIMIT_MAX) throw new InvalidArgumentError(`give a whole number from 1 to ${PENDING_LIMIT_MAX}`);
  return n;
}

/** POST the decision to the approver endpoint; a refusal becomes the endpoint's coded error. */
async function decideOverHttp(baseUrl: string, id: string, token: string, body: { decision: "approve" | "deny"; reason?: string }): Promise<ApprovalView> {
  let res: Response;
  try {
    res = await fetch(`${baseUrl.replace(/\/+$/, "")}/v1/approvals/${encodeURIComponent(id)}/decisions`, {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json", "countersign-client": "cli" },
      body: JSON.stringify(body),
    });
  } catch (cause) {
    throw new CountersignError("unavailable", `the countersign server at ${baseUrl} did not answer (set --url or COUNTERSIGN_URL)`, { cause });
  }
  const answer = (await res.json().catch(() => undefined)) as { error?: { code?: unknown; message?: unknown }; id?: unknown; status?: unknown } | undefined;
  if (!res.ok) {
    const code = answer?.error?.code;
    throw new CountersignError(isErrorCode(code) ? code : "internal", typeof answer?.error?.message === "string" ? answer.error.message : `HTTP ${res.status}`);
  }
  // Not an approval view: the URL is not a countersign server. Say so rather than print nonsense as success.
  if (typeof answer?.id !== "string" || typeof answer.status !== "string") throw new CountersignError("internal", `${baseUrl} did not answer like a countersign server`);
  return answer as ApprovalView;
}

/**
 * Break-glass: an operator decides without the approver's token. Only when the config enables it;
 * signed here with the grant keys (the operator needs the key file), recorded as `via: break-glass`
 * with the operating-system user, shown in `audit` and counted by the worker's
 * `countersign_break_glass_decisions` metric. Entitlement of `approver` is still checked by the workflow.
 */
async function breakGlass(cfg: Config, d: { approvalId: string; approver: string; decision: "approve" | "deny"; reason: string }): Promise<ApprovalView> {
  if (!cfg.approvals.breakGlass.enabled) throw new CountersignError("break_glass_disabled", "break-glass decisions are off: set approvals.breakGlass.enabled in the config");
  const grantKeys = await loadKeyStore(cfg.grants.keyFile);
  // Loaded only for break-glass: a plain decision goes over HTTP and needs none of this.
  const [{ policyEngineOf }, { submitDecision }] = await Promise.all([import("../runtime/services.js"), import("../decisions/submit.js")]);
  const policy = policyEngineOf(cfg);
  const state = await withApprovals(cfg, (approvals) =>
    submitDecision({ approvals, policy, grantKeys, issuer: cfg.issuer }, { ...d, via: "break-glass", osUser: userInfo().username }),
  );
  return approvalView(state, undefined);
}

function printDecision(view: ApprovalView): void {
  const approvers = view.decision?.approvers.join(", ") ?? "";
  console.log(safe`${view.id}  ${view.status}${view.decision?.code !== null && view.decision?.code !== undefined ? ` (${view.decision.code})` : ""}  tool=${view.tool} tenant=${view.tenant}${approvers !== "" ? `  approved by ${approvers}` : ""}`);
}

function printState(state: ApprovalState): void {
  const approvers = state.decisions.map((d) => `${d.approver}:${d.decision}`).join(", ") || "-";
  console.log(safe`${state.id}  ${state.status}${state.reasonCode !== undefined ? ` (${state.reasonCode})` : ""}  tool=${state.tool} tenant=${state.tenant} decisions=${approvers}`);
}

/** What `dev` says about Slack: how it receives, or how to turn it on. */
function slackLine(cfg: Config, serverUrl: string): string {
  if (cfg.slack === undefined) return "off: add a slack: section and SLACK_BOT_TOKEN / SLACK_SIGNING_SECRET (README \"Slack\")";
  if (cfg.slack.appToken !== undefined) return "on, Socket Mode";
  return `on, Slack posts to ${cfg.server.publicUrl.replace(/\/+$/, "")}/slack/events (this server: ${serverUrl}/slack/events)`;
}

export function buildProgram(): Command {
  const program = new Command("countersign")
    .description("A human and a policy between an AI agent and its sensitive actions.")
    .option("--config <file>", "config file (default: $COUNTERSIGN_CONFIG, then what a running `countersign dev` recorded in .countersign/dev.json, then ./countersign.config.yaml)")
    .showHelpAfterError()
    .exitOverride();

  program
    .command("dev")
    .description("run an embedded Temporal dev server, the worker and the HTTP server on this machine")
    .option("--state-dir <dir>", "where the dev server, generated keys and dev.json persist (default: $COUNTERSIGN_STATE_DIR, then .countersign)")
    .option("--temporal-port <port>", "Temporal gRPC port", "7233")
    .option("--temporal-ui-port <port>", "Temporal Web UI port", "8233")
    .option("--example-tools", "also serve the example MCP tools server (examples/tools-server.ts) as the gateway's payments upstream")
    .action(async (opts: { stateDir?: string; temporalPort: string; temporalUiPort: string; exampleTools?: boolean }, cmd: Command) => {
      const stateDir = resolve(opts.stateDir ?? stateDirFromEnv());
      await ensureDemoIdentities(stateDir);
      const cfg = config(cmd);
      const logger = createLogger(cfg.logLevel);
      const { runDev } = await import("../runtime/processes.js");
      await runDev(cfg, logger, {
        projectRoot,
        stateDir,
        temporalPort: Number(opts.temporalPort),
        temporalUiPort: Number(opts.temporalUiPort),
        exampleTools: opts.exampleTools === true,
        onReady: (info) => {
          console.log(`
countersign dev is ready (${info.readyMs} ms)
  HTTP API      ${info.serverUrl}
  Temporal      ${info.temporalAddress}
  Temporal UI   ${info.temporalUiUrl ?? "(disabled)"}${info.codecEndpoint !== undefined ? `  (decodes through ${info.codecEndpoint})` : ""}
  Slack         ${slackLine(cfg, info.serverUrl)}
  MCP gateway   ${cfg.mcp !== undefined ? `${info.serverUrl}${new URL(cfg.mcp.resource).pathname} (resource ${cfg.mcp.resource})` : "off (no mcp section in the config)"}
  tracing       ${cfg.tracing !== undefined ? `OTLP to ${cfg.tracing.otlpEndpoint} as service ${cfg.tracing.serviceName}` : "off (no tracing section in the config)"}
  tools server  ${info.toolsUrl ?? "(not started: --example-tools)"}
  config        ${cfg.file}

Try an approval (in another terminal):
  node dist/examples/demo-agent.js request            # alice's agent asks to refund a payment
  npx countersign show <approval-id>                  # what an approver sees (card number redacted)
  npx countersign approve <approval-id> --as bob      # bob approves from the terminal
  node dist/examples/demo-agent.js redeem <approval-id>   # the agent gets its grant, the tool server redeems it

Or as an MCP agent through the gateway:
  node dist/examples/agent.js                         # looks a payment up, then asks to refund it and waits
  npx countersign approve <approval-id> --as bob      # the agent resumes with the tool's result
${
  info.codecEndpoint !== undefined && info.temporalUiUrl !== undefined
    ? `
Read approvals decoded in the Temporal UI (README "Reading approvals in the Temporal UI"):
  npx countersign ops-token --as bob                  # an ops token of acme, valid an hour
  open ${info.codecEndpoint}/session and paste it     # your browser keeps it in a cookie for the codec
  in ${info.temporalUiUrl}: Data Encoder settings (top bar) → this browser, endpoint ${info.codecEndpoint},
  tick "Include cross-origin credentials", apply; then open an approval's workflow page
`
    : ""
}`);
        },
      });
    });

  program
    .command("worker")
    .description("run a Temporal worker (workflows and activities)")
    .action(async (_opts: unknown, cmd: Command) => {
      const cfg = config(cmd);
      const { runWorker } = await import("../runtime/processes.js");
      await runWorker(cfg, createLogger(cfg.logLevel));
    });

  program
    .command("server")
    .description("run the HTTP server (agent API, grant redemption, JWKS, health, metrics)")
    .action(async (_opts: unknown, cmd: Command) => {
      const cfg = config(cmd);
      const { runServer } = await import("../runtime/processes.js");
      await runServer(cfg, createLogger(cfg.logLevel));
    });

  program
    .command("pending")
    .description("list open approvals, newest first (or --sort age|deadline)")
    .option("--tenant <tenant>", "only this tenant")
    .option("--tool <tool>", "only approvals of this tool", pendingTool)
    .option("--older-than <duration>", "only approvals started longer ago than this: a whole number of s, m, h or d (10m, 2h)", olderThanMs)
    .addOption(
      new Option("--sort <order>", "newest first, oldest first (age), or soonest deadline first (deadline: reads each row's state, so a worker must run)")
        .choices(PENDING_SORTS)
        .default("newest"),
    )
    .option("--json", "print JSON")
    .option("--limit <n>", `at most this many rows, read newest first; --sort orders these (1-${PENDING_LIMIT_MAX})`, pendingLimit, 100)
    .action(async (opts: { tenant?: string; tool?: string; olderThan?: number; sort: PendingSort; json?: boolean; limit: number }, cmd: Command) => {
      const startedBefore = opts.olderThan !== undefined ? new Date(Date.now() - opts.olderThan) : undefined;
      const rows = await withApprovals(config(cmd), async (a) =>
        orderPending(await a.pending(opts.tenant, opts.limit, { tool: opts.tool, startedBefore }), opts.sort, (id) => a.state(id)),
      );
      // Sorted rows are the newest `limit` ones put in another order: say so when older ones may have been left out.
      if (opts.sort !== "newest" && rows.length === opts.limit) {
        console.error(`countersign: sorted the ${opts.limit} newest matching approvals; more may be open (raise --limit, or narrow with --tenant, --tool, --older-than)`);
      }
      if (opts.json === true) console.log(jsonForTerminal(rows));
      else if (rows.length === 0) console.log("no open approvals");
      else {
        for (const r of rows) {
          const deadline = r.deadline === undefined ? "" : `  deadline ${r.deadline?.toISOString() ?? "-"}`;
          console.log(safe`${r.id}  ${r.status}  ${r.tenant}  ${r.tool}  principal=${r.principal}  agent=${r.agent}  ${r.startedAt.toISOString()}` + deadline);
        }
      }
    });

  program
    .command("show <approval-id>")
    .description("what an approver decides on: the request, its arguments (redacted per the tool catalog) and the decisions so far")
    .action(async (id: string, _opts: unknown, cmd: Command) => {
      const cfg = config(cmd);
      const [request, state] = await withApprovals(cfg, (a) => Promise.all([a.request(id), a.state(id)]));
      const tool = toolEntry(cfg, request.tool);
      // Without the tool's catalog entry its redaction rules are unknown: show nothing rather than too much.
      if (tool === undefined) throw new CountersignError("unknown_tool", `tool ${request.tool} is not in this config's catalog; its arguments stay hidden`);
      // Every agent-supplied string passes through the neutraliser (`safe`): what the approver reads is what will run.
      console.log(safe`${id}  ${state.status}  ${tool.displayName ?? request.tool} (${request.tool})  tenant=${request.tenant}`);
      console.log(safe`requested by ${state.principal} through agent ${state.agent}`);
      console.log(safe`task ${request.intent.taskId}: ${request.intent.summary}`);
      if (request.reason !== undefined) console.log(safe`reason: ${request.reason}`);
      if (request.target !== undefined) console.log(safe`resource: ${request.target.type}::"${request.target.id}"`);
      if (state.routing !== undefined) {
        const approved = approvedBy(state);
        console.log(safe`approvals ${approved.length}/${state.routing.quorum} from [${state.routing.approverGroups.join(", ")}]${approved.length > 0 ? `: ${approved.join(", ")}` : ""}; deadline ${new Date(state.routing.deadlineAtMs).toISOString()}`);
      }
      console.log(`arguments (sha256 ${state.argsSha256}):`);
      console.log(displayJson(redactArguments(request.arguments, tool.redact)));
    });

  for (const verb of ["approve", "deny"] as const) {
    program
      .command(`${verb} <approval-id>`)
      .description(
        `${verb} through the approver endpoint with your own access token (scope countersign:approve): the server authenticates you, ` +
          "checks your entitlement, signs the decision assertion, and the workflow checks it all again",
      )
      .option("--token <token>", "your access token (default: $COUNTERSIGN_TOKEN)")
      .option("--as <user>", "demo only: decide as this user with a token of the demo issuer `countersign dev` generated")
      .option("--break-glass", "decide without an approver token, as --as <user>, when the config enables break-glass (recorded with your OS user)")
      .option("--reason <reason>", verb === "deny" ? "why (required)" : "why")
      .option("--url <url>", "countersign server (default: $COUNTERSIGN_URL, then the running dev's server for its config, then the config's server.publicUrl)")
      .action(async (id: string, opts: { token?: string; as?: string; breakGlass?: boolean; reason?: string; url?: string }, cmd: Command) => {
        const cfg = config(cmd);
        if (verb === "deny" && (opts.reason === undefined || opts.reason.trim() === "")) cmd.error("deny needs --reason", { exitCode: 2 });
        if (opts.breakGlass === true) {
          if (opts.as === undefined) cmd.error("--break-glass needs --as <user>: the directory user whose entitlement the decision uses", { exitCode: 2 });
          if (opts.reason === undefined || opts.reason.trim() === "") cmd.error("--break-glass needs --reason", { exitCode: 2 });
          printDecision(await breakGlass(cfg, { approvalId: id, approver: opts.as, decision: verb, reason: opts.reason }));
          return;
        }
        const token = opts.token ?? cliTokenFromEnv();
        if (token !== undefined && opts.as !== undefined) cmd.error("give --token or --as, not both", { exitCode: 2 });
        if (token === undefined && opts.as === undefined) cmd.error("give your access token with --token or COUNTERSIGN_TOKEN (or --as <user> with the demo issuer)", { exitCode: 2 });
        const bearer = token ?? (await demoApproverToken(cfg, opts.as ?? ""));
        printDecision(await decideOverHttp(opts.url ?? serverUrlFromEnv() ?? devServerUrl(cfg) ?? cfg.server.publicUrl, id, bearer, { decision: verb, ...(opts.reason !== undefined ? { reason: opts.reason } : {}) }));
      });
  }

  program
    .command("ops-token")
    .description("demo only: print a countersign:ops token of the demo issuer for a user, to sign the browser in at <server>/codec/session and read decoded approvals in the Temporal UI")
    .requiredOption("--as <user>", "the directory user (the token reaches that user's tenant only)")
    .action(async (opts: { as: string }, cmd: Command) => {
      const cfg = config(cmd);
      const token = await demoOpsToken(cfg, opts.as);
      // The token alone on stdout (for scripts); how to use it on stderr.
      console.log(token);
      const server = (devServerUrl(cfg) ?? cfg.server.publicUrl).replace(/\/+$/, "");
      console.error(`valid ${DEMO_OPS_TOKEN_TTL_SECONDS / 60} minutes; paste it at ${server}/codec/session (README "Reading approvals in the Temporal UI")`);
    });

  program
    .command("revoke <approval-id>")
    .description("revoke a pending approval or an unredeemed grant")
    .option("--as <user>", "who revokes (recorded)", process.env.USER ?? "operator")
    .option("--reason <reason>", "why")
    .action(async (id: string, opts: { as: string; reason?: string }, cmd: Command) => {
      const state = await withApprovals(config(cmd), (a) => a.revoke(id, { by: opts.as, ...(opts.reason !== undefined ? { reason: opts.reason } : {}) }));
      printState(state);
    });

  program
    .command("history <approval-id>")
    .description("export the workflow history as JSON (Temporal's standard format; payloads stay encrypted)")
    .option("--out <file>", "write to this file instead of standard output")
    .action(async (id: string, opts: { out?: string }, cmd: Command) => {
      const { exportHistory } = await import("../client/history.js");
      const json = await withClient(config(cmd), (client) => exportHistory(client, id));
      if (opts.out !== undefined) await writeFile(opts.out, json);
      else console.log(json);
    });

  program
    .command("replay [files...]")
    .description(
      "replay histories against the current workflow code: progress on a terminal, then a summary (replayed, failed, by workflow type); " +
        "exit 1 when any history fails or none is found",
    )
    .option("--id <approval-id...>", "replay these approvals' histories from Temporal")
    .option("--query <visibility-query>", "replay every workflow execution this visibility query finds (read page by page)")
    .option("--json", "print the summary as one JSON object")
    .action(async (files: string[], opts: { id?: string[]; query?: string; json?: boolean }, cmd: Command) => {
      const cfg = config(cmd);
      const chosen = [files.length > 0, opts.id !== undefined, opts.query !== undefined].filter(Boolean).length;
      if (chosen !== 1) cmd.error("give history files, --id or --query (exactly one)", { exitCode: 2 });
      const converter = await dataConverterOf(cfg);
      const { historyCount, installReplayRuntime, replay } = await import("../client/history.js");
      installReplayRuntime(createLogger(cfg.logLevel));
      const progress = progressLine(process.stderr);
      const tally = new ReplayTally();
      const run = async (source: HistorySource): Promise<void> => {
        // The total is for the progress line only: asked for (from Temporal, for a query) only when there is a line to show.
        const total = process.stderr.isTTY ? await historyCount(source) : undefined;
        progress.show("replay: preparing the workflow code");
        for await (const outcome of replay(source, converter)) {
          tally.add(outcome);
          progress.show(`replay: ${tally.histories}${total !== undefined ? ` of ${total}` : ""} histories, ${tally.failed} failed`);
        }
      };
      try {
        if (files.length > 0) await run({ files });
        else await withClient(cfg, (client) => run(opts.id !== undefined ? { client, ids: opts.id } : { client, query: opts.query ?? "" }));
      } finally {
        progress.clear();
      }
      const summary = tally.toJSON();
      console.log(opts.json === true ? jsonForTerminal(summary) : renderReplaySummary(summary));
      if (summary.failed > 0 || summary.histories === 0) process.exitCode = 1;
    });

  program
    .command("audit <approval-id>")
    .description("the decision trail: who asked, identity checks, policy decisions, approvers, grant, redemption")
    .option("--json", "print the recorded state as JSON (the grant token is left out)")
    .action(async (id: string, opts: { json?: boolean }, cmd: Command) => {
      const state = await withApprovals(config(cmd), (a) => a.state(id));
      if (opts.json === true) {
        const { grant, ...rest } = state;
        console.log(jsonForTerminal({ ...rest, ...(grant !== undefined ? { grant: { jti: grant.jti, audience: grant.audience, expiresAtMs: grant.expiresAtMs } } : {}) }));
      } else console.log((await import("../client/history.js")).renderAudit(state));
    });

  const keys = program.command("keys").description("signing and encryption keys");
  keys
    .command("generate")
    .description("add a new grant-signing key (EdDSA) to the key file; old keys stay for verification")
    .option("--payload", "rotate the payload encryption key instead")
    .action(async (opts: { payload?: boolean }, cmd: Command) => {
      const cfg = config(cmd);
      if (opts.payload === true) {
        const { id } = await rotatePayloadKey(cfg.payloads.keyFile);
        console.log(`new payload key ${id} in ${cfg.payloads.keyFile}`);
      } else {
        const { kid } = await rotateKey(cfg.grants.keyFile);
        console.log(`new grant-signing key ${kid} in ${cfg.grants.keyFile}`);
      }
    });

  return program;
}

export async function main(argv: string[]): Promise<number> {
  devRecord = undefined; // each command reads the record afresh
  try {
    await buildProgram().parseAsync(argv);
    // A command that completed but found problems (replay) sets process.exitCode.
    const code = process.exitCode;
    process.exitCode = undefined;
    return typeof code === "number" ? code : 0;
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode === 0 ? 0 : 2;
    const coded = toCountersignError(err);
    console.error(`countersign: ${coded.code}: ${coded.message}`);
    if (!(err instanceof CountersignError) && process.env.COUNTERSIGN_DEBUG !== undefined) console.error(err);
    return 1;
  }
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main(process.argv).then((code) => process.exit(code), () => process.exit(1));
}
