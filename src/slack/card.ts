// The Slack approval card and reason modal: pure Block Kit renderings of one approval. Every string an
// agent wrote goes through the neutraliser and is shown only where Slack parses nothing (plain_text,
// rich-text `text` elements); mrkdwn carries our own words, directory mentions, dates and our link, and
// at most one other string: who ended the approval, escaped in a code span, when they have no Slack id.
import type {
  ActionsBlock,
  Button,
  ConfirmationDialog,
  ContextBlock,
  ContextBlockElement,
  DividerBlock,
  HeaderBlock,
  KnownBlock,
  ModalView,
  PlainTextElement,
  RichTextBlock,
  RichTextDate,
  RichTextElement,
  RichTextSection,
  RichTextText,
  SectionBlock,
  View,
} from "@slack/types";
import { displayJson } from "../text/neutralise.js";
import { DEFAULT_DATE_FORMAT, escapeMrkdwn, fitLines, fitShown, isoSeconds, MIN_FIT_BUDGET, mrkdwnLinkUrl, slackDate, slackUserId, whoMrkdwn } from "./inert.js";

import { quorumText } from "./messages.js";

export { quorumText, renderDecisionReply, renderReminder, renderRequesterNotice } from "./messages.js";
export { slackDate } from "./inert.js";

/** Where an approval stands, as the card shows it. */
export type CardStatus = "pending" | "approved" | "denied" | "expired" | "revoked" | "redeemed" | "failed";

/** One approver's decision, for the card's list and the thread reply. */
export interface CardDecision {
  /** The approver's directory id (or SPIFFE ID). */
  approver: string;
  /** The approver's Slack user id (`U…`/`W…`), when the directory knows it: shown as a mention. */
  slackUserId?: string;
  decision: "approve" | "deny";
  reason?: string;
  /** When it was recorded, in milliseconds since the epoch. */
  atMs: number;
  /** Where it was made (`slack`, `api`, …). */
  via: string;
}

/** Everything the card shows about one approval. Strings an agent could have written are neutralised when rendered. */
export interface CardView {
  approvalId: string;
  status: CardStatus;
  /** Who ended it, for the status line (a directory user or a SPIFFE ID), and when; with the reason code/text when there is one. */
  statusBy?: { id: string; slackUserId?: string };
  /** When the status was reached, in milliseconds since the epoch. */
  statusAtMs?: number;
  statusReason?: string;
  tool: { name: string; displayName: string };
  requester: { id: string; slackUserId?: string; displayName?: string };
  /** The agent's SPIFFE ID (agent-controlled in part). */
  agent: string;
  tenant: string;
  resource?: { type: string; id: string };
  task: { id: string; summary: string };
  /** The agent's reason. */
  reason?: string;
  /** Arguments already redacted per the tool catalog (redacted values are the string "[redacted]"). */
  arguments: unknown;
  /** SHA-256 of the canonical arguments, lower-case hex. */
  argsSha256: string;
  /** Policy ids that routed it (the permits that required approval). */
  policyIds: string[];
  approverGroups: string[];
  /** When the approval expires, in milliseconds since the epoch. */
  deadlineAtMs: number;
  quorum: { approved: number; required: number };
  decisions: CardDecision[];
  /** A policy marks the tool critical: Approve gets a confirm dialog. */
  critical: boolean;
  /** A policy requires a reason to approve: Approve opens the reason modal instead of deciding at once. */
  approveReasonRequired: boolean;
  /** The approval in the Temporal UI, when known. */
  temporalUiUrl?: string;
  /** Set once the approval was escalated to another group. */
  escalatedTo?: string;
}

/** `action_id` of the card's Approve button. */
export const APPROVE_ACTION_ID = "countersign_approve";
/** Approve where policy requires a reason: the click opens the reason modal at once (Slack's trigger lives 3 s). */
export const APPROVE_WITH_REASON_ACTION_ID = "countersign_approve_with_reason";
/** `action_id` of the card's Deny button. */
export const DENY_ACTION_ID = "countersign_deny";
/** `callback_id` of the reason modal opened to deny. */
export const DENY_MODAL_CALLBACK_ID = "countersign_deny_reason";
/** `callback_id` of the reason modal opened to approve (when a policy requires a reason). */
export const APPROVE_MODAL_CALLBACK_ID = "countersign_approve_reason";
/** `block_id` of the reason modal's input. */
export const REASON_BLOCK_ID = "reason";
/** `action_id` of the reason modal's input. */
export const REASON_ACTION_ID = "reason_input";
/** Message metadata `event_type` of a card, to find it again after a retried post. */
export const CARD_METADATA_EVENT_TYPE = "countersign_approval";
/** `block_id` of the card's actions block (the same on every render, so updates replace it). */
export const DECIDE_BLOCK_ID = "countersign_decide";
/** Longest reason the reason modal accepts, in characters. */
export const REASON_MAX_LENGTH = 2000;
/** Most decisions the card lists (the latest ones; fewer when the card must shrink); earlier ones are counted. */
export const MAX_DECISIONS_SHOWN = 4;
/** Most policy ids or approver groups the card lists; the rest are counted. */
export const MAX_LIST_ITEMS = 5;

