// Registers every Slack listener, per kind (in the manner of Bolt's starter template).
import type { App } from "@slack/bolt";
import type { SlackDecisions } from "../edge.js";
import { registerActions } from "./actions/index.js";
import { registerViews } from "./views/index.js";

export function registerListeners(app: App, decisions: SlackDecisions): void {
  registerActions(app, decisions);
  registerViews(app, decisions);
}
