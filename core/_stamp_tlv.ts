// The TLVs that follow a STAMP base packet (RFC 8972 section 4), walked in place: a reflector
// updates them in its reply (the reply is the request's bytes, so it is never larger), a sender
// reads what came back.
import { readUint16, writeUint16 } from "./_stamp_bytes.ts";
import {
  STAMP_HMAC_BYTES,
  TLV_CLASS_OF_SERVICE,
  TLV_EXTRA_PADDING,
  TLV_FLAG_INTEGRITY,
  TLV_FLAG_MALFORMED,
  TLV_FLAG_UNRECOGNIZED,
  TLV_FOUR_BYTE_VALUE,
  TLV_HEADER_BYTES,
  TLV_HMAC,
  TLV_TIMESTAMP_INFORMATION,
} from "./_stamp_layout.ts";

/** Synchronization sources (RFC 8972 section 5.2). */
export const SYNC_SOURCE_NTP = 1;
export const SYNC_SOURCE_FREE_RUNNING = 5;
/** Timestamping methods (RFC 8972 section 5.3): software, on the host's own clock. */
export const TIMESTAMP_SOFTWARE_LOCAL = 2;

/**
 * Whether the TLV at `offset` is where zero padding starts: flags and type 0 (type 0 is
 * reserved). TWAMP-Light senders pad with zeros, and their padding is left as it came.
 */
function isPadding(bytes: Uint8Array, offset: number): boolean {
  return bytes[offset] === 0 && bytes[offset + 1] === 0;
}

/**
 * The offset of the first well-formed HMAC TLV (value of 16 bytes) in `bytes[start, end)`, or -1.
 * The walk stops at padding and at a TLV that overruns the datagram.
 */
export function findHmacTlv(bytes: Uint8Array, start: number, end: number): number {
  for (let offset = start; offset + TLV_HEADER_BYTES <= end;) {
    if (isPadding(bytes, offset)) return -1;
    const length = readUint16(bytes, offset + 2);
    if (offset + TLV_HEADER_BYTES + length > end) return -1;
    if (bytes[offset + 1] === TLV_HMAC && length === STAMP_HMAC_BYTES) return offset;
    offset += TLV_HEADER_BYTES + length;
  }
  return -1;
}

/** What a reflector puts into the TLVs it returns. */
export interface ReflectedTlvContext {
  /** The TOS byte the request arrived with, or -1 when unknown. */
  receivedTos: number;
  /** Whether the reply will be sent with the DSCP a Class of Service TLV asks for. */
  canSetTos: boolean;
  /** The Synchronization Source of this host's clock. */
  syncSource: number;
  /** Offset of the HMAC TLV found by `findHmacTlv`, or -1. */
  hmacTlv: number;
  /** Whether that HMAC TLV verified (false also when there was no key to check it with). */
  hmacTlvVerified: boolean;
}

/**
 * Updates the TLVs of a reply in place (the request's bytes): U flag on each type this reflector
 * does not implement, M flag on one that is too short or overruns the datagram (the walk stops
 * there), I flag on an HMAC TLV that did not verify; Timestamp Information and Class of Service
 * filled in. Returns the DSCP a Class of Service TLV asked the reply to be sent with, or -1.
 */
export function reflectTlvs(
  bytes: Uint8Array,
  start: number,
  end: number,
  context: ReflectedTlvContext,
): number {
  let requestedDscp = -1;
  for (let offset = start; offset + TLV_HEADER_BYTES <= end;) {
    if (isPadding(bytes, offset)) break;
    const type = bytes[offset + 1];
    const length = readUint16(bytes, offset + 2);
    const value = offset + TLV_HEADER_BYTES;
    if (value + length > end) {
      bytes[offset] |= TLV_FLAG_MALFORMED;
      break;
    }
    if (type === TLV_EXTRA_PADDING) {
      // Returned as it came.
    } else if (type === TLV_TIMESTAMP_INFORMATION) {
      if (length < TLV_FOUR_BYTE_VALUE) bytes[offset] |= TLV_FLAG_MALFORMED;
      else {
        bytes[value] = context.syncSource;
        bytes[value + 1] = TIMESTAMP_SOFTWARE_LOCAL;
        bytes[value + 2] = context.syncSource;
        bytes[value + 3] = TIMESTAMP_SOFTWARE_LOCAL;
      }
    } else if (type === TLV_CLASS_OF_SERVICE) {
      if (length < TLV_FOUR_BYTE_VALUE) bytes[offset] |= TLV_FLAG_MALFORMED;
      else requestedDscp = reflectClassOfService(bytes, value, context);
    } else if (type === TLV_HMAC) {
      if (length !== STAMP_HMAC_BYTES) bytes[offset] |= TLV_FLAG_MALFORMED;
      else if (offset !== context.hmacTlv || !context.hmacTlvVerified) {
        bytes[offset] |= TLV_FLAG_INTEGRITY;
      }
    } else {
      bytes[offset] |= TLV_FLAG_UNRECOGNIZED;
    }
    offset = value + length;
  }
  return requestedDscp;
}

/**
 * Class of Service (RFC 8972 section 4.4): DSCP1 (6 bits, what the sender asks the reply to
 * carry), DSCP2 (6 bits, the DSCP the request arrived with), ECN (2 bits, as arrived), RP
 * (2 bits: 0 when the reply carries DSCP1, 1 when it could not), 16 reserved bits.
 */
function reflectClassOfService(
  bytes: Uint8Array,
  value: number,
  context: ReflectedTlvContext,
): number {
  const word = readUint16(bytes, value);
  const dscp1 = word >>> 10;
  const tos = context.receivedTos < 0 ? 0 : context.receivedTos;
  const reversePath = context.canSetTos ? 0 : 1;
  writeUint16(bytes, value, (dscp1 << 10) | ((tos >>> 2) << 4) | ((tos & 3) << 2) | reversePath);
  return dscp1;
}
