// What the codec server hands the Temporal UI for a decrypted payload: the JSON the history holds,
// with every token masked and every string neutralised (README "Reading approvals in the Temporal UI").
// Decoded payloads are for reading decisions, not for lifting credentials.
import type { Payload } from "@temporalio/common";
import { redactArguments } from "../client/redact.js";
import { CountersignError } from "../errors.js";
import type { Json } from "../../workflows/definitions.js";
import { neutraliseLines } from "../text/neutralise.js";

const utf8 = new TextEncoder();
const fromUtf8 = new TextDecoder("utf-8", { fatal: true });

// Compact JWS (three segments; a detached payload or an unsigned token leaves one empty) or JWE (five;
// direct key agreement leaves the key empty). Which of them is a token is decided by the first
// segment: a base64url JSON header naming an `alg`.
const COMPACT_TOKEN = /[A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]*){2}(?:(?:\.[A-Za-z0-9_-]*){2})?/g;
const SAFE_TYP = /^[A-Za-z0-9.+_-]{1,64}$/;
/** No string is cut: the UI shows the whole recorded value. */
const NO_CUT = Number.MAX_SAFE_INTEGER;

/** The JOSE header of a compact token, or undefined when `segment` is not one. */
function joseHeader(segment: string): { alg: string; typ?: unknown } | undefined {
  try {
    const header = JSON.parse(fromUtf8.decode(Buffer.from(segment, "base64url"))) as unknown;
    if (header !== null && typeof header === "object" && typeof (header as { alg?: unknown }).alg === "string") return header as { alg: string; typ?: unknown };
  } catch {
    // not base64url JSON: not a token
  }
  return undefined;
}

/**
 * `text` with every JWT, JWS or JWE in it (grants, decision assertions, workload identity and access
 * tokens) replaced by `[masked token: <typ>]`, the header's `typ` when it is a plain media type name,
 * else `JWT`. Other text is unchanged.
 */
export function maskTokens(text: string): string {
  return text.replace(COMPACT_TOKEN, (candidate) => {
    const header = joseHeader(candidate.slice(0, candidate.indexOf(".")));
    if (header === undefined) return candidate;
    return `[masked token: ${typeof header.typ === "string" && SAFE_TYP.test(header.typ) ? header.typ : "JWT"}]`;
  });
}

function readable(value: unknown): unknown {
  if (typeof value === "string") return neutraliseLines(maskTokens(value), { maxLength: NO_CUT });
  if (Array.isArray(value)) return value.map((item) => readable(item));
  if (value !== null && typeof value === "object") {
    const out: Record<string, unknown> = {};
    for (const [key, item] of Object.entries(value)) {
      const shown = neutraliseLines(maskTokens(key), { maxLength: NO_CUT });
      // Two keys that read alike would show one value and hide the other: refuse rather than choose.
      if (Object.hasOwn(out, shown)) throw new CountersignError("payload_rejected", "payload has two keys that read alike", { detail: { reason: "key_collision" } });
      out[shown] = readable(item);
    }
    return out;
  }
  return value;
}

/** What a tool's arguments show in place of their values when the tool is not in the catalog. */
export const UNLISTED_ARGUMENTS = "[not shown: the tool is not in the catalog]";

/**
 * `value` with the tool catalog's `redact` rules applied wherever it holds a tool call (an object with
 * a string `tool` and `arguments`: the approval's input, the request query's answer): the fields the
 * catalog redacts for that tool read `[redacted]`, and a tool not in the catalog shows no arguments.
 */
function withArgumentsRedacted(value: unknown, redactFor: (tool: string) => readonly string[] | undefined): unknown {
  if (Array.isArray(value)) return value.map((item) => withArgumentsRedacted(item, redactFor));
  if (value === null || typeof value !== "object") return value;
  const object = value as Record<string, unknown>;
  const call = typeof object.tool === "string" && Object.hasOwn(object, "arguments") ? object.tool : undefined;
  return Object.fromEntries(
    Object.entries(object).map(([key, item]) => {
      if (call !== undefined && key === "arguments") {
        const rules = redactFor(call);
        return [key, rules === undefined ? UNLISTED_ARGUMENTS : redactArguments(item as Json, rules)];
      }
      return [key, withArgumentsRedacted(item, redactFor)];
    }),
  );
}

/**
 * The payload as a person may read it: a `json/plain` payload's JSON with every token masked
 * ({@link maskTokens}) and every string and key passed through the neutraliser (control, format and
 * bidi characters become visible `\u{XXXX}`; line breaks stay; nothing is cut). Metadata is kept. A
 * `binary/null` payload (no value) is returned as it is. With `redactFor` (the tool catalog's `redact`
 * rules by tool; undefined for a tool not in the catalog), tool arguments are redacted as everywhere
 * else a person reads them.
 * @throws CountersignError `payload_rejected` for any other encoding, data that is not UTF-8 JSON,
 * or two keys of one object that read alike once neutralised: what cannot be masked is not shown.
 */
export function readingView(payload: Payload, opts: { redactFor?: (tool: string) => readonly string[] | undefined } = {}): Payload {
  const encodingBytes = payload.metadata?.encoding;
  const encoding = encodingBytes === undefined || encodingBytes === null ? undefined : Buffer.from(encodingBytes).toString("utf8");
  if (encoding === "binary/null") return payload;
  if (encoding !== "json/plain") throw new CountersignError("payload_rejected", `payload encoding ${JSON.stringify(encoding ?? "")} cannot be shown with its tokens masked`, { detail: { reason: "encoding" } });
  let value: unknown;
  try {
    value = JSON.parse(fromUtf8.decode(payload.data ?? new Uint8Array()));
  } catch (cause) {
    throw new CountersignError("payload_rejected", "json/plain payload is not UTF-8 JSON", { cause, detail: { reason: "not_json" } });
  }
  const shown = opts.redactFor !== undefined ? withArgumentsRedacted(value, opts.redactFor) : value;
  return { ...payload, data: utf8.encode(JSON.stringify(readable(shown))) };
}
