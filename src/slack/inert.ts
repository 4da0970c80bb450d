// Making text Slack-inert: agent-supplied strings go through the neutraliser, are fitted to Block Kit's
// limits, and, for the few places that are mrkdwn, escaped so they can neither mention, link nor format.
import { neutralise, neutraliseLines } from "../text/neutralise.js";

/** Smallest budget {@link fit} accepts, in UTF-16 code units: room for one escape and the longest truncation marker. */
export const MIN_FIT_BUDGET = 64;

/**
 * Slack's mrkdwn formatting characters and the visible look-alikes (Unicode fullwidth forms) that
 * {@link escapeMrkdwn} puts in their place. Slack documents escapes only for `&`, `<` and `>`; there
 * is no escape for `*`, `_`, `~` and `` ` ``, and the usual trick (a zero-width space between the
 * marks) would bring back the hidden characters the neutraliser exists to show.
 */
const FORMATTING_LOOKALIKES: Readonly<Record<string, string>> = {
  "*": "\uFF0A",
  _: "\uFF3F",
  "~": "\uFF5E",
  "`": "\uFF40",
};
const FULLWIDTH_COLON = "\uFF1A";

/**
 * Escape already-neutralised text for a mrkdwn context (a `mrkdwn` text object, a message's
 * top-level `text`, a thread reply):
 *
 * - `&`, `<` and `>` become `&amp;`, `&lt;` and `&gt;`, as Slack's "Escaping text" guide prescribes;
 *   with no raw `<`, the text can form no mention (`<!channel>`, `<@U…>`), channel link, date token
 *   or link (`<https://…|label>`), and no leading `>` quote. Text that was already escaped
 *   (`&lt;`) is escaped again (`&amp;lt;`) and so shows as it was written.
 * - `*`, `_`, `~` and `` ` `` become their fullwidth look-alikes (`＊ ＿ ～ ｀`): visible, but never
 *   bold, italic, strike or code.
 * - The opening colon of an emoji shortcode (`:white_check_mark:`) becomes a fullwidth colon, so an
 *   agent cannot draw Slack's own status icons. Clock times (`10:30:00`) are left alone.
 *
 * The output is meant for posting with Slack's defaults (`parse` none, `link_names` false) or in a
 * text object with `verbatim: true`: then bare `@here` and `#channel` stay plain words too.
 */
