// Neutralising agent-supplied text for human-facing views: hostile strings come out visible and bounded.
import assert from "node:assert/strict";
import { DEFAULT_DISPLAY_LENGTH, displayJson, neutralise, neutraliseLines, safe } from "../../src/text/neutralise.js";

describe("neutralise", function () {
  it("makes the terminal conceal code visible, so a fake argument block cannot hide the real one", function () {
    const summary = 'Refund {"amount_cents": 4200}\x1b[8m{"amount_cents": 990000}';
    assert.equal(neutralise(summary), 'Refund {"amount_cents": 4200}\\u{001B}[8m{"amount_cents": 990000}');
  });

  it("escapes cursor movement and an OSC 8 hyperlink", function () {
    assert.equal(neutralise("ok\x1b[2Aoverwritten"), "ok\\u{001B}[2Aoverwritten");
    assert.equal(neutralise("\x1b]8;;http://evil\x07click\x1b]8;;\x07"), "\\u{001B}]8;;http://evil\\u{0007}click\\u{001B}]8;;\\u{0007}");
  });

  it("escapes C1 controls, DEL, CR, LF and TAB", function () {
    assert.equal(neutralise("a\u009b2Jb\u0085c\x7fd\r\n\te"), "a\\u{009B}2Jb\\u{0085}c\\u{007F}d\\u{000D}\\u{000A}\\u{0009}e");
  });

  it("escapes a right-to-left override in a filename-like string", function () {
    assert.equal(neutralise("invoice\u202eexe.pdf"), "invoice\\u{202E}exe.pdf");
    assert.equal(neutralise("\u2066a\u2069\u200e\u200f\u061c"), "\\u{2066}a\\u{2069}\\u{200E}\\u{200F}\\u{061C}");
  });

  it("escapes zero-width characters, the BOM, tag characters and line and paragraph separators", function () {
    assert.equal(neutralise("a\u200db\u200bc\ufeffd"), "a\\u{200D}b\\u{200B}c\\u{FEFF}d");
    assert.equal(neutralise("x\u{E0041}y"), "x\\u{E0041}y");
    assert.equal(neutralise("one\u2028two\u2029three"), "one\\u{2028}two\\u{2029}three");
  });

  it("escapes lone high and low surrogates but keeps a well-formed pair", function () {
    assert.equal(neutralise("a\ud800b"), "a\\u{D800}b");
    assert.equal(neutralise("a\udc00b"), "a\\u{DC00}b");
    assert.equal(neutralise("\udc00\ud800"), "\\u{DC00}\\u{D800}");
    assert.equal(neutralise("\ud83d\ude00"), "😀");
  });

  it("leaves ordinary text, non-Latin scripts, emoji and backslashes unchanged", function () {
    for (const text of ["Refund order 1234 for €42.00", "東京都の返金", "Возврат средств", "مرحبا", "👍🏽 done 🎉", "C:\\temp\\x", ""]) {
      assert.equal(neutralise(text), text);
    }
  });

  it("escapes marks that change a string without a glyph: grapheme joiner, Khmer inherent vowels, variation selectors", function () {
    assert.equal(neutralise("pay_1042\u034f"), "pay_1042\\u{034F}");
    assert.equal(neutralise("a\u17b4b\u17b5"), "a\\u{17B4}b\\u{17B5}");
    assert.equal(neutralise("x\ufe00y\u180bz"), "x\\u{FE00}y\\u{180B}z");
    assert.equal(neutralise("id\u{e0100}"), "id\\u{E0100}");
    assert.equal(neutralise("\u2764\ufe0f"), "\u2764\\u{FE0F}", "an emoji's presentation selector shows too");
  });

  it("escapes the zero-width joiner inside an emoji sequence too", function () {
    assert.equal(neutralise("👩\u200d💻"), "👩\\u{200D}💻");
  });

  it("cuts a 10 000-character string at the default length and counts what was left out", function () {
    const out = neutralise("x".repeat(10_000));
    assert.equal(out, `${"x".repeat(DEFAULT_DISPLAY_LENGTH)} …[+9500 more characters]`);
  });

  it("counts left-out characters in code points of the original text", function () {
    assert.equal(neutralise("ab😀😀😀", { maxLength: 2 }), "ab …[+3 more characters]");
    assert.equal(neutralise("abc", { maxLength: 2 }), "ab …[+1 more character]");
    assert.equal(neutralise("ab", { maxLength: 2 }), "ab");
  });

  it("never splits a surrogate pair or an escape when cutting", function () {
    assert.equal(neutralise("a😀b", { maxLength: 2 }), "a😀 …[+1 more character]");
    // The escape \u{001B} is 8 code points: with room for 7 it is left out whole.
    assert.equal(neutralise("a\x1bb", { maxLength: 8 }), "a …[+2 more characters]");
    assert.equal(neutralise("a\x1bb", { maxLength: 9 }), "a\\u{001B} …[+1 more character]");
    assert.equal(neutralise("\x1b", { maxLength: 1 }), " …[+1 more character]");
  });

  it("refuses a length that is not a positive integer", function () {
    for (const maxLength of [0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY]) {
      assert.throws(() => neutralise("x", { maxLength }), RangeError);
    }
  });
});

