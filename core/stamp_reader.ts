import type { Keyring } from "./key_file.ts";
import { readUint16, readUint32 } from "./_stamp_bytes.ts";
import { HmacKeys } from "./_stamp_hmac.ts";
import {
  A_ERROR_ESTIMATE,
  A_HMAC,
  A_RECEIVE_TIMESTAMP,
  A_SENDER_ERROR_ESTIMATE,
  A_SENDER_SEQUENCE,
  A_SENDER_TIMESTAMP,
  A_SENDER_TTL,
  A_SSID,
  A_TIMESTAMP,
  STAMP_AUTHENTICATED_BYTES,
  STAMP_HMAC_BYTES,
  STAMP_UNAUTHENTICATED_BYTES,
  TLV_CLASS_OF_SERVICE,
  TLV_FLAG_INTEGRITY,
  TLV_FLAG_MALFORMED,
  TLV_FLAG_UNRECOGNIZED,
  TLV_FOUR_BYTE_VALUE,
  TLV_HEADER_BYTES,
  TLV_HMAC,
  TLV_TIMESTAMP_INFORMATION,
  U_ERROR_ESTIMATE,
  U_RECEIVE_TIMESTAMP,
  U_SENDER_ERROR_ESTIMATE,
  U_SENDER_SEQUENCE,
  U_SENDER_TIMESTAMP,
  U_SENDER_TTL,
  U_SSID,
  U_TIMESTAMP,
} from "./_stamp_layout.ts";
import { isPtpErrorEstimate, readStampTimestamp } from "./stamp_time.ts";

/** Why `StampReplyReader.read` rejected a reply. */
export type StampReplyRejection = "too-short" | "bad-hmac";

/** What an HMAC TLV in a reply said: absent, verified with the key, or not. */
export type StampHmacTlvState = "absent" | "verified" | "failed";

/**
 * Reads Session-Reflector replies (RFC 8762 section 4.3, RFC 8972) without allocating: after
 * `read()` returns true its properties hold the reply's fields until the next `read()`. Times
 * are wall-clock milliseconds since the Unix epoch (0 when the field is 0); `t4`, when the reply
 * arrived, is the caller's.
 *
 * @example
 * ```ts
 * import { StampReflector, StampReplyReader, StampTestPacketWriter } from "@llama/core";
 * const writer = new StampTestPacketWriter();
 * writer.write(5, Date.now());
 * const bytes = writer.bytes.slice();
 * new StampReflector().reflect(bytes, bytes.length, {
 *   receivedAt: performance.now(), ttl: 63, tos: -1, address: { hostname: "::1", port: 9 },
 * }, bytes);
 * const reader = new StampReplyReader();
 * console.assert(reader.read(bytes, bytes.length) && reader.sequence === 5);
 * console.assert(reader.t2 >= reader.t1 - 1 && reader.t3 >= reader.t2);
 * ```
 */
export class StampReplyReader {
  /** Why the last `read()` returned false. */
  rejection: StampReplyRejection | undefined;
  /** The reflector's sequence number (the sender's when it is stateless). */
  sequence: number = 0;
  /** The sender's sequence number, echoed. */
  senderSequence: number = 0;
  /** t1: the sender's timestamp, echoed. */
  t1: number = 0;
  /** t2: when the reflector received the request. */
  t2: number = 0;
  /** t3: when the reflector sent the reply. */
  t3: number = 0;
  /** The reflector's Error Estimate (16 bits; see `decodeErrorEstimate`). */
  errorEstimate: number = 0;
  /** The sender's Error Estimate, echoed. */
  senderErrorEstimate: number = 0;
  /** The TTL or hop limit the request arrived with (0 when the reflector did not know it). */
  senderTtl: number = 0;
  /** The Session Sender Identifier. */
  ssid: number = 0;
  /** Whether the reply was authenticated, and its HMAC verified. */
  hmacVerified: boolean = false;
  /** Class of Service TLV: DSCP1 (what was asked), or -1 without the TLV. */
  dscp1: number = -1;
  /** Class of Service TLV: DSCP2, the DSCP the request arrived with, or -1. */
  dscp2: number = -1;
  /** Class of Service TLV: the ECN bits the request arrived with, or -1. */
  ecn: number = -1;
  /** Class of Service TLV: RP, 0 when the reply was sent with DSCP1, or -1. */
  reversePath: number = -1;
  /** Timestamp Information TLV: the four bytes (sync source in, method in, out, out), or -1. */
  syncSourceIn: number = -1;
  /** Timestamp Information TLV: how the receive time was taken, or -1. */
  timestampMethodIn: number = -1;
  /** Timestamp Information TLV: the clock the transmit time came from, or -1. */
  syncSourceOut: number = -1;
  /** Timestamp Information TLV: how the transmit time was taken, or -1. */
  timestampMethodOut: number = -1;
  /** TLVs the reflector flagged U (did not recognize), M (malformed), I (integrity failed). */
  unrecognizedTlvs: number = 0;
  /** TLVs flagged M. */
  malformedTlvs: number = 0;
  /** TLVs flagged I. */
  integrityFailedTlvs: number = 0;
  /** The HMAC TLV, checked with the same key as the base packet. */
  hmacTlv: StampHmacTlvState = "absent";
  readonly #keys = new WeakMap<Keyring, HmacKeys>();
  readonly #ranges = new Int32Array(4);

