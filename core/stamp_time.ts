/**
 * STAMP's time fields: 64-bit timestamps in NTP format (RFC 5905 section 6: seconds since
 * 1900-01-01 and a 2^-32 s fraction) or truncated PTPv2 format (seconds since 1970 and
 * nanoseconds), and the 16-bit Error Estimate of RFC 4656 section 4.1.2 (S: synchronized,
 * Z: PTP format (RFC 8186), Scale, Multiplier; the error is Multiplier × 2^(Scale − 32) s).
 *
 * @module
 */
import { NTP_UNIX_OFFSET_SECONDS } from "./_stamp_layout.ts";
import { readUint32, writeUint32 } from "./_stamp_bytes.ts";

const TWO_32 = 4294967296;
const FRACTION_PER_MS = TWO_32 / 1000;
const ERROR_SYNCHRONIZED = 0x8000;
const ERROR_PTP = 0x4000;

/** The fields of an Error Estimate. */
export interface ErrorEstimate {
  /** S: the clock is synchronized to UTC by an external source. */
  synchronized: boolean;
  /** Z: timestamps are in truncated PTPv2 format rather than NTP format. */
  ptp: boolean;
  /** Scale, 0..63. */
  scale: number;
  /** Multiplier, 1..255 (RFC 4656: it must not be 0). */
  multiplier: number;
}

/**
 * Packs an Error Estimate into its 16 bits; throws `RangeError` for a scale or multiplier out of
 * range.
 *
 * @example One millisecond (1 × 2^(22 − 32) s ≈ 0.98 ms), clock synchronized
 * ```ts
 * import { encodeErrorEstimate, errorEstimateSeconds } from "@llama/core";
 * const value = encodeErrorEstimate({ synchronized: true, ptp: false, scale: 22, multiplier: 1 });
 * console.assert(value === 0x9601 && Math.abs(errorEstimateSeconds(value) - 0.000977) < 1e-6);
 * ```
 */
export function encodeErrorEstimate(estimate: ErrorEstimate): number {
  const { scale, multiplier } = estimate;
  if (!Number.isInteger(scale) || scale < 0 || scale > 63) {
    throw new RangeError(`Cannot encode error estimate: scale must be 0..63, got ${scale}`);
  }
  if (!Number.isInteger(multiplier) || multiplier < 1 || multiplier > 255) {
    throw new RangeError(
      `Cannot encode error estimate: multiplier must be 1..255, got ${multiplier}`,
    );
  }
  return (estimate.synchronized ? ERROR_SYNCHRONIZED : 0) | (estimate.ptp ? ERROR_PTP : 0) |
    (scale << 8) | multiplier;
}

/**
 * Unpacks the 16 bits of an Error Estimate.
 *
 * @example
 * ```ts
 * import { decodeErrorEstimate } from "@llama/core";
 * const estimate = decodeErrorEstimate(0xc0ff);
 * console.assert(estimate.synchronized && estimate.ptp && estimate.scale === 0);
 * console.assert(estimate.multiplier === 255);
 * ```
 */
export function decodeErrorEstimate(value: number): ErrorEstimate {
  return {
    synchronized: (value & ERROR_SYNCHRONIZED) !== 0,
    ptp: (value & ERROR_PTP) !== 0,
    scale: (value >> 8) & 0x3f,
    multiplier: value & 0xff,
  };
}

/**
 * The error an Error Estimate states, in seconds: Multiplier × 2^(Scale − 32).
 *
 * @example
 * ```ts
 * import { errorEstimateSeconds } from "@llama/core";
 * console.assert(errorEstimateSeconds(0x2001) === 1); // scale 32, multiplier 1
 * ```
 */
export function errorEstimateSeconds(value: number): number {
  return (value & 0xff) * 2 ** (((value >> 8) & 0x3f) - 32);
}

/** Whether an Error Estimate says its timestamps are in PTP format (the Z bit). */
export function isPtpErrorEstimate(value: number): boolean {
  return (value & ERROR_PTP) !== 0;
}

/**
 * Writes a wall-clock time (milliseconds since the Unix epoch, fractional) as a 64-bit NTP
 * timestamp at `offset` (era-wrapped, as RFC 5905 does after 2036), or as truncated PTPv2
 * (seconds since the Unix epoch, nanoseconds) when `ptp` is true.
 *
 * @example
 * ```ts
 * import { writeStampTimestamp } from "@llama/core";
 * const bytes = new Uint8Array(8);
 * writeStampTimestamp(bytes, 0, 1500, false); // 1970-01-01T00:00:01.5Z
 * const view = new DataView(bytes.buffer);
 * console.assert(view.getUint32(0) === 2_208_988_801 && view.getUint32(4) === 0x80000000);
 * ```
 */
export function writeStampTimestamp(
  bytes: Uint8Array,
  offset: number,
  unixMs: number,
  ptp: boolean,
): void {
  const seconds = Math.floor(unixMs / 1000);
  const remainderMs = unixMs - seconds * 1000;
  if (ptp) {
    writeUint32(bytes, offset, seconds >>> 0);
    writeUint32(bytes, offset + 4, Math.min(999_999_999, Math.floor(remainderMs * 1e6)));
    return;
  }
  writeUint32(bytes, offset, (seconds + NTP_UNIX_OFFSET_SECONDS) >>> 0);
  writeUint32(bytes, offset + 4, Math.min(TWO_32 - 1, Math.floor(remainderMs * FRACTION_PER_MS)));
}

/**
 * Reads a 64-bit timestamp at `offset` as milliseconds since the Unix epoch: NTP format, where
 * a seconds field before 1970 is taken to be in NTP era 1 (after 2036-02-07), or truncated PTPv2
 * when `ptp` is true (read as is: PTP's TAI is some 37 s ahead of UTC). 0 reads as 0, "no time".
 *
 * @example
 * ```ts
 * import { readStampTimestamp } from "@llama/core";
 * const bytes = new Uint8Array(8);
 * new DataView(bytes.buffer).setUint32(0, 2_208_988_801);
 * bytes[4] = 0x40; // a quarter of a second
 * console.assert(readStampTimestamp(bytes, 0, false) === 1250);
 * ```
 */
export function readStampTimestamp(bytes: Uint8Array, offset: number, ptp: boolean): number {
  const seconds = readUint32(bytes, offset);
  const fraction = readUint32(bytes, offset + 4);
  if (seconds === 0 && fraction === 0) return 0;
  if (ptp) return seconds * 1000 + fraction / 1e6;
  const unixSeconds = seconds >= NTP_UNIX_OFFSET_SECONDS
    ? seconds - NTP_UNIX_OFFSET_SECONDS
    : seconds + TWO_32 - NTP_UNIX_OFFSET_SECONDS;
  return unixSeconds * 1000 + fraction / FRACTION_PER_MS;
}
