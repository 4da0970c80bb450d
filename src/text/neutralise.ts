// The one function every human-facing view passes agent-supplied text through: control, format and
// separator characters become visible `\u{XXXX}` escapes, and long text is cut with a visible marker.
// An agent once drew a fake argument block and then hid the real one with the terminal's conceal code.

/** Longest line `neutralise` shows by default, in code points of the escaped output. */
export const DEFAULT_DISPLAY_LENGTH = 500;
/** Longest string value or key `displayJson` shows by default, in code points. */
export const DEFAULT_JSON_STRING_LENGTH = 200;

// Cc: C0, DEL and C1 controls (ESC, CR, LF, TAB, CSI U+009B…). Cf: bidi embeddings, overrides and
// isolates, LRM/RLM/ALM, zero-width characters, U+FEFF, tag characters. Zl/Zp: U+2028/U+2029.
// Cs: lone surrogates (`for…of` yields a well-formed pair as one code point, so pairs never match).
// Co/Cn: private-use and unassigned code points (no agreed glyph). Blank letters that render as
// nothing: Hangul fillers U+115F, U+1160, U+3164, U+FFA0 and the blank braille pattern U+2800.
// Marks that change a string without a glyph of their own: the combining grapheme joiner U+034F, the
// Khmer inherent vowels U+17B4/U+17B5, Mongolian variation selectors U+180B–U+180F and the variation
// selectors U+FE00–U+FE0F and U+E0100–U+E01EF (an emoji's presentation selector shows too: visible beats equal-looking).
// (The marks sit in alternations: inside a character class a combining mark reads as combined with its neighbour.)
const HIDDEN = /^(?:[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Cs}\p{Co}\p{Cn}\u115F\u1160\u3164\uFFA0\u2800]|\u034F|\u17B4|\u17B5|\p{Variation_Selector})$/u;
const HIDDEN_ANYWHERE = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Co}\p{Cn}\u115F\u1160\u3164\uFFA0\u2800]|\u034F|\u17B4|\u17B5|\p{Variation_Selector}/gu;

function checkLength(value: number, name: string): number {
  if (!Number.isSafeInteger(value) || value < 1) throw new RangeError(`${name} must be a positive integer, got ${value}`);
  return value;
}

function escapeCodePoint(codePoint: number): string {
  return `\\u{${codePoint.toString(16).toUpperCase().padStart(4, "0")}}`;
}

/** The visible marker that replaces `omitted` code points cut from the end of a text. */
function truncationMarker(omitted: number): string {
  return ` …[+${omitted} more ${omitted === 1 ? "character" : "characters"}]`;
}

/**
 * Make agent-supplied text safe to show a human on one line. Every C0/C1 control character (ESC, CR,
 * LF, TAB, DEL, U+0080–U+009F), every Unicode format character (`\p{Cf}`: bidi controls, zero-width
 * characters, U+FEFF, tags), U+2028/U+2029 and every lone surrogate becomes `\u{XXXX}` (upper-case
 * hex, at least four digits). Everything else, including non-Latin scripts and emoji, is unchanged.
 * Backslashes are left alone: the aim is that nothing is hidden, not that the output can be reversed.
 *
 * When the escaped text is longer than `maxLength` code points (default
 * {@link DEFAULT_DISPLAY_LENGTH}), it is cut at a code-point boundary that never splits an escape,
 * and ` …[+N more characters]` is appended, N counting the code points of `text` left out. The
 * marker is not counted in `maxLength`.
 *
 * @throws RangeError when `maxLength` is not a positive integer (a programmer error).
 */
export function neutralise(text: string, opts: { maxLength?: number } = {}): string {
  const maxLength = checkLength(opts.maxLength ?? DEFAULT_DISPLAY_LENGTH, "maxLength");
  let out = "";
  let outLength = 0;
  let omitted = 0;
  for (const char of text) {
    if (omitted > 0) {
      omitted += 1;
      continue;
    }
    // Escapes are ASCII, so their length in UTF-16 units is their length in code points.
    const piece = HIDDEN.test(char) ? escapeCodePoint(char.codePointAt(0) ?? 0) : char;
    const pieceLength = piece === char ? 1 : piece.length;
    if (outLength + pieceLength > maxLength) {
      omitted = 1;
      continue;
    }
    out += piece;
    outLength += pieceLength;
  }
  return omitted > 0 ? out + truncationMarker(omitted) : out;
}

