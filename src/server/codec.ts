// The Temporal UI's remote codec (README "Reading approvals in the Temporal UI"): `POST /codec/decode`
// and `/codec/encode` as Temporal's codec-server protocol defines them (Payloads as proto3 JSON, the
// namespace in `X-Namespace`), for operations staff holding a `countersign:ops` token of a tenant,
// checked on every call; and `/codec/session`, where a browser signs in with that token, which it then
// keeps in an HttpOnly cookie (the UI sends cookies, not tokens, to a codec on plain http).
import type { Context, Hono, MiddlewareHandler } from "hono";
import { getCookie, setCookie } from "hono/cookie";
import { z } from "zod";
import type { Payload } from "@temporalio/common";
import { OPS_SCOPE } from "../auth/scopes.js";
import type { ApprovalsClient } from "../client/approvals.js";
import { decryptAsStated, encryptForOwner, ENCRYPTED_ENCODING, type PayloadOwner } from "../codec/payload-codec.js";
import { readingView } from "../codec/reading-view.js";
import { AuthError, CountersignError, RequestError } from "../errors.js";
import type { Logger } from "../log.js";
import type { Services } from "../runtime/services.js";
import { bearer, codedBodyLimit, jsonBody, parse } from "./request.js";

/** The cookie `/codec/session` sets: the ops token itself, verified again on every codec call. */
export const CODEC_COOKIE = "countersign_codec";
/** Metadata added to a payload the codec returns still encrypted, naming why (`payload_rejected`, `not_found`). */
export const NOT_DECODED_METADATA = "countersign-not-decoded";
/** Largest codec request body: Temporal's own gRPC message limit, which no batch of one history's payloads exceeds. */
const CODEC_BODY_LIMIT_BYTES = 4 * 1024 * 1024;
/** Most payloads in one codec call. */
const MAX_PAYLOADS = 1000;
/** Request headers the UI sends: its own, plus `Authorization` and `Authorization-Extras` when it passes its access token. */
const ALLOWED_HEADERS = ["content-type", "x-namespace", "authorization", "authorization-extras"];
/** How long a browser may reuse a preflight answer, in s. */
const PREFLIGHT_MAX_AGE_SECONDS = 600;

export interface CodecDeps {
  services: Services;
  approvals: ApprovalsClient;
  logger: Logger;
  /** Origins whose pages may call the codec from a browser: `codec.uiOrigins`, plus the UI `dev` runs. */
  uiOrigins: readonly string[];
}

// Temporal's Payload in proto3 JSON: a third party's shape, parsed loosely and only for the fields used.
const Base64Schema = z.string().regex(/^[A-Za-z0-9+/_-]*={0,2}$/, "base64");
const PayloadJsonSchema = z.looseObject({ metadata: z.record(z.string(), Base64Schema).optional(), data: Base64Schema.optional() });
type PayloadJson = z.infer<typeof PayloadJsonSchema>;
const PayloadsBodySchema = z.looseObject({ payloads: z.array(PayloadJsonSchema).max(MAX_PAYLOADS) });
const SessionFormSchema = z.strictObject({ token: z.string().min(1) });

function fromJson(raw: PayloadJson): Payload {
  const metadata: Record<string, Uint8Array> = {};
  for (const [key, value] of Object.entries(raw.metadata ?? {})) metadata[key] = Buffer.from(value, "base64");
  return { metadata, data: Buffer.from(raw.data ?? "", "base64") };
}

function toJson(payload: Payload): PayloadJson {
  const metadata: Record<string, string> = {};
  for (const [key, value] of Object.entries(payload.metadata ?? {})) if (value !== null && value !== undefined) metadata[key] = Buffer.from(value).toString("base64");
  return { metadata, data: Buffer.from(payload.data ?? new Uint8Array()).toString("base64") };
}

function encodingOf(raw: PayloadJson): string | undefined {
  const value = raw.metadata?.encoding;
  return value === undefined ? undefined : Buffer.from(value, "base64").toString("utf8");
}

/** An operations user whose token verified: the directory user and the one tenant their codec calls reach. */
interface OpsCaller {
  subject: string;
  tenant: string;
  /** Token expiry, epoch seconds. */
  expiresAt: number;
}

