// Deny on a card (and Approve where policy requires a reason): the reason modal opens at once —
// Slack's trigger lives 3 s, so nothing slower comes first — then the clicker is checked; one who
// could not decide sees the modal turn into the refusal (and an ephemeral message) instead of a form.
// The decision itself comes with the modal's submission. Acks first.
import type { AllMiddlewareArgs, BlockAction, SlackActionMiddlewareArgs } from "@slack/bolt";
import { renderReasonModal } from "../../card.js";
import { clickOf, refusalText, type SlackDecisions } from "../../edge.js";
import { toCountersignError } from "../../../errors.js";
import { slackCall } from "../../web.js";

export function reasonModalClicked(decisions: SlackDecisions, decision: "approve" | "deny") {
  return async ({ ack, body, client, logger }: SlackActionMiddlewareArgs<BlockAction> & AllMiddlewareArgs): Promise<void> => {
    await ack();
    const got = clickOf(body, logger);
    if (got === undefined) return;
    const { click, actor, approvalId, channel } = got;
    try {
      const opened = await slackCall("views.open", () =>
        client.views.open({
          trigger_id: click.trigger_id,
          view: renderReasonModal({ approvalId, decision, toolDisplayName: decisions.toolDisplayNameOf(click), privateMetadata: JSON.stringify({ approvalId, ...(channel !== undefined ? { channel } : {}) }) }),
        }),
      );
      try {
        await decisions.check(approvalId, actor);
      } catch (err) {
        const viewId = opened.view?.id;
        if (viewId !== undefined) {
          await slackCall("views.update", () => client.views.update({ view_id: viewId, view: decisions.refusalModal(refusalText(toCountersignError(err))) })).catch((updateErr: unknown) => logger.warn(`the refusal could not replace the modal: ${String(updateErr)}`));
        }
        throw err;
      }
    } catch (err) {
      await decisions.refuse(err, { channel, user: actor.userId, approvalId });
    }
  };
}
