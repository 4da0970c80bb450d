// Deny on a card: a clicker who could not decide is told at once; anyone else gets the modal that
// asks for the (required) reason. The decision itself comes with the modal's submission. Acks first.
import type { AllMiddlewareArgs, BlockAction, SlackActionMiddlewareArgs } from "@slack/bolt";
import { renderReasonModal } from "../../card.js";
import { clickOf, type SlackDecisions } from "../../edge.js";

export function denyClicked(decisions: SlackDecisions) {
  return async ({ ack, body, client, logger }: SlackActionMiddlewareArgs<BlockAction> & AllMiddlewareArgs): Promise<void> => {
    await ack();
    const got = clickOf(body, logger);
    if (got === undefined) return;
    const { click, actor, approvalId, channel } = got;
    try {
      await decisions.check(approvalId, actor);
      await client.views.open({
        trigger_id: click.trigger_id,
        view: renderReasonModal({ approvalId, decision: "deny", toolDisplayName: await decisions.toolDisplayName(approvalId), privateMetadata: JSON.stringify({ approvalId, ...(channel !== undefined ? { channel } : {}) }) }),
      });
    } catch (err) {
      await decisions.refuse(err, { channel, user: actor.userId, approvalId });
    }
  };
}
