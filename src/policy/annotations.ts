// Routing annotations on policies (@approval, @approvers, @quorum, @deadline_seconds,
// @allow_self_approval): parsed and checked when the policy set loads, combined per decision.
import { z } from "zod";

const PositiveIntegerText = (name: string) =>
  z
    .string()
    .regex(/^[1-9][0-9]{0,8}$/, `@${name} must be a positive whole number written in digits, e.g. "2"`)
    .transform(Number);

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
  allow_self_approval: z
    .enum(["true", "false"], { error: '@allow_self_approval must be "true" or "false"' })
    .transform((value) => value === "true")
    .default(false),
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
  };
}

/** Routing of an allowed request when several permits determine it. */
export type CombinedRouting =
  | { approval: "none" }
  | { approval: "required"; approverGroups: string[]; quorum: number; deadlineSeconds: number | undefined };

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
  };
}
