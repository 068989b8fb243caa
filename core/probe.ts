/**
 * The `llama.Probe` datagram: byte-compatible with the original LLAMA, plus extension fields that
 * the original reflector echoes untouched. The format is documented in `docs/probe-format.md`.
 *
 * @module
 */
import { ProtocolError } from "./errors.ts";
import {
  MAX_FIELD_NUMBER,
  ProbeField,
  REFLECTION_BODY_BYTES,
  REFLECTION_FLAGS,
  REFLECTION_RECEIVED,
  REFLECTION_SENT,
  REFLECTION_TOS,
  ReflectionFlag,
  WIRE_BYTES,
  WIRE_FIXED32,
  WIRE_FIXED64,
  WIRE_VARINT,
} from "./_probe_wire.ts";

/** The wire layout's public constants. */
export {
  ORIGINAL_PADDING_BYTES,
  PADDING_ANSWER_MARK,
  ProbeField,
  REFLECTION_FIELD_BYTES,
  ReflectionFlag,
  SIGNATURE_BYTES,
} from "./_probe_wire.ts";

/** Why `ProbeReader.read` rejected a datagram. */
export type ProbeRejection =
  | "truncated"
  | "varint-overflow"
  | "bad-field-number"
  | "bad-wire-type"
  | "bad-reflection"
  | "no-signature";

/**
 * Parses datagrams as `llama.Probe` without allocating: after `read()` returns `true`, the
 * offsets of the fields are in its properties, valid until the next `read()`. It follows the
 * rules of protobuf-go, which the original programs use: fields may come in any order, the last
 * occurrence wins, a known field with an unexpected wire type is an unknown field, and unknown
 * fields are skipped. Deliberately stricter: groups (wire types 3 and 4) are rejected, and a
 * datagram without a signature is not a probe, since nobody could match its answer.
 *
 * @example
 * ```ts
 * import { ProbeReader, ProbeWriter } from "@llama/core";
 * const writer = new ProbeWriter({ tos: 0xb8 });
 * const reader = new ProbeReader();
 * console.assert(reader.read(writer.bytes));
 * console.assert(reader.tos === 0xb8 && reader.reflectionOffset > 0);
 * ```
 */
export class ProbeReader {
  /** Offset of the first signature byte, or -1. */
  signatureStart: number = -1;
  /** Offset after the last signature byte, or -1. */
  signatureEnd: number = -1;
  /** The first byte of the `tos` field, or -1 when the field is absent or empty. */
  tos: number = -1;
  /** Offset of the `sent` varint, or -1. */
  sentOffset: number = -1;
  /** Length of the padding field's contents. */
  paddingLength: number = 0;
  /** Offset of the padding field's contents (its last occurrence), or -1. */
  paddingOffset: number = -1;
  /** Offset of the 8 bytes of the sequence number, or -1. */
  sequenceOffset: number = -1;
  /**
   * Offset of the reflection body (28 bytes in the standard layout, writable in place), or -1
   * when there is no reflection field.
   */
  reflectionOffset: number = -1;
  /** Offset of the authentication tag's bytes, or -1. */
  authStart: number = -1;
  /** Offset after the authentication tag, or -1. */
  authEnd: number = -1;
  /** Why the last `read()` returned false. */
  rejection: ProbeRejection | undefined = undefined;
  /** The byte offset at which the last rejected datagram went wrong. */
  rejectionOffset: number = -1;

  #varint = 0;

