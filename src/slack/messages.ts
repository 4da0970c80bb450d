// The plain mrkdwn messages around an approval card: a decision's thread reply, the pending reminder
// and the requester's DM. Agent and approver text is neutralised and escaped (see escapeMrkdwn).
import type { CardDecision, CardStatus } from "./card.js";
import { codeMrkdwn, escapeMrkdwn, fit, fitShown, slackDate, slackUsergroupId, whoMrkdwn } from "./inert.js";

/** Longest reason a thread reply or DM shows, in UTF-16 code units after escaping (marker included). */
const REASON_BUDGET = 2000;
/** Longest tool name or group name shown, in UTF-16 code units after escaping. */
const NAME_BUDGET = 150;
/** Most user groups a reminder mentions. */
const MAX_REMINDER_GROUPS = 10;

/** `1 of 2 approvals` (singular when one is required). */
export function quorumText(quorum: { approved: number; required: number }): string {
  return `${quorum.approved} of ${quorum.required} ${quorum.required === 1 ? "approval" : "approvals"}`;
}

function reasonSuffix(reason: string | undefined): string {
  return reason !== undefined && reason !== "" ? `: ${fit(reason, REASON_BUDGET, escapeMrkdwn)}` : "";
}

/**
 * A decision's thread reply, in mrkdwn: `<@U…> approved: reason` (or `denied`). The approver is a
 * mention when their Slack user id is known and well-formed, else their id neutralised and escaped;
 * the reason, when there is one, is neutralised, escaped and cut to 2000 characters. At most about
 * 2300 characters, well under a message's 4000.
 */
export function renderDecisionReply(d: CardDecision): string {
  const who = whoMrkdwn({ id: d.approver, ...(d.slackUserId !== undefined ? { slackUserId: d.slackUserId } : {}) });
  return `${who} ${d.decision === "approve" ? "approved" : "denied"}${reasonSuffix(d.reason)}`;
}

/**
 * The thread reply while an approval is still pending:
 * `<!subteam^S…> Still waiting for approval · 1 of 2 approvals · deadline <date>`. Each of
 * `mentionGroups` (at most 10 are used) that is a Slack user group id (`S…`) becomes a group
 * mention; any other name is shown as inert text.
 */
export function renderReminder(o: { deadlineAtMs: number; quorum: { approved: number; required: number }; mentionGroups?: string[] }): string {
  const groups = (o.mentionGroups ?? []).slice(0, MAX_REMINDER_GROUPS).map((group) => {
    const id = slackUsergroupId(group);
    return id !== undefined ? `<!subteam^${id}>` : codeMrkdwn(group, NAME_BUDGET);
  });
  const line = `Still waiting for approval · ${quorumText(o.quorum)} · deadline ${slackDate(o.deadlineAtMs)}`;
  return groups.length > 0 ? `${groups.join(" ")} ${line}` : line;
}

const NOTICE_PHRASES: Readonly<Record<CardStatus, string>> = {
  pending: "is waiting for approval",
  approved: "was approved",
  denied: "was denied",
  expired: "expired before it was approved",
  revoked: "was revoked",
  redeemed: "was approved and has been used",
  failed: "failed",
};
const NAMES_WHO: ReadonlySet<CardStatus> = new Set(["approved", "denied", "revoked", "redeemed"]);

/**
 * The requester's DM about their approval, in mrkdwn, e.g.
 * `Your request to use *Refund a payment* was denied by <@U…>: reason` and, on a second line,
 * the approval id. Who is named for approved, denied, revoked and redeemed; the tool's name, the
 * approval id, who (without a Slack id) and the reason are neutralised and escaped.
 */
export function renderRequesterNotice(o: {
  approvalId: string;
  status: CardStatus;
  toolDisplayName: string;
  statusBy?: { id: string; slackUserId?: string };
  statusReason?: string;
}): string {
  let line = `Your request to use *${fitShown(o.toolDisplayName, NAME_BUDGET, escapeMrkdwn)}* ${NOTICE_PHRASES[o.status]}`;
  if (o.statusBy !== undefined && NAMES_WHO.has(o.status)) line += ` by ${whoMrkdwn(o.statusBy)}`;
  line += reasonSuffix(o.statusReason);
  return `${line}\nApproval ${codeMrkdwn(o.approvalId, 200)}`;
}
