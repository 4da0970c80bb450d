// Registers the card's button listeners, one per action id.
import type { App } from "@slack/bolt";
import { APPROVE_ACTION_ID, DENY_ACTION_ID } from "../../card.js";
import type { SlackDecisions } from "../../edge.js";
import { approveClicked } from "./approve-clicked.js";
import { denyClicked } from "./deny-clicked.js";

export function registerActions(app: App, decisions: SlackDecisions): void {
  app.action(APPROVE_ACTION_ID, approveClicked(decisions));
  app.action(DENY_ACTION_ID, denyClicked(decisions));
}