  /** Reads the first `length` bytes of `bytes` as one datagram; returns whether it is a probe. */
  read(bytes: Uint8Array, length: number = bytes.length): boolean {
    this.signatureStart =
      this.signatureEnd =
      this.tos =
      this.sentOffset =
        -1;
    this.sequenceOffset =
      this.reflectionOffset =
      this.authStart =
      this.authEnd =
        -1;
    this.paddingLength = 0;
    this.paddingOffset = -1;
    this.rejection = undefined;
    this.rejectionOffset = -1;
    const end = Math.min(length, bytes.length);
    let position = 0;
    while (position < end) {
      const tagStart = position;
      position = this.#readVarint(bytes, position, end);
      if (position < 0) {
        return this.#reject(-position === 1 ? "truncated" : "varint-overflow", tagStart);
      }
      const tag = this.#varint;
      const field = Math.floor(tag / 8);
      const wireType = tag % 8;
      if (field < 1 || field > MAX_FIELD_NUMBER) return this.#reject("bad-field-number", tagStart);
      const valueStart = position;
      switch (wireType) {
        case WIRE_VARINT:
          position = this.#readVarint(bytes, position, end);
          if (position < 0) {
            return this.#reject(-position === 1 ? "truncated" : "varint-overflow", valueStart);
          }
          if (field === ProbeField.sent) this.sentOffset = valueStart;
          break;
        case WIRE_FIXED64:
          position += 8;
          if (position > end) return this.#reject("truncated", valueStart);
          if (field === ProbeField.sequence) this.sequenceOffset = valueStart;
          break;
        case WIRE_FIXED32:
          position += 4;
          if (position > end) return this.#reject("truncated", valueStart);
          break;
        case WIRE_BYTES: {
          position = this.#readVarint(bytes, position, end);
          if (position < 0) {
            return this.#reject(-position === 1 ? "truncated" : "varint-overflow", valueStart);
          }
          const length = this.#varint;
          if (length > end - position) return this.#reject("truncated", valueStart);
          const start = position;
          position += length;
          switch (field) {
            case ProbeField.signature:
              this.signatureStart = start;
              this.signatureEnd = position;
              break;
            case ProbeField.tos:
              this.tos = length > 0 ? bytes[start] : -1;
              break;
            case ProbeField.padding:
              this.paddingLength = length;
              this.paddingOffset = start;
              break;
            case ProbeField.reflection:
              if (!isStandardReflection(bytes, start, length)) {
                return this.#reject("bad-reflection", start);
              }
              this.reflectionOffset = start;
              break;
            case ProbeField.auth:
              this.authStart = start;
              this.authEnd = position;
              break;
          }
          break;
        }
        default:
          return this.#reject("bad-wire-type", tagStart);
      }
    }
    if (this.signatureEnd <= this.signatureStart) return this.#reject("no-signature", end);
    return true;
  }

  /** Reads a varint into #varint; returns the next offset, -1 if truncated, -2 on overflow. */
  #readVarint(bytes: Uint8Array, position: number, end: number): number {
    let value = 0;
    let scale = 1;
    for (let index = 0; index < 10; index++) {
      if (position >= end) return -1;
      const byte = bytes[position++];
      if (index === 9 && byte > 1) return -2;
      value += (byte & 0x7f) * scale;
      if (byte < 0x80) {
        this.#varint = value;
        return position;
      }
      scale *= 128;
    }
    return -2;
  }

  #reject(rejection: ProbeRejection, offset: number): false {
    this.rejection = rejection;
    this.rejectionOffset = offset;
    return false;
  }
}

/**
 * The reflection field must have the one layout llama writes (every field present, fixed width),
 * so that a reflector can fill it in place and an answer is never longer than its probe.
 */
function isStandardReflection(bytes: Uint8Array, start: number, length: number): boolean {
  return length === REFLECTION_BODY_BYTES &&
    bytes[start] === 0x09 && bytes[start + 9] === 0x11 &&
    bytes[start + 18] === 0x1d && bytes[start + 23] === 0x25;
}

/** What a llama reflector wrote into a probe's reflection field. */
export interface Reflection {
  /** Reflector's wall clock when the probe arrived, in nanoseconds since the epoch. */
  received: bigint;
  /** Reflector's wall clock just before it sent the answer, in nanoseconds since the epoch. */
  sent: bigint;
  /** The TOS byte the probe arrived with, when the reflector could learn it. */
  tos: number | undefined;
  /** `ReflectionFlag` bits. */
  flags: number;
}