// Slack's limits that bind a value we do not cut (we refuse it instead).
const BUTTON_VALUE_MAX = 2000;
const PRIVATE_METADATA_MAX = 3000;

/**
 * Most characters a card's blocks may take as JSON. Slack refuses a message's blocks as too long
 * (`msg_blocks_too_long`) at about 13 000 characters in total, well below the sum of the documented
 * per-block limits (slackapi/bolt-js#2509); a card over this is rendered again with smaller budgets.
 */
export const CARD_JSON_MAX = 12_000;

// Budgets, in UTF-16 code units, for each agent-supplied string at full size. Each fits its Block
// Kit field by a wide margin; renderCard scales them down when the whole card would be too large
// (JSON escaping can double agent text full of quotes or backslashes).
const FULL_BUDGET = {
  id: 150,
  toolName: 100,
  agent: 200,
  tenant: 100,
  summary: 400,
  reason: 400,
  statusReason: 300,
  arguments: 1600,
  listItem: 64,
  via: 64,
  name: 100,
  approver: 80,
  decisionReason: 120,
};
/** Slack's limit on a header's text, which holds our status words and the tool's name. */
const HEADER_MAX = 150;
/** Budget for each agent string in the notification fallback `text` (escaped). */
const FALLBACK_PART = 150;
type Budget = typeof FULL_BUDGET & { decisions: number };

/** The budgets at `scale` (1 is full size), none below what `fit` accepts. */
function budgetAt(scale: number): Budget {
  const scaled = Object.fromEntries(Object.entries(FULL_BUDGET).map(([key, full]) => [key, Math.max(MIN_FIT_BUDGET, Math.floor(full * scale))]));
  return { ...(scaled as typeof FULL_BUDGET), decisions: Math.max(1, Math.floor(MAX_DECISIONS_SHOWN * scale)) };
}
/** The scales renderCard tries, largest first, until the card fits {@link CARD_JSON_MAX}. */
const SCALES = [1, 0.5, 0.25];

const STATUS_WORDS: Readonly<Record<CardStatus, string>> = {
  pending: "Approval needed",
  approved: "Approved",
  denied: "Denied",
  expired: "Expired",
  revoked: "Revoked",
  redeemed: "Approved and used",
  failed: "Failed",
};

/** Statuses someone brings about, so the status line names who. */
const ENDED_BY_SOMEONE: ReadonlySet<CardStatus> = new Set(["approved", "denied", "revoked", "redeemed"]);

function plain(text: string): PlainTextElement {
  return { type: "plain_text", text, emoji: false };
}

/** Our own words in a rich-text element, optionally bold. */
function ours(text: string, bold = false): RichTextText {
  return bold ? { type: "text", text, style: { bold: true } } : { type: "text", text };
}

/** Agent text in a rich-text element: neutralised, cut to `budget`, shown literally. */
function theirs(text: string, budget: number, style?: RichTextText["style"]): RichTextText {
  const shown = fitShown(text, budget);
  return style === undefined ? { type: "text", text: shown } : { type: "text", text: shown, style };
}

/** A rich-text date element: each reader's own time zone, with the UTC ISO time as fallback. */
function richDate(atMs: number): RichTextDate {
  return { type: "date", timestamp: Math.floor(atMs / 1000), format: DEFAULT_DATE_FORMAT, fallback: isoSeconds(atMs) };
}

/** A user as rich text: a mention when the Slack id is well-formed, else the id as literal text cut to `budget`. */
function richWho(who: { id: string; slackUserId?: string }, budget: number): RichTextElement[] {
  const mention = slackUserId(who.slackUserId);
  return mention !== undefined ? [{ type: "user", user_id: mention }] : [theirs(who.id, budget)];
}

