// 64-bit unsigned integers as two exact 32-bit halves, so per-probe code never needs BigInt.

const TWO_32 = 4294967296;

/** Writes `high * 2^32 + low` as 8 little-endian bytes (protobuf fixed64). */
export function writeFixed64(view: DataView, offset: number, high: number, low: number): void {
  view.setUint32(offset, low, true);
  view.setUint32(offset + 4, high, true);
}

/** Reads a protobuf fixed64 as a number; exact below 2^53. */
export function readFixed64(view: DataView, offset: number): number {
  return view.getUint32(offset + 4, true) * TWO_32 + view.getUint32(offset, true);
}

/**
 * Writes `high * 2^32 + low` (below 2^63) as a varint of exactly nine bytes. Nine bytes is the
 * minimal length of every nanosecond timestamp between 1972 and 2262, and a non-minimal varint
 * is still valid protobuf, so the layout of a probe never shifts.
 */
export function writeVarint9(bytes: Uint8Array, offset: number, high: number, low: number): void {
  bytes[offset] = (low & 0x7f) | 0x80;
  bytes[offset + 1] = ((low >>> 7) & 0x7f) | 0x80;
  bytes[offset + 2] = ((low >>> 14) & 0x7f) | 0x80;
  bytes[offset + 3] = ((low >>> 21) & 0x7f) | 0x80;
  bytes[offset + 4] = (((low >>> 28) | (high << 4)) & 0x7f) | 0x80;
  bytes[offset + 5] = ((high >>> 3) & 0x7f) | 0x80;
  bytes[offset + 6] = ((high >>> 10) & 0x7f) | 0x80;
  bytes[offset + 7] = ((high >>> 17) & 0x7f) | 0x80;
  bytes[offset + 8] = (high >>> 24) & 0x7f;
}

/** Splits a non-negative integer below 2^53 into 32-bit halves and adds it to `high:low`. */
export function addToSplit(
  high: number,
  low: number,
  value: number,
  out: Float64Array,
): void {
  const sumLow = low + (value % TWO_32);
  out[0] = (high + Math.floor(value / TWO_32) + Math.floor(sumLow / TWO_32)) % TWO_32;
  out[1] = sumLow % TWO_32;
}

/** Splits a non-negative bigint below 2^64 into `[high, low]`. */
export function splitBigInt(value: bigint): [number, number] {
  return [Number((value >> 32n) & 0xffffffffn), Number(value & 0xffffffffn)];
}