/** A decoded `llama.Probe`. Byte fields are views into the decoded datagram, not copies. */
export interface Probe {
  /** Opaque bytes by which the sender matches the answer (10 random bytes in the original). */
  signature: Uint8Array;
  /** The sending socket's TOS byte, or undefined when the field is absent or empty. */
  tos: number | undefined;
  /** Send time in nanoseconds since the epoch on the sender's clock; 0n when absent. */
  sent: bigint;
  /** Length of the padding. */
  paddingLength: number;
  /** The per-flow sequence number, when present. */
  sequence: bigint | undefined;
  /** The reflection field: zeros as sent, filled by a llama reflector in the answer. */
  reflection: Reflection | undefined;
  /** The authentication tag, when present. */
  auth: Uint8Array | undefined;
}

const REJECTION_TEXT: Record<ProbeRejection, string> = {
  "truncated": "ends inside a field",
  "varint-overflow": "has a varint longer than 64 bits",
  "bad-field-number": "has a field number outside 1..536870911",
  "bad-wire-type": "has an unsupported wire type",
  "bad-reflection": "has a reflection field (9) that is not the 28-byte fixed layout",
  "no-signature": "has no signature (field 1)",
};

/**
 * Decodes a datagram as a probe. Never throws: anything that is not a probe gives a
 * `ProtocolError` saying what is wrong and at which byte.
 *
 * @example
 * ```ts
 * import { decodeProbe, ProtocolError } from "@llama/core";
 * const result = decodeProbe(new Uint8Array([0x0a, 0x02, 1, 2, 0x12, 0x01, 0xb8]));
 * console.assert(!(result instanceof ProtocolError) && result.tos === 0xb8);
 * console.assert(decodeProbe(new Uint8Array([0xff])) instanceof ProtocolError);
 * ```
 */
export function decodeProbe(bytes: Uint8Array, reader?: ProbeReader): Probe | ProtocolError {
  const read = reader ?? new ProbeReader();
  if (!read.read(bytes)) {
    const rejection = read.rejection ?? "truncated";
    return new ProtocolError(
      `Not a llama probe: the ${bytes.length}-byte datagram ${REJECTION_TEXT[rejection]}` +
        ` (at byte ${read.rejectionOffset})`,
    );
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let reflection: Reflection | undefined;
  if (read.reflectionOffset >= 0) {
    const offset = read.reflectionOffset;
    const flags = view.getUint32(offset + REFLECTION_FLAGS, true);
    reflection = {
      received: view.getBigUint64(offset + REFLECTION_RECEIVED, true),
      sent: view.getBigUint64(offset + REFLECTION_SENT, true),
      tos: flags & ReflectionFlag.tosKnown
        ? view.getUint32(offset + REFLECTION_TOS, true) & 0xff
        : undefined,
      flags,
    };
  }
  return {
    signature: bytes.subarray(read.signatureStart, read.signatureEnd),
    tos: read.tos >= 0 ? read.tos : undefined,
    sent: read.sentOffset >= 0 ? readVarintBigInt(bytes, read.sentOffset) : 0n,
    paddingLength: read.paddingLength,
    sequence: read.sequenceOffset >= 0 ? view.getBigUint64(read.sequenceOffset, true) : undefined,
    reflection,
    auth: read.authStart >= 0 ? bytes.subarray(read.authStart, read.authEnd) : undefined,
  };
}

function readVarintBigInt(bytes: Uint8Array, offset: number): bigint {
  let value = 0n;
  let shift = 0n;
  for (let position = offset; position < bytes.length; position++) {
    value |= BigInt(bytes[position] & 0x7f) << shift;
    if (bytes[position] < 0x80) break;
    shift += 7n;
  }
  return value & 0xffffffffffffffffn;
}