  /**
   * Reads the reply in `bytes[0, length)`: authenticated layout when `keyring` is given (then
   * false with `bad-hmac` unless one of its keys verifies), unauthenticated otherwise.
   */
  read(bytes: Uint8Array, length: number, keyring?: Keyring): boolean {
    const authenticated = keyring !== undefined;
    const base = authenticated ? STAMP_AUTHENTICATED_BYTES : STAMP_UNAUTHENTICATED_BYTES;
    if (length < base || length > bytes.length) return this.#reject("too-short");
    this.ssid = readUint16(bytes, authenticated ? A_SSID : U_SSID);
    const ranges = this.#ranges;
    let key = -1;
    let keys: HmacKeys | undefined;
    if (keyring !== undefined) {
      keys = this.#keys.get(keyring);
      if (keys === undefined) this.#keys.set(keyring, keys = new HmacKeys(keyring));
      ranges[0] = 0;
      ranges[1] = A_HMAC;
      ranges[2] = 0;
      ranges[3] = 0;
      key = keys.find(this.ssid, bytes, ranges, A_HMAC);
      if (key < 0) return this.#reject("bad-hmac");
    }
    this.rejection = undefined;
    this.hmacVerified = authenticated;
    this.sequence = readUint32(bytes, 0);
    this.errorEstimate = readUint16(bytes, authenticated ? A_ERROR_ESTIMATE : U_ERROR_ESTIMATE);
    this.senderErrorEstimate = readUint16(
      bytes,
      authenticated ? A_SENDER_ERROR_ESTIMATE : U_SENDER_ERROR_ESTIMATE,
    );
    const reflectorPtp = isPtpErrorEstimate(this.errorEstimate);
    this.t1 = readStampTimestamp(
      bytes,
      authenticated ? A_SENDER_TIMESTAMP : U_SENDER_TIMESTAMP,
      isPtpErrorEstimate(this.senderErrorEstimate),
    );
    this.t2 = readStampTimestamp(
      bytes,
      authenticated ? A_RECEIVE_TIMESTAMP : U_RECEIVE_TIMESTAMP,
      reflectorPtp,
    );
    this.t3 = readStampTimestamp(bytes, authenticated ? A_TIMESTAMP : U_TIMESTAMP, reflectorPtp);
    this.senderSequence = readUint32(bytes, authenticated ? A_SENDER_SEQUENCE : U_SENDER_SEQUENCE);
    this.senderTtl = bytes[authenticated ? A_SENDER_TTL : U_SENDER_TTL];
    this.#readTlvs(bytes, base, length, keys, key);
    return true;
  }

  #readTlvs(
    bytes: Uint8Array,
    start: number,
    end: number,
    keys: HmacKeys | undefined,
    key: number,
  ): void {
    this.dscp1 =
      this.dscp2 =
      this.ecn =
      this.reversePath =
        -1;
    this.syncSourceIn =
      this.timestampMethodIn =
      this.syncSourceOut =
      this.timestampMethodOut =
        -1;
    this.unrecognizedTlvs = this.malformedTlvs = this.integrityFailedTlvs = 0;
    this.hmacTlv = "absent";
    for (let offset = start; offset + TLV_HEADER_BYTES <= end;) {
      const flags = bytes[offset];
      const type = bytes[offset + 1];
      if (flags === 0 && type === 0) break; // zero padding
      const length = readUint16(bytes, offset + 2);
      const value = offset + TLV_HEADER_BYTES;
      if (flags & TLV_FLAG_UNRECOGNIZED) this.unrecognizedTlvs++;
      if (flags & TLV_FLAG_MALFORMED) this.malformedTlvs++;
      if (flags & TLV_FLAG_INTEGRITY) this.integrityFailedTlvs++;
      if (value + length > end) break;
      if (type === TLV_CLASS_OF_SERVICE && length >= TLV_FOUR_BYTE_VALUE) {
        const word = readUint16(bytes, value);
        this.dscp1 = word >>> 10;
        this.dscp2 = (word >>> 4) & 0x3f;
        this.ecn = (word >>> 2) & 3;
        this.reversePath = word & 3;
      } else if (type === TLV_TIMESTAMP_INFORMATION && length >= TLV_FOUR_BYTE_VALUE) {
        this.syncSourceIn = bytes[value];
        this.timestampMethodIn = bytes[value + 1];
        this.syncSourceOut = bytes[value + 2];
        this.timestampMethodOut = bytes[value + 3];
      } else if (type === TLV_HMAC && length === STAMP_HMAC_BYTES) {
        const ranges = this.#ranges;
        ranges[0] = 0;
        ranges[1] = 4;
        ranges[2] = start;
        ranges[3] = offset;
        this.hmacTlv = keys !== undefined && key >= 0 && keys.verify(key, bytes, ranges, value)
          ? "verified"
          : "failed";
      }
      offset = value + length;
    }
  }

  #reject(rejection: StampReplyRejection): false {
    this.rejection = rejection;
    return false;
  }
}
