// Where verification keys come from: a JWKS file on disk (re-read when it changes) or a JWKS URL.
// Both accept SPIFFE JWT bundles, whose keys say `use: "jwt-svid"` where jose expects `use: "sig"`.
import { stat, readFile } from "node:fs/promises";
import { isAbsolute } from "node:path";
import {
  createLocalJWKSet,
  createRemoteJWKSet,
  customFetch,
  errors,
  type CryptoKey,
  type FetchImplementation,
  type FlattenedJWSInput,
  type JSONWebKeySet,
  type JWK,
  type JWSHeaderParameters,
  type LocalJWKSet,
} from "jose";
import { z } from "zod";
import { AuthError, ConfigError, CountersignError } from "../errors.js";

/** Resolves the verification key for a token's protected header; pass it to jose's `jwtVerify`. */
export type KeySource = (protectedHeader: JWSHeaderParameters, token: FlattenedJWSInput) => Promise<CryptoKey>;

/** Options of {@link createKeySource}. */
export interface KeySourceOptions {
  /**
   * Least time between two reloads caused by an unknown `kid`, in milliseconds.
   * Default 1000 for files, 30 000 for URLs. A changed file is re-read regardless.
   */
  cooldownMs?: number;
  /** Clock for the cooldown, epoch milliseconds. Default `Date.now`. */
  nowMs?: () => number;
}

const DEFAULT_FILE_COOLDOWN_MS = 1000;
const DEFAULT_REMOTE_COOLDOWN_MS = 30_000;

// Third-party documents: only `keys` matters, every other member (spiffe_sequence, ...) is allowed.
const JwksDocumentSchema = z.looseObject({ keys: z.array(z.unknown()) });
const JwkSchema = z.looseObject({ kty: z.string().min(1), use: z.string().optional() });

// A parsed JWKS or SPIFFE JWT bundle as a set jose accepts: entries that are not JWK objects are dropped
// and `use: "jwt-svid"` becomes `use: "sig"`. Other `use` values (`x509-svid`, `enc`) stay, so jose
// never picks those keys for a signature.
function normaliseJwks(document: unknown): JSONWebKeySet {
  const parsed = JwksDocumentSchema.safeParse(document);
  if (!parsed.success) throw new CountersignError("unavailable", "verification key set is not a JWKS document");
  const keys: JWK[] = [];
  for (const entry of parsed.data.keys) {
    const jwk = JwkSchema.safeParse(entry);
    if (!jwk.success) continue;
    keys.push(jwk.data.use === "jwt-svid" ? { ...jwk.data, use: "sig" } : jwk.data);
  }
  return { keys };
}

/**
 * A key source for `jwtVerify`. `source` is an absolute path to a JWKS file (or SPIFFE JWT bundle) or an
 * `http(s)://` URL. Nothing is read until the first token is verified.
 *
 * Files are cached and re-read when their mtime, size or inode changed, and when a token names an unknown
 * `kid` (at most once per `cooldownMs`). URLs use jose's remote set (cached, refetched on an unknown `kid`).
 *
 * The returned function throws AuthError `token_key_unknown` when no key matches the token, and
 * CountersignError `unavailable` when the key set cannot be read or parsed (fail closed: no stale keys
 * are used after a failed re-read). Throws ConfigError `config_invalid` at once for a relative path.
 */
export function createKeySource(source: string, options: KeySourceOptions = {}): KeySource {
  if (/^https?:\/\//.test(source)) {
    return createUrlKeySource(new URL(source), options.cooldownMs ?? DEFAULT_REMOTE_COOLDOWN_MS);
  }
  if (!isAbsolute(source)) {
    throw new ConfigError("config_invalid", `JWKS source must be an absolute file path or an http(s) URL: ${source}`);
  }
  return createFileKeySource(source, options.cooldownMs ?? DEFAULT_FILE_COOLDOWN_MS, options.nowMs ?? Date.now);
}

function keyUnknown(cause: unknown): AuthError {
  return new AuthError("token_key_unknown", "no trusted key matches the token's key id", { cause });
}

