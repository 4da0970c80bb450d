// argsSha256: RFC 8785 canonical hashing of call arguments, and refusal of anything that is not JSON data.
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { argsSha256, sha256Base64url } from "../../src/grants/args-hash.js";
import { CountersignError } from "../../src/errors.js";

// Computed here with node:crypto directly, from canonical text written out by hand.
const hashOf = (canonicalText: string): string => createHash("sha256").update(Buffer.from(canonicalText, "utf8")).digest("base64url");

describe("argsSha256", () => {
  it("matches the RFC 8785 appendix example hashed from its canonical text", () => {
    const input = String.raw`{"numbers":[333333333.33333329,1E30,4.50,2e-3,0.000000000000000000000000001],"string":"\u20ac$\u000F\u000aA'\u0042\u0022\u005c\\\"\/","literals":[null,true,false]}`;
    const canonical = String.raw`{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],"string":"€$\u000f\nA'B\"\\\\\"/"}`;
    assert.equal(argsSha256(JSON.parse(input)), hashOf(canonical));
  });

  it("hashes a nested object to the hash of its hand-written canonical text", () => {
    const args = { n: 1e21, b: [1, 2.5, "x"], a: { é: true, z: null } };
    assert.equal(argsSha256(args), hashOf('{"a":{"z":null,"é":true},"b":[1,2.5,"x"],"n":1e+21}'));
  });

  it("gives the same hash whatever the key order", () => {
    const one = { tool: "payments.refund", amount: { value: 10, currency: "EUR" }, ids: [3, 1, 2] };
    const two = { ids: [3, 1, 2], amount: { currency: "EUR", value: 10 }, tool: "payments.refund" };
    assert.equal(argsSha256(one), argsSha256(two));
  });

  it("keeps array order significant, including in nested arrays", () => {
    assert.equal(argsSha256([[3, [2, { b: 1, a: 0 }]]]), hashOf('[[3,[2,{"a":0,"b":1}]]]'));
    assert.notEqual(argsSha256([[3, [2, { b: 1, a: 0 }]]]), argsSha256([[[2, { b: 1, a: 0 }], 3]]));
  });

  it("formats numbers as RFC 8785 does: 1.0 is 1, -0 is 0, 1e21 is 1e+21", () => {
    assert.equal(argsSha256({ x: 1.0 }), hashOf('{"x":1}'));
    assert.equal(argsSha256({ x: -0 }), hashOf('{"x":0}'));
    assert.equal(argsSha256({ x: 1e21 }), hashOf('{"x":1e+21}'));
    assert.equal(argsSha256({ x: 1e-7 }), hashOf('{"x":1e-7}'));
  });

  it("keeps non-ASCII strings unescaped and sorts keys by UTF-16 code units", () => {
    // U+1F600 is above U+FB00 as a code point but below it in UTF-16 (surrogate 0xD83D < 0xFB00).
    assert.equal(argsSha256({ "\uFB00": 1, "😀": "é\u2028" }), hashOf('{"😀":"é\u2028","\uFB00":1}'));
  });

  it("accepts JSON scalars at the top level", () => {
    assert.equal(argsSha256(null), hashOf("null"));
    assert.equal(argsSha256("a"), hashOf('"a"'));
    assert.equal(argsSha256({}), hashOf("{}"));
  });

  const cyclic: Record<string, unknown> = { a: 1 };
  cyclic.self = cyclic;
  const notJson: Array<[string, unknown]> = [
    ["undefined", undefined],
    ["a function", () => 1],
    ["NaN", Number.NaN],
    ["Infinity", { x: Number.POSITIVE_INFINITY }],
    ["a BigInt", { x: 10n }],
    ["a symbol", [Symbol("s")]],
    ["a cyclic object", cyclic],
    ["an undefined member", { a: undefined, b: 1 }],
    ["a sparse array", [1, , 3]], // eslint-disable-line no-sparse-arrays
    ["a Date", { at: new Date(0) }],
    ["a Map", new Map([["a", 1]])],
    ["a lone surrogate", { s: "secret-\uD800" }],
    ["a lone surrogate in a key", { ["secret-\uDC00"]: 1 }],
  ];
  for (const [what, value] of notJson) {
    it(`refuses ${what} with invalid_request and no value in the message`, () => {
      assert.throws(
        () => argsSha256(value),
        (err: unknown) => {
          assert.ok(err instanceof CountersignError);
          assert.equal(err.code, "invalid_request");
          assert.doesNotMatch(err.message, /secret/);
          return true;
        },
      );
    });
  }

  it("refuses nesting deeper than the stack with invalid_request", () => {
    let deep: unknown = 1;
    for (let i = 0; i < 200_000; i++) deep = [deep];
    assert.throws(() => argsSha256(deep), { code: "invalid_request" });
  });
});

describe("sha256Base64url", () => {
  it("is base64url without padding of the SHA-256 of the UTF-8 text", () => {
    assert.equal(sha256Base64url("abc"), "ungWv48Bz-pBQUDeXa4iI7ADYaOWF3qctBD_YfIAFa0");
  });
});
