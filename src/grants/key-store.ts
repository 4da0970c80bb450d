// Grant-signing keys: Ed25519 key pairs in a JSON key file. The newest key (last in the file) signs;
// every key in the file verifies, so grants minted before a rotation stay valid until they expire.
import { createPrivateKey, createPublicKey } from "node:crypto";
import { calculateJwkThumbprint, decodeProtectedHeader, exportJWK, generateKeyPair, importJWK } from "jose";
import type { CryptoKey, JWK } from "jose";
import { z } from "zod";
import { ConfigError } from "../errors.js";
import { WatchedFiles } from "../watched-files.js";
import { createKeyFileIfMissing, keyFileExists, parseKeyJson, readKeyFile, replaceKeyFile } from "./key-file.js";

/** JWS algorithm of every grant. */
export const GRANT_ALG = "EdDSA";

// An Ed25519 public key or signature component: 32 bytes, base64url without padding.
const Ed25519Component = z.string().regex(/^[A-Za-z0-9_-]{43}$/, "32 bytes, base64url without padding");

const PublicJwkSchema = z.strictObject({ kty: z.literal("OKP"), crv: z.literal("Ed25519"), x: Ed25519Component });
const PrivateJwkSchema = z.strictObject({ kty: z.literal("OKP"), crv: z.literal("Ed25519"), x: Ed25519Component, d: Ed25519Component });

const KeyEntrySchema = z.strictObject({
  kid: z.string().regex(/^[A-Za-z0-9_-]{43}$/, "the RFC 7638 SHA-256 thumbprint of publicJwk"),
  alg: z.literal(GRANT_ALG),
  createdAt: z.iso.datetime({ offset: true }),
  privateJwk: PrivateJwkSchema,
  publicJwk: PublicJwkSchema,
});

/** Shape of the grant key file. Keys are ordered oldest first; the last one signs. */
export const GrantKeyFileSchema = z.strictObject({
  keys: z
    .array(KeyEntrySchema)
    .min(1, "at least one key")
    .refine((keys) => new Set(keys.map((k) => k.kid)).size === keys.length, "kids must be unique"),
});
export type GrantKeyFile = z.infer<typeof GrantKeyFileSchema>;
type KeyEntry = z.infer<typeof KeyEntrySchema>;

/** The loaded grant keys. Holds only the newest private key; all public keys. */
export interface KeyStore {
  /** The key new grants are signed with (the newest), and its `kid`. */
  signingKey(): { kid: string; key: CryptoKey };
  /** The public key for `kid`, or undefined when the kid is not in the key file. */
  verificationKey(kid: string): CryptoKey | undefined;
  /** Public keys for `GET /.well-known/jwks.json`: each with `kid`, `alg: "EdDSA"`, `use: "sig"`. */
  jwks(): { keys: JWK[] };
  /**
   * Re-read the key file if it changed since it was read (one `stat` otherwise), so a rotation by
   * `countersign keys generate` reaches running processes without a restart. Fails closed: a file that
   * no longer loads throws `key_file_invalid` rather than leaving the old keys trusted.
   */
  refresh(): Promise<void>;
}


const WHAT = "grant key file";

/** Why a token of ours has no key to verify it with: header unreadable, wrong `typ` or `alg`, no or unknown `kid`. */
export type TokenKeyProblem = "malformed" | "typ" | "alg" | "kid_missing" | "kid_unknown";

/**
 * The key to verify a compact JWS countersign signed (a grant or a decision assertion) with: its
 * header must name `typ` exactly, `alg` EdDSA and a `kid` in the key file (re-read if it changed).
 * The signature itself is for the caller's `jwtVerify`; each caller turns a problem into its own code.
 */
export async function tokenKey(keys: KeyStore, token: string, typ: string): Promise<{ key: CryptoKey } | { problem: TokenKeyProblem; cause?: unknown; kid?: string }> {
  let header: ReturnType<typeof decodeProtectedHeader>;
  try {
    header = decodeProtectedHeader(token);
  } catch (cause) {
    return { problem: "malformed", cause };
  }
  if (header.typ !== typ) return { problem: "typ" };
  if (header.alg !== GRANT_ALG) return { problem: "alg" };
  if (typeof header.kid !== "string") return { problem: "kid_missing" };
  await keys.refresh();
  const key = keys.verificationKey(header.kid);
  return key === undefined ? { problem: "kid_unknown", kid: header.kid.slice(0, 64) } : { key };
}

/**
 * Load the grant key file. Checks every entry: schema, `kid` equal to the public key's thumbprint,
 * private key matching the public key.
 * @throws ConfigError `key_file_invalid` when the file is missing, unreadable or malformed.
 */