interface LoadedKeys {
  keys: LocalJWKSet;
  /** mtime, size and inode of the file when it was read. */
  fingerprint: string;
  loadedAtMs: number;
}

async function fingerprintOf(path: string): Promise<string> {
  try {
    const info = await stat(path);
    return `${info.mtimeMs}:${info.size}:${info.ino}`;
  } catch (cause) {
    throw new CountersignError("unavailable", "verification key file cannot be read", { cause, detail: { path } });
  }
}

function createFileKeySource(path: string, cooldownMs: number, nowMs: () => number): KeySource {
  let loaded: LoadedKeys | undefined;
  let pending: Promise<LoadedKeys> | undefined;

  const read = async (): Promise<LoadedKeys> => {
    // Fingerprint first: a write racing with the read shows up as a change on the next call.
    const fingerprint = await fingerprintOf(path);
    const loadedAtMs = nowMs();
    let document: unknown;
    try {
      document = JSON.parse(await readFile(path, "utf8"));
    } catch (cause) {
      throw new CountersignError("unavailable", "verification key file is not readable JSON", { cause, detail: { path } });
    }
    try {
      return { keys: createLocalJWKSet(normaliseJwks(document)), fingerprint, loadedAtMs };
    } catch (cause) {
      if (cause instanceof CountersignError) throw cause;
      throw new CountersignError("unavailable", "verification key file is not a valid JWKS", { cause, detail: { path } });
    }
  };

  // One read at a time; concurrent verifications share it. A failed read forgets the old keys.
  const reload = (): Promise<LoadedKeys> => {
    pending ??= read()
      .then(
        (next) => (loaded = next),
        (err: unknown) => {
          loaded = undefined;
          throw err;
        },
      )
      .finally(() => {
        pending = undefined;
      });
    return pending;
  };

  return async (protectedHeader, token) => {
    const fingerprint = await fingerprintOf(path);
    let current = loaded !== undefined && loaded.fingerprint === fingerprint ? loaded : await reload();
    try {
      return await current.keys(protectedHeader, token);
    } catch (err) {
      if (!(err instanceof errors.JWKSNoMatchingKey)) throw err;
      // Same fingerprint but an unknown kid: the file may have changed within the timestamp resolution.
      if (nowMs() - current.loadedAtMs < cooldownMs) throw keyUnknown(err);
    }
    current = await reload();
    try {
      return await current.keys(protectedHeader, token);
    } catch (err) {
      if (err instanceof errors.JWKSNoMatchingKey) throw keyUnknown(err);
      throw err;
    }
  };
}

// jose fetches and caches; this fetch hands it a normalised set so SPIFFE bundles verify too.
const normalisingFetch: FetchImplementation = async (url, init) => {
  const response = await fetch(url, init);
  if (response.status !== 200) return response;
  let document: unknown;
  try {
    document = await response.json();
  } catch (cause) {
    throw new CountersignError("unavailable", "verification key set response is not JSON", { cause });
  }
  return new Response(JSON.stringify(normaliseJwks(document)), {
    status: 200,
    headers: { "content-type": "application/json" },
  });
};

function createUrlKeySource(url: URL, cooldownMs: number): KeySource {
  const remote = createRemoteJWKSet(url, { cooldownDuration: cooldownMs, [customFetch]: normalisingFetch });
  const origin = url.origin;
  return async (protectedHeader, token) => {
    try {
      return await remote(protectedHeader, token);
    } catch (err) {
      if (err instanceof CountersignError) throw err;
      if (err instanceof errors.JWKSNoMatchingKey) throw keyUnknown(err);
      const fetchFailed =
        err instanceof TypeError ||
        err instanceof errors.JWKSTimeout ||
        err instanceof errors.JWKSInvalid ||
        (err instanceof errors.JOSEError && err.code === "ERR_JOSE_GENERIC");
      if (fetchFailed) {
        throw new CountersignError("unavailable", "verification key set cannot be fetched", { cause: err, detail: { origin } });
      }
      throw err;
    }
  };
}
