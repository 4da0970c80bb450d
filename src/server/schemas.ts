// zod schemas of the HTTP API's request bodies and query strings (untrusted input enters here).
import { z } from "zod";
import { APPROVAL_ID_PATTERN, TENANT_PATTERN } from "../client/approvals.js";

/** Any JSON value; arguments are opaque to countersign apart from their canonical hash. */
export const JsonSchema: z.ZodType<import("../../workflows/definitions.js").Json> = z.lazy(() =>
  z.union([z.null(), z.boolean(), z.number(), z.string(), z.array(JsonSchema), z.record(z.string(), JsonSchema)]),
);

const Name = z.string().min(1).max(256);
/** The resource a call touches, as a Cedar entity reference. */
export const ResourceSchema = z.strictObject({ type: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*(::[A-Za-z_][A-Za-z0-9_]*)*$/), id: Name });

/** A caller's request id: the same id files the same request once. */
export const RequestIdSchema = z.string().regex(/^[A-Za-z0-9._:-]{1,128}$/, "1-128 characters: letters, digits, '.', '_', ':', '-'");
/** What the request is for: a task the human authorized, and a summary approvers read. */
export const IntentSchema = z.strictObject({ taskId: Name, summary: z.string().min(1).max(2000) });

export const CreateApprovalBodySchema = z.strictObject({
  requestId: RequestIdSchema.optional(),
  tenant: z.string().regex(TENANT_PATTERN, "1-256 letters, digits, '.', '_', ':', '@', '-'"),
  tool: Name,
  arguments: JsonSchema,
  resource: ResourceSchema.optional(),
  intent: IntentSchema,
  reason: z.string().max(2000).optional(),
});
export type CreateApprovalBody = z.infer<typeof CreateApprovalBodySchema>;

export const RedeemBodySchema = z.strictObject({
  grant: z.string().min(1).max(8192),
  tool: Name,
  arguments: JsonSchema,
  /** The resource the call touches; required exactly when the approved request named one. */
  resource: ResourceSchema.optional(),
});

export const DecisionBodySchema = z
  .strictObject({
    decision: z.enum(["approve", "deny"]),
    reason: z.string().max(2000).optional(),
  })
  .refine((b) => b.decision !== "deny" || (b.reason !== undefined && b.reason.trim() !== ""), { message: "a denial needs a reason", path: ["reason"] });
export type RedeemBody = z.infer<typeof RedeemBodySchema>;

export const RevokeBodySchema = z.strictObject({ reason: z.string().max(2000).optional() });

/**
 * `?wait=` of `GET /v1/approvals/{id}`: whole seconds 0..60 in one or two decimal digits, default 0.
 * Digits only, because a numeric coercion would also take `0x10`, `1e1`, ` 5` or `-0`.
 */
export const WaitQuerySchema = z.object({
  wait: z
    .string()
    .regex(/^[0-9]{1,2}$/, "whole seconds, decimal digits only")
    .transform(Number)
    .pipe(z.number().max(60, "at most 60 seconds"))
    .default(0),
});

export const ApprovalIdSchema = z.string().regex(APPROVAL_ID_PATTERN);
