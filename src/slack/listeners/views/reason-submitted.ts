// The reason modal's submission (Deny always; Approve where policy requires a reason): an empty
// reason is answered in the modal itself; otherwise the modal closes (ack) and the decision is made,
// keyed like a click so a double submit is one decision. Refusals are told to the submitter alone.
import type { AllMiddlewareArgs, SlackViewMiddlewareArgs, ViewSubmitAction } from "@slack/bolt";
import { REASON_ACTION_ID, REASON_BLOCK_ID } from "../../card.js";
import { actorOf, ModalMetadataSchema, ModalSubmissionSchema, type ModalMetadata, type SlackDecisions } from "../../edge.js";

/** Longest reason accepted, in characters (the workflow's own limit). */
const MAX_REASON_LENGTH = 2000;

export function reasonSubmitted(decisions: SlackDecisions, decision: "approve" | "deny") {
  return async ({ ack, body, logger }: SlackViewMiddlewareArgs<ViewSubmitAction> & AllMiddlewareArgs): Promise<void> => {
    const parsed = ModalSubmissionSchema.safeParse(body);
    const actor = parsed.success ? actorOf(parsed.data) : undefined;
    let meta: ModalMetadata | undefined;
    try {
      const m = ModalMetadataSchema.safeParse(parsed.success ? JSON.parse(parsed.data.view.private_metadata) : undefined);
      meta = m.success ? m.data : undefined;
    } catch {
      meta = undefined;
    }
    if (!parsed.success || actor === undefined || meta === undefined) {
      await ack();
      logger.warn("a reason modal without the fields countersign needs was ignored");
      return;
    }
    const reason = (parsed.data.view.state.values[REASON_BLOCK_ID]?.[REASON_ACTION_ID]?.value ?? "").trim();
    if (reason === "" || reason.length > MAX_REASON_LENGTH) {
      await ack({ response_action: "errors", errors: { [REASON_BLOCK_ID]: reason === "" ? "A reason is required." : `At most ${MAX_REASON_LENGTH} characters.` } });
      return;
    }
    await ack();
    try {
      await decisions.decide(meta.approvalId, actor, decision, reason);
    } catch (err) {
      await decisions.refuse(err, { channel: meta.channel, user: actor.userId, approvalId: meta.approvalId });
    }
  };
}
