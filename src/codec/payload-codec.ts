// The Temporal payload codec and the one DataConverter built on it (worker, clients and CLI all use
// createDataConverter, so they agree). Every workflow payload (arguments, results, failures' encoded
// attributes) is encrypted with AES-256-GCM before it reaches the Temporal server, so tokens,
// grants and arguments never sit in plaintext history.
import { createCipheriv, createDecipheriv, randomBytes } from "node:crypto";
import { fileURLToPath } from "node:url";
import type { DataConverter, Payload, PayloadCodec, SerializationContext } from "@temporalio/common";
// @temporalio/proto is CommonJS: its namespaces are reached through the default export.
import proto from "@temporalio/proto";
import { CountersignError } from "../errors.js";
import { REFUSED_PAYLOAD } from "../../workflows/definitions.js";
import type { PayloadKeys } from "./payload-keys.js";

const ProtoPayload = proto.temporal.api.common.v1.Payload;

/** `encoding` metadata of an encrypted payload. */
export const ENCRYPTED_ENCODING = "binary/encrypted";
/** Metadata naming the key a payload was encrypted with. */
export const KEY_ID_METADATA = "encryption-key-id";
/** Metadata naming the envelope version; absent on version 1 (key id as the only additional data). */
export const ENVELOPE_METADATA = "countersign-envelope";
/** Version 2 (still decoded): the additional data binds the key id and the owning workflow id. */
const ENVELOPE_V2 = "2";
/**
 * The envelope written now: the additional data binds the key id, the owning workflow id *and* the
 * slot within it (the workflow's own messages, or one activity's input and result by activity id),
 * so a payload copied from one activity of an approval cannot answer another.
 */
const ENVELOPE_V3 = "3";

const IV_BYTES = 12;
const TAG_BYTES = 16;
const utf8 = new TextEncoder();
const fromUtf8 = new TextDecoder("utf-8", { fatal: true });

/** What a codec does with a payload it refuses: throw (clients, replay) or hand the workflow a refusal marker (workers). */
export type RefusalMode = "throw" | "mark";

/**
 * Create the AES-256-GCM codec. Encoding protobuf-encodes the whole original Payload (metadata
 * included) and encrypts it with the newest key under a random 12-byte IV; the output data is
 * `iv ‖ ciphertext ‖ tag`, metadata `encoding: binary/encrypted`, `encryption-key-id: <id>` and
 * `countersign-envelope: 3`. The GCM additional data is the key id, the workflow id of the
 * serialization context (the approval the payload belongs to) and the slot within it (the
 * workflow's messages, or one activity by id), so relabelling a payload, moving it into another
 * approval, or answering one activity with another's result breaks it.
 *
 * Decoding is strict: a payload that is not encrypted, names a key id not in the key set, is
 * malformed, fails authentication or belongs to another workflow is refused with CountersignError
 * `payload_rejected` (the message names a key id, never content). Version-1 envelopes (key id as the
 * only additional data) and version-2 (key id and workflow id) still decode, so older histories replay.
 *
 * What Temporal itself must read never reaches this codec: search attributes are not encoded
 * payloads, and the SDK skips headers (so interceptors such as tracing keep theirs). A memo would be
 * encrypted like any payload; countersign sets none.
 *
 * With `refused: "mark"` (the worker) a refused payload decodes to the workflow's refusal marker
 * ({@link REFUSED_PAYLOAD}) instead of throwing: a throw would fail the workflow task again on every
 * retry and jam the approval, while the marker lets the workflow refuse that one message.
 */
export function createPayloadCodec(keys: PayloadKeys, opts: { refused?: RefusalMode } = {}): PayloadCodec {
  const mode = opts.refused ?? "throw";
  return {
    encode: (payloads, context) => settle(() => payloads.map((payload) => encryptPayload(keys, payload, context))),
    decode: (payloads, context) =>
      settle(() =>
        payloads.map((payload) => {
          try {
            return decryptPayload(keys, payload, context);
          } catch (err) {
            if (mode === "mark" && err instanceof CountersignError && err.code === "payload_rejected") return refusalMarker(err);
            throw err;
          }
        }),
      ),
  };
}

/** The workflow a payload belongs to ("" when the SDK gives no context). */
function ownerOf(context: SerializationContext | undefined): string {
  return context?.workflowId ?? "";
}

