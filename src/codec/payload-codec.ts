// The Temporal payload codec and the one DataConverter built on it (worker, clients and CLI all use
// createDataConverter, so they agree). Every workflow payload (arguments, results, failures' encoded
// attributes) is encrypted with AES-256-GCM before it reaches the Temporal server, so tokens,
// grants and arguments never sit in plaintext history.
import { createCipheriv, createDecipheriv, randomBytes, type KeyObject } from "node:crypto";
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
 * Version 3 (still decoded): the additional data binds the key id, the owning workflow id *and* the
 * slot within it (the workflow's own messages, or one activity's input and result by activity id),
 * so a payload copied from one activity of an approval cannot answer another.
 */
const ENVELOPE_V3 = "3";
/**
 * The envelope written now: the additional data of version 3, and the owner (workflow id and slot)
 * also stated in the metadata, so a reader without the SDK's serialization context (the codec
 * server behind the Temporal UI) knows which additional data to check. Workers still check their
 * own context: the stated owner must be theirs.
 */
const ENVELOPE_V4 = "4";
/** Metadata of envelope 4 stating the workflow a payload belongs to (plaintext in history anyway: the execution's id). */
export const OWNER_WORKFLOW_METADATA = "countersign-workflow-id";
/** Metadata of envelope 4 stating the slot within it: `workflow`, `activity:<id>`, or `codec:<tenant>` (written by the codec server). */
export const OWNER_SLOT_METADATA = "countersign-slot";

const IV_BYTES = 12;
const TAG_BYTES = 16;
const utf8 = new TextEncoder();
const fromUtf8 = new TextDecoder("utf-8", { fatal: true });

/** What a codec does with a payload it refuses: throw (clients, replay) or hand the workflow a refusal marker (workers). */
export type RefusalMode = "throw" | "mark";

/**
 * Create the AES-256-GCM codec. Encoding protobuf-encodes the whole original Payload (metadata
 * included) and encrypts it with the newest key under a random 12-byte IV; the output data is
 * `iv ‖ ciphertext ‖ tag`, metadata `encoding: binary/encrypted`, `encryption-key-id: <id>`,
 * `countersign-envelope: 4` and the owner: `countersign-workflow-id` and `countersign-slot`. The GCM
 * additional data is the key id, the workflow id of the serialization context (the approval the
 * payload belongs to) and the slot within it (the workflow's messages, or one activity by id), so
 * relabelling a payload, moving it into another approval, or answering one activity with another's
 * result breaks it. The owner in the metadata says the same in the clear for readers without a
 * context (the codec server, {@link decryptAsStated}); the workflow id and activity id are plaintext
 * in the history anyway.
 *
 * Decoding is strict: a payload that is not encrypted, names a key id not in the key set, is
 * malformed, fails authentication or belongs to another workflow is refused with CountersignError
 * `payload_rejected` (the message names a key id, never content). The owner is always the decoder's own
 * context, never the one a payload states: a stated owner that differs is refused. Version-1
 * envelopes (key id as the only additional data), version-2 (key id and workflow id) and version-3
 * (no stated owner) still decode, so older histories replay.
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
    encode: (payloads, context) => settle(() => payloads.map((payload) => encryptPayload(keys, payload, ownerOf(context)))),
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

/**
 * Where a payload belongs: the workflow (`""` when the SDK gives no context) and the slot within it
 * (`workflow`, `activity:<id>`, `""` without context, or `codec:<tenant>` for the codec server's own).
 */
export interface PayloadOwner {
  workflowId: string;
  slot: string;
}

/** The owner the SDK's serialization context names. */
function ownerOf(context: SerializationContext | undefined): PayloadOwner {
  if (context === undefined) return { workflowId: "", slot: "" };
  return { workflowId: context.workflowId ?? "", slot: context.type === "activity" ? `activity:${context.activityId ?? ""}` : "workflow" };
}

