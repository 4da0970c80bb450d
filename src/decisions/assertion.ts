// Decision assertions: the short-lived EdDSA JWT an edge (the approver endpoint, the CLI's
// break-glass path, Slack) signs after it authenticated an approver. A decision reaches the approval
// workflow only with one; the workflow's entitlement activity verifies it before anything else, so
// write access to the Temporal namespace alone cannot approve (see README, "Decision assertions").
import { createHash, randomUUID } from "node:crypto";
import { errors, jwtVerify, SignJWT } from "jose";
import { z } from "zod";
import { AuthError } from "../errors.js";
import { GRANT_ALG, tokenKey, type KeyStore } from "../grants/key-store.js";
import { DECISION_CHANNELS, type DecisionChannel } from "../../workflows/definitions.js";

/** The `typ` header of every decision assertion, compared exactly (a grant's is `countersign-grant+jwt`). */
export const DECISION_TYP = "countersign-decision+jwt";
/** `aud` of every decision assertion: only the approval workflow consumes them. */
export const DECISION_AUDIENCE = "countersign:approval-workflow";
/** Longest lifetime of a decision assertion, in seconds (`exp - iat`). */
export const DECISION_MAX_TTL_SECONDS = 60;


const NonEmpty = z.string().min(1).max(256);
const EpochSeconds = z.number().int().nonnegative();

/** Exactly the claims of a decision assertion; any other claim makes it malformed. */
export const DecisionClaimsSchema = z.strictObject({
  iss: NonEmpty,
  aud: z.literal(DECISION_AUDIENCE),
  /** The approver: the directory user id the edge authenticated. */
  sub: NonEmpty,
  approval_id: NonEmpty,
  decision: z.enum(["approve", "deny"]),
  via: z.enum(DECISION_CHANNELS),
  jti: z.string().regex(/^[A-Za-z0-9_-]{16,64}$/),
  iat: EpochSeconds,
  exp: EpochSeconds,
  /** base64url SHA-256 of the reason text, when the approver gave one. */
  reason_sha256: z.string().regex(/^[A-Za-z0-9_-]{43}$/).optional(),
  /** Break-glass only: the operating-system user who ran the command. */
  os_user: NonEmpty.optional(),
  /** Slack only: the Slack user who clicked and their workspace (team id). */
  slack_user: NonEmpty.optional(),
  slack_team: NonEmpty.optional(),
});
export type DecisionClaims = z.infer<typeof DecisionClaimsSchema>;

/** What an edge asserts about one decision. */
export interface DecisionStatement {
  approvalId: string;
  approver: string;
  decision: "approve" | "deny";
  via: DecisionChannel;
  reason?: string | undefined;
  osUser?: string | undefined;
  /** Slack only (required with `via: slack`): who clicked, in which workspace. */
  slack?: SlackActor | undefined;
}

/** A Slack user in a workspace, as Slack's signed interaction payload names them. */
export interface SlackActor {
  userId: string;
  teamId: string;
}

/** A signed assertion and the facts a validator needs without verifying it (they must match its claims). */
export interface SignedDecision {
  assertion: string;
  jti: string;
  /** `exp` in epoch milliseconds. */
  expiresAtMs: number;
}

/** base64url SHA-256 of a reason, as carried in `reason_sha256`. */
export function reasonDigest(reason: string): string {
  return createHash("sha256").update(reason, "utf8").digest("base64url");
}

/**
 * Sign a decision assertion with the grant key store's newest key (the same keys, a different `typ`,
 * `aud` and claim set, so neither token can pass as the other). Lifetime `ttlSeconds` (default and
 * maximum {@link DECISION_MAX_TTL_SECONDS}).
 */
