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
   * Wait until approval `id` is no longer pending: long-polls (60 s at a time, at most one poll a
   * second) until decided, `opts.timeoutMs` passes (then resolves with the pending view) or
   * `opts.signal` aborts (then rejects with its reason, at once). A passing `unavailable` is waited
   * out (with back-off) until the deadline.
   */
  waitForDecision(id: string, opts?: { signal?: AbortSignal; timeoutMs?: number }): Promise<ApprovalView>;
}

const DEFAULT_TIMEOUT_MS = 10_000;
const LONG_POLL_SECONDS = 60;
/** Least time between two long-polls of one wait, in ms. */
const MIN_POLL_INTERVAL_MS = 1_000;
/** Longest back-off between two polls while countersign is unavailable, in ms. */
const MAX_BACKOFF_MS = 5_000;

export function createAgentClient(opts: AgentClientOptions): AgentClient {
  const base = opts.countersignUrl.replace(/\/+$/, "");
  const publicBase = (opts.publicUrl ?? opts.countersignUrl).replace(/\/+$/, "");
  const doFetch = opts.fetch ?? fetch;

  /**
   * One request. `signal` is the caller's (its abort rejects with its reason, at once); `timeoutMs`
   * bounds this request alone (its expiry is `unavailable`, like any lost answer).
   */
  const call = async (method: string, path: string, body: unknown, timeoutMs: number, signal: AbortSignal | undefined): Promise<ApprovalView> => {
    signal?.throwIfAborted();
    const [accessToken, identityToken] = await Promise.all([opts.accessToken(), opts.workloadToken()]);
    const headers: Record<string, string> = { authorization: `Bearer ${accessToken}`, "workload-identity-token": identityToken };
    if (opts.proofToken !== undefined) headers["workload-proof-token"] = await opts.proofToken({ method, url: `${publicBase}${path.split("?")[0] ?? path}`, accessToken, identityToken });
    if (body !== undefined) headers["content-type"] = "application/json";
    const timeout = AbortSignal.timeout(timeoutMs);
    const both = signal !== undefined ? AbortSignal.any([signal, timeout]) : timeout;
    let res: Response;
    let json: (ApprovalView & { error?: { code?: unknown; message?: unknown } }) | undefined;
    try {
      // Never re-sent elsewhere: a redirect would carry the workload's identity (and proof) off countersign.
      res = await doFetch(`${base}${path}`, { method, headers, ...(body !== undefined ? { body: JSON.stringify(body) } : {}), redirect: "error", signal: both });
      json = (await res.json().catch(() => {
        if (signal?.aborted === true) throw signal.reason;
        return undefined;
      })) as typeof json;
    } catch (cause) {
      if (signal?.aborted === true) throw signal.reason;
      throw new CountersignError("unavailable", "countersign did not answer", { cause });
    }
    if (res.ok && json !== undefined && typeof json.id === "string") return json;
    // A success whose body was lost is a lost answer: ask again.
    if (res.ok || res.status >= 500) throw new CountersignError("unavailable", `countersign answered HTTP ${res.status} without an approval`);
    const code = json?.error?.code;
    const message = typeof json?.error?.message === "string" ? json.error.message : `countersign answered HTTP ${res.status}`;
    throw new CountersignError(isErrorCode(code) ? code : "internal", message);
  };

  /** Wait `ms`, or reject with the caller's abort reason as soon as it aborts. */
  const pause = (ms: number, signal: AbortSignal | undefined): Promise<void> =>
    new Promise((resolve, reject) => {
      if (signal?.aborted === true) return reject(signal.reason as Error);
      const onAbort = (): void => {
        clearTimeout(timer);
        reject(signal?.reason as Error);
      };
      const timer = setTimeout(() => {
        signal?.removeEventListener("abort", onAbort);
        resolve();
      }, ms);
      signal?.addEventListener("abort", onAbort, { once: true });
    });

  return {
    async requestApproval(request, callOpts = {}) {
      // One requestId for every attempt: a retry after a lost answer finds the approval it filed.
      const body = { ...request, requestId: request.requestId ?? randomUUID() };
      const attempts = Math.max(1, opts.attempts ?? 3);
      for (let attempt = 1; ; attempt++) {
        try {
          return await call("POST", "/v1/approvals", body, opts.timeoutMs ?? DEFAULT_TIMEOUT_MS, callOpts.signal);
        } catch (err) {
          if (!(err instanceof CountersignError && err.code === "unavailable") || attempt >= attempts) throw err;
          await pause(250 * 2 ** (attempt - 1), callOpts.signal);
        }
      }
    },

    async waitForDecision(id, waitOpts = {}) {
      const timeoutMs = waitOpts.timeoutMs;
      const deadline = timeoutMs !== undefined && Number.isFinite(timeoutMs) ? Date.now() + Math.max(0, timeoutMs) : Number.POSITIVE_INFINITY;
      let failures = 0;
      for (;;) {
        const waitSeconds = Math.max(0, Math.min(LONG_POLL_SECONDS, Math.ceil((deadline - Date.now()) / 1000)));
        const askedAt = Date.now();
        let view: ApprovalView;
        try {
          view = await call("GET", `/v1/approvals/${encodeURIComponent(id)}?wait=${waitSeconds}`, undefined, waitSeconds * 1000 + (opts.timeoutMs ?? DEFAULT_TIMEOUT_MS), waitOpts.signal);
          failures = 0;
        } catch (err) {
          // A long wait outlives a passing outage: back off and ask again until the deadline.
          if (!(err instanceof CountersignError && err.code === "unavailable") || Date.now() >= deadline) throw err;
          failures += 1;
          await pause(Math.min(MAX_BACKOFF_MS, 250 * 2 ** failures, Math.max(0, deadline - Date.now())), waitOpts.signal);
          continue;
        }
        if (view.status !== "pending" || Date.now() >= deadline) return view;
        // An answer that came back at once while still pending (a proxy that does not hold the
        // long-poll): never ask again in a tight loop.
        const heldMs = Date.now() - askedAt;
        if (heldMs < MIN_POLL_INTERVAL_MS) await pause(Math.min(MIN_POLL_INTERVAL_MS - heldMs, Math.max(0, deadline - Date.now())), waitOpts.signal);
      }
    },
  };
}
