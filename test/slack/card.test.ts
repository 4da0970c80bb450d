// The Slack approval card and its messages: hostile agent text renders inert, Block Kit limits hold, and
// the card shows approvers what they need (status, quorum, deadline, decisions, buttons only while pending).
import assert from "node:assert/strict";
import {
  APPROVE_ACTION_ID,
  APPROVE_WITH_REASON_ACTION_ID,
  APPROVE_MODAL_CALLBACK_ID,
  CARD_METADATA_EVENT_TYPE,
  DENY_ACTION_ID,
  DENY_MODAL_CALLBACK_ID,
  REASON_ACTION_ID,
  REASON_BLOCK_ID,
  renderCard,
  renderDecisionReply,
  renderReasonModal,
  renderReminder,
  renderRequesterNotice,
  slackDate,
  type CardStatus,
  type CardView,
} from "../../src/slack/card.js";
import { escapeMrkdwn, fit } from "../../src/slack/inert.js";

// Everything an agent might try in one string: broadcast, user, channel and link syntax, mrkdwn
// formatting, code fences, pre-escaped entities, an emoji shortcode, an RTL override, a zero-width space.
const HOSTILE = "<!channel> <!here> <@U0BOB> <#C0GENERAL> <https://evil.example|click> *bold* _it_ ~s~ `tick` ```fence``` &lt;@U0BOB&gt; :white_check_mark: rtl\u202Eexe zw\u200Bsp";
const LONG = "x".repeat(10_000);
const DEADLINE_MS = Date.UTC(2025, 7, 9, 14, 34, 56, 789);
const DEADLINE_TOKEN = "<!date^1754750096^{date_short_pretty} at {time}|2025-08-09T14:34:56Z>";
const DECIDED_MS = Date.UTC(2025, 7, 9, 12, 0, 0);
const DECIDED_TOKEN = "<!date^1754740800^{date_short_pretty} at {time}|2025-08-09T12:00:00Z>";

function baseView(overrides: Partial<CardView> = {}): CardView {
  return {
    approvalId: "appr_01J9Z",
    status: "pending",
    tool: { name: "payments.refund", displayName: "Refund a payment" },
    requester: { id: "alice@acme.example", slackUserId: "U0ALICE", displayName: "Alice" },
    agent: "spiffe://acme.example/agent/support-bot",
    tenant: "acme",
    resource: { type: "order", id: "ord_1042" },
    task: { id: "task_77", summary: "Refund order 1042 for a damaged item" },
    reason: "Customer sent photos of the damage",
    arguments: { order_id: "ord_1042", amount_cents: 4200, card_number: "[redacted]" },
    argsSha256: "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
    policyIds: ["refunds-need-finance"],
    approverGroups: ["finance"],
    deadlineAtMs: DEADLINE_MS,
    quorum: { approved: 1, required: 2 },
    decisions: [{ approver: "bob@acme.example", slackUserId: "U0BOB", decision: "approve", reason: "Photos match the order", atMs: DECIDED_MS, via: "slack" }],
    critical: false,
    approveReasonRequired: false,
    temporalUiUrl: "https://temporal.acme.example/namespaces/countersign/workflows/appr_01J9Z",
    ...overrides,
  };
}

/** Every agent-controlled field at once: each tagged so a test can tell where it ended up. */
function hostileView(overrides: Partial<CardView> = {}): CardView {
  const h = (tag: string): string => `${tag} ${HOSTILE}`;
  return baseView({
    tool: { name: h("TOOLNAME"), displayName: h("TOOLDISPLAY") },
    requester: { id: h("REQUESTERID"), displayName: h("REQUESTERNAME") },
    agent: h("AGENTID"),
    tenant: h("TENANT"),
    resource: { type: h("RESOURCETYPE"), id: h("RESOURCEID") },
    task: { id: h("TASKID"), summary: `${h("SUMMARY")} ${LONG}` },
    reason: `${h("REASON")} ${LONG}`,
    arguments: { [h("ARGKEY")]: h("ARGVALUE"), long: LONG, nested: [{ deeper: h("NESTED") }] },
    decisions: [{ approver: h("APPROVERID"), decision: "deny", reason: `${h("DECISIONREASON")} ${LONG}`, atMs: DECIDED_MS, via: h("VIA") }],
    escalatedTo: h("ESCALATED"),
    policyIds: [h("POLICY")],
    approverGroups: [h("GROUP")],
    critical: true,
    ...overrides,
  });
}

const TAGS = [
  "TOOLNAME",
  "TOOLDISPLAY",
  "REQUESTERID",
  "REQUESTERNAME",
  "AGENTID",
  "TENANT",
  "RESOURCETYPE",
  "RESOURCEID",
  "TASKID",
  "SUMMARY",
  "REASON",
  "ARGKEY",
  "ARGVALUE",
  "NESTED",
  "APPROVERID",
  "DECISIONREASON",
  "VIA",
  "ESCALATED",
  "POLICY",
  "GROUP",
];

