// Registers the reason modal's submission listeners, one per decision.
import type { App } from "@slack/bolt";
import { APPROVE_MODAL_CALLBACK_ID, DENY_MODAL_CALLBACK_ID } from "../../card.js";
import type { SlackDecisions } from "../../edge.js";
import { reasonSubmitted } from "./reason-submitted.js";

export function registerViews(app: App, decisions: SlackDecisions): void {
  app.view(DENY_MODAL_CALLBACK_ID, reasonSubmitted(decisions, "deny"));
  app.view(APPROVE_MODAL_CALLBACK_ID, reasonSubmitted(decisions, "approve"));
}