function additionalData(keyId: string, envelope: string | undefined, owner: PayloadOwner): Uint8Array {
  if (envelope === ENVELOPE_V4) return utf8.encode(JSON.stringify(["countersign-payload", 4, keyId, owner.workflowId, owner.slot]));
  if (envelope === ENVELOPE_V3) return utf8.encode(JSON.stringify(["countersign-payload", 3, keyId, owner.workflowId, owner.slot]));
  if (envelope === ENVELOPE_V2) return utf8.encode(JSON.stringify(["countersign-payload", 2, keyId, owner.workflowId]));
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

function encryptPayload(keys: PayloadKeys, payload: Payload, owner: PayloadOwner): Payload {
  const { id, key } = keys.encryptionKey();
  const plaintext = ProtoPayload.encode(payload).finish();
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv("aes-256-gcm", key, iv, { authTagLength: TAG_BYTES });
  cipher.setAAD(additionalData(id, ENVELOPE_V4, owner));
  const ciphertext = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return {
    metadata: {
      encoding: utf8.encode(ENCRYPTED_ENCODING),
      [KEY_ID_METADATA]: utf8.encode(id),
      [ENVELOPE_METADATA]: utf8.encode(ENVELOPE_V4),
      [OWNER_WORKFLOW_METADATA]: utf8.encode(owner.workflowId),
      [OWNER_SLOT_METADATA]: utf8.encode(owner.slot),
    },
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

/** The metadata every encrypted payload carries, checked; the key it names. */
function envelopeOf(keys: PayloadKeys, payload: Payload): { id: string; envelope: string | undefined; key: KeyObject } {
  if (metadataText(payload, "encoding") !== ENCRYPTED_ENCODING) throw rejected("payload is not encrypted");
  const id = metadataText(payload, KEY_ID_METADATA);
  if (id === undefined) throw rejected(`encrypted payload has no ${KEY_ID_METADATA}`);
  const envelope = metadataText(payload, ENVELOPE_METADATA);
  if (envelope !== undefined && envelope !== ENVELOPE_V2 && envelope !== ENVELOPE_V3 && envelope !== ENVELOPE_V4) throw rejected(`encrypted payload has an unknown envelope version`);
  const key = keys.decryptionKey(id);
  if (key === undefined) throw rejected(`payload encrypted with unknown key id "${id.slice(0, 64)}": add that key to the payload keys`, { detail: { keyId: id.slice(0, 64) } });
  return { id, envelope, key };
}

/** The owner an envelope-4 payload states in its metadata (not yet authenticated). */
function statedOwner(payload: Payload): PayloadOwner {
  const workflowId = metadataText(payload, OWNER_WORKFLOW_METADATA);
  const slot = metadataText(payload, OWNER_SLOT_METADATA);
  if (workflowId === undefined || slot === undefined) throw rejected(`encrypted payload of envelope 4 does not state its owner`);
  return { workflowId, slot };
}

function decrypt(payload: Payload, id: string, key: KeyObject, aad: Uint8Array): Payload {
  const data = payload.data ?? new Uint8Array();
  if (data.length < IV_BYTES + TAG_BYTES) throw rejected(`encrypted payload (key id "${id}") is truncated`);
  try {
    const decipher = createDecipheriv("aes-256-gcm", key, data.subarray(0, IV_BYTES), { authTagLength: TAG_BYTES });
    decipher.setAAD(aad);
    decipher.setAuthTag(data.subarray(data.length - TAG_BYTES));
    const plaintext = Buffer.concat([decipher.update(data.subarray(IV_BYTES, data.length - TAG_BYTES)), decipher.final()]);
    return ProtoPayload.decode(plaintext);
  } catch (cause) {
    throw rejected(`encrypted payload (key id "${id}") failed to decrypt: tampered with, or written for another approval`, { cause, detail: { keyId: id } });
  }
}

function decryptPayload(keys: PayloadKeys, payload: Payload, context: SerializationContext | undefined): Payload {
  const { id, envelope, key } = envelopeOf(keys, payload);
  const owner = ownerOf(context);
  if (envelope === ENVELOPE_V4) {
    // The additional data below would refuse it anyway; a stated owner that is not this context's is refused first, by name.
    const stated = statedOwner(payload);
    if (stated.workflowId !== owner.workflowId || stated.slot !== owner.slot) throw rejected(`encrypted payload (key id "${id}") belongs to another approval or slot`, { detail: { keyId: id } });
  }
  return decrypt(payload, id, key, additionalData(id, envelope, owner));
}

/**
 * Encrypt `payloads` for `owner` (envelope 4). The codec server encodes for the slot
 * `codec:<tenant>`, which no workflow or activity context ever names: a worker refuses such a
 * payload (`payload_rejected`), so the codec endpoint cannot be used to speak to an approval.
 */
export function encryptForOwner(keys: PayloadKeys, payload: Payload, owner: PayloadOwner): Payload {
  return encryptPayload(keys, payload, owner);
}

/**
 * Decrypt an envelope-4 payload for a reader that has no serialization context (the codec server):
 * the owner the metadata states is checked by GCM (the additional data binds it), so the result is
 * authentic and belongs to the returned owner. It does not prove the payload sits in that owner's
 * history: workers, which must know that, decode with {@link createPayloadCodec} and their own context.
 * Earlier envelopes state no owner and are refused.
 * @throws CountersignError `payload_rejected` when the payload is not envelope 4, names an unknown key, or fails authentication.
 */
export function decryptAsStated(keys: PayloadKeys, payload: Payload): { payload: Payload; owner: PayloadOwner } {
  const { id, envelope, key } = envelopeOf(keys, payload);
  if (envelope !== ENVELOPE_V4) throw rejected(`encrypted payload (key id "${id}") is of envelope ${envelope ?? "1"}, which does not state its approval: read it with the CLI`, { detail: { keyId: id } });
  const owner = statedOwner(payload);
  return { payload: decrypt(payload, id, key, additionalData(id, envelope, owner)), owner };
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
