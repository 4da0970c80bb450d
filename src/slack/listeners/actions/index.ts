// Registers the card's button listeners, one per action id.
import type { App } from "@slack/bolt";
import { APPROVE_ACTION_ID, APPROVE_WITH_REASON_ACTION_ID, DENY_ACTION_ID } from "../../card.js";
import type { SlackDecisions } from "../../edge.js";
import { approveClicked } from "./approve-clicked.js";
import { reasonModalClicked } from "./reason-modal-clicked.js";

export function registerActions(app: App, decisions: SlackDecisions): void {
  app.action(APPROVE_ACTION_ID, approveClicked(decisions));
  app.action(APPROVE_WITH_REASON_ACTION_ID, reasonModalClicked(decisions, "approve"));
  app.action(DENY_ACTION_ID, reasonModalClicked(decisions, "deny"));
}
