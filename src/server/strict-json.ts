// Parses HTTP bodies so that a body has exactly one meaning: the approver, the argument hash and the
// tool server's parser cannot disagree. Refuses what JSON.parse would quietly reinterpret (invalid
// UTF-8, duplicate member names, lone surrogates, unsafe integers) and nesting deep enough to
// exhaust the stack. The scanner is iterative (an explicit stack of open containers), so no body
// and no `maxDepth` can overflow the call stack.
import { RequestError } from "../errors.js";

/** Deepest nesting of objects and arrays a body may have by default; a scalar is depth 0. */
export const MAX_JSON_DEPTH = 64;

/** Why a body was refused; goes to `detail.reason` of the `invalid_request` error. */
export type StrictJsonReason =
  | "invalid_utf8"
  | "byte_order_mark"
  | "syntax"
  | "too_deep"
  | "duplicate_member"
  | "forbidden_member"
  | "ill_formed_string"
  | "unsafe_number";

const WHITESPACE = new Set([" ", "\t", "\n", "\r"]);
const ESCAPABLE = new Set(['"', "\\", "/", "b", "f", "n", "r", "t"]);
const LITERALS = ["true", "false", "null"];
// Digits are a plain loop; the optional parts are fixed, so this cannot backtrack far.
const NUMBER = /-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?/y;
const HEX4 = /^[0-9a-fA-F]{4}$/;
// With the u flag a well-formed pair is one code point, so only a lone surrogate matches.
// (String.prototype.isWellFormed says the same but is not in this project's ES2023 lib.)
const LONE_SURROGATE = /\p{Cs}/u;

const MESSAGES: Record<StrictJsonReason, string> = {
  invalid_utf8: "invalid UTF-8",
  byte_order_mark: "byte order mark",
  syntax: "syntax error",
  too_deep: "nesting too deep",
  duplicate_member: "duplicate member name",
  forbidden_member: "forbidden member name __proto__",
  ill_formed_string: "string with a lone surrogate",
  unsafe_number: "integer outside ±(2^53−1) or number out of range",
};

// The message names the reason and a byte offset, never a key or value: either may be a secret.
function refuse(reason: StrictJsonReason, text: string, at: number): never {
  const offset = new TextEncoder().encode(text.slice(0, at)).length;
  throw new RequestError("invalid_request", `body is not valid JSON: ${MESSAGES[reason]} (at byte ${offset})`, { detail: { reason, offset } });
}

interface Frame {
  /** Member names seen so far; `undefined` for an array. */
  names: Set<string> | undefined;
}

class Scanner {
  private at = 0;
  private readonly stack: Frame[] = [];

  constructor(
    private readonly text: string,
    private readonly maxDepth: number,
  ) {}

  /** Validate the whole text; throws `invalid_request` at the first problem. */
  run(): void {
    let expectValue = true;
    for (;;) {
      this.skipWhitespace();
      if (expectValue) {
        expectValue = this.value();
        continue;
      }
      const frame = this.stack.at(-1);
      if (frame === undefined) break;
      const char = this.text[this.at];
      if (char === ",") {
        this.at += 1;
        if (frame.names !== undefined) this.memberName(frame.names);
        expectValue = true;
      } else if (char === (frame.names === undefined ? "]" : "}")) {
        this.at += 1;
        this.stack.pop();
      } else {
        this.fail("syntax");
      }
    }
    if (this.at !== this.text.length) this.fail("syntax");
  }

  /**
   * Consume one value. A non-empty object or array is only opened here (its first member name
   * included) and `true` is returned: its first value comes next. `run` closes it.
   */
  private value(): boolean {
    const char = this.text[this.at];
    if (char === "{" || char === "[") {
      if (this.stack.length >= this.maxDepth) this.fail("too_deep");
      const close = char === "{" ? "}" : "]";
      const frame: Frame = { names: char === "{" ? new Set() : undefined };
      this.at += 1;
      this.skipWhitespace();
      if (this.text[this.at] === close) {
        this.at += 1;
        return false;
      }
      this.stack.push(frame);
      if (frame.names !== undefined) this.memberName(frame.names);
      return true;
    }
    if (char === '"') {
      this.string();
    } else if (char === "-" || (char !== undefined && char >= "0" && char <= "9")) {
      this.number();
    } else {
      const literal = LITERALS.find((word) => this.text.startsWith(word, this.at));
      if (literal === undefined) this.fail("syntax");
      this.at += literal.length;
    }
    return false;
  }

