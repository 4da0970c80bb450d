// Filing an action request: the one path behind `POST /v1/approvals` and the MCP gateway's tools/call.
// Starts the approval workflow, or attaches to the one the same requestId already started.
import { randomUUID } from "node:crypto";
import canonicalize from "canonicalize";
import { checkIntent } from "../auth/intent.js";
import type { VerifiedAgent } from "../auth/verify-agent.js";
import type { VerifiedPrincipal } from "../auth/verify-principal.js";
import { approvalId, type ApprovalsClient } from "../client/approvals.js";
import { toolEntry } from "../config.js";
import { CountersignError } from "../errors.js";
import { argsSha256 } from "../grants/args-hash.js";
import type { Logger } from "../log.js";
import type { Services } from "../runtime/services.js";
import type { ApprovalInput, ApprovalRequest, ApprovalState } from "../../workflows/definitions.js";
import type { Metrics } from "./metrics.js";
import type { CreateApprovalBody } from "./schemas.js";

/** How long filing waits for the first step (identity, policy) before answering "pending", in ms. */
export const FILING_WAIT_MS = 3_000;

export interface FilingDeps {
  services: Services;
  approvals: ApprovalsClient;
  metrics: Metrics;
  logger: Logger;
}

/** Who files: the verified principal and agent, and the agent's identity token (the workflow verifies it again). */
export interface Filer {
  principal: VerifiedPrincipal;
  agent: VerifiedAgent;
  agentToken: string;
}

/** Everything an agent files except the arguments (compared by their hash) and who files it. */
function requestFingerprint(r: Pick<ApprovalRequest, "tenant" | "tool" | "target" | "intent" | "reason">): unknown {
  return { tenant: r.tenant, tool: r.tool, target: r.target ?? null, intent: { taskId: r.intent.taskId, summary: r.intent.summary }, reason: r.reason ?? null };
}

function canonicalText(value: unknown): string {
  return canonicalize(value) ?? "";
}

/**
 * File `body` for `filer`: the tool must be in the catalog (`unknown_tool`) and the intent one the
 * principal authorized (`intent_mismatch`). The same requestId must mean the same request, all of it
 * (`idempotency_conflict` otherwise). Answers with the approval's state once a worker has taken the
 * first step, or after {@link FILING_WAIT_MS} (also while no worker runs: filing is durable once started).
 */
export async function fileApproval(deps: FilingDeps, filer: Filer, body: CreateApprovalBody): Promise<ApprovalState> {
  const { services, approvals } = deps;
  const { principal, agent } = filer;
  const tool = toolEntry(services.config, body.tool);
  if (tool === undefined) throw new CountersignError("unknown_tool", `tool ${body.tool} is not in the catalog`);
  checkIntent(principal, { tenant: body.tenant, tool: body.tool, taskId: body.intent.taskId });
  const hash = argsSha256(body.arguments);
  const id = approvalId({
    tenant: body.tenant,
    agent: agent.spiffeId,
    principalIssuer: principal.issuer,
    principal: principal.subject,
    requestId: body.requestId ?? randomUUID(),
  });
  const input: ApprovalInput = {
    approvalId: id,
    tenant: body.tenant,
    tool: body.tool,
    toolAudience: tool.audience,
    arguments: body.arguments,
    argsSha256: hash,
    ...(body.resource !== undefined ? { target: body.resource } : {}),
    intent: body.intent,
    ...(body.reason !== undefined ? { reason: body.reason } : {}),
    principal: { issuer: principal.issuer, subject: principal.subject },
    agent: { spiffeId: agent.spiffeId, ...(agent.proofKey !== undefined ? { jkt: agent.proofKey.jkt } : {}) },
    agentToken: filer.agentToken,
    defaultDeadlineSeconds: services.config.approvals.deadlineSeconds,
    requestedAtMs: Date.now(),
  };
  // The same requestId must mean the same request, all of it: a changed summary, reason or
  // resource would otherwise be answered with an approval for something else.
  const sameRequest = (filed: ApprovalRequest, existing: ApprovalState): boolean =>
    existing.argsSha256 === hash && existing.agentJkt === input.agent.jkt && canonicalText(requestFingerprint(filed)) === canonicalText(requestFingerprint(input));
  const started = await approvals.start(input, sameRequest);
  let state = started.state;
  if (started.created) deps.metrics.approvalsCreated.inc({ tool: input.tool });
  if (state.status === "verifying") {
    try {
      state = await approvals.waitForStatusChange(id, ["verifying"], FILING_WAIT_MS, state);
    } catch (err) {
      if (!(err instanceof CountersignError && err.code === "unavailable")) throw err;
    }
  }
  deps.logger.info({ approvalId: id, tenant: input.tenant, tool: input.tool, status: state.status, created: started.created }, "approval requested");
  return state;
}
