// What routes read from a request, the same way everywhere: the bearer token and JSON bodies
// (untrusted input, parsed strictly and then with zod).
import type { Context, MiddlewareHandler } from "hono";
import { bodyLimit } from "hono/body-limit";
import type { z } from "zod";
import { AuthError, RequestError } from "../errors.js";
import { parseStrictJson } from "./strict-json.js";

/**
 * The access token of `Authorization: Bearer <token>`. The scheme is matched in any case (RFC 9110
 * §11.1); then exactly one space and one token68 (RFC 9110 §11.2). Throws AuthError `token_missing`
 * or `token_malformed`.
 */
export function bearer(c: Context): string {
  const header = c.req.header("authorization");
  if (header === undefined || header === "") throw new AuthError("token_missing", "Authorization: Bearer <access token> is required");
  const match = /^bearer ([A-Za-z0-9._~+/-]+=*)$/i.exec(header);
  if (match?.[1] === undefined) throw new AuthError("token_malformed", "Authorization header must be 'Bearer <token>'");
  return match[1];
}

/**
 * The JSON body, parsed strictly (see parseStrictJson) and then with `schema`. Throws RequestError
 * `unsupported_media_type` (not `application/json`) or `invalid_request` (naming paths, never values).
 */
export async function jsonBody<S extends z.ZodType>(c: Context, schema: S): Promise<z.infer<S>> {
  const type = c.req.header("content-type") ?? "";
  if (!/^application\/json\s*(;|$)/i.test(type)) throw new RequestError("unsupported_media_type", "Content-Type must be application/json");
  // One meaning for every body: strict UTF-8, no duplicate member names, no lone surrogates, safe
  // integers, bounded depth, no __proto__ (zod would drop it silently). See parseStrictJson.
  const raw = parseStrictJson(new Uint8Array(await c.req.arrayBuffer()));
  return parse(schema, raw, "body");
}

/** `raw` parsed with `schema`; RequestError `invalid_request` names the paths that failed, never the values. */
export function parse<S extends z.ZodType>(schema: S, raw: unknown, where: string): z.infer<S> {
  const result = schema.safeParse(raw);
  if (!result.success) {
    // Paths and messages only: never echo the values themselves.
    const issues = result.error.issues.map((i) => `${[where, ...i.path].join(".")}: ${i.message}`).join("; ");
    throw new RequestError("invalid_request", issues);
  }
  return result.data;
}

/**
 * Refuse a body over `maxBytes` with `413 payload_too_large` before a route reads it. The rest of the
 * body is never read, so the connection cannot carry another request: the answer says
 * `Connection: close`, or a keep-alive client sends its next request into a socket about to close.
 */
export function codedBodyLimit(maxBytes: number): MiddlewareHandler {
  return bodyLimit({
    maxSize: maxBytes,
    onError: (c) => {
      c.header("Connection", "close");
      throw new RequestError("payload_too_large", `body larger than ${maxBytes} bytes`);
    },
  });
}
