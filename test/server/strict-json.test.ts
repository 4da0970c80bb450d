// Strict JSON for HTTP bodies: one byte string, one meaning; everything ambiguous is refused without echoing it.
import assert from "node:assert/strict";
import { CountersignError } from "../../src/errors.js";
import { MAX_JSON_DEPTH, parseStrictJson, type StrictJsonReason } from "../../src/server/strict-json.js";

const utf8 = (text: string): Uint8Array => new TextEncoder().encode(text);

/** Assert that `bytes` is refused as `invalid_request` for `reason`, without `secret` in message or detail. */
function assertRefused(bytes: Uint8Array, reason: StrictJsonReason, secret?: string): CountersignError {
  let caught: unknown;
  try {
    parseStrictJson(bytes);
  } catch (err) {
    caught = err;
  }
  assert.ok(caught instanceof CountersignError, `expected a CountersignError, got ${String(caught)}`);
  assert.equal(caught.code, "invalid_request");
  assert.equal(caught.detail?.reason, reason);
  assert.match(caught.message, /^body is not valid JSON: /);
  if (secret !== undefined) {
    assert.ok(!caught.message.includes(secret), "the message echoes the offending text");
    assert.ok(!JSON.stringify(caught.detail).includes(secret), "the detail echoes the offending text");
  }
  return caught;
}

const nested = (depth: number): string => "[".repeat(depth) + "]".repeat(depth);