type TextKind = "plain_text" | "mrkdwn" | "rich_text";
interface TextHit {
  kind: TextKind;
  text: string;
  path: string;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/**
 * Every text in a Block Kit tree: text objects (`plain_text`, `mrkdwn`) and rich-text `text`
 * elements. Any other object carrying a string `text` fails the walk, so a new kind of text
 * cannot slip past these tests unexamined.
 */
function textsOf(node: unknown, path = "$"): TextHit[] {
  if (Array.isArray(node)) return node.flatMap((item, i) => textsOf(item, `${path}[${i}]`));
  if (!isRecord(node)) return [];
  const hits: TextHit[] = [];
  if (typeof node.text === "string") {
    if (node.type === "plain_text" || node.type === "mrkdwn") hits.push({ kind: node.type, text: node.text, path });
    else if (node.type === "text") hits.push({ kind: "rich_text", text: node.text, path });
    else assert.fail(`unexpected text-bearing object at ${path}: type ${String(node.type)}`);
  }
  for (const [key, value] of Object.entries(node)) hits.push(...textsOf(value, `${path}.${key}`));
  return hits;
}

/** Every string anywhere in a value (texts, ids, values, URLs, metadata). */
function stringsOf(node: unknown): string[] {
  if (typeof node === "string") return [node];
  if (Array.isArray(node)) return node.flatMap(stringsOf);
  if (isRecord(node)) return Object.values(node).flatMap(stringsOf);
  return [];
}

/** Every object in a tree whose `type` is `type`. */
function nodesOfType(node: unknown, type: string): Record<string, unknown>[] {
  if (Array.isArray(node)) return node.flatMap((item) => nodesOfType(item, type));
  if (!isRecord(node)) return [];
  const own = node.type === type ? [node] : [];
  return [...own, ...Object.values(node).flatMap((value) => nodesOfType(value, type))];
}

// The `<…>` sequences we write ourselves in mrkdwn: directory mentions, group mentions, date tokens and our Temporal link.
const OUR_TOKENS = [/<@[UW][A-Z0-9]+>/g, /<!subteam\^S[A-Z0-9]+>/g, /<!date\^\d+\^[^|<>]+\|[^<>|]+>/g, /<https?:\/\/[^|<>\s]+\|Open in Temporal UI>/g];

function withoutOurTokens(mrkdwn: string): string {
  return OUR_TOKENS.reduce((text, token) => text.replace(token, ""), mrkdwn);
}

/**
 * A mrkdwn string carries no markup but ours: no `<`/`>` outside our tokens, none of HOSTILE's
 * backticks (so every code span is ours), and none of its formatting or emoji codes outside those
 * code spans (inside one, Slack formats nothing).
 */
function assertInertMrkdwn(mrkdwn: string, where: string): void {
  const rest = withoutOurTokens(mrkdwn);
  assert.ok(!/[<>]/.test(rest), `${where}: raw < or > outside our tokens in ${JSON.stringify(mrkdwn)}`);
  for (const mark of ["`tick`", "```"]) assert.ok(!mrkdwn.includes(mark), `${where}: ${mark} survives in ${JSON.stringify(mrkdwn)}`);
  const outsideCode = mrkdwn.replace(/`[^`]*`/g, "");
  for (const mark of ["*bold*", "_it_", "~s~", ":white_check_mark:"]) {
    assert.ok(!outsideCode.includes(mark), `${where}: ${mark} survives outside a code span in ${JSON.stringify(mrkdwn)}`);
  }
}

const HIDDEN = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Co}\p{Cn}]/u;

function assertNoHiddenCharacters(node: unknown): void {
  for (const s of stringsOf(node)) {
    const found = Array.from(s).find((char) => char !== "\n" && HIDDEN.test(char));
    assert.equal(found, undefined, `hidden character U+${found?.codePointAt(0)?.toString(16).toUpperCase() ?? ""} in ${JSON.stringify(s).slice(0, 200)}`);
  }
}

/** Slack's documented Block Kit limits (and the message size Slack refuses in practice), checked over a whole card. */
function assertWithinLimits(card: { text: string; blocks: unknown[] }): void {
  assert.ok(card.text.length >= 1 && card.text.length <= 4000, `top-level text is ${card.text.length} characters`);
  assert.ok(card.blocks.length <= 50, `${card.blocks.length} blocks`);
  // msg_blocks_too_long comes well before the sum of the per-block limits (slackapi/bolt-js#2509).
  assert.ok(JSON.stringify(card.blocks).length <= 12_000, `blocks serialise to ${JSON.stringify(card.blocks).length} characters`);
  for (const hit of textsOf(card.blocks)) {
    assert.ok(hit.text.length >= 1, `empty text at ${hit.path}`);
    assert.ok(hit.text.length <= 3000, `${hit.path} is ${hit.text.length} characters`);
  }
  for (const block of card.blocks) {
    assert.ok(isRecord(block));
    if (typeof block.block_id === "string") assert.ok(block.block_id.length <= 255);
    switch (block.type) {
      case "header":
        assert.ok(isRecord(block.text) && typeof block.text.text === "string" && block.text.text.length <= 150, "header text over 150");
        break;
      case "section": {
        if (isRecord(block.text)) assert.ok(String(block.text.text).length <= 3000, "section text over 3000");
        const fields = Array.isArray(block.fields) ? block.fields : [];
        assert.ok(fields.length <= 10, "more than 10 fields");
        for (const field of fields) assert.ok(isRecord(field) && String(field.text).length <= 2000, "field over 2000");
        break;
      }
      case "context":
        assert.ok(Array.isArray(block.elements) && block.elements.length <= 10, "context over 10 elements");
        break;
      case "actions":
        assert.ok(Array.isArray(block.elements) && block.elements.length <= 25, "actions over 25 elements");
        break;
      case "rich_text":
      case "divider":
        break;
      default:
        assert.fail(`unexpected block type ${String(block.type)}`);
    }
  }
  for (const button of nodesOfType(card.blocks, "button")) {
    assert.ok(isRecord(button.text) && String(button.text.text).length <= 75, "button text over 75");
    assert.ok(typeof button.value === "string" && button.value.length <= 2000, "button value over 2000");
    assert.ok(typeof button.action_id === "string" && button.action_id.length <= 255);
    if (isRecord(button.confirm)) {
      const { title, text, confirm, deny } = button.confirm;
      assert.ok(isRecord(title) && String(title.text).length <= 100, "confirm title over 100");
      assert.ok(isRecord(text) && String(text.text).length <= 300, "confirm text over 300");
      assert.ok(isRecord(confirm) && String(confirm.text).length <= 30, "confirm button over 30");
      assert.ok(isRecord(deny) && String(deny.text).length <= 30, "deny button over 30");
    }
  }
}

function blockById(blocks: unknown[], id: string): Record<string, unknown> {
  const block = blocks.find((b) => isRecord(b) && b.block_id === id);
  assert.ok(isRecord(block), `no block ${id}`);
  return block;
}

/** The concatenated text of a rich-text block (our labels and the agent's text), in order. */
function richText(block: Record<string, unknown>): string {
  return textsOf(block)
    .filter((hit) => hit.kind === "rich_text")
    .map((hit) => hit.text)
    .join("");
}

function mrkdwnTexts(card: { blocks: unknown[] }): string[] {
  return textsOf(card.blocks)
    .filter((hit) => hit.kind === "mrkdwn")
    .map((hit) => hit.text);
}

const STATUSES: CardStatus[] = ["pending", "approved", "denied", "expired", "revoked", "redeemed", "failed"];

describe("Slack approval card", function () {
  describe("agent text", function () {
    it("never reaches a mrkdwn text object unescaped: the only < in mrkdwn are our mentions, dates and link", function () {
      for (const status of STATUSES) {
        const card = renderCard(hostileView({ status, statusBy: { id: `STATUSBY ${HOSTILE}` }, statusAtMs: DECIDED_MS, statusReason: `STATUSREASON ${HOSTILE}` }));
        const mrkdwn = mrkdwnTexts(card);
        assert.ok(mrkdwn.length > 0);
        mrkdwn.forEach((text) => assertInertMrkdwn(text, `${status} card`));
        assertInertMrkdwn(card.text, `${status} fallback text`);
      }
    });

    it("appears only in plain_text and rich-text elements, literally and neutralised", function () {
      const card = renderCard(hostileView());
      for (const tag of TAGS) {
        const hits = textsOf(card.blocks).filter((hit) => hit.text.includes(tag));
        assert.ok(hits.length > 0, `${tag} is not shown at all`);
        for (const hit of hits) assert.notEqual(hit.kind, "mrkdwn", `${tag} reached mrkdwn at ${hit.path}`);
      }
      const summary = richText(blockById(card.blocks, "countersign_details"));
      // Shown as written (Slack parses nothing in rich-text text), with the hidden characters made visible.
      assert.ok(summary.includes("SUMMARY <!channel> <!here> <@U0BOB> <#C0GENERAL> <https://evil.example|click> *bold* _it_ ~s~ `tick` ```fence``` &lt;@U0BOB&gt; :white_check_mark: rtl\\u{202E}exe zw\\u{200B}sp"));
      const header = blockById(card.blocks, "countersign_header");
      assert.ok(isRecord(header.text));
      assert.equal(header.text.type, "plain_text");
      assert.equal(header.text.emoji, false);
      assert.match(String(header.text.text), /^Approval needed: TOOLDISPLAY <!channel> /);
    });

    it("creates no mention, broadcast, channel or link elements: the only rich-text user elements are the directory's", function () {
      const card = renderCard(hostileView());
      for (const type of ["broadcast", "channel", "link", "usergroup", "team", "emoji"]) assert.deepEqual(nodesOfType(card.blocks, type), [], type);
      // The hostile requester and approver have no Slack id, so nobody is mentioned at all.
      assert.deepEqual(nodesOfType(card.blocks, "user"), []);
      for (const plainText of nodesOfType(card.blocks, "plain_text")) assert.equal(plainText.emoji, false);
    });

    it("leaves no hidden character anywhere: the RTL override and zero-width space show as escapes", function () {
      const card = renderCard(hostileView({ status: "denied", statusBy: { id: `STATUSBY ${HOSTILE}` }, statusAtMs: DECIDED_MS, statusReason: `STATUSREASON ${HOSTILE}` }));
      assertNoHiddenCharacters(card);
      const all = stringsOf(card).join("\n");
      assert.ok(all.includes("rtl\\u{202E}exe"));
      assert.ok(all.includes("zw\\u{200B}sp"));
    });

    it("escapes agent text in the fallback text: entities for & < >, look-alikes for formatting marks", function () {
      const card = renderCard(baseView({ tool: { name: "t", displayName: "Refund <!here> *now* & `x`" }, requester: { id: "<@U0BOB>_x_" } }));
      assert.equal(card.text, "Approval needed: Refund &lt;!here&gt; ＊now＊ &amp; ｀x｀ (requested by &lt;@U0BOB&gt;＿x＿)");
    });

    it("cuts long agent text with a visible marker and keeps every Block Kit limit", function () {
      const card = renderCard(hostileView());
      assertWithinLimits(card);
      const details = richText(blockById(card.blocks, "countersign_details"));
      assert.match(details, /Summary: SUMMARY .*x …\[\+\d+ more characters\]/);
      const args = richText(blockById(card.blocks, "countersign_arguments"));
      // displayJson caps the 10 000-character argument value at 200 characters.
      assert.ok(args.includes(`"long": "${"x".repeat(200)} …[+9800 more characters]"`), args);
    });

    it("keeps the limits at their worst: every field long, many arguments, decisions, policies and groups", function () {
      const many = (tag: string, n: number): string[] => Array.from({ length: n }, (_, i) => `${tag}${i} ${HOSTILE} ${LONG}`);
      const hidden = "\u200B".repeat(5000);
      // Quotes and backslashes take two characters each in JSON.
      const escapes = '"\\'.repeat(5000);
      const escaping = hostileView({
        tool: { name: escapes, displayName: escapes },
        requester: { id: escapes, displayName: escapes },
        agent: escapes,
        tenant: escapes,
        resource: { type: escapes, id: escapes },
        task: { id: escapes, summary: escapes },
        reason: escapes,
        arguments: { [escapes]: escapes },
        decisions: Array.from({ length: 10 }, () => ({ approver: escapes, decision: "deny" as const, reason: escapes, atMs: DECIDED_MS, via: escapes })),
        policyIds: [escapes, escapes, escapes, escapes, escapes, escapes],
        approverGroups: [escapes, escapes, escapes, escapes, escapes, escapes],
        escalatedTo: escapes,
        statusReason: escapes,
      });
      const view = hostileView({
        argsSha256: LONG,
        agent: hidden,
        tool: { name: LONG, displayName: `${"&<".repeat(3000)}` },
        requester: { id: LONG, displayName: hidden },
        arguments: { quotes: '"'.repeat(10_000), ...Object.fromEntries(many("key", 300).map((k, i) => [k, { [`inner${i}`]: LONG }])) },
        decisions: many("APPROVERID", 40).map((approver, i) => ({ approver, decision: i % 2 === 0 ? "approve" : "deny", reason: `${hidden}${LONG}`, atMs: DECIDED_MS + i, via: LONG })),
        policyIds: many("POLICY", 30),
        approverGroups: many("GROUP", 30),
        escalatedTo: LONG,
        statusReason: LONG,
      });
      for (const worst of [view, escaping]) {
        for (const status of STATUSES) {
          const card = renderCard({ ...worst, status, statusBy: { id: LONG }, statusAtMs: DECIDED_MS });
          assertWithinLimits(card);
          assertNoHiddenCharacters(card);
        }
      }
      const args = richText(blockById(renderCard(view).blocks, "countersign_arguments"));
      assert.match(args, /\n…\[\+\d+ more characters\]sha256 /);
      const decisions = richText(blockById(renderCard(view).blocks, "countersign_decisions"));
      assert.match(decisions, /^Decisions \(36 earlier not shown\)/);
      const routing = richText(blockById(renderCard(view).blocks, "countersign_routing"));
      assert.match(routing, /Policies: POLICY0 .* \(\+25 more\)\n/);
    });
  });

  describe("content", function () {
    it("shows who, what and why: requester mention and id, agent, tenant, resource, task, summary and reason", function () {
      const card = renderCard(baseView());
      const details = blockById(card.blocks, "countersign_details");
      assert.equal(
        richText(details),
        [
          "Tool: Refund a payment (payments.refund)",
          "Requester:  · alice@acme.example",
          "Agent: spiffe://acme.example/agent/support-bot",
          "Tenant: acme",
          "Resource: order ord_1042",
          "Task: task_77",
          "Summary: Refund order 1042 for a damaged item",
          "Agent's reason: Customer sent photos of the damage",
        ].join("\n"),
      );
      assert.deepEqual(nodesOfType(details, "user"), [{ type: "user", user_id: "U0ALICE" }]);
    });

    it("shows a requester without a Slack id by name and id, as text", function () {
      const card = renderCard(baseView({ requester: { id: "alice@acme.example", displayName: "Alice" } }));
      const details = blockById(card.blocks, "countersign_details");
      assert.match(richText(details), /\nRequester: Alice · alice@acme.example\n/);
      assert.deepEqual(nodesOfType(details, "user"), []);
    });

    it("does not mention a Slack id that is not shaped like one", function () {
      const card = renderCard(baseView({ requester: { id: "mallory", slackUserId: "U0X><!channel" } }));
      assert.deepEqual(nodesOfType(blockById(card.blocks, "countersign_details"), "user"), []);
      assert.match(richText(blockById(card.blocks, "countersign_details")), /\nRequester: mallory\n/);
    });

    it("shows redacted arguments as [redacted] and the arguments' sha256", function () {
      const card = renderCard(baseView());
      const args = blockById(card.blocks, "countersign_arguments");
      const [pre] = nodesOfType(args, "rich_text_preformatted");
      assert.ok(pre !== undefined);
      assert.equal(richText(pre), '{\n  "order_id": "ord_1042",\n  "amount_cents": 4200,\n  "card_number": "[redacted]"\n}');
      assert.match(richText(args), /sha256 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08$/);
    });

    it("shows routing: policies, approver groups, quorum as '1 of 2 approvals', the deadline as a date, escalation", function () {
      const card = renderCard(baseView({ policyIds: ["refunds-need-finance", "big-refunds"], approverGroups: ["finance", "cfo-office"], escalatedTo: "cfo-office" }));
      const routing = blockById(card.blocks, "countersign_routing");
      assert.equal(richText(routing), "Policies: refunds-need-finance, big-refunds\nApprover groups: finance, cfo-office\nQuorum: 1 of 2 approvals\nDeadline: \nEscalated to: cfo-office");
      assert.deepEqual(nodesOfType(routing, "date"), [{ type: "date", timestamp: 1754750096, format: "{date_short_pretty} at {time}", fallback: "2025-08-09T14:34:56Z" }]);
    });

    it("lists decisions so far: who, approved or denied, when, via and reason", function () {
      const card = renderCard(
        baseView({
          decisions: [
            { approver: "bob@acme.example", slackUserId: "U0BOB", decision: "approve", reason: "Photos match", atMs: DECIDED_MS, via: "slack" },
            { approver: "carol@acme.example", decision: "deny", atMs: DECIDED_MS + 1000, via: "api" },
          ],
        }),
      );
      const decisions = blockById(card.blocks, "countersign_decisions");
      const [list] = nodesOfType(decisions, "rich_text_list");
      assert.ok(list !== undefined && Array.isArray(list.elements));
      assert.deepEqual(
        list.elements.map((item) => richText(item as Record<string, unknown>)),
        [" approved ·  · via slack: Photos match", "carol@acme.example denied ·  · via api"],
      );
      assert.deepEqual(nodesOfType(decisions, "user"), [{ type: "user", user_id: "U0BOB" }]);
      assert.deepEqual(
        nodesOfType(decisions, "date").map((d) => d.timestamp),
        [1754740800, 1754740801],
      );
    });

    it("has no decisions block before anyone decided", function () {
      const card = renderCard(baseView({ decisions: [], quorum: { approved: 0, required: 1 } }));
      assert.ok(!card.blocks.some((b) => b.block_id === "countersign_decisions"));
      assert.match(mrkdwnTexts(card)[0] ?? "", /· 0 of 1 approval ·/);
    });

    it("links the Temporal UI with | and > percent-encoded and & escaped", function () {
      const card = renderCard(baseView({ temporalUiUrl: "https://temporal.acme.example/ns/a|b>c/wf?x=1&y=<2>" }));
      const context = blockById(card.blocks, "countersign_context");
      assert.deepEqual(context.elements, [
        { type: "plain_text", text: "Approval appr_01J9Z", emoji: false },
        { type: "mrkdwn", text: "<https://temporal.acme.example/ns/a%7Cb%3Ec/wf?x=1&amp;y=%3C2%3E|Open in Temporal UI>", verbatim: true },
      ]);
    });

    it("shows no link for a Temporal UI URL that is not http(s)", function () {
      for (const url of ["javascript:alert(1)", "not a url", "slack://open"]) {
        const context = blockById(renderCard(baseView({ temporalUiUrl: url })).blocks, "countersign_context");
        assert.deepEqual(context.elements, [{ type: "plain_text", text: "Approval appr_01J9Z", emoji: false }], url);
      }
    });

    it("carries metadata to find the card again: event type, approval id and status", function () {
      assert.deepEqual(renderCard(baseView({ status: "denied" })).metadata, { event_type: CARD_METADATA_EVENT_TYPE, event_payload: { approval_id: "appr_01J9Z", status: "denied" } });
      assert.equal(CARD_METADATA_EVENT_TYPE, "countersign_approval");
    });
  });

  describe("status", function () {
    const ended = { statusBy: { id: "bob@acme.example", slackUserId: "U0BOB" }, statusAtMs: DECIDED_MS };
    const expected: Record<CardStatus, { header: string; line: string }> = {
      pending: { header: "Approval needed: Refund a payment", line: `*Waiting for approval* · 1 of 2 approvals · deadline ${DEADLINE_TOKEN}` },
      approved: { header: "Approved: Refund a payment", line: `*Approved* by <@U0BOB> · ${DECIDED_TOKEN}` },
      denied: { header: "Denied: Refund a payment", line: `*Denied* by <@U0BOB> · ${DECIDED_TOKEN}` },
      expired: { header: "Expired: Refund a payment", line: `*Expired* · ${DECIDED_TOKEN} · 1 of 2 approvals` },
      revoked: { header: "Revoked: Refund a payment", line: `*Revoked* by <@U0BOB> · ${DECIDED_TOKEN}` },
      redeemed: { header: "Approved and used: Refund a payment", line: `*Approved and used* by <@U0BOB> · ${DECIDED_TOKEN}` },
      failed: { header: "Failed: Refund a payment", line: `*Failed* · ${DECIDED_TOKEN}` },
    };
    for (const status of STATUSES) {
      it(`shows a ${status} approval in the header and the status line`, function () {
        const card = renderCard(baseView({ status, ...(status === "pending" ? {} : ended) }));
        const header = blockById(card.blocks, "countersign_header");
        assert.deepEqual(header.text, { type: "plain_text", text: expected[status].header, emoji: false });
        assert.deepEqual(blockById(card.blocks, "countersign_status").text, { type: "mrkdwn", text: expected[status].line, verbatim: true });
        assert.equal(card.text, `${expected[status].header} (requested by Alice)`);
      });
    }

    it("names who ended it by escaped id in a code span when there is no Slack id", function () {
      const card = renderCard(baseView({ status: "revoked", statusBy: { id: "spiffe://acme/<!here>_ops_" }, statusAtMs: DECIDED_MS }));
      assert.deepEqual(blockById(card.blocks, "countersign_status").text, { type: "mrkdwn", text: `*Revoked* by \`spiffe://acme/&lt;!here&gt;_ops_\` · ${DECIDED_TOKEN}`, verbatim: true });
    });

    it("shows the status reason literally in rich text, neutralised", function () {
      const card = renderCard(baseView({ status: "failed", statusAtMs: DECIDED_MS, statusReason: "tool_error: <!channel> *boom*\u202E" }));
      assert.equal(richText(blockById(card.blocks, "countersign_status_reason")), "Reason: tool_error: <!channel> *boom*\\u{202E}");
    });
  });

  describe("buttons", function () {
    it("offers Approve and Deny while pending, each carrying only the approval id", function () {
      const card = renderCard(baseView());
      const actions = card.blocks.filter((b) => b.type === "actions");
      assert.equal(actions.length, 1);
      assert.equal(actions[0]?.block_id, "countersign_decide");
      assert.deepEqual(actions[0]?.type === "actions" ? actions[0].elements : undefined, [
        { type: "button", action_id: APPROVE_ACTION_ID, text: { type: "plain_text", text: "Approve", emoji: false }, style: "primary", value: "appr_01J9Z" },
        { type: "button", action_id: DENY_ACTION_ID, text: { type: "plain_text", text: "Deny", emoji: false }, style: "danger", value: "appr_01J9Z" },
      ]);
    });

    it("has no actions block and no button once the approval is no longer pending", function () {
      for (const status of STATUSES.filter((s) => s !== "pending")) {
        const card = renderCard(baseView({ status }));
        assert.deepEqual(
          card.blocks.filter((b) => b.type === "actions"),
          [],
          status,
        );
        assert.deepEqual(nodesOfType(card.blocks, "button"), [], status);
      }
    });

    it("asks to confirm Approve only for a critical tool, and never Deny", function () {
      const [approve, deny] = nodesOfType(renderCard(baseView({ critical: true })).blocks, "button");
      assert.ok(isRecord(approve?.confirm));
      assert.deepEqual(approve.confirm.confirm, { type: "plain_text", text: "Approve", emoji: false });
      assert.match(String(isRecord(approve.confirm.text) ? approve.confirm.text.text : ""), /^Refund a payment is marked critical\. .*sha256 9f86d0/);
      assert.equal(deny?.confirm, undefined);
      for (const button of nodesOfType(renderCard(baseView({ critical: false })).blocks, "button")) assert.equal(button.confirm, undefined);
    });

    it("labels Approve with an ellipsis when approving opens the reason modal, and gives it the reason action", function () {
      const [approve] = nodesOfType(renderCard(baseView({ approveReasonRequired: true })).blocks, "button");
      assert.deepEqual(approve?.text, { type: "plain_text", text: "Approve…", emoji: false });
      assert.equal(approve?.action_id, APPROVE_WITH_REASON_ACTION_ID);
      assert.equal(nodesOfType(renderCard(baseView({ approveReasonRequired: false })).blocks, "button")[0]?.action_id, APPROVE_ACTION_ID);
    });

    it("takes an approval id up to a button value's 2000 characters and refuses a longer one", function () {
      const longest = "a".repeat(2000);
      assert.deepEqual(
        nodesOfType(renderCard(baseView({ approvalId: longest })).blocks, "button").map((b) => b.value),
        [longest, longest],
      );
      assert.throws(() => renderCard(baseView({ approvalId: "a".repeat(2001) })), RangeError);
    });
  });

  describe("reason modal", function () {
    it("asks for a required reason of at most 2000 characters to deny", function () {
      const modal = renderReasonModal({ approvalId: "appr_01J9Z", decision: "deny", toolDisplayName: "Refund a payment", privateMetadata: '{"approvalId":"appr_01J9Z","channel":"C1"}' });
      assert.equal(modal.type, "modal");
      assert.ok(modal.type === "modal");
      assert.equal(modal.callback_id, DENY_MODAL_CALLBACK_ID);
      assert.equal(modal.private_metadata, '{"approvalId":"appr_01J9Z","channel":"C1"}');
      assert.deepEqual(modal.submit, { type: "plain_text", text: "Deny", emoji: false });
      assert.deepEqual(modal.close, { type: "plain_text", text: "Cancel", emoji: false });
      assert.ok(modal.title.text.length <= 24);
      const input = modal.blocks.find((b) => b.type === "input");
      assert.ok(input !== undefined && input.type === "input" && "element" in input);
      assert.equal(input.block_id, REASON_BLOCK_ID);
      assert.notEqual(input.optional, true);
      assert.deepEqual(input.element, { type: "plain_text_input", action_id: REASON_ACTION_ID, multiline: true, min_length: 1, max_length: 2000 });
    });

    it("uses the approve callback and submit label to approve, and shows the tool name as inert plain text", function () {
      const modal = renderReasonModal({ approvalId: "appr_01J9Z", decision: "approve", toolDisplayName: `Refund ${HOSTILE}`, privateMetadata: "m" });
      assert.ok(modal.type === "modal");
      assert.equal(modal.callback_id, APPROVE_MODAL_CALLBACK_ID);
      assert.equal(modal.submit?.text, "Approve");
      const hits = textsOf(modal.blocks).filter((hit) => hit.text.includes("Refund"));
      assert.equal(hits.length, 1);
      assert.equal(hits[0]?.kind, "plain_text");
      assertNoHiddenCharacters(modal);
    });

    it("refuses private metadata longer than Slack keeps", function () {
      assert.throws(() => renderReasonModal({ approvalId: "a", decision: "deny", toolDisplayName: "t", privateMetadata: "m".repeat(3001) }), RangeError);
    });
  });

  describe("messages", function () {
    it("replies to a decision with a mention when the Slack id is known", function () {
      assert.equal(renderDecisionReply({ approver: "bob@acme.example", slackUserId: "U0BOB", decision: "approve", reason: "Photos match", atMs: DECIDED_MS, via: "slack" }), "<@U0BOB> approved: Photos match");
      assert.equal(renderDecisionReply({ approver: "bob@acme.example", slackUserId: "U0BOB", decision: "deny", atMs: DECIDED_MS, via: "slack" }), "<@U0BOB> denied");
    });

    it("replies to a decision with the escaped id when there is no Slack id, and escapes the reason", function () {
      const reply = renderDecisionReply({ approver: "<!channel>_bob_", decision: "deny", reason: `no ${HOSTILE}`, atMs: DECIDED_MS, via: "api" });
      assert.equal(
        reply,
        "`&lt;!channel&gt;_bob_` denied: no &lt;!channel&gt; &lt;!here&gt; &lt;@U0BOB&gt; &lt;#C0GENERAL&gt; &lt;https://evil.example|click&gt; ＊bold＊ ＿it＿ ～s～ ｀tick｀ ｀｀｀fence｀｀｀ &amp;lt;@U0BOB&amp;gt; ：white＿check＿mark: rtl\\u{202E}exe zw\\u{200B}sp",
      );
      assertInertMrkdwn(reply, "reply");
    });

    it("keeps a decision reply under a message's 4000 characters however long the reason", function () {
      const reply = renderDecisionReply({ approver: "x".repeat(5000), decision: "approve", reason: "&".repeat(10_000), atMs: DECIDED_MS, via: "slack" });
      assert.ok(reply.length <= 4000, `${reply.length}`);
      assert.match(reply, /&amp; …\[\+\d+ more characters\]$/);
    });

    it("reminds with group mentions, the quorum and the deadline, and shows a non-id group as text", function () {
      assert.equal(
        renderReminder({ deadlineAtMs: DEADLINE_MS, quorum: { approved: 1, required: 2 }, mentionGroups: ["S0FINANCE", "<!channel>"] }),
        `<!subteam^S0FINANCE> \`&lt;!channel&gt;\` Still waiting for approval · 1 of 2 approvals · deadline ${DEADLINE_TOKEN}`,
      );
      assert.equal(renderReminder({ deadlineAtMs: DEADLINE_MS, quorum: { approved: 0, required: 1 } }), `Still waiting for approval · 0 of 1 approval · deadline ${DEADLINE_TOKEN}`);
    });

    it("tells the requester what happened, by whom and why, escaped", function () {
      assert.equal(
        renderRequesterNotice({ approvalId: "appr_01J9Z", status: "denied", toolDisplayName: "Refund a payment", statusBy: { id: "bob", slackUserId: "U0BOB" }, statusReason: "Order <1042> is *closed*" }),
        "Your request to use *Refund a payment* was denied by <@U0BOB>: Order &lt;1042&gt; is ＊closed＊\nApproval `appr_01J9Z`",
      );
      assert.equal(renderRequesterNotice({ approvalId: "appr_01J9Z", status: "expired", toolDisplayName: "Refund a payment", statusBy: { id: "bob" } }), "Your request to use *Refund a payment* expired before it was approved\nApproval `appr_01J9Z`");
    });

    it("words the requester notice for every status, always inert", function () {
      for (const status of STATUSES) {
        const notice = renderRequesterNotice({ approvalId: `appr ${HOSTILE}`, status, toolDisplayName: HOSTILE, statusBy: { id: HOSTILE }, statusReason: HOSTILE });
        assert.match(notice, /^Your request to use \*&lt;!channel&gt; /);
        assertInertMrkdwn(notice, status);
        assertNoHiddenCharacters(notice);
      }
    });
  });

  describe("inert text", function () {
    it("formats a Slack date token with the ISO fallback, cut to whole seconds", function () {
      assert.equal(slackDate(DEADLINE_MS), DEADLINE_TOKEN);
      assert.equal(slackDate(DEADLINE_MS, "{date_num} {time_secs}"), "<!date^1754750096^{date_num} {time_secs}|2025-08-09T14:34:56Z>");
      assert.throws(() => slackDate(Number.NaN), RangeError);
      assert.throws(() => slackDate(DEADLINE_MS, "{date}|<!channel>"), RangeError);
    });

    it("escapes & < > to entities, re-escapes pre-escaped text, and defuses formatting and emoji codes but not clock times", function () {
      assert.equal(escapeMrkdwn("a & b <@U1> &lt;x&gt;"), "a &amp; b &lt;@U1&gt; &amp;lt;x&amp;gt;");
      assert.equal(escapeMrkdwn("*b* _i_ ~s~ `c`"), "＊b＊ ＿i＿ ～s～ ｀c｀");
      assert.equal(escapeMrkdwn(":skull: :+1: at 10:30:00"), "：skull: ：+1: at 10:30:00");
    });

    it("fits escaped text into its budget, marker included", function () {
      const out = fit("<".repeat(1000), 100, escapeMrkdwn);
      assert.ok(out.length <= 100, `${out.length}`);
      assert.match(out, /^(&lt;)+ …\[\+\d+ more characters\]$/);
      assert.equal(fit("short", 100, escapeMrkdwn), "short");
    });
  });
});
