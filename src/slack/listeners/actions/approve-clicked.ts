// Approve on a card: decide at once (a double click or Slack's retry is the same keyed decision), or,
// where policy requires a reason to approve, open the reason modal. Acks first, always.
import type { AllMiddlewareArgs, BlockAction, SlackActionMiddlewareArgs } from "@slack/bolt";
import { CountersignError } from "../../../errors.js";
import { renderReasonModal } from "../../card.js";
import { clickOf, type SlackDecisions } from "../../edge.js";

export function approveClicked(decisions: SlackDecisions) {
  return async ({ ack, body, client, logger }: SlackActionMiddlewareArgs<BlockAction> & AllMiddlewareArgs): Promise<void> => {
    await ack();
    const got = clickOf(body, logger);
    if (got === undefined) return;
    const { click, actor, approvalId, channel } = got;
    try {
      await decisions.decide(approvalId, actor, "approve", undefined);
    } catch (err) {
      if (err instanceof CountersignError && err.code === "reason_required") {
        try {
          await client.views.open({
            trigger_id: click.trigger_id,
            view: renderReasonModal({ approvalId, decision: "approve", toolDisplayName: await decisions.toolDisplayName(approvalId), privateMetadata: JSON.stringify({ approvalId, ...(channel !== undefined ? { channel } : {}) }) }),
          });
          return;
        } catch (openErr) {
          await decisions.refuse(openErr, { channel, user: actor.userId, approvalId });
          return;
        }
      }
      await decisions.refuse(err, { channel, user: actor.userId, approvalId });
    }
  };
}