describe("parseStrictJson", function () {
  it("parses valid documents exactly as JSON.parse does", function () {
    const documents = [
      '{"a": {"b": [1, 2, {"c": null}]}, "d": true, "e": false}',
      '{"name": "東京 😀 Возврат", "esc": "\\"\\\\\\/\\b\\f\\n\\r\\t\\u00e9\\ud83d\\ude00"}',
      "[1e3, -0, 0.1, 9007199254740991, -9007199254740991, 1.5e-300, 12.5E+2, 0]",
      ' \t\r\n"top-level string" ',
      "42",
      "null",
      "{}",
      "[[], {}, [{}]]",
      '{"a": "", "A": "", "a ": ""}',
    ];
    for (const text of documents) {
      assert.deepEqual(parseStrictJson(utf8(text)), JSON.parse(text), text);
    }
    assert.ok(Object.is(parseStrictJson(utf8("-0")), -0));
  });

  it("accepts nesting of exactly the maximum depth", function () {
    assert.equal(MAX_JSON_DEPTH, 64);
    assert.deepEqual(parseStrictJson(utf8(nested(64))), JSON.parse(nested(64)));
    assert.deepEqual(parseStrictJson(utf8(`${'{"a":'.repeat(63)}[]${"}".repeat(63)}`)), JSON.parse(`${'{"a":'.repeat(63)}[]${"}".repeat(63)}`));
  });

  it("refuses nesting one level deeper than the maximum", function () {
    const err = assertRefused(utf8(nested(65)), "too_deep");
    assert.equal(err.detail?.offset, 64);
    assertRefused(utf8(`${'{"a":'.repeat(64)}{}${"}".repeat(64)}`), "too_deep");
  });

  it("refuses 100 000 opening brackets with a coded error, not a stack overflow", function () {
    assertRefused(utf8("[".repeat(100_000)), "too_deep");
  });

  it("validates a deeply nested body without recursion when the depth limit is raised", function () {
    const depth = 200_000;
    let value = parseStrictJson(utf8(nested(depth)), { maxDepth: depth });
    for (let level = 1; level < depth; level += 1) value = (value as unknown[])[0];
    assert.deepEqual(value, []);
  });

  it("refuses invalid UTF-8 instead of replacing it", function () {
    assertRefused(Uint8Array.of(0x22, 0xff, 0x22), "invalid_utf8");
    assertRefused(Uint8Array.of(0x22, 0xc0, 0xaf, 0x22), "invalid_utf8");
    // A surrogate encoded in UTF-8 (CESU-8 style) is not UTF-8 either.
    assertRefused(Uint8Array.of(0x22, 0xed, 0xa0, 0x80, 0x22), "invalid_utf8");
  });

  it("refuses a leading byte order mark rather than silently dropping it", function () {
    assertRefused(Uint8Array.of(0xef, 0xbb, 0xbf, ...utf8("{}")), "byte_order_mark");
  });

  it("refuses a lone surrogate escape in a key and in a value", function () {
    assertRefused(utf8('{"\\ud800SECRET_KEY_123": 1}'), "ill_formed_string", "SECRET_KEY_123");
    assertRefused(utf8('{"a": "SECRET_VALUE_123\\udc00"}'), "ill_formed_string", "SECRET_VALUE_123");
    assertRefused(utf8('["\\ude00\\ud83d"]'), "ill_formed_string");
  });

  it("refuses duplicate member names at the top, nested, and spelled with an escape", function () {
    assertRefused(utf8('{"SECRET_KEY_123": 1, "SECRET_KEY_123": 2}'), "duplicate_member", "SECRET_KEY_123");
    assertRefused(utf8('{"x": [{"a": 1, "b": {"k": 1, "k": 1}}]}'), "duplicate_member");
    const err = assertRefused(utf8('{"a": 1, "\\u0061": 2}'), "duplicate_member");
    assert.equal(err.detail?.offset, 9);
  });

  it("allows the same member name in sibling objects", function () {
    assert.deepEqual(parseStrictJson(utf8('[{"a": 1}, {"a": 2}]')), [{ a: 1 }, { a: 2 }]);
  });

  it("refuses integers beyond ±(2^53−1) and numbers that overflow", function () {
    for (const text of ["9007199254740992", "-9007199254740992", "1e16", "[1, 2, 123456789012345678901234567890]", "1e400", "-1e400"]) {
      assertRefused(utf8(text), "unsafe_number");
    }
    assertRefused(utf8('{"a": 99999999999999999999}'), "unsafe_number", "99999999999999999999");
  });

  it("refuses the member name __proto__, escaped or not", function () {
    assertRefused(utf8('{"__proto__": {"admin": true}}'), "forbidden_member");
    assertRefused(utf8('{"a": [{"__pro\\u0074o__": 1}]}'), "forbidden_member");
  });

  it("refuses what RFC 8259 does not allow", function () {
    const invalid = [
      "",
      " ",
      '{"a": 1} x',
      "[1] [2]",
      "[1,]",
      '{"a": 1,}',
      "{a: 1}",
      "{'a': 1}",
      '{"a" 1}',
      '{"a": 1 "b": 2}',
      "[1 2]",
      "01",
      "1.",
      ".5",
      "+1",
      "-",
      "1e",
      "0x10",
      "NaN",
      "Infinity",
      "tru",
      "nul",
      '"\\x41"',
      '"\\u12"',
      '"tab\there"',
      '"unterminated',
      "[",
      "]",
      "{",
      '{"a": }',
      "[1}",
      '{"a": 1]',
      "/* c */ 1",
      "\u00a01",
    ];
    for (const text of invalid) {
      assert.throws(() => JSON.parse(text), SyntaxError, `JSON.parse accepts ${JSON.stringify(text)}`);
      assertRefused(utf8(text), "syntax");
    }
  });

  it("reports a byte offset and never the offending text", function () {
    const err = assertRefused(utf8('{"é": "SECRET_VALUE_123", "é": 1}'), "duplicate_member", "SECRET_VALUE_123");
    assert.equal(err.message, "body is not valid JSON: duplicate member name (at byte 27)");
    assert.deepEqual(err.detail, { reason: "duplicate_member", offset: 27 });
  });

  it("refuses a depth limit that is not a positive integer", function () {
    for (const maxDepth of [0, -1, 2.5, Number.NaN]) {
      assert.throws(() => parseStrictJson(utf8("1"), { maxDepth }), RangeError);
    }
  });
});
