// Keys of the workflow payload codec (AES-256-GCM): from COUNTERSIGN_PAYLOAD_KEYS when set, else from
// the payload key file. Several keys decrypt; the newest (last) encrypts, so keys rotate without
// making older histories unreadable.
import { createSecretKey, randomBytes } from "node:crypto";
import type { KeyObject } from "node:crypto";
import { z } from "zod";
import { ConfigError } from "../errors.js";
import { createKeyFileIfMissing, keyFileExists, parseKeyJson, readKeyFile, replaceKeyFile } from "../grants/key-file.js";

const KeyId = z.string().regex(/^[A-Za-z0-9._-]{1,64}$/, "1-64 letters, digits, '.', '_', '-'");
// 32 bytes in standard base64 are 43 characters and one '=' of padding.
const Aes256KeyBase64 = z.string().regex(/^[A-Za-z0-9+/]{43}=$/, "32 bytes, base64");

const uniqueIds = (keys: Array<{ id: string }>): boolean => new Set(keys.map((k) => k.id)).size === keys.length;

/** The payload key file: keys oldest first; the last one encrypts. */
export const PayloadKeyFileSchema = z.strictObject({
  keys: z
    .array(z.strictObject({ id: KeyId, key: Aes256KeyBase64, createdAt: z.iso.datetime({ offset: true }) }))
    .min(1, "at least one key")
    .refine(uniqueIds, "key ids must be unique"),
});
export type PayloadKeyFile = z.infer<typeof PayloadKeyFileSchema>;

/** COUNTERSIGN_PAYLOAD_KEYS: like the file, `createdAt` optional (so the file's content can be pasted). */
export const PayloadKeysEnvSchema = z.strictObject({
  keys: z
    .array(z.strictObject({ id: KeyId, key: Aes256KeyBase64, createdAt: z.iso.datetime({ offset: true }).optional() }))
    .min(1, "at least one key")
    .refine(uniqueIds, "key ids must be unique"),
});

/** Loaded payload keys. Key material stays in KeyObjects, which never print their bytes. */
export interface PayloadKeys {
  /** The key new payloads are encrypted with (the newest). */
  encryptionKey(): { id: string; key: KeyObject };
  /** The key with this id, or undefined when it is not in the key set. */
  decryptionKey(id: string): KeyObject | undefined;
}

const WHAT = "payload key file";

/**
 * Load the payload keys: from `keysFromEnv` (the JSON of COUNTERSIGN_PAYLOAD_KEYS,
 * `{"keys":[{"id","key":"<base64 of 32 bytes>"}]}`) when it is set and non-empty, else from `keyFile`.
 * @throws ConfigError `key_file_invalid` when the chosen source is missing or malformed.
 */
export async function loadPayloadKeys(source: { keyFile: string; keysFromEnv?: string | undefined }): Promise<PayloadKeys> {
  if (source.keysFromEnv !== undefined && source.keysFromEnv !== "") {
    return buildPayloadKeys(parseKeyJson(source.keysFromEnv, PayloadKeysEnvSchema, "COUNTERSIGN_PAYLOAD_KEYS").keys);
  }
  return buildPayloadKeys((await readKeyFile(source.keyFile, PayloadKeyFileSchema, WHAT)).keys);
}

/**
 * Load the payload key file, first creating it (mode 0600, parent directories included) with one
 * random key when it does not exist. Creation never overwrites a file another process created.
 * @throws ConfigError `key_file_invalid` when an existing file is malformed.
 */
export async function ensurePayloadKeys(keyFile: string): Promise<PayloadKeys> {
  if (!(await keyFileExists(keyFile, WHAT))) {
    await createKeyFileIfMissing(keyFile, { keys: [newKeyEntry()] } satisfies PayloadKeyFile);
  }
  return loadPayloadKeys({ keyFile });
}

/**
 * Append a new random key to the payload key file (creating the file when missing); it encrypts
 * from the next load on, and the old keys keep decrypting. The file is replaced atomically.
 * @throws ConfigError `key_file_invalid` when the existing file is malformed (it is left unchanged).
 */
export async function rotatePayloadKey(keyFile: string): Promise<{ id: string }> {
  const entry = newKeyEntry();
  if (await keyFileExists(keyFile, WHAT)) {
    const current = await readKeyFile(keyFile, PayloadKeyFileSchema, WHAT);
    await replaceKeyFile(keyFile, { keys: [...current.keys, entry] } satisfies PayloadKeyFile);
  } else if (!(await createKeyFileIfMissing(keyFile, { keys: [entry] } satisfies PayloadKeyFile))) {
    return rotatePayloadKey(keyFile);
  }
  return { id: entry.id };
}

function newKeyEntry(): PayloadKeyFile["keys"][number] {
  // Ids are written into every encrypted payload's metadata: short, random, not derived from the key.
  return { id: `pk-${randomBytes(9).toString("base64url")}`, key: randomBytes(32).toString("base64"), createdAt: new Date().toISOString() };
}

function buildPayloadKeys(entries: Array<{ id: string; key: string }>): PayloadKeys {
  const byId = new Map<string, KeyObject>();
  for (const entry of entries) byId.set(entry.id, createSecretKey(Buffer.from(entry.key, "base64")));
  const newest = entries[entries.length - 1];
  const newestKey = newest === undefined ? undefined : byId.get(newest.id);
  if (newest === undefined || newestKey === undefined) throw new ConfigError("key_file_invalid", "payload key set has no keys");
  const current = { id: newest.id, key: newestKey };
  return {
    encryptionKey: () => current,
    decryptionKey: (id) => byId.get(id),
  };
}
