// The agent client: what an agent that does not speak MCP calls to pause on a sensitive action.
// File a request (idempotent on its requestId, so a retry never files twice), then wait for the
// decision with the long-poll (cancellable with an AbortSignal), errors as typed codes. See README
// "Agents without MCP".
import { randomUUID } from "node:crypto";
import { CountersignError, isErrorCode } from "../errors.js";
import type { ApprovalView } from "../server/view.js";

export type { ApprovalView } from "../server/view.js";

export interface AgentClientOptions {
  /** countersign's base URL. */
  countersignUrl: string;
  /** The principal's OAuth access token (scope `countersign:request`), asked per request so it can be refreshed. */
  accessToken: () => string | Promise<string>;
  /** The agent's workload identity token (a JWT-SVID), asked per request. */
  workloadToken: () => string | Promise<string>;
  /**
   * The `Workload-Proof-Token` for one request, when the workload token names a key: a JWT signed
   * with that key for `{ method, url }` (see README "HTTP API"). Absent: no proof is sent.
   */
  proofToken?: (request: { method: string; url: string; accessToken: string; identityToken: string }) => Promise<string>;
  /** The server's public URL when it differs from `countersignUrl` (what a proof's `aud` names). */
  publicUrl?: string;
  /** Bound on one request other than the long-poll, in ms. Default 10 000. */
  timeoutMs?: number;
  /** Attempts for filing when countersign is unavailable or the answer is lost (same requestId). Default 3. */
  attempts?: number;
  fetch?: typeof fetch;
}

/** What the agent asks to do (the body of `POST /v1/approvals`). */
export interface ApprovalRequestInput {
  /** Idempotency: the same requestId is the same approval. Default: a fresh UUID, kept across this call's retries. */
  requestId?: string;
  tenant: string;
  tool: string;
  arguments: unknown;
  resource?: { type: string; id: string };
  intent: { taskId: string; summary: string };
  reason?: string;
}

export interface AgentClient {
  /**
   * File `request`. Resolves with the approval as countersign answers it: `pending` (202), or decided
   * at once (`approved` with the grant when policy needs no human, `denied`).
   * @throws CountersignError with the server's code (`policy_denied`, `token_expired`, `idempotency_conflict`, …), `unavailable`.
   */
  requestApproval(request: ApprovalRequestInput, opts?: { signal?: AbortSignal }): Promise<ApprovalView>;
  /**
   * Wait until approval `id` is no longer pending: long-polls (60 s at a time) until decided, `opts.timeoutMs`
   * passes (then resolves with the pending view) or `opts.signal` aborts (then rejects with its reason).
   */
  waitForDecision(id: string, opts?: { signal?: AbortSignal; timeoutMs?: number }): Promise<ApprovalView>;
}

const DEFAULT_TIMEOUT_MS = 10_000;
const LONG_POLL_SECONDS = 60;

export function createAgentClient(opts: AgentClientOptions): AgentClient {
  const base = opts.countersignUrl.replace(/\/+$/, "");
  const publicBase = (opts.publicUrl ?? opts.countersignUrl).replace(/\/+$/, "");
  const doFetch = opts.fetch ?? fetch;

  const call = async (method: string, path: string, body: unknown, signal: AbortSignal): Promise<{ status: number; view: ApprovalView }> => {
    const [accessToken, identityToken] = await Promise.all([opts.accessToken(), opts.workloadToken()]);
    const headers: Record<string, string> = { authorization: `Bearer ${accessToken}`, "workload-identity-token": identityToken };
    if (opts.proofToken !== undefined) headers["workload-proof-token"] = await opts.proofToken({ method, url: `${publicBase}${path.split("?")[0] ?? path}`, accessToken, identityToken });
    if (body !== undefined) headers["content-type"] = "application/json";
    let res: Response;
    try {
      res = await doFetch(`${base}${path}`, { method, headers, ...(body !== undefined ? { body: JSON.stringify(body) } : {}), signal });
    } catch (cause) {
      if (signal.aborted) throw signal.reason;
      throw new CountersignError("unavailable", "countersign did not answer", { cause });
    }
    const json = (await res.json().catch(() => undefined)) as (ApprovalView & { error?: { code?: unknown; message?: unknown } }) | undefined;
    if (res.ok && json !== undefined && typeof json.id === "string") return { status: res.status, view: json };
    const code = json?.error?.code;
    const message = typeof json?.error?.message === "string" ? json.error.message : `countersign answered HTTP ${res.status}`;
    throw new CountersignError(isErrorCode(code) ? code : res.status >= 500 ? "unavailable" : "internal", message);
  };

  const timed = (timeoutMs: number, signal?: AbortSignal): AbortSignal => (signal !== undefined ? AbortSignal.any([signal, AbortSignal.timeout(timeoutMs)]) : AbortSignal.timeout(timeoutMs));

  return {
    async requestApproval(request, callOpts = {}) {
      // One requestId for every attempt: a retry after a lost answer finds the approval it filed.
      const body = { ...request, requestId: request.requestId ?? randomUUID() };
      const attempts = Math.max(1, opts.attempts ?? 3);
      for (let attempt = 1; ; attempt++) {
        try {
          return (await call("POST", "/v1/approvals", body, timed(opts.timeoutMs ?? DEFAULT_TIMEOUT_MS, callOpts.signal))).view;
        } catch (err) {
          if (callOpts.signal?.aborted === true || !(err instanceof CountersignError && err.code === "unavailable") || attempt >= attempts) throw err;
          await new Promise((resolve) => setTimeout(resolve, 250 * 2 ** (attempt - 1)));
        }
      }
    },

    async waitForDecision(id, waitOpts = {}) {
      const deadline = waitOpts.timeoutMs !== undefined ? Date.now() + waitOpts.timeoutMs : Number.POSITIVE_INFINITY;
      for (;;) {
        waitOpts.signal?.throwIfAborted();
        const waitSeconds = Math.max(0, Math.min(LONG_POLL_SECONDS, Math.ceil((deadline - Date.now()) / 1000)));
        const { view } = await call("GET", `/v1/approvals/${encodeURIComponent(id)}?wait=${waitSeconds}`, undefined, timed(waitSeconds * 1000 + (opts.timeoutMs ?? DEFAULT_TIMEOUT_MS), waitOpts.signal));
        if (view.status !== "pending" || Date.now() >= deadline) return view;
      }
    },
  };
}
