/**
 * The wire layout of `llama.Probe`: field numbers, wire types and the reflection body's offsets,
 * shared by the reader (probe.ts) and the writer (probe_writer.ts).
 *
 * @module
 */

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

export const REFLECTION_BODY_BYTES = 28;
// The reflection body always has this layout: fixed64 received (1), fixed64 sent (2),
// fixed32 tos (3), fixed32 flags (4), every field present, so it can be filled in place.
export const REFLECTION_RECEIVED = 1; // offset of the 8 bytes after tag 0x09
export const REFLECTION_SENT = 10; // after tag 0x11
export const REFLECTION_TOS = 19; // after tag 0x1d
export const REFLECTION_FLAGS = 24; // after tag 0x25
export const MAX_FIELD_NUMBER = 536870911; // 2^29 - 1

export const WIRE_VARINT = 0;
export const WIRE_FIXED64 = 1;
export const WIRE_BYTES = 2;
export const WIRE_FIXED32 = 5;
