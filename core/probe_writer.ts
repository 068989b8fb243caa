/**
 * Writing `llama.Probe` datagrams: a template patched in place for each probe (`ProbeWriter`),
 * the reflection a llama reflector fills in, and a general encoder. The format is documented in
 * `docs/probe-format.md`.
 *
 * @module
 */
import { splitBigInt, writeFixed64, writeVarint9 } from "./_uint64.ts";
import {
  ORIGINAL_PADDING_BYTES,
  ProbeField,
  REFLECTION_BODY_BYTES,
  REFLECTION_FIELD_BYTES,
  REFLECTION_FLAGS,
  REFLECTION_RECEIVED,
  REFLECTION_SENT,
  REFLECTION_TOS,
  ReflectionFlag,
  SIGNATURE_BYTES,
  WIRE_BYTES,
  WIRE_FIXED64,
} from "./_probe_wire.ts";

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
  /** Offset of the authentication tag's bytes (field 10's body), or -1 without one. */
  readonly authOffset: number;
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
    this.authOffset = -1;
    if (authLength > 0) {
      bytes[position++] = 0x52;
      bytes[position++] = authLength;
      this.authOffset = position;
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
