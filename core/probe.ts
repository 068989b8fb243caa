/**
 * The `llama.Probe` datagram: byte-compatible with the original LLAMA, plus extension fields that
 * the original reflector echoes untouched. The format is documented in `docs/probe-format.md`.
 *
 * @module
 */
import { ProtocolError } from "./errors.ts";
import { splitBigInt, writeFixed64, writeVarint9 } from "./_uint64.ts";

/** Field numbers of `llama.Probe`. 1–7 are the original's; 8–10 are llama's extensions. */
export const ProbeField = {
  signature: 1,
  tos: 2,
  sent: 3,
  rcvd: 4,
  rtt: 5,
  lost: 6,
  padding: 7,
  sequence: 8,
  reflection: 9,
  auth: 10,
} as const;

/** Bits of the reflection's `flags` field, set by a llama reflector. */
export const ReflectionFlag = {
  /** The reflector filled the block: the datagram is an answer, not a probe. */
  filled: 1,
  /** `received` is a kernel receive timestamp rather than a userspace clock reading. */
  kernelReceiveTime: 2,
  /** The reflector learned the TOS byte the probe arrived with; it is in `tos`. */
  tosKnown: 4,
} as const;

/**
 * What a llama reflector writes into the first padding byte of a probe without a reflection
 * field before answering it (padding is zeros as sent; the original collector reads only the
 * signature). A datagram whose padding starts with it is an answer, never answered again, so an
 * answer echoed back by any reflector ends there.
 */
export const PADDING_ANSWER_MARK = 0x01;

/** Bytes taken by the reserved reflection field: tag, length and a 28-byte body. */
export const REFLECTION_FIELD_BYTES = 30;

/** Length of the signatures llama and the original collector write. */
export const SIGNATURE_BYTES = 10;

/** Padding the original collector adds, which makes its probes 1,028 bytes long. */
export const ORIGINAL_PADDING_BYTES = 1000;

const REFLECTION_BODY_BYTES = 28;
// The reflection body always has this layout: fixed64 received (1), fixed64 sent (2),
// fixed32 tos (3), fixed32 flags (4), every field present, so it can be filled in place.
const REFLECTION_RECEIVED = 1; // offset of the 8 bytes after tag 0x09
const REFLECTION_SENT = 10; // after tag 0x11
const REFLECTION_TOS = 19; // after tag 0x1d
const REFLECTION_FLAGS = 24; // after tag 0x25
const MAX_FIELD_NUMBER = 536870911; // 2^29 - 1

const WIRE_VARINT = 0;
const WIRE_FIXED64 = 1;
const WIRE_BYTES = 2;
const WIRE_FIXED32 = 5;

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

/** The shape of the probes a `ProbeWriter` produces. */
export interface ProbeLayout {
  /** TOS byte written into the `tos` field. Default 0 (the original always writes the field). */
  tos?: number;
  /** Bytes of zero padding. Default 1,000, like the original collector. */
  paddingLength?: number;
  /** Whether to carry a sequence number (field 8). Default true. */
  sequence?: boolean;
  /** Whether to reserve the reflection field (9) for a llama reflector. Default true. */
  reflection?: boolean;
  /** Bytes reserved for an authentication tag (field 10); 0, the default, leaves it out. */
  authLength?: number;
}

/**
 * A probe template laid out once; each probe patches its signature, send time and sequence
 * number in place, so sending allocates nothing. Fields are in field-number order, like the
 * original's. With `{ sequence: false, reflection: false }` the bytes match the original
 * collector's probes exactly.
 *
 * @example
 * ```ts
 * import { decodeProbe, ProbeWriter } from "@llama/core";
 * const writer = new ProbeWriter({ paddingLength: 100 });
 * writer.signature.set([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
 * writer.setSent(0x18d5c2b6, 0xbdcdb5de);
 * writer.setSequence(7);
 * const probe = decodeProbe(writer.bytes);
 * console.assert(!(probe instanceof Error) && probe.sequence === 7n);
 * ```
 */