/** Mount the codec routes on `app` (see the file comment). */
export function mountCodec(app: Hono, deps: CodecDeps): void {
  const { services, approvals, logger } = deps;
  const keys = services.payloadKeys;
  const uiOrigins = new Set(deps.uiOrigins);

  app.use("/codec/*", codedBodyLimit(CODEC_BODY_LIMIT_BYTES));

  /** Verify an ops token: a trusted issuer's, with `countersign:ops`, of a directory user in a tenant. */
  const opsCallerOf = async (token: string): Promise<OpsCaller> => {
    const principal = await services.verifyPrincipal(token, { requiredScopes: [OPS_SCOPE] });
    // The scope is bound to the user's tenant, as for revocation: no tenant, no codec.
    const tenant = services.policy.user(principal.subject)?.tenant;
    if (tenant === undefined) throw new AuthError("forbidden", "the ops token's user is in no tenant of the directory");
    return { subject: principal.subject, tenant, expiresAt: principal.expiresAt };
  };

  /** The caller of a codec call: `Authorization: Bearer` when sent, else the session cookie. */
  const opsCaller = async (c: Context): Promise<OpsCaller> => {
    if (c.req.header("authorization") !== undefined) return opsCallerOf(bearer(c));
    const token = getCookie(c, CODEC_COOKIE);
    if (token === undefined || token === "") throw new AuthError("token_missing", "a countersign:ops token is required: Authorization: Bearer <token>, or sign in at /codec/session");
    return opsCallerOf(token);
  };

  /** The codec decodes this server's namespace only: the tenant of an approval is looked up there. */
  const requireNamespace = (c: Context): void => {
    const namespace = c.req.header("x-namespace");
    if (namespace === undefined || namespace === "") throw new RequestError("invalid_request", "X-Namespace header is required");
    if (namespace !== approvals.namespace) throw new AuthError("forbidden", `this codec serves namespace ${approvals.namespace} only`);
  };

  // CORS for the UI's browser: exactly the configured origins, POST with the UI's headers, with
  // credentials (the session cookie). Any other origin is refused before anything is read.
  const cors: MiddlewareHandler = async (c, next) => {
    const origin = c.req.header("origin");
    c.header("Vary", "Origin", { append: true });
    if (origin !== undefined && !uiOrigins.has(origin)) throw new AuthError("forbidden", "this origin may not call the codec (config codec.uiOrigins)");
    if (c.req.method === "OPTIONS") {
      if (origin === undefined) throw new RequestError("invalid_request", "a preflight request names its Origin");
      const method = c.req.header("access-control-request-method");
      const requested = (c.req.header("access-control-request-headers") ?? "").split(",").map((h) => h.trim().toLowerCase()).filter((h) => h !== "");
      if (method !== "POST" || requested.some((h) => !ALLOWED_HEADERS.includes(h))) throw new AuthError("forbidden", "the codec accepts POST with Content-Type, X-Namespace and Authorization only");
      return c.body(null, 204, {
        "Access-Control-Allow-Origin": origin,
        "Access-Control-Allow-Methods": "POST",
        "Access-Control-Allow-Headers": ALLOWED_HEADERS.join(", "),
        "Access-Control-Allow-Credentials": "true",
        "Access-Control-Max-Age": String(PREFLIGHT_MAX_AGE_SECONDS),
      });
    }
    await next();
    // Also on refusals, so the UI reads the status (and shows that decoding failed) instead of a network error.
    if (origin !== undefined) {
      c.res.headers.set("Access-Control-Allow-Origin", origin);
      c.res.headers.set("Access-Control-Allow-Credentials", "true");
    }
  };
  app.use("/codec/decode", cors);
  app.use("/codec/encode", cors);

  app.post("/codec/decode", async (c) => {
    const caller = await opsCaller(c);
    requireNamespace(c);
    const body = await jsonBody(c, PayloadsBodySchema);
    // One lookup per approval and call: nothing is cached across calls, callers or tenants.
    const tenantsById = new Map<string, Promise<string[]>>();
    const isCallers = async (owner: PayloadOwner): Promise<boolean> => {
      if (owner.workflowId === "") return owner.slot === `codec:${caller.tenant}`;
      let tenants = tenantsById.get(owner.workflowId);
      if (tenants === undefined) {
        tenants = approvals.tenantsOf(owner.workflowId);
        tenantsById.set(owner.workflowId, tenants);
      }
      const found = await tenants;
      return found.length > 0 && found.every((tenant) => tenant === caller.tenant);
    };
    const refused: Record<string, number> = {};
    const notDecoded = (raw: PayloadJson, code: "payload_rejected" | "not_found"): PayloadJson => {
      refused[code] = (refused[code] ?? 0) + 1;
      return { ...raw, metadata: { ...raw.metadata, [NOT_DECODED_METADATA]: Buffer.from(code).toString("base64") } };
    };
    const decodeOne = async (raw: PayloadJson): Promise<PayloadJson> => {
      // Not countersign's: already in the clear in the history, so nothing to decode or to hide.
      if (encodingOf(raw) !== ENCRYPTED_ENCODING) return raw;
      try {
        const { payload, owner } = decryptAsStated(keys, fromJson(raw));
        // Another tenant's approval reads like a missing one, as everywhere else.
        if (!(await isCallers(owner))) return notDecoded(raw, "not_found");
        return toJson(readingView(payload, { redactFor: (tool) => services.config.tools[tool]?.redact }));
      } catch (err) {
        if (err instanceof CountersignError && err.code === "payload_rejected") return notDecoded(raw, "payload_rejected");
        throw err;
      }
    };
    const payloads = await Promise.all(body.payloads.map(decodeOne));
    logger.info({ subject: caller.subject, tenant: caller.tenant, payloads: payloads.length, notDecoded: refused }, "codec decode");
    return c.json({ payloads });
  });

  app.post("/codec/encode", async (c) => {
    const caller = await opsCaller(c);
    requireNamespace(c);
    const body = await jsonBody(c, PayloadsBodySchema);
    // For the caller's tenant and no approval: the codec reads it back, no worker accepts it.
    const owner = { workflowId: "", slot: `codec:${caller.tenant}` };
    const payloads = body.payloads.map((raw) => toJson(encryptForOwner(keys, fromJson(raw), owner)));
    logger.info({ subject: caller.subject, tenant: caller.tenant, payloads: payloads.length }, "codec encode");
    return c.json({ payloads });
  });

  const codecUrl = (c: Context): string => `${new URL(c.req.url).origin}/codec`;
  const pageHeaders = {
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    // Not no-referrer: with it the browser sends `Origin: null` on the form post, which must name this page.
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
  };

  app.get("/codec/session", async (c) => {
    let signedIn: OpsCaller | undefined;
    const token = getCookie(c, CODEC_COOKIE);
    if (token !== undefined && token !== "") {
      try {
        signedIn = await opsCallerOf(token);
      } catch {
        // Expired or no longer trusted: the page offers to sign in again.
      }
    }
    return c.html(sessionPage(codecUrl(c), signedIn), 200, pageHeaders);
  });

  app.post("/codec/session", async (c) => {
    // A form posted from another site would sign this browser in as someone else: only our own page may.
    const origin = c.req.header("origin");
    const own = [new URL(c.req.url).origin, new URL(services.config.server.publicUrl).origin];
    if (origin !== undefined && !own.includes(origin)) throw new AuthError("forbidden", "sign in from this server's own /codec/session page");
    const type = c.req.header("content-type") ?? "";
    if (!/^application\/x-www-form-urlencoded\s*(;|$)/i.test(type)) throw new RequestError("unsupported_media_type", "Content-Type must be application/x-www-form-urlencoded");
    const form = parse(SessionFormSchema, Object.fromEntries(new URLSearchParams(await c.req.text())), "form");
    const caller = await opsCallerOf(form.token.trim());
    setCookie(c, CODEC_COOKIE, form.token.trim(), {
      path: "/codec",
      httpOnly: true,
      sameSite: "Strict",
      secure: new URL(services.config.server.publicUrl).protocol === "https:" || new URL(c.req.url).protocol === "https:",
      maxAge: Math.max(0, Math.floor(caller.expiresAt - Date.now() / 1000)),
    });
    logger.info({ subject: caller.subject, tenant: caller.tenant }, "codec session started");
    return c.redirect("/codec/session", 303);
  });
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (ch) => `&#${ch.charCodeAt(0)};`);
}