describe("neutraliseLines", function () {
  it("keeps line feeds as line breaks and neutralises and caps each line", function () {
    assert.equal(neutraliseLines("one\x1b[8m\r\ntwo\u202e\n\nfour-long", { maxLength: 4 }), "one …[+5 more characters]\ntwo …[+1 more character]\n\nfour …[+5 more characters]");
  });
});

describe("displayJson", function () {
  it("pretty-prints plain arguments exactly like JSON.stringify", function () {
    const args = { payment_id: "pay_1", amount_cents: 4200, lines: [{ sku: "a", qty: 1 }, []], meta: {}, ok: true, note: null };
    assert.equal(displayJson(args), JSON.stringify(args, null, 2));
  });

  it("makes C1, bidi and format characters in nested keys and values visible", function () {
    const args = { "pay\u202eid": { memo: ["ok\u009b8m", "\x1b[8mhidden"] }, "a\u200db": "x\u2028y" };
    assert.equal(
      displayJson(args),
      [
        "{",
        '  "pay\\u{202E}id": {',
        '    "memo": [',
        '      "ok\\u{009B}8m",',
        '      "\\u001b[8mhidden"',
        "    ]",
        "  },",
        '  "a\\u{200D}b": "x\\u{2028}y"',
        "}",
      ].join("\n"),
    );
  });

  it("cuts long string values and keys and marks how much was left out", function () {
    const args = { ["k".repeat(8)]: "v".repeat(10), short: "abc", emoji: "😀".repeat(6) };
    assert.equal(
      displayJson(args, { maxStringLength: 5 }),
      ["{", '  "kkkkk …[+3 more characters]": "vvvvv …[+5 more characters]",', '  "short": "abc",', '  "emoji": "😀😀😀😀😀 …[+1 more character]"', "}"].join("\n"),
    );
  });

  it("shows both members when two long keys shorten to the same text", function () {
    const args = { [`${"k".repeat(5)}AAA`]: 1, [`${"k".repeat(5)}BBB`]: 2 };
    assert.equal(displayJson(args, { maxStringLength: 5 }), ["{", '  "kkkkk …[+3 more characters]": 1,', '  "kkkkk …[+3 more characters]": 2', "}"].join("\n"));
  });

  it("shows a __proto__ member like any other", function () {
    const args: unknown = JSON.parse('{"__proto__": {"admin": true}, "a": 1}');
    assert.equal(displayJson(args), '{\n  "__proto__": {\n    "admin": true\n  },\n  "a": 1\n}');
  });

  it("leaves its input untouched", function () {
    const args = { long: "z".repeat(300), nested: { ["q".repeat(250)]: ["\x1b[8m"] } };
    const before = structuredClone(args);
    displayJson(args, { maxStringLength: 10 });
    assert.deepEqual(args, before);
  });

  it("prints scalars, and a dash for what JSON cannot show", function () {
    assert.equal(displayJson(42), "42");
    assert.equal(displayJson("a\u202eb"), '"a\\u{202E}b"');
    assert.equal(displayJson(undefined), "-");
  });
});

describe("safe", function () {
  it("neutralises interpolated values and leaves the literal parts alone", function () {
    const summary = "refund\x1b[8m";
    assert.equal(safe`task ${"t-1"}:\t${summary}`, "task t-1:\trefund\\u{001B}[8m");
  });

  it("prints numbers through String and undefined and null as a dash", function () {
    assert.equal(safe`${4200} cents, ${undefined} / ${null} / ${false}`, "4200 cents, - / - / false");
  });
});