export async function signDecision(
  keys: KeyStore,
  statement: DecisionStatement,
  opts: { issuer: string; ttlSeconds?: number; nowSeconds?: number },
): Promise<SignedDecision> {
  const ttl = Math.min(opts.ttlSeconds ?? DECISION_MAX_TTL_SECONDS, DECISION_MAX_TTL_SECONDS);
  await keys.refresh();
  const iat = opts.nowSeconds ?? Math.floor(Date.now() / 1000);
  const claims: DecisionClaims = DecisionClaimsSchema.parse({
    iss: opts.issuer,
    aud: DECISION_AUDIENCE,
    sub: statement.approver,
    approval_id: statement.approvalId,
    decision: statement.decision,
    via: statement.via,
    jti: randomUUID().replaceAll("-", ""),
    iat,
    exp: iat + ttl,
    ...(statement.reason !== undefined ? { reason_sha256: reasonDigest(statement.reason) } : {}),
    ...(statement.osUser !== undefined ? { os_user: statement.osUser } : {}),
    ...(statement.slack !== undefined ? { slack_user: statement.slack.userId, slack_team: statement.slack.teamId } : {}),
  });
  if ((statement.via === "slack") !== (statement.slack !== undefined)) throw new TypeError("a Slack decision names its Slack user and team, and only a Slack decision does");
  const { kid, key } = keys.signingKey();
  const assertion = await new SignJWT(claims).setProtectedHeader({ alg: GRANT_ALG, typ: DECISION_TYP, kid }).sign(key);
  return { assertion, jti: claims.jti, expiresAtMs: claims.exp * 1000 };
}

function invalid(reason: string, cause?: unknown): AuthError {
  return new AuthError("decision_assertion_invalid", `the decision assertion is not valid (${reason})`, { cause, detail: { reason } });
}

/**
 * Verify a decision assertion and that it states exactly `expected`. Checks the header (`typ`
 * exactly {@link DECISION_TYP}, `alg` EdDSA, a known `kid`), the signature, `iss`, `aud`, lifetime
 * (`iat` not in the future, `exp` not passed, at most {@link DECISION_MAX_TTL_SECONDS} long, each
 * within `clockToleranceSeconds`), the exact claim set, then approval id, approver, decision, channel,
 * reason digest, `jti` and (for `via: slack`, where they are required) the Slack user and team against `expected`. Single use is the workflow's part (it remembers `jti`s).
 * @throws AuthError `decision_assertion_invalid` (`detail.reason` says what, never the token).
 */
export async function verifyDecision(
  keys: KeyStore,
  token: string,
  expected: DecisionStatement & { jti: string },
  opts: { issuer: string; clockToleranceSeconds: number; nowSeconds?: number },
): Promise<DecisionClaims> {
  const found = await tokenKey(keys, token, DECISION_TYP);
  if ("problem" in found) throw invalid(found.problem, found.cause);
  const { key } = found;
  const now = opts.nowSeconds ?? Math.floor(Date.now() / 1000);
  let payload: unknown;
  try {
    ({ payload } = await jwtVerify(token, key, {
      algorithms: [GRANT_ALG],
      typ: DECISION_TYP,
      issuer: opts.issuer,
      audience: DECISION_AUDIENCE,
      clockTolerance: opts.clockToleranceSeconds,
      currentDate: new Date(now * 1000),
      maxTokenAge: DECISION_MAX_TTL_SECONDS,
      requiredClaims: ["iat", "exp", "jti", "sub"],
    }));
  } catch (cause) {
    if (cause instanceof errors.JWTExpired) throw invalid("expired", cause);
    if (cause instanceof errors.JWSSignatureVerificationFailed) throw invalid("signature", cause);
    if (cause instanceof errors.JWTClaimValidationFailed) throw invalid(`claim_${cause.claim}`, cause);
    throw invalid("malformed", cause);
  }
  const parsed = DecisionClaimsSchema.safeParse(payload);
  if (!parsed.success) throw invalid("claims");
  const c = parsed.data;
  // jose's maxTokenAge already refused an `iat` in the future; the lifetime it does not check.
  if (c.exp - c.iat > DECISION_MAX_TTL_SECONDS) throw invalid("lifetime");
  const mismatched = [
    c.approval_id !== expected.approvalId && "approval_id",
    c.sub !== expected.approver && "approver",
    c.decision !== expected.decision && "decision",
    c.via !== expected.via && "via",
    c.jti !== expected.jti && "jti",
    c.reason_sha256 !== (expected.reason === undefined ? undefined : reasonDigest(expected.reason)) && "reason",
    c.os_user !== expected.osUser && "os_user",
    c.slack_user !== expected.slack?.userId && "slack_user",
    c.slack_team !== expected.slack?.teamId && "slack_team",
    c.via === "slack" && (c.slack_user === undefined || c.slack_team === undefined) && "slack",
  ].filter((m): m is string => m !== false);
  if (mismatched.length > 0) throw invalid(`mismatch: ${mismatched.join(", ")}`);
  return c;
}