/** Where in its workflow a payload belongs: one activity (by id), or the workflow's own messages. */
function slotOf(context: SerializationContext | undefined): string {
  if (context === undefined) return "";
  return context.type === "activity" ? `activity:${context.activityId ?? ""}` : "workflow";
}

function additionalData(keyId: string, envelope: string | undefined, context: SerializationContext | undefined): Uint8Array {
  if (envelope === ENVELOPE_V3) return utf8.encode(JSON.stringify(["countersign-payload", 3, keyId, ownerOf(context), slotOf(context)]));
  if (envelope === ENVELOPE_V2) return utf8.encode(JSON.stringify(["countersign-payload", 2, keyId, ownerOf(context)]));
  return utf8.encode(keyId);
}

function refusalMarker(err: CountersignError): Payload {
  return {
    metadata: { encoding: utf8.encode("json/plain") },
    data: utf8.encode(JSON.stringify({ [REFUSED_PAYLOAD]: err.message })),
  };
}

// The work is synchronous (small payloads, node:crypto); a throw still has to become a rejection.
function settle<T>(work: () => T): Promise<T> {
  return new Promise((resolve) => resolve(work()));
}

function encryptPayload(keys: PayloadKeys, payload: Payload, context: SerializationContext | undefined): Payload {
  const { id, key } = keys.encryptionKey();
  const plaintext = ProtoPayload.encode(payload).finish();
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv("aes-256-gcm", key, iv, { authTagLength: TAG_BYTES });
  cipher.setAAD(additionalData(id, ENVELOPE_V3, context));
  const ciphertext = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return {
    metadata: { encoding: utf8.encode(ENCRYPTED_ENCODING), [KEY_ID_METADATA]: utf8.encode(id), [ENVELOPE_METADATA]: utf8.encode(ENVELOPE_V3) },
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

function rejected(message: string, options: { cause?: unknown; detail?: Record<string, unknown> } = {}): CountersignError {
  return new CountersignError("payload_rejected", message, options);
}

function decryptPayload(keys: PayloadKeys, payload: Payload, context: SerializationContext | undefined): Payload {
  if (metadataText(payload, "encoding") !== ENCRYPTED_ENCODING) throw rejected("payload is not encrypted");
  const id = metadataText(payload, KEY_ID_METADATA);
  if (id === undefined) throw rejected(`encrypted payload has no ${KEY_ID_METADATA}`);
  const envelope = metadataText(payload, ENVELOPE_METADATA);
  if (envelope !== undefined && envelope !== ENVELOPE_V2 && envelope !== ENVELOPE_V3) throw rejected(`encrypted payload has an unknown envelope version`);
  const key = keys.decryptionKey(id);
  if (key === undefined) throw rejected(`payload encrypted with unknown key id "${id.slice(0, 64)}": add that key to the payload keys`, { detail: { keyId: id.slice(0, 64) } });
  const data = payload.data ?? new Uint8Array();
  if (data.length < IV_BYTES + TAG_BYTES) throw rejected(`encrypted payload (key id "${id}") is truncated`);
  try {
    const decipher = createDecipheriv("aes-256-gcm", key, data.subarray(0, IV_BYTES), { authTagLength: TAG_BYTES });
    decipher.setAAD(additionalData(id, envelope, context));
    decipher.setAuthTag(data.subarray(data.length - TAG_BYTES));
    const plaintext = Buffer.concat([decipher.update(data.subarray(IV_BYTES, data.length - TAG_BYTES)), decipher.final()]);
    return ProtoPayload.decode(plaintext);
  } catch (cause) {
    throw rejected(`encrypted payload (key id "${id}") failed to decrypt: tampered with, or written for another approval`, { cause, detail: { keyId: id } });
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
 * stack traces are encrypted too. Workers pass `refused: "mark"` (see createPayloadCodec). The failure converter is given by path (`failureConverterPath`):
 * Temporal's DataConverter only accepts it that way, because the worker loads it into the workflow sandbox.
 */
export function createDataConverter(keys: PayloadKeys, opts: { refused?: RefusalMode } = {}): DataConverter {
  return { payloadCodecs: [createPayloadCodec(keys, opts)], failureConverterPath };
}
