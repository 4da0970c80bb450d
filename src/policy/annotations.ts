// Routing annotations on policies (@approval, @approvers, @quorum, @deadline_seconds,
// @allow_self_approval, and for the Slack card @critical, @approve_reason_required,
// @remind_every_seconds, @escalate_to, @escalate_after_seconds): parsed and checked when the policy
// set loads, combined per decision.
import { z } from "zod";

const PositiveIntegerText = (name: string) =>
  z
    .string()
    .regex(/^[1-9][0-9]{0,8}$/, `@${name} must be a positive whole number written in digits, e.g. "2"`)
    .transform(Number);

const BooleanText = (name: string) =>
  z
    .enum(["true", "false"], { error: `@${name} must be "true" or "false"` })
    .transform((value) => value === "true")
    .default(false);

/** The annotations countersign reads; other annotations (@id, @description, …) pass untouched. */
const RoutingAnnotationsSchema = z.object({
  approval: z
    .enum(["none", "required"], { error: '@approval must be "none" or "required"' })
    .default("required"),
  approvers: z
    .string()
    .transform((value) => value.split(",").map((group) => group.trim()))
    .pipe(z.array(z.string().min(1, '@approvers must be a comma-separated list of Role ids, e.g. "payments-approver,finance"')))
    .default([]),
  quorum: PositiveIntegerText("quorum").optional(),
  deadline_seconds: PositiveIntegerText("deadline_seconds").optional(),
  allow_self_approval: BooleanText("allow_self_approval"),
  critical: BooleanText("critical"),
  approve_reason_required: BooleanText("approve_reason_required"),
  remind_every_seconds: PositiveIntegerText("remind_every_seconds").optional(),
  escalate_to: z
    .string()
    .transform((value) => value.split(",").map((group) => group.trim()))
    .pipe(z.array(z.string().min(1, '@escalate_to must be a comma-separated list of Role ids, e.g. "finance-leads"')))
    .optional(),
  escalate_after_seconds: PositiveIntegerText("escalate_after_seconds").optional(),
});

/** One policy's routing, with defaults applied (approval required, no groups, no quorum/deadline). */
export interface PolicyRouting {
  approval: "none" | "required";
  approverGroups: string[];
  /** Distinct approvers needed, when the policy says. */
  quorum: number | undefined;
  /** Approval deadline in seconds, when the policy says. */
  deadlineSeconds: number | undefined;
  /** Whether an approver may approve their own request under this policy. */
  allowSelfApproval: boolean;
  /** The tool is critical: the Slack card's Approve button asks for confirmation. */
  critical: boolean;
  /** An approval needs a reason too (a denial always does). */
  approveReasonRequired: boolean;
  /** Remind the approver channels this often while pending, in seconds (else the `slack.reminders` default). */
  remindEverySeconds: number | undefined;
  /** Groups asked as well once the approval has waited `escalateAfterSeconds` (else `slack.escalation.afterSeconds`). */
  escalateTo: string[] | undefined;
  escalateAfterSeconds: number | undefined;
}

/**
 * Read a policy's routing from its annotations. Throws an Error whose message names the bad
 * annotation; the caller adds the file and line.
 */
export function parsePolicyRouting(annotations: Record<string, string>): PolicyRouting {
  const parsed = RoutingAnnotationsSchema.safeParse(annotations);
  if (!parsed.success) {
    throw new Error(parsed.error.issues.map((issue) => issue.message).join("; "));
  }
  const a = parsed.data;
  return {
    approval: a.approval,
    approverGroups: a.approvers,
    quorum: a.quorum,
    deadlineSeconds: a.deadline_seconds,
    allowSelfApproval: a.allow_self_approval,
    critical: a.critical,
    approveReasonRequired: a.approve_reason_required,
    remindEverySeconds: a.remind_every_seconds,
    escalateTo: a.escalate_to,
    escalateAfterSeconds: a.escalate_after_seconds,
  };
}

/** Routing of an allowed request when several permits determine it. */
export type CombinedRouting =
  | { approval: "none" }
  | ({ approval: "required"; approverGroups: string[]; quorum: number; deadlineSeconds: number | undefined } & CardRouting);

/**
 * How the approval is presented and chased (Slack card, reminders, escalation), combined from the
 * determining permits: `critical` and `approveReasonRequired` if any says so, the shortest reminder
 * interval and escalation delay, the union of escalation groups. Absent when no policy says.
 */
export interface CardRouting {
  critical?: true;
  approveReasonRequired?: true;
  remindEverySeconds?: number;
  escalateTo?: string[];
  escalateAfterSeconds?: number;
}

function smallest(values: Array<number | undefined>): number | undefined {
  const set = values.filter((v): v is number => v !== undefined);
  return set.length === 0 ? undefined : Math.min(...set);
}

/** The card routing of the determining permits (see CardRouting); only the keys some policy sets. */
export function combineCardRouting(policies: PolicyRouting[]): CardRouting {
  const escalateTo = [...new Set(policies.flatMap((p) => p.escalateTo ?? []))];
  const remindEverySeconds = smallest(policies.map((p) => p.remindEverySeconds));
  const escalateAfterSeconds = smallest(policies.map((p) => p.escalateAfterSeconds));
  const routing: CardRouting = {};
  if (policies.some((p) => p.critical)) routing.critical = true;
  if (policies.some((p) => p.approveReasonRequired)) routing.approveReasonRequired = true;
  if (remindEverySeconds !== undefined) routing.remindEverySeconds = remindEverySeconds;
  if (escalateTo.length > 0) routing.escalateTo = escalateTo;
  if (escalateAfterSeconds !== undefined) routing.escalateAfterSeconds = escalateAfterSeconds;
  return routing;
}

/**
 * Combine the routing of the determining permits: approval is required if any requires it
 * (or if there are none: fail closed), quorum is the largest (default 1), the deadline the
 * shortest (undefined when none sets one), approver groups the union in first-seen order.
 */
export function combineRouting(policies: PolicyRouting[]): CombinedRouting {
  if (policies.length > 0 && policies.every((p) => p.approval === "none")) return { approval: "none" };
  const approverGroups = [...new Set(policies.flatMap((p) => p.approverGroups))];
  const quorum = Math.max(1, ...policies.map((p) => p.quorum ?? 1));
  const deadlines = policies.flatMap((p) => (p.deadlineSeconds === undefined ? [] : [p.deadlineSeconds]));
  return {
    approval: "required",
    approverGroups,
    quorum,
    deadlineSeconds: deadlines.length === 0 ? undefined : Math.min(...deadlines),
    ...combineCardRouting(policies),
  };
}
