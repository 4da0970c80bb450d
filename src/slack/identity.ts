// Who clicked: a Slack user in a workspace becomes a directory user, or nobody. The workspace must be
// the one configured for the approval's tenant; the user must be the one directory user of that
// tenant whose `slackUserId` names them (or, only when configured, whose email Slack reports).
// Ambiguity and absence are refusals, never guesses.
import type { WebClient } from "@slack/web-api";
import type { SlackConfig } from "../config.js";
import type { SlackActor } from "../decisions/assertion.js";
import { SlackError } from "../errors.js";
import type { PolicyEngine } from "../policy/engine.js";
import { slackCall } from "./web.js";

export interface IdentityDeps {
  slack: Pick<SlackConfig, "tenants" | "mapUsersByEmail">;
  policy: Pick<PolicyEngine, "user" | "usersBySlackId" | "usersByEmail">;
  client: WebClient;
}

/**
 * The directory user id of `actor` for a decision on an approval of `tenant`.
 * @throws SlackError `slack_user_unmapped` (message safe to show the clicker): the tenant has no
 * Slack workspace, the click came from another workspace, or no / several directory users match;
 * `slack_unavailable` / `slack_rejected` when the email look-up (`users.info`) fails.
 */
export async function directoryUserOf(deps: IdentityDeps, actor: SlackActor, tenant: string): Promise<string> {
  const workspace = Object.hasOwn(deps.slack.tenants, tenant) ? deps.slack.tenants[tenant] : undefined;
  if (workspace === undefined || workspace.teamId !== actor.teamId) {
    throw new SlackError("slack_user_unmapped", "This approval is decided in another Slack workspace.", { detail: { teamId: actor.teamId, tenant } });
  }
  const ofTenant = (ids: string[]): string[] => ids.filter((id) => deps.policy.user(id)?.tenant === tenant);
  let matches = ofTenant(deps.policy.usersBySlackId(actor.userId));
  if (matches.length === 0 && deps.slack.mapUsersByEmail) {
    const info = await slackCall("users.info", () => deps.client.users.info({ user: actor.userId }));
    const email = info.user?.profile?.email;
    // An email Slack reports for a user of another workspace says nothing about this one, nor does
    // one Slack says is not confirmed.
    const confirmed = info.user?.is_email_confirmed !== false;
    if (typeof email === "string" && email !== "" && confirmed && info.user?.team_id === actor.teamId) matches = ofTenant(deps.policy.usersByEmail(email));
  }
  if (matches.length > 1) throw new SlackError("slack_user_unmapped", "Your Slack account matches more than one countersign user; an administrator must fix the directory.", { detail: { slackUserId: actor.userId, matches: matches.length } });
  const [user] = matches;
  if (user === undefined) throw new SlackError("slack_user_unmapped", "Your Slack account is not linked to a countersign user (the directory's slackUserId).", { detail: { slackUserId: actor.userId } });
  return user;
}