/** The sign-in page: who is signed in (and until when), a form for an ops token, and what to set in the UI. */
function sessionPage(codecUrl: string, signedIn: OpsCaller | undefined): string {
  const status =
    signedIn === undefined
      ? "<p>Not signed in.</p>"
      : `<p><strong>Signed in as ${escapeHtml(signedIn.subject)}</strong> (tenant ${escapeHtml(signedIn.tenant)}) until ${escapeHtml(new Date(signedIn.expiresAt * 1000).toISOString())}.</p>`;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>countersign codec sign-in</title>
<style>body{font-family:system-ui,sans-serif;max-width:44rem;margin:2rem auto;padding:0 1rem}input[type=password]{width:100%;font-family:monospace}code{background:#eee;padding:0 .2em}</style></head>
<body><h1>countersign codec</h1>
${status}
<form method="post" action="/codec/session">
<p><label>Access token with scope <code>countersign:ops</code><br><input type="password" name="token" autocomplete="off" required></label></p>
<p><button type="submit">Sign in</button></p>
</form>
<p>Demo: <code>npx countersign ops-token --as &lt;user&gt;</code> prints one. The token stays in an HttpOnly cookie of this server until it expires.</p>
<p>In the Temporal UI, open the Data Encoder settings, use the browser setting with the endpoint <code>${escapeHtml(codecUrl)}</code>, and tick <em>Include cross-origin credentials</em>.</p>
</body></html>`;
}