/**
 * A rich-text section with adjacent `text` elements of the same style merged into one (all of them
 * are literal, ours and the agent's alike): the same rendering in fewer, smaller elements.
 */
function section(elements: RichTextElement[]): RichTextSection {
  const merged: RichTextElement[] = [];
  for (const element of elements) {
    const last = merged[merged.length - 1];
    if (last?.type === "text" && element.type === "text" && JSON.stringify(last.style) === JSON.stringify(element.style)) {
      merged[merged.length - 1] = { ...last, text: last.text + element.text };
    } else {
      merged.push(element);
    }
  }
  return { type: "rich_text_section", elements: merged };
}

/** Lines of `label: value…` in one rich-text section, each label bold. */
function lines(rows: Array<[label: string, value: RichTextElement[]]>): RichTextSection {
  const elements: RichTextElement[] = [];
  rows.forEach(([label, value], i) => {
    if (i > 0) elements.push(ours("\n"));
    elements.push(ours(`${label}: `, true), ...value);
  });
  return section(elements);
}

/** Up to {@link MAX_LIST_ITEMS} items joined by commas, with `+N more` for the rest; `-` for none. */
function list(items: readonly string[], budget: number): RichTextElement[] {
  if (items.length === 0) return [ours("-")];
  const shown = items.slice(0, MAX_LIST_ITEMS).flatMap((item, i) => (i > 0 ? [ours(", "), theirs(item, budget)] : [theirs(item, budget)]));
  const rest = items.length - MAX_LIST_ITEMS;
  return rest > 0 ? [...shown, ours(` (+${rest} more)`)] : shown;
}

/**
 * The card's status line, in mrkdwn: our words, a mention or escaped id for who ended it, and Slack
 * date tokens. Pending: `*Waiting for approval* · 1 of 2 approvals · deadline <date>`.
 */
export function statusLine(view: Pick<CardView, "status" | "statusBy" | "statusAtMs" | "quorum" | "deadlineAtMs">): string {
  if (view.status === "pending") return `*Waiting for approval* · ${quorumText(view.quorum)} · deadline ${slackDate(view.deadlineAtMs)}`;
  let line = `*${STATUS_WORDS[view.status]}*`;
  if (view.statusBy !== undefined && ENDED_BY_SOMEONE.has(view.status)) line += ` by ${whoMrkdwn(view.statusBy)}`;
  if (view.statusAtMs !== undefined) line += ` · ${slackDate(view.statusAtMs)}`;
  if (view.status === "expired") line += ` · ${quorumText(view.quorum)}`;
  return line;
}

function argumentsText(args: unknown, budget: number): string {
  let json: string;
  try {
    json = displayJson(args);
  } catch {
    // A cycle or a BigInt: arguments arrive as JSON, so only a programming error gets here.
    return "[arguments cannot be displayed]";
  }
  return fitLines(json, budget);
}

function decisionItem(d: CardDecision, b: Budget): RichTextSection {
  const elements: RichTextElement[] = [
    ...richWho({ id: d.approver, ...(d.slackUserId !== undefined ? { slackUserId: d.slackUserId } : {}) }, b.approver),
    ours(d.decision === "approve" ? " approved" : " denied", true),
    ours(" · "),
    richDate(d.atMs),
    ours(" · via "),
    theirs(d.via, b.via),
  ];
  if (d.reason !== undefined && d.reason !== "") elements.push(ours(": "), theirs(d.reason, b.decisionReason, { italic: true }));
  return section(elements);
}

function decisionsBlock(decisions: readonly CardDecision[], b: Budget): RichTextBlock {
  const shown = decisions.slice(-b.decisions);
  const earlier = decisions.length - shown.length;
  const heading: RichTextElement[] = [ours("Decisions", true)];
  if (earlier > 0) heading.push(ours(` (${earlier} earlier not shown)`));
  return {
    type: "rich_text",
    block_id: "countersign_decisions",
    elements: [
      section(heading),
      { type: "rich_text_list", style: "bullet", elements: shown.map((d) => decisionItem(d, b)) },
    ],
  };
}