export async function loadKeyStore(file: string): Promise<KeyStore> {
  // The same change detection as policies: stat signature, content re-check inside the racy window.
  const watched = new WatchedFiles(() => [file]);
  const load = async (): Promise<Omit<KeyStore, "refresh">> => {
    const read = watched.read();
    const text = read.files[0]?.text;
    if (read.error !== undefined || text === undefined) throw new ConfigError("key_file_invalid", `cannot read ${WHAT} ${file}: ${read.error ?? "no content"}`);
    return buildKeyStore(parseKeyJson(text, GrantKeyFileSchema, `${WHAT} ${file}`), file);
  };
  // A file that stops loading is remembered as broken (not merely "seen"): every later use fails
  // closed until the file changes again and loads.
  let store: Omit<KeyStore, "refresh"> | ConfigError = await load();
  const current = (): Omit<KeyStore, "refresh"> => {
    if (store instanceof ConfigError) throw store;
    return store;
  };
  return {
    signingKey: () => current().signingKey(),
    verificationKey: (kid) => current().verificationKey(kid),
    jwks: () => current().jwks(),
    async refresh() {
      if (watched.changed()) {
        try {
          store = await load();
        } catch (err) {
          store = err instanceof ConfigError ? err : new ConfigError("key_file_invalid", `${WHAT} ${file} could not be loaded`, { cause: err });
        }
      }
      current();
    },
  };
}

/**
 * Load the grant key file, first creating it (mode 0600, parent directories included) with one new
 * key when it does not exist. Concurrent callers agree on one file: creation never overwrites.
 * @throws ConfigError `key_file_invalid` when an existing file is malformed.
 */
export async function ensureKeyStore(file: string): Promise<KeyStore> {
  if (!(await keyFileExists(file, WHAT))) {
    await createKeyFileIfMissing(file, { keys: [await newKeyEntry()] } satisfies GrantKeyFile);
  }
  return loadKeyStore(file);
}

/**
 * Append a new signing key to the key file (creating the file when missing), keeping the old keys
 * for verification. Backs `countersign keys generate`. The file is replaced atomically; running
 * processes pick the new key up at their next signing, verification or JWKS request (`refresh`).
 * @returns the new key's `kid`.
 * @throws ConfigError `key_file_invalid` when the existing file is malformed (it is left unchanged).
 */
export async function rotateKey(file: string): Promise<{ kid: string }> {
  const entry = await newKeyEntry();
  if (await keyFileExists(file, WHAT)) {
    const current = await readKeyFile(file, GrantKeyFileSchema, WHAT);
    await buildKeyStore(current, file);
    await replaceKeyFile(file, { keys: [...current.keys, entry] } satisfies GrantKeyFile);
  } else if (!(await createKeyFileIfMissing(file, { keys: [entry] } satisfies GrantKeyFile))) {
    return rotateKey(file);
  }
  return { kid: entry.kid };
}

async function newKeyEntry(): Promise<KeyEntry> {
  const { privateKey, publicKey } = await generateKeyPair(GRANT_ALG, { extractable: true });
  const privateJwk = PrivateJwkSchema.parse(await exportJWK(privateKey));
  const publicJwk = PublicJwkSchema.parse(await exportJWK(publicKey));
  return { kid: await calculateJwkThumbprint(publicJwk, "sha256"), alg: GRANT_ALG, createdAt: new Date().toISOString(), privateJwk, publicJwk };
}

// Derives the public key from d, so a file whose x was copied from another pair is caught
// whatever the WebCrypto implementation checks on import.
function privateMatchesPublic(entry: KeyEntry): boolean {
  const derived = createPublicKey(createPrivateKey({ key: entry.privateJwk, format: "jwk" })).export({ format: "jwk" });
  return derived.x === entry.publicJwk.x && entry.privateJwk.x === entry.publicJwk.x;
}

async function buildKeyStore(parsed: GrantKeyFile, file: string): Promise<Omit<KeyStore, "refresh">> {
  const invalid = (index: number, problem: string, cause?: unknown): ConfigError =>
    new ConfigError("key_file_invalid", `${WHAT} ${file} is invalid: keys.${index}: ${problem}`, cause === undefined ? {} : { cause });

  const verification = new Map<string, CryptoKey>();
  const published: JWK[] = [];
  let signing: { kid: string; key: CryptoKey } | undefined;
  for (const [index, entry] of parsed.keys.entries()) {
    if ((await calculateJwkThumbprint(entry.publicJwk, "sha256")) !== entry.kid) throw invalid(index, "kid is not the thumbprint of publicJwk");
    let privateKey: CryptoKey;
    let matches: boolean;
    try {
      verification.set(entry.kid, await importJWK(entry.publicJwk, GRANT_ALG));
      privateKey = await importJWK(entry.privateJwk, GRANT_ALG);
      matches = privateMatchesPublic(entry);
    } catch (cause) {
      throw invalid(index, "not a usable Ed25519 key pair", cause);
    }
    if (!matches) throw invalid(index, "privateJwk and publicJwk are different keys");
    signing = { kid: entry.kid, key: privateKey };
    published.push({ ...entry.publicJwk, kid: entry.kid, alg: GRANT_ALG, use: "sig" });
  }
  if (signing === undefined) throw new ConfigError("key_file_invalid", `${WHAT} ${file} has no keys`);
  const current = signing;

  return {
    signingKey: () => current,
    verificationKey: (kid) => verification.get(kid),
    jwks: () => ({ keys: published.map((jwk) => ({ ...jwk })) }),
  };
}
