// Approve on a card: decide at once (a double click or Slack's retry is the same keyed decision).
// Where policy requires a reason the card carries the reason button instead (reason-modal-clicked.ts).
// Acks first, always.
import type { AllMiddlewareArgs, BlockAction, SlackActionMiddlewareArgs } from "@slack/bolt";
import { clickOf, type SlackDecisions } from "../../edge.js";

export function approveClicked(decisions: SlackDecisions) {
  return async ({ ack, body, logger }: SlackActionMiddlewareArgs<BlockAction> & AllMiddlewareArgs): Promise<void> => {
    await ack();
    const got = clickOf(body, logger);
    if (got === undefined) return;
    const { actor, approvalId, channel } = got;
    try {
      await decisions.decide(approvalId, actor, "approve", undefined);
    } catch (err) {
      // A policy that came to require a reason after the card was drawn: the card is redrawn with
      // the reason button at the next change; meanwhile the clicker is told.
      await decisions.refuse(err, { channel, user: actor.userId, approvalId });
    }
  };
}