function approveButton(view: CardView): Button {
  const button: Button = {
    type: "button",
    action_id: view.approveReasonRequired ? APPROVE_WITH_REASON_ACTION_ID : APPROVE_ACTION_ID,
    text: plain(view.approveReasonRequired ? "Approve…" : "Approve"),
    style: "primary",
    value: view.approvalId,
  };
  if (view.critical) {
    const confirm: ConfirmationDialog = {
      title: plain("Approve a critical action?"),
      // Confirm text is at most 300 characters: the tool's name gets what our words leave.
      text: plain(`${fitShown(view.tool.displayName, 120)} is marked critical. Approving lets the agent run it once, with exactly the arguments shown (sha256 ${fitShown(view.argsSha256, 64)}).`),
      confirm: plain("Approve"),
      deny: plain("Cancel"),
      style: "danger",
    };
    button.confirm = confirm;
  }
  return button;
}

function actionsBlock(view: CardView): ActionsBlock {
  return {
    type: "actions",
    block_id: DECIDE_BLOCK_ID,
    elements: [approveButton(view), { type: "button", action_id: DENY_ACTION_ID, text: plain("Deny"), style: "danger", value: view.approvalId }],
  };
}

/**
 * The approval card: header, status line, who/what/why, the redacted arguments with their SHA-256,
 * routing (policies, approver groups, quorum, deadline, escalation), decisions so far, a Temporal UI
 * link, and Approve/Deny buttons while (and only while) the approval is pending. `text` is the short
 * notification fallback (mrkdwn, escaped); `metadata` lets a retried post find the card again.
 *
 * Agent-supplied strings are neutralised and cut to fit (visible ` …[+N more characters]` markers),
 * then shown only in `plain_text` objects (`emoji: false`) and rich-text `text` elements. When the
 * blocks would exceed {@link CARD_JSON_MAX} characters as JSON, they are rendered again with every
 * budget halved, then quartered (and fewer decisions listed).
 *
 * @throws RangeError when `approvalId` is longer than a button value may be (2000 characters), or a
 *   time is not representable (see {@link slackDate}).
 */
export function renderCard(view: CardView): {
  text: string;
  blocks: KnownBlock[];
  metadata: { event_type: string; event_payload: { approval_id: string; status: string } };
} {
  if (view.approvalId.length > BUTTON_VALUE_MAX) throw new RangeError(`approvalId is longer than a Slack button value may be (${BUTTON_VALUE_MAX})`);
  let blocks: KnownBlock[] = [];
  for (const scale of SCALES) {
    blocks = cardBlocks(view, budgetAt(scale));
    if (JSON.stringify(blocks).length <= CARD_JSON_MAX) break;
  }
  const words = STATUS_WORDS[view.status];
  const requesterName = view.requester.displayName !== undefined && view.requester.displayName !== "" ? view.requester.displayName : view.requester.id;
  const text = `${words}: ${fitShown(view.tool.displayName, FALLBACK_PART, escapeMrkdwn)} (requested by ${fitShown(requesterName, FALLBACK_PART, escapeMrkdwn)})`;
  return { text, blocks, metadata: { event_type: CARD_METADATA_EVENT_TYPE, event_payload: { approval_id: view.approvalId, status: view.status } } };
}

