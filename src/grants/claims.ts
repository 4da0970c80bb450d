// The grant's claim set, as a strict zod schema: the one definition both minting (before signing)
// and verification (after jose checked the signature) hold a grant to. See the README, "Grants".
import { z } from "zod";

/** The `typ` header of every grant, compared exactly. */
export const GRANT_TYP = "countersign-grant+jwt";

const SpiffeId = z.string().regex(/^spiffe:\/\/[^/]+\/.+$/, "a SPIFFE ID");
const Sha256Base64url = z.string().regex(/^[A-Za-z0-9_-]{43}$/, "a base64url SHA-256");
const NonEmpty = z.string().min(1);
const EpochSeconds = z.number().int().nonnegative();

/** Exactly the claims of a grant; any other claim makes the grant malformed. */
export const GrantClaimsSchema = z.strictObject({
  iss: NonEmpty,
  /** The tool server's SPIFFE ID. */
  aud: SpiffeId,
  /** The principal (the human the agent acts for). */
  sub: NonEmpty,
  /** The agent's SPIFFE ID. */
  act: z.strictObject({ sub: SpiffeId }),
  tenant: NonEmpty,
  tool: NonEmpty,
  args_sha256: Sha256Base64url,
  /** The resource the approved call touches, when the request named one; redemption must name the same. */
  resource: z.strictObject({ type: NonEmpty, id: NonEmpty }).optional(),
  jti: NonEmpty,
  iat: EpochSeconds,
  nbf: EpochSeconds,
  exp: EpochSeconds,
  /** RFC 7800 confirmation: the RFC 7638 thumbprint of the agent's proof-of-possession key. */
  cnf: z.strictObject({ jkt: Sha256Base64url }).optional(),
  approval: z.strictObject({
    id: NonEmpty,
    /** Who approved; empty when policy allowed the request without a human. */
    approvers: z.array(NonEmpty),
    policy_version: NonEmpty,
  }),
});
export type GrantClaims = z.infer<typeof GrantClaimsSchema>;

/** What a grant is minted from: one approved action request. */
export interface GrantInput {
  /** The tool server's SPIFFE ID (`aud`). */
  audience: string;
  /** The principal (`sub`). */
  principal: string;
  /** The agent's SPIFFE ID (`act.sub`). */
  agent: string;
  tenant: string;
  tool: string;
  /** From `argsSha256(arguments)`. */
  argsSha256: string;
  approvalId: string;
  approvers: string[];
  policyVersion: string;
  /** Thumbprint of the key the agent proved possession of (`cnf.jkt`), when it proved one. */
  agentJkt?: string | undefined;
  /** The resource the request named (`resource` claim). */
  resource?: { type: string; id: string } | undefined;
}
