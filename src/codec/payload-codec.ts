// The Temporal payload codec and the one DataConverter built on it (worker, clients and CLI all use
// createDataConverter, so they agree). Every workflow payload (arguments, results, failures' encoded
// attributes) is encrypted with AES-256-GCM before it reaches the Temporal server, so tokens,
// grants and arguments never sit in plaintext history.
import { createCipheriv, createDecipheriv, randomBytes } from "node:crypto";
import { fileURLToPath } from "node:url";
import type { DataConverter, Payload, PayloadCodec } from "@temporalio/common";
// @temporalio/proto is CommonJS: its namespaces are reached through the default export.
import proto from "@temporalio/proto";
import { ConfigError, CountersignError } from "../errors.js";
import type { PayloadKeys } from "./payload-keys.js";

const ProtoPayload = proto.temporal.api.common.v1.Payload;

/** `encoding` metadata of an encrypted payload. */
export const ENCRYPTED_ENCODING = "binary/encrypted";
/** Metadata naming the key a payload was encrypted with. */
export const KEY_ID_METADATA = "encryption-key-id";

const IV_BYTES = 12;
const TAG_BYTES = 16;
const utf8 = new TextEncoder();
const fromUtf8 = new TextDecoder("utf-8", { fatal: true });

/**
 * Create the AES-256-GCM codec. Encoding protobuf-encodes the whole original Payload (metadata
 * included) and encrypts it with the newest key under a random 12-byte IV; the output data is
 * `iv ‖ ciphertext ‖ tag`, metadata `encoding: binary/encrypted` and `encryption-key-id: <id>`, and
 * the key id is the GCM additional authenticated data, so relabelling a payload breaks it.
 * Decoding passes through payloads with any other encoding.
 *
 * Decoding throws ConfigError `key_file_invalid` when the payload's key id is not in the key set
 * (the message names the id so an operator can restore that key), and CountersignError `internal`
 * when the payload is malformed or fails authentication.
 */
export function createPayloadCodec(keys: PayloadKeys): PayloadCodec {
  return {
    encode: (payloads) => settle(() => payloads.map((payload) => encryptPayload(keys, payload))),
    decode: (payloads) => settle(() => payloads.map((payload) => decryptPayload(keys, payload))),
  };
}

// The work is synchronous (small payloads, node:crypto); a throw still has to become a rejection.
function settle<T>(work: () => T): Promise<T> {
  return new Promise((resolve) => resolve(work()));
}

function encryptPayload(keys: PayloadKeys, payload: Payload): Payload {
  const { id, key } = keys.encryptionKey();
  const plaintext = ProtoPayload.encode(payload).finish();
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv("aes-256-gcm", key, iv, { authTagLength: TAG_BYTES });
  cipher.setAAD(utf8.encode(id));
  const ciphertext = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return {
    metadata: { encoding: utf8.encode(ENCRYPTED_ENCODING), [KEY_ID_METADATA]: utf8.encode(id) },
    data: Buffer.concat([iv, ciphertext, cipher.getAuthTag()]),
  };
}

function metadataText(payload: Payload, name: string): string | undefined {
  const value = payload.metadata?.[name];
  if (value === undefined || value === null) return undefined;
  try {
    return fromUtf8.decode(value);
  } catch {
    return undefined;
  }
}

function decryptPayload(keys: PayloadKeys, payload: Payload): Payload {
  if (metadataText(payload, "encoding") !== ENCRYPTED_ENCODING) return payload;
  const id = metadataText(payload, KEY_ID_METADATA);
  if (id === undefined) throw new CountersignError("internal", `encrypted payload has no ${KEY_ID_METADATA}`);
  const key = keys.decryptionKey(id);
  if (key === undefined) {
    throw new ConfigError("key_file_invalid", `payload encrypted with unknown key id "${id}": add that key to the payload keys`, { detail: { keyId: id } });
  }
  const data = payload.data ?? new Uint8Array();
  if (data.length < IV_BYTES + TAG_BYTES) throw new CountersignError("internal", `encrypted payload (key id "${id}") is truncated`);
  try {
    const decipher = createDecipheriv("aes-256-gcm", key, data.subarray(0, IV_BYTES), { authTagLength: TAG_BYTES });
    decipher.setAAD(utf8.encode(id));
    decipher.setAuthTag(data.subarray(data.length - TAG_BYTES));
    const plaintext = Buffer.concat([decipher.update(data.subarray(IV_BYTES, data.length - TAG_BYTES)), decipher.final()]);
    return ProtoPayload.decode(plaintext);
  } catch (cause) {
    throw new CountersignError("internal", `encrypted payload (key id "${id}") failed to decrypt`, { cause, detail: { keyId: id } });
  }
}

/**
 * Absolute path of the module exporting `failureConverter` (encodes common attributes). Pass it as
 * `failureConverterPath` to `bundleWorkflowCode` when bundling workflows ahead of time.
 */
export const failureConverterPath = fileURLToPath(new URL("./failure-converter.js", import.meta.url));

/**
 * The data converter for `Worker.create`, clients and replay: the AES-256-GCM payload codec with
 * `keys`, and a DefaultFailureConverter with `encodeCommonAttributes: true` so error messages and
 * stack traces are encrypted too. The failure converter is given by path (`failureConverterPath`):
 * Temporal's DataConverter only accepts it that way, because the worker loads it into the workflow sandbox.
 */
export function createDataConverter(keys: PayloadKeys): DataConverter {
  return { payloadCodecs: [createPayloadCodec(keys)], failureConverterPath };
}