export function escapeMrkdwn(text: string): string {
  return text
    .replace(/&/g, "&amp;")
    .replace(/</g, "&lt;")
    .replace(/>/g, "&gt;")
    .replace(/:(?=[a-z0-9_+'-]*[a-z+][a-z0-9_+'-]*:)/gi, FULLWIDTH_COLON)
    .replace(/[*_~`]/g, (mark) => FORMATTING_LOOKALIKES[mark] ?? mark);
}

/**
 * Escape already-neutralised text for the inside of a mrkdwn code span (`` `…` ``), where Slack applies
 * no formatting and shows no emoji: `&`, `<` and `>` become entities as in {@link escapeMrkdwn}, and
 * only a backtick, which would end the span, becomes its look-alike. Ids (`appr_01J…`,
 * `spiffe://…/ops_bot`) keep their underscores and asterisks exactly.
 */
export function escapeMrkdwnCode(text: string): string {
  return text
    .replace(/&/g, "&amp;")
    .replace(/</g, "&lt;")
    .replace(/>/g, "&gt;")
    .replace(/`/g, FORMATTING_LOOKALIKES["`"] ?? "`");
}

/** Agent text as a mrkdwn code span: neutralised, escaped by {@link escapeMrkdwnCode}, at most `budget` UTF-16 code units with the backticks; never empty. */
export function codeMrkdwn(text: string, budget: number): string {
  return `\`${fitShown(text, budget - 2, escapeMrkdwnCode)}\``;
}

/** Leave text as it is (for `plain_text` objects and rich-text `text` elements, which Slack shows literally). */
function literal(text: string): string {
  return text;
}

/**
 * Agent text, neutralised (see `neutralise`) and then encoded by `encode` (default {@link literal};
 * {@link escapeMrkdwn} for mrkdwn), in at most `budget` UTF-16 code units including the visible
 * ` …[+N more characters]` marker when it had to be cut. N counts the code points of `text` left out.
 * Block Kit's limits are counted in characters; UTF-16 units are never fewer than code points.
 *
 * @throws RangeError when `budget` is not an integer of at least {@link MIN_FIT_BUDGET} (a programmer error).
 */
export function fit(text: string, budget: number, encode: (neutralised: string) => string = literal): string {
  if (!Number.isSafeInteger(budget) || budget < MIN_FIT_BUDGET) throw new RangeError(`budget must be an integer of at least ${MIN_FIT_BUDGET}, got ${budget}`);
  const whole = encode(neutralise(text, { maxLength: budget }));
  if (whole.length <= budget) return whole;
  // Escapes and entities make the output longer than the code points neutralise counts: find the
  // longest cut that fits. Longer cuts never give shorter output, except for the marker's digit
  // count, so a binary search finds a cut that fits (perhaps a character shorter than the best).
  let best = encode(neutralise(text, { maxLength: 1 }));
  let low = 2;
  let high = budget - 1;
  while (low <= high) {
    const mid = Math.floor((low + high) / 2);
    const candidate = encode(neutralise(text, { maxLength: mid }));
    if (candidate.length <= budget) {
      best = candidate;
      low = mid + 1;
    } else {
      high = mid - 1;
    }
  }
  return best;
}

/** Like {@link fit}, but never empty: an empty text shows as `-` (Slack refuses empty text objects). */
export function fitShown(text: string, budget: number, encode: (neutralised: string) => string = literal): string {
  return text === "" ? "-" : fit(text, budget, encode);
}

/**
 * Multi-line text that is already neutralised line by line (the output of `displayJson` or
 * `neutraliseLines`) cut to at most `budget` UTF-16 code units, marker included. A cut ends at the
 * last whole line that fits when there is one and never inside a `\u{…}` escape; the marker is
 * `…[+N more characters]` on a line of its own, N counting the code points left out.
 *
 * @throws RangeError when `budget` is below {@link MIN_FIT_BUDGET}.
 */
export function fitLines(neutralisedLines: string, budget: number): string {
  if (!Number.isSafeInteger(budget) || budget < MIN_FIT_BUDGET) throw new RangeError(`budget must be an integer of at least ${MIN_FIT_BUDGET}, got ${budget}`);
  // Re-neutralising is a no-op on neutralised text except for a stray control character: belt and braces.
  const text = neutraliseLines(neutralisedLines, { maxLength: Number.MAX_SAFE_INTEGER });
  if (text.length <= budget) return text;
  const total = Array.from(text).length;
  const marker = (kept: string): string => `\n…[+${total - Array.from(kept).length} more characters]`;
  // The marker is at most this long (its count is below `total`).
  const room = budget - marker("").length;
  let kept = "";
  for (const char of text) {
    if (kept.length + char.length > room) break;
    kept += char;
  }
  const lastBreak = kept.lastIndexOf("\n");
  if (lastBreak > 0) kept = kept.slice(0, lastBreak);
  else kept = kept.replace(/\\u\{[0-9A-F]*$/, "").replace(/\\u$|\\$/, "");
  return kept + marker(kept);
}

/** A Slack user id as the directory gives it (`U…` or `W…`); anything else is not rendered as a mention. */
const SLACK_USER_ID = /^[UW][A-Z0-9]{2,20}$/;
/** A Slack user group id (`S…`). */
const SLACK_USERGROUP_ID = /^S[A-Z0-9]{2,20}$/;

/** `id` when it is shaped like a Slack user id, else `undefined`. */
export function slackUserId(id: string | undefined): string | undefined {
  return id !== undefined && SLACK_USER_ID.test(id) ? id : undefined;
}

/** `id` when it is shaped like a Slack user group id (`S…`), else `undefined`. */
export function slackUsergroupId(id: string): string | undefined {
  return SLACK_USERGROUP_ID.test(id) ? id : undefined;
}

/**
 * Who, for mrkdwn: the mention `<@U…>` when `slackUserId` is a well-formed Slack user id, else `id`
 * as a code span (see {@link codeMrkdwn}) of at most `budget` code units (default 200).
 */
export function whoMrkdwn(who: { id: string; slackUserId?: string }, budget = 200): string {
  const mention = slackUserId(who.slackUserId);
  return mention !== undefined ? `<@${mention}>` : codeMrkdwn(who.id, budget);
}

/** The default format of {@link slackDate}: `today at 2:34 PM`, `Aug 9, 2025 at 14:34`. */
export const DEFAULT_DATE_FORMAT = "{date_short_pretty} at {time}";

/**
 * A Slack date token, `<!date^SECONDS^FORMAT|FALLBACK>`: each reader sees `atMs` (milliseconds since
 * the epoch, cut to whole seconds) in their own time zone, formatted by `format` (default
 * {@link DEFAULT_DATE_FORMAT}); clients that cannot render it show the fallback, the UTC time in
 * ISO 8601 without milliseconds (`2025-08-09T14:34:56Z`).
 *
 * @throws RangeError when `atMs` is not a finite time JavaScript can represent, or `format` is empty
 *   or contains a character that would end the token (`^ | < >`) or a line break.
 */
export function slackDate(atMs: number, format: string = DEFAULT_DATE_FORMAT): string {
  if (format === "" || /[\^|<>\r\n]/.test(format)) throw new RangeError(`a Slack date format cannot be empty or contain ^ | < > or a line break: ${JSON.stringify(format)}`);
  return `<!date^${Math.floor(atMs / 1000)}^${format}|${isoSeconds(atMs)}>`;
}

/**
 * `atMs` (milliseconds since the epoch) cut to whole seconds, as UTC ISO 8601 without milliseconds
 * (`2025-08-09T14:34:56Z`): the fallback of Slack date tokens and rich-text date elements.
 *
 * @throws RangeError when `atMs` is not a finite time JavaScript can represent.
 */
export function isoSeconds(atMs: number): string {
  const date = new Date(Math.floor(atMs / 1000) * 1000);
  if (!Number.isFinite(atMs) || Number.isNaN(date.getTime())) throw new RangeError(`atMs must be a representable time, got ${atMs}`);
  return date.toISOString().replace(/\.\d{3}Z$/, "Z");
}

/**
 * A link target for mrkdwn's `<url|label>`, or `undefined` when `url` is not an absolute http(s) URL
 * of at most 3000 characters. The URL is normalised by the WHATWG parser (which percent-encodes
 * spaces, quotes, `<`, `>` and non-ASCII), `|`, `<` and `>` are percent-encoded wherever they
 * remain, and `&` becomes `&amp;` as Slack's escaping rules ask.
 */
export function mrkdwnLinkUrl(url: string): string | undefined {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return undefined;
  }
  if (parsed.protocol !== "https:" && parsed.protocol !== "http:") return undefined;
  const href = parsed.href.replace(/\|/g, "%7C").replace(/</g, "%3C").replace(/>/g, "%3E").replace(/&/g, "&amp;");
  return href.length <= 3000 ? href : undefined;
}
