// SPIFFE ID parsing: the strict form from the SPIFFE ID specification, used for agent and tool server identities.

/** A SPIFFE ID split into its parts. `id` is the whole ID exactly as given. */
export interface SpiffeId {
  id: string;
  trustDomain: string;
  /** The path, starting with "/". */
  path: string;
}

const MAX_SPIFFE_ID_LENGTH = 2048;
const MAX_TRUST_DOMAIN_LENGTH = 255;
const SPIFFE_ID = /^spiffe:\/\/([a-z0-9._-]+)((?:\/[A-Za-z0-9._-]+)+)$/;

/**
 * Parse a SPIFFE ID strictly: scheme `spiffe://`, a lower-case trust domain (letters, digits, '.', '-', '_'),
 * a non-empty path of non-empty segments (letters, digits, '.', '-', '_'), no "." or ".." segment,
 * no trailing slash, no port, user info, query or fragment, at most 2048 characters.
 * Returns `undefined` when `value` is not such an ID; never throws.
 */
export function parseSpiffeId(value: string): SpiffeId | undefined {
  if (value.length > MAX_SPIFFE_ID_LENGTH) return undefined;
  const match = SPIFFE_ID.exec(value);
  const trustDomain = match?.[1];
  const path = match?.[2];
  if (trustDomain === undefined || path === undefined) return undefined;
  if (trustDomain.length > MAX_TRUST_DOMAIN_LENGTH) return undefined;
  if (path.split("/").some((segment) => segment === "." || segment === "..")) return undefined;
  return { id: value, trustDomain, path };
}