export class ProbeWriter {
  /** The probe: send these bytes. */
  readonly bytes: Uint8Array;
  /** The 10 signature bytes inside `bytes`: write the next signature here. */
  readonly signature: Uint8Array;
  /** Offset of the sequence number's 8 bytes, or -1. */
  readonly sequenceOffset: number;
  /** Offset of the reflection body, or -1. */
  readonly reflectionOffset: number;
  /** Offset of the send time's nine varint bytes. */
  readonly sentOffset: number;
  /** Offset of the signature's bytes. */
  readonly signatureOffset: number;
  readonly #view: DataView;

  /** Lays out a probe; throws `RangeError` for a TOS or lengths out of range. */
  constructor(layout: ProbeLayout = {}) {
    const tos = layout.tos ?? 0;
    const paddingLength = layout.paddingLength ?? ORIGINAL_PADDING_BYTES;
    const authLength = layout.authLength ?? 0;
    if (!Number.isInteger(tos) || tos < 0 || tos > 255) {
      throw new RangeError(`Cannot lay out probe: tos must be 0..255, got ${tos}`);
    }
    if (!Number.isInteger(paddingLength) || paddingLength < 0 || paddingLength > 60000) {
      throw new RangeError(`Cannot lay out probe: padding must be 0..60000, got ${paddingLength}`);
    }
    if (!Number.isInteger(authLength) || authLength < 0 || authLength > 127) {
      throw new RangeError(`Cannot lay out probe: auth length must be 0..127, got ${authLength}`);
    }
    const paddingHeader = 1 + varintLength(paddingLength);
    const length = 2 + SIGNATURE_BYTES + 3 + 10 + paddingHeader + paddingLength +
      (layout.sequence === false ? 0 : 9) +
      (layout.reflection === false ? 0 : REFLECTION_FIELD_BYTES) +
      (authLength > 0 ? 2 + authLength : 0);
    const bytes = new Uint8Array(length);
    let position = 0;
    bytes[position++] = 0x0a;
    bytes[position++] = SIGNATURE_BYTES;
    const signatureStart = position;
    position += SIGNATURE_BYTES;
    bytes.set([0x12, 0x01, tos], position);
    position += 3;
    bytes[position++] = 0x18;
    this.sentOffset = position;
    position += 9;
    bytes[position++] = 0x3a;
    position = writeVarint(bytes, position, paddingLength);
    position += paddingLength;
    this.sequenceOffset = -1;
    if (layout.sequence !== false) {
      bytes[position++] = 0x41;
      this.sequenceOffset = position;
      position += 8;
    }
    this.reflectionOffset = -1;
    if (layout.reflection !== false) {
      bytes.set([0x4a, REFLECTION_BODY_BYTES, 0x09], position);
      this.reflectionOffset = position + 2;
      bytes[this.reflectionOffset + 9] = 0x11;
      bytes[this.reflectionOffset + 18] = 0x1d;
      bytes[this.reflectionOffset + 23] = 0x25;
      position += REFLECTION_FIELD_BYTES;
    }
    if (authLength > 0) {
      bytes[position++] = 0x52;
      bytes[position++] = authLength;
      position += authLength;
    }
    this.bytes = bytes;
    this.signature = bytes.subarray(signatureStart, signatureStart + SIGNATURE_BYTES);
    this.signatureOffset = signatureStart;
    this.#view = new DataView(bytes.buffer);
    writeVarint9(bytes, this.sentOffset, 0, 0);
  }

  /** Sets the send time, in nanoseconds since the epoch, from its 32-bit halves. */
  setSent(high: number, low: number): void {
    writeVarint9(this.bytes, this.sentOffset, high, low);
  }