  private memberName(names: Set<string>): void {
    this.skipWhitespace();
    const start = this.at;
    if (this.text[this.at] !== '"') this.fail("syntax");
    const name = this.string();
    if (name === "__proto__") this.fail("forbidden_member", start);
    if (names.has(name)) this.fail("duplicate_member", start);
    names.add(name);
    this.skipWhitespace();
    if (this.text[this.at] !== ":") this.fail("syntax");
    this.at += 1;
  }

  /** Consume a string token at `this.at` and return its unescaped value. */
  private string(): string {
    const start = this.at;
    let escaped = false;
    this.at += 1;
    for (;;) {
      const char = this.text[this.at];
      if (char === undefined || char < " ") this.fail("syntax");
      if (char === '"') break;
      if (char === "\\") {
        escaped = true;
        const next = this.text[this.at + 1];
        if (next === "u" && HEX4.test(this.text.slice(this.at + 2, this.at + 6))) this.at += 6;
        else if (next !== undefined && ESCAPABLE.has(next)) this.at += 2;
        else this.fail("syntax");
      } else {
        this.at += 1;
      }
    }
    this.at += 1;
    // The token is valid JSON by now, so JSON.parse unescapes it exactly. Decoded UTF-8 holds no
    // lone surrogate, so only an escape can introduce one.
    const token = this.text.slice(start, this.at);
    if (!escaped) return token.slice(1, -1);
    const value = JSON.parse(token) as string;
    if (LONE_SURROGATE.test(value)) this.fail("ill_formed_string", start);
    return value;
  }

  private number(): void {
    NUMBER.lastIndex = this.at;
    const match = NUMBER.exec(this.text);
    if (match === null) this.fail("syntax");
    const value = Number(match[0]);
    // Beyond ±(2^53−1) distinct integers share one double, and ±Infinity has no JSON form at all.
    if (!Number.isFinite(value) || (Number.isInteger(value) && !Number.isSafeInteger(value))) this.fail("unsafe_number");
    this.at += match[0].length;
  }

  private skipWhitespace(): void {
    while (WHITESPACE.has(this.text[this.at] ?? "")) this.at += 1;
  }

  private fail(reason: StrictJsonReason, at = this.at): never {
    refuse(reason, this.text, at);
  }
}

/**
 * Parse an HTTP body as JSON with exactly one meaning, before any schema sees it. Refuses a
 * leading byte order mark (RFC 8259 lets a parser ignore it; we refuse so that no bytes are silently
 * dropped), invalid UTF-8, anything outside the RFC 8259 grammar, nesting deeper than `maxDepth`
 * (default {@link MAX_JSON_DEPTH}), duplicate member names (compared after unescaping), the member
 * name `__proto__`, strings with lone surrogates, integers outside ±(2^53−1) and numbers that
 * overflow to ±Infinity. Validation is iterative, so any body size is safe for the stack.
 *
 * @returns what `JSON.parse` returns for the same text.
 * @throws RequestError `invalid_request`, whose message names the reason and a byte offset but never
 *   a key or value; `detail` has `reason` ({@link StrictJsonReason}) and `offset`.
 * @throws RangeError when `maxDepth` is not a positive integer (a programmer error).
 */
export function parseStrictJson(bytes: Uint8Array, opts: { maxDepth?: number } = {}): unknown {
  const maxDepth = opts.maxDepth ?? MAX_JSON_DEPTH;
  if (!Number.isSafeInteger(maxDepth) || maxDepth < 1) throw new RangeError(`maxDepth must be a positive integer, got ${maxDepth}`);
  if (bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf) refuse("byte_order_mark", "", 0);
  let text: string;
  try {
    // ignoreBOM: true keeps a BOM as text instead of dropping it: the decoder never drops bytes.
    text = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true }).decode(bytes);
  } catch (err) {
    throw new RequestError("invalid_request", `body is not valid JSON: ${MESSAGES.invalid_utf8}`, { cause: err, detail: { reason: "invalid_utf8" } });
  }
  new Scanner(text, maxDepth).run();
  return JSON.parse(text);
}