/** The card's blocks with agent text cut to the budgets `b`. */
function cardBlocks(view: CardView, b: Budget): KnownBlock[] {
  const words = STATUS_WORDS[view.status];

  const header: HeaderBlock = { type: "header", block_id: "countersign_header", text: plain(`${words}: ${fitShown(view.tool.displayName, HEADER_MAX - words.length - 2)}`) };
  const status: SectionBlock = { type: "section", block_id: "countersign_status", text: { type: "mrkdwn", text: statusLine(view), verbatim: true } };
  const blocks: KnownBlock[] = [header, status];
  if (view.statusReason !== undefined && view.statusReason !== "") {
    blocks.push({ type: "rich_text", block_id: "countersign_status_reason", elements: [lines([["Reason", [theirs(view.statusReason, b.statusReason)]]])] });
  }
  blocks.push({ type: "divider" } satisfies DividerBlock);

  const requester: RichTextElement[] = [...richWho(view.requester, b.id)];
  if (slackUserId(view.requester.slackUserId) !== undefined) requester.push(ours(" · "), theirs(view.requester.id, b.id));
  else if (view.requester.displayName !== undefined && view.requester.displayName !== "") requester.unshift(theirs(view.requester.displayName, b.name), ours(" · "));
  const details: Array<[string, RichTextElement[]]> = [
    ["Tool", [theirs(view.tool.displayName, b.toolName), ours(" ("), theirs(view.tool.name, b.toolName, { code: true }), ours(")")]],
    ["Requester", requester],
    ["Agent", [theirs(view.agent, b.agent, { code: true })]],
    ["Tenant", [theirs(view.tenant, b.tenant)]],
  ];
  if (view.resource !== undefined) details.push(["Resource", [theirs(view.resource.type, b.listItem), ours(" "), theirs(view.resource.id, b.id, { code: true })]]);
  details.push(["Task", [theirs(view.task.id, b.id, { code: true })]], ["Summary", [theirs(view.task.summary, b.summary)]]);
  if (view.reason !== undefined && view.reason !== "") details.push(["Agent's reason", [theirs(view.reason, b.reason)]]);
  blocks.push({ type: "rich_text", block_id: "countersign_details", elements: [lines(details)] });

  blocks.push({
    type: "rich_text",
    block_id: "countersign_arguments",
    elements: [
      section([ours("Arguments", true), ours(" (redacted per the tool catalog)")]),
      { type: "rich_text_preformatted", elements: [ours(argumentsText(view.arguments, b.arguments))] },
      section([ours("sha256 "), theirs(view.argsSha256, 100, { code: true })]),
    ],
  });

  const routing: Array<[string, RichTextElement[]]> = [
    ["Policies", list(view.policyIds, b.listItem)],
    ["Approver groups", list(view.approverGroups, b.listItem)],
    ["Quorum", [ours(quorumText(view.quorum))]],
    ["Deadline", [richDate(view.deadlineAtMs)]],
  ];
  if (view.escalatedTo !== undefined && view.escalatedTo !== "") routing.push(["Escalated to", [theirs(view.escalatedTo, b.listItem)]]);
  blocks.push({ type: "rich_text", block_id: "countersign_routing", elements: [lines(routing)] });

  if (view.decisions.length > 0) blocks.push(decisionsBlock(view.decisions, b));
  if (view.status === "pending") blocks.push(actionsBlock(view));

  const context: ContextBlockElement[] = [plain(`Approval ${fitShown(view.approvalId, b.id)}`)];
  const link = view.temporalUiUrl !== undefined ? mrkdwnLinkUrl(view.temporalUiUrl) : undefined;
  if (link !== undefined) context.push({ type: "mrkdwn", text: `<${link}|Open in Temporal UI>`, verbatim: true });
  blocks.push({ type: "context", block_id: "countersign_context", elements: context } satisfies ContextBlock);

  return blocks;
}

/**
 * The modal that asks for a reason: always to deny, and to approve when a policy requires a reason.
 * A required multi-line `plain_text_input` (block {@link REASON_BLOCK_ID}, action
 * {@link REASON_ACTION_ID}, at most {@link REASON_MAX_LENGTH} characters); submit `Deny`/`Approve`,
 * close `Cancel`; `callback_id` {@link DENY_MODAL_CALLBACK_ID} or {@link APPROVE_MODAL_CALLBACK_ID};
 * `private_metadata` exactly as given. The tool's name is neutralised and shown as plain text.
 *
 * @throws RangeError when `privateMetadata` is longer than Slack allows (3000 characters).
 */
export function renderReasonModal(o: { approvalId: string; decision: "approve" | "deny"; toolDisplayName: string; privateMetadata: string }): View {
  if (o.privateMetadata.length > PRIVATE_METADATA_MAX) throw new RangeError(`privateMetadata is longer than Slack allows (${PRIVATE_METADATA_MAX})`);
  const deny = o.decision === "deny";
  const modal: ModalView = {
    type: "modal",
    callback_id: deny ? DENY_MODAL_CALLBACK_ID : APPROVE_MODAL_CALLBACK_ID,
    private_metadata: o.privateMetadata,
    title: plain(deny ? "Deny request" : "Approve request"),
    submit: plain(deny ? "Deny" : "Approve"),
    close: plain("Cancel"),
    blocks: [
      {
        type: "section",
        block_id: "countersign_reason_context",
        text: plain(
          `${deny ? "Denying" : "Approving"}: ${fitShown(o.toolDisplayName, FULL_BUDGET.toolName)} (approval ${fitShown(o.approvalId, FULL_BUDGET.id)}). Your reason is posted in the card's thread and kept with the decision.`,
        ),
      } satisfies SectionBlock,
      {
        type: "input",
        block_id: REASON_BLOCK_ID,
        optional: false,
        label: plain(deny ? "Why deny it?" : "Why approve it?"),
        element: { type: "plain_text_input", action_id: REASON_ACTION_ID, multiline: true, min_length: 1, max_length: REASON_MAX_LENGTH },
      },
    ],
  };
  return modal;
}