  /** Sets the sequence number (an integer below 2^53). */
  setSequence(sequence: number): void {
    this.stamp(this.bytes, this.#view, -1, 0, sequence);
  }

  /**
   * Writes a send time (unless `sentHigh` is negative) and a sequence number into `copy`, a copy
   * of this probe such as a slot of a `DatagramBatch`. `view` must cover the copy's whole buffer
   * from its first byte, as `DatagramBatch.view` does.
   */
  stamp(
    copy: Uint8Array,
    view: DataView,
    sentHigh: number,
    sentLow: number,
    sequence: number,
  ): void {
    if (sentHigh >= 0) writeVarint9(copy, this.sentOffset, sentHigh, sentLow);
    if (this.sequenceOffset >= 0) {
      writeFixed64(
        view,
        copy.byteOffset + this.sequenceOffset,
        Math.floor(sequence / 4294967296),
        sequence >>> 0,
      );
    }
  }
}

/**
 * Fills a probe's reflection field in place, as a llama reflector does before answering.
 * `reflectionOffset` comes from `ProbeReader`; times are wall-clock nanoseconds as 32-bit halves.
 *
 * @example
 * ```ts
 * import { decodeProbe, fillReflection, ProbeReader, ProbeWriter, ReflectionFlag } from "@llama/core";
 * const probe = new ProbeWriter().bytes;
 * const reader = new ProbeReader();
 * reader.read(probe);
 * const view = new DataView(probe.buffer);
 * fillReflection(view, reader.reflectionOffset, {
 *   receivedHigh: 1, receivedLow: 2, sentHigh: 1, sentLow: 9, tos: -1, flags: 0,
 * });
 * const answer = decodeProbe(probe);
 * console.assert(!(answer instanceof Error) && answer.reflection?.flags === ReflectionFlag.filled);
 * ```
 */
export function fillReflection(
  view: DataView,
  reflectionOffset: number,
  values: {
    receivedHigh: number;
    receivedLow: number;
    sentHigh: number;
    sentLow: number;
    /** The TOS the probe arrived with, or -1 when unknown. */
    tos: number;
    /** Extra `ReflectionFlag` bits (`filled` and `tosKnown` are set for you). */
    flags: number;
  },
): void {
  writeFixed64(
    view,
    reflectionOffset + REFLECTION_RECEIVED,
    values.receivedHigh,
    values.receivedLow,
  );
  writeFixed64(view, reflectionOffset + REFLECTION_SENT, values.sentHigh, values.sentLow);
  const tosKnown = values.tos >= 0;
  view.setUint32(reflectionOffset + REFLECTION_TOS, tosKnown ? values.tos : 0, true);
  view.setUint32(
    reflectionOffset + REFLECTION_FLAGS,
    values.flags | ReflectionFlag.filled | (tosKnown ? ReflectionFlag.tosKnown : 0),
    true,
  );
}

/** Reads the flags of a reflection body (0 means the reflector has not filled it). */
export function reflectionFlags(view: DataView, reflectionOffset: number): number {
  return view.getUint32(reflectionOffset + REFLECTION_FLAGS, true);
}

/** The TOS byte a reflector saw the probe arrive with, or -1 when it could not tell. */
export function reflectionTos(view: DataView, reflectionOffset: number): number {
  return reflectionFlags(view, reflectionOffset) & ReflectionFlag.tosKnown
    ? view.getUint32(reflectionOffset + REFLECTION_TOS, true) & 0xff
    : -1;
}

/** The reflector's dwell time in nanoseconds (sent minus received), exact below 2^53. */
export function reflectionDwellNs(view: DataView, reflectionOffset: number): number {
  // Subtract the halves separately: the timestamps themselves exceed 2^53.
  const sent = reflectionOffset + REFLECTION_SENT;
  const received = reflectionOffset + REFLECTION_RECEIVED;
  return (view.getUint32(sent + 4, true) - view.getUint32(received + 4, true)) * 4294967296 +
    (view.getUint32(sent, true) - view.getUint32(received, true));
}

/** The fields `encodeProbe` writes. */
export interface ProbeFields {
  /** Signature bytes (the original uses 10). */
  signature: Uint8Array;
  /** TOS byte; omitted when undefined. */
  tos?: number;
  /** Send time in nanoseconds since the epoch; omitted when 0 or undefined. */
  sent?: bigint;
  /** Zero padding length. */
  paddingLength?: number;
  /** Sequence number; omitted when undefined. */
  sequence?: bigint;
  /** Reserve the reflection field. */
  reflection?: boolean;
  /** Authentication tag; omitted when undefined. */
  auth?: Uint8Array;
}

/**
 * Encodes arbitrary probe fields into `into` and returns the number of bytes written. For
 * tests and tools; senders on a hot path use `ProbeWriter`. Throws `RangeError` when `into` is
 * too small.
 *
 * @example
 * ```ts
 * import { decodeProbe, encodeProbe } from "@llama/core";
 * const buffer = new Uint8Array(64);
 * const length = encodeProbe({ signature: new Uint8Array(10).fill(7) }, buffer);
 * const probe = decodeProbe(buffer.subarray(0, length));
 * console.assert(!(probe instanceof Error) && probe.tos === undefined);
 * ```
 */
export function encodeProbe(fields: ProbeFields, into: Uint8Array): number {
  const parts: number[] = [];
  const pushBytes = (field: number, bytes: ArrayLike<number>) => {
    parts.push(field * 8 + WIRE_BYTES, ...varintBytes(bytes.length), ...Array.from(bytes));
  };
  pushBytes(ProbeField.signature, fields.signature);
  if (fields.tos !== undefined) pushBytes(ProbeField.tos, [fields.tos & 0xff]);
  if (fields.sent !== undefined && fields.sent !== 0n) {
    const [high, low] = splitBigInt(fields.sent);
    const sent = new Uint8Array(9);
    writeVarint9(sent, 0, high, low);
    parts.push(ProbeField.sent * 8, ...trimVarint(sent));
  }
  if (fields.paddingLength) pushBytes(ProbeField.padding, new Uint8Array(fields.paddingLength));
  if (fields.sequence !== undefined) {
    const bytes = new Uint8Array(8);
    new DataView(bytes.buffer).setBigUint64(0, fields.sequence, true);
    parts.push(ProbeField.sequence * 8 + WIRE_FIXED64, ...bytes);
  }
  if (fields.reflection) {
    const body = new Uint8Array(REFLECTION_BODY_BYTES);
    body[0] = 0x09;
    body[9] = 0x11;
    body[18] = 0x1d;
    body[23] = 0x25;
    pushBytes(ProbeField.reflection, body);
  }
  if (fields.auth !== undefined) pushBytes(ProbeField.auth, fields.auth);
  if (parts.length > into.length) {
    throw new RangeError(`Cannot encode probe: needs ${parts.length} bytes, got ${into.length}`);
  }
  into.set(parts);
  return parts.length;
}

function trimVarint(bytes: Uint8Array): number[] {
  // A fixed nine-byte varint of a small number has redundant 0x80 bytes; drop them.
  let last = bytes.length - 1;
  while (last > 0 && (bytes[last] & 0x7f) === 0) last--;
  const out = Array.from(bytes.subarray(0, last + 1));
  out[last] &= 0x7f;
  return out;
}

function varintBytes(value: number): number[] {
  const out: number[] = [];
  while (value >= 0x80) {
    out.push((value % 128) | 0x80);
    value = Math.floor(value / 128);
  }
  out.push(value);
  return out;
}

function varintLength(value: number): number {
  return varintBytes(value).length;
}

function writeVarint(bytes: Uint8Array, position: number, value: number): number {
  for (const byte of varintBytes(value)) bytes[position++] = byte;
  return position;
}
