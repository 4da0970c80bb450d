// The args_sha256 claim: a grant is bound to the exact arguments of one call by hashing their
// RFC 8785 (JCS) canonical JSON, so key order and number spelling cannot change the binding.
import { createHash } from "node:crypto";
import canonicalize from "canonicalize";
import { RequestError } from "../errors.js";

/** base64url (no padding) of the SHA-256 of `text` encoded as UTF-8. */
export function sha256Base64url(text: string): string {
  return createHash("sha256").update(text, "utf8").digest("base64url");
}

/**
 * The grant's `args_sha256`: base64url (no padding) SHA-256 of the RFC 8785 canonical JSON of
 * `args`. Only plain JSON data is accepted, so two different inputs never share a canonical text.
 *
 * @throws RequestError `invalid_request` when `args` is not JSON data: `undefined` (anywhere,
 * including as an object member or array element), functions, symbols, BigInt, NaN/Infinity,
 * lone surrogates, cycles, sparse arrays, or objects other than plain objects and arrays (Date,
 * Map, class instances…). The message names the reason only, never a key or value.
 */
export function argsSha256(args: unknown): string {
  let text: string | undefined;
  try {
    assertJsonData(args, new Set());
    text = canonicalize(args);
  } catch (cause) {
    if (cause instanceof RequestError) throw cause;
    // canonicalize rejects lone surrogates; a RangeError here is nesting deeper than the stack.
    const reason = cause instanceof RangeError ? "nested too deeply" : "a string is not well-formed Unicode";
    throw notJson(reason);
  }
  if (text === undefined) throw notJson("not JSON data");
  return sha256Base64url(text);
}

function notJson(reason: string): RequestError {
  return new RequestError("invalid_request", `arguments are not valid JSON data: ${reason}`, { detail: { reason } });
}

// Walks the value before canonicalize sees it: canonicalize (like JSON.stringify) silently drops
// or mangles undefined, functions and toJSON objects, which would let distinct inputs collide.
function assertJsonData(value: unknown, ancestors: Set<object>): void {
  switch (typeof value) {
    case "string":
    case "boolean":
      return;
    case "number":
      if (!Number.isFinite(value)) throw notJson("numbers must be finite");
      return;
    case "object":
      break;
    default:
      throw notJson(`${typeof value} is not JSON`);
  }
  if (value === null) return;
  if (ancestors.has(value)) throw notJson("cyclic reference");
  ancestors.add(value);
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      if (!(i in value)) throw notJson("sparse array");
      assertJsonData(value[i], ancestors);
    }
  } else {
    const proto: unknown = Object.getPrototypeOf(value);
    if (proto !== Object.prototype && proto !== null) throw notJson("only plain objects and arrays are JSON");
    if (Object.getOwnPropertySymbols(value).length > 0) throw notJson("symbol keys are not JSON");
    for (const member of Object.values(value)) assertJsonData(member, ancestors);
  }
  ancestors.delete(value);
}