/**
 * Like {@link neutralise}, but `\n` stays a real line break, for multi-line blocks such as
 * pretty-printed JSON. Each line is neutralised and capped on its own; `\r` is escaped like any
 * other control character.
 *
 * @throws RangeError when `maxLength` is not a positive integer.
 */
export function neutraliseLines(text: string, opts: { maxLength?: number } = {}): string {
  return text
    .split("\n")
    .map((line) => neutralise(line, opts))
    .join("\n");
}

function capString(value: string, maxLength: number): string {
  const codePoints = Array.from(value);
  if (codePoints.length <= maxLength) return value;
  return codePoints.slice(0, maxLength).join("") + truncationMarker(codePoints.length - maxLength);
}

// JSON.stringify(value, null, 2)'s layout, written out so that two keys whose shortened forms are the
// same both stay on screen (an object built from them would keep only one, hiding the other).
function render(value: unknown, indent: string, maxLength: number): string {
  const inner = `${indent}  `;
  if (typeof value === "string") return JSON.stringify(capString(value, maxLength));
  if (Array.isArray(value)) {
    if (value.length === 0) return "[]";
    return `[\n${value.map((item) => inner + render(item, inner, maxLength)).join(",\n")}\n${indent}]`;
  }
  if (value !== null && typeof value === "object") {
    const members = Object.entries(value);
    if (members.length === 0) return "{}";
    const lines = members.map(([key, item]) => `${inner}${JSON.stringify(capString(key, maxLength))}: ${render(item, inner, maxLength)}`);
    return `{\n${lines.join(",\n")}\n${indent}}`;
  }
  return JSON.stringify(value);
}

/**
 * Show a JSON-like value (tool arguments) to an approver: pretty-printed as by
 * `JSON.stringify(value, null, 2)`, with every string value and object key longer than
 * `maxStringLength` code points (default {@link DEFAULT_JSON_STRING_LENGTH}) cut to that length plus
 * ` …[+N more characters]`, and then passed through {@link neutraliseLines} (JSON.stringify escapes
 * C0 controls but not C1, bidi or format characters). The input is not modified. A value
 * JSON.stringify cannot show at all (`undefined`, a function) prints as `-`.
 *
 * @throws RangeError when `maxStringLength` is not a positive integer.
 * @throws TypeError from JSON.stringify for a cycle or a BigInt.
 */
export function displayJson(value: unknown, opts: { maxStringLength?: number } = {}): string {
  const maxLength = checkLength(opts.maxStringLength ?? DEFAULT_JSON_STRING_LENGTH, "maxStringLength");
  // A round trip gives exactly JSON.stringify's view (toJSON, dropped undefined, NaN as null) as
  // plain data, and a copy, so the caller's value is never touched.
  const json = JSON.stringify(value) as string | undefined;
  if (json === undefined) return "-";
  return neutraliseLines(render(JSON.parse(json), "", maxLength));
}

/**
 * Template tag for views: ``safe`task ${taskId}: ${summary}` `` neutralises every interpolated value
 * with {@link neutralise} (non-strings through `String`, `undefined` and `null` as `-`) and leaves
 * the literal parts, which the view's author wrote, as they are.
 */
export function safe(strings: TemplateStringsArray, ...values: unknown[]): string {
  let out = strings[0] ?? strings.raw[0] ?? "";
  values.forEach((value, i) => {
    // String() on purpose, as a template literal would: views interpolate ids, text and numbers.
    // eslint-disable-next-line @typescript-eslint/no-base-to-string
    out += value === undefined || value === null ? "-" : neutralise(typeof value === "string" ? value : String(value));
    out += strings[i + 1] ?? strings.raw[i + 1] ?? "";
  });
  return out;
}

/**
 * JSON for a terminal (`--json` output): `JSON.stringify(value, null, 2)` with every character the
 * neutraliser would escape written as a JSON `\uXXXX` escape instead, so the output stays valid JSON
 * and still hides nothing (JSON.stringify itself escapes only C0 controls and lone surrogates).
 */
export function jsonForTerminal(value: unknown): string {
  // Raw line breaks in the output are the indentation's own (JSON.stringify escapes those inside strings).
  return (JSON.stringify(value, null, 2) ?? "null").replace(HIDDEN_ANYWHERE, (char) =>
    char === "\n" ? char : Array.from({ length: char.length }, (_, i) => `\\u${char.charCodeAt(i).toString(16).padStart(4, "0")}`).join(""),
  );
}
