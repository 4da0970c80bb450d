// Shared by the benchmarks: one full approval through countersign's HTTP API — the agent files, an
// approver decides at the approver endpoint, the agent reads its grant, the tool server redeems it —
// and the bare Temporal equivalent: start (one local activity), an Update running one activity, a
// bare Update, a finishing Update. Credentials are minted once a minute, not per request, so that
// the benchmark's own signing does not weigh on the process serving the API.
import { randomUUID } from "node:crypto";
import type { Client, WorkflowHandle } from "@temporalio/client";
import { refundRequest, type TestStack } from "../test/support/stack.js";
import { bareFinish, bareState, bareUpdate, bareUpdateWithActivity, bareWorkflow } from "./bare/workflow.js";

/** Tokens live 300 s (test/support/tokens.ts): re-minted well before. */
const REMINT_AFTER_MS = 60_000;

/** A step of a cycle that did not answer as it should, with the HTTP status and error code. */
export class CycleError extends Error {
  constructor(
    readonly step: "file" | "decide" | "read grant" | "redeem",
    readonly status: number,
    readonly code: string,
  ) {
    super(`${step}: HTTP ${status} ${code}`);
  }
}

/** The headers of alice's agent, of the approver bob and of the payments tool server, re-minted once a minute. */
export class Credentials {
  private readonly minted = new Map<string, { at: number; headers: Promise<Record<string, string>> }>();

  constructor(private readonly stack: TestStack) {}

  agent(): Promise<Record<string, string>> {
    return this.cached("agent", () => this.stack.agentHeaders("alice"));
  }

  approver(): Promise<Record<string, string>> {
    return this.cached("approver", async () => ({ authorization: `Bearer ${await this.stack.ids.principalToken("bob", { scope: "countersign:approve" })}` }));
  }

  tool(): Promise<Record<string, string>> {
    return this.cached("tool", () => this.stack.toolHeaders());
  }

  private cached(name: string, mint: () => Promise<Record<string, string>>): Promise<Record<string, string>> {
    const now = Date.now();
    const held = this.minted.get(name);
    if (held !== undefined && now - held.at < REMINT_AFTER_MS) return held.headers;
    const headers = mint();
    this.minted.set(name, { at: now, headers });
    return headers;
  }
}

function errorCode(body: unknown): string {
  const code = (body as { error?: { code?: unknown } } | undefined)?.error?.code;
  return typeof code === "string" ? code : "-";
}

/** File a refund request as alice's agent; resolves with its id once it waits for approvers (202). */
export async function fileRefund(stack: TestStack, credentials: Credentials): Promise<{ id: string; arguments: unknown }> {
  const body = refundRequest();
  const res = await stack.http("POST", "/v1/approvals", await credentials.agent(), body);
  if (res.status !== 202) throw new CycleError("file", res.status, errorCode(res.body));
  return { id: (res.body as { id: string }).id, arguments: body.arguments };
}

/** bob approves at the approver endpoint (token check, entitlement, signed assertion, Update). */
export async function approve(stack: TestStack, credentials: Credentials, id: string): Promise<void> {
  const res = await stack.http("POST", `/v1/approvals/${id}/decisions`, await credentials.approver(), { decision: "approve" });
  if (res.status !== 200 || (res.body as { status?: unknown }).status !== "approved") throw new CycleError("decide", res.status, errorCode(res.body));
}

/** The agent reads its grant (GET /v1/approvals/:id), and the tool server redeems it. */
export async function redeem(stack: TestStack, credentials: Credentials, approval: { id: string; arguments: unknown }): Promise<void> {
  const read = await stack.http("GET", `/v1/approvals/${approval.id}`, await credentials.agent());
  const grant = (read.body as { grant?: unknown }).grant;
  if (read.status !== 200 || typeof grant !== "string") throw new CycleError("read grant", read.status, errorCode(read.body));
  const res = await stack.http("POST", "/v1/grants/redeem", await credentials.tool(), { grant, tool: "payments.refund", arguments: approval.arguments });
  if (res.status !== 200) throw new CycleError("redeem", res.status, errorCode(res.body));
}

/** One full approval: file, approve, read the grant, redeem. */
export async function countersignCycle(stack: TestStack, credentials: Credentials): Promise<void> {
  const approval = await fileRefund(stack, credentials);
  await approve(stack, credentials, approval.id);
  await redeem(stack, credentials, approval);
}

/** Start a bare workflow and wait (querying, as bench/baseline.ts does) until its local activity has run. */
export async function startPendingBare(client: Client, taskQueue: string): Promise<WorkflowHandle<typeof bareWorkflow>> {
  const handle = await client.workflow.start(bareWorkflow, { taskQueue, workflowId: `bare-${randomUUID()}` });
  while ((await handle.query(bareState)) !== "pending") await new Promise((r) => setTimeout(r, 1));
  return handle;
}

/** The bare equivalent of one full approval: start, an Update running an activity, a bare Update, finish. */
export async function bareCycle(client: Client, taskQueue: string): Promise<void> {
  const handle = await client.workflow.start(bareWorkflow, { taskQueue, workflowId: `bare-${randomUUID()}` });
  await handle.executeUpdate(bareUpdateWithActivity);
  await handle.executeUpdate(bareUpdate);
  await handle.executeUpdate(bareFinish);
}
