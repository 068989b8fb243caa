import type { Keyring } from "./key_file.ts";
import { writeUint16, writeUint32 } from "./_stamp_bytes.ts";
import { HmacKeys } from "./_stamp_hmac.ts";
import {
  A_ERROR_ESTIMATE,
  A_HMAC,
  A_SSID,
  A_TIMESTAMP,
  STAMP_AUTHENTICATED_BYTES,
  STAMP_HMAC_BYTES,
  STAMP_UNAUTHENTICATED_BYTES,
  TLV_CLASS_OF_SERVICE,
  TLV_EXTRA_PADDING,
  TLV_FOUR_BYTE_VALUE,
  TLV_HEADER_BYTES,
  TLV_HMAC,
  TLV_TIMESTAMP_INFORMATION,
  U_ERROR_ESTIMATE,
  U_SSID,
  U_TIMESTAMP,
} from "./_stamp_layout.ts";
import { encodeErrorEstimate, isPtpErrorEstimate, writeStampTimestamp } from "./stamp_time.ts";

/** A TLV given as its type and value bytes (flags 0), such as one a reflector will not know. */
export interface StampRawTlv {
  /** Type, 0..255. */
  type: number;
  /** The value, at most 65535 bytes. */
  value: Uint8Array;
}

/** The RFC 8972 TLVs a Session-Sender puts after its base packet, in this order. */
export interface StampTlvOptions {
  /** Class of Service TLV: the DSCP (0..63) the reply is asked to carry. */
  classOfService?: { dscp1: number };
  /** Timestamp Information TLV, for the reflector to fill in. */
  timestampInformation?: boolean;
  /** TLVs given as bytes, after the two above. */
  raw?: readonly StampRawTlv[];
  /** Extra Padding TLV with this many value bytes (zeros). */
  extraPadding?: number;
  /** HMAC TLV, last (needs a keyring): it covers the sequence number and the TLVs before it. */
  hmac?: boolean;
}

/** How a `StampTestPacketWriter` lays out its packets. */
export interface StampWriterOptions {
  /** Authenticated mode, signing with the keyring's `signingKey`. Default: unauthenticated. */
  keyring?: Keyring;
  /** Session Sender Identifier (RFC 8972 section 3), 0..65535. Default 0. */
  ssid?: number;
  /**
   * The sender's Error Estimate (see `encodeErrorEstimate`); a Z bit makes the timestamp PTP.
   * Default: not synchronized, about a millisecond.
   */
  errorEstimate?: number;
  /** TLVs after the base packet. Default none. */
  tlvs?: StampTlvOptions;
}

/**
 * Lays out STAMP Session-Sender test packets (RFC 8762 section 4.2, RFC 8972 sections 3 and 4)
 * in a buffer of its own, reused for every packet: `write()` fills in the sequence number and
 * the timestamp, then the HMACs.
 *
 * @example
 * ```ts
 * import { StampTestPacketWriter } from "@llama/core";
 * const writer = new StampTestPacketWriter({ ssid: 9, tlvs: { classOfService: { dscp1: 46 } } });
 * writer.write(1, Date.now());
 * console.assert(writer.bytes.length === 44 + 8 && writer.bytes[3] === 1);
 * ```
 */
export class StampTestPacketWriter {
  /** The packet: send exactly these bytes. */
  readonly bytes: Uint8Array;
  /** Whether packets are authenticated. */
  readonly authenticated: boolean;
  readonly #keys: HmacKeys | undefined;
  readonly #ptp: boolean;
  readonly #hmacTlv: number;
  readonly #ranges = new Int32Array(4);

  /** Lays out the fixed parts once; throws `RangeError` for bad options. */
  constructor(options: StampWriterOptions = {}) {
    const ssid = options.ssid ?? 0;
    if (!Number.isInteger(ssid) || ssid < 0 || ssid > 65535) {
      throw new RangeError(`Cannot write STAMP packets: ssid must be 0..65535, got ${ssid}`);
    }
    const errorEstimate = options.errorEstimate ??
      encodeErrorEstimate({ synchronized: false, ptp: false, scale: 22, multiplier: 1 });
    this.#ptp = isPtpErrorEstimate(errorEstimate);
    this.#keys = options.keyring === undefined ? undefined : new HmacKeys(options.keyring);
    this.authenticated = this.#keys !== undefined;
    const base = this.authenticated ? STAMP_AUTHENTICATED_BYTES : STAMP_UNAUTHENTICATED_BYTES;
    const tlvs = layOutTlvs(options.tlvs ?? {}, this.authenticated);
    this.bytes = new Uint8Array(base + tlvs.length);
    this.bytes.set(tlvs, base);
    this.#hmacTlv = options.tlvs?.hmac
      ? this.bytes.length - TLV_HEADER_BYTES - STAMP_HMAC_BYTES
      : -1;
    writeUint16(
      this.bytes,
      this.authenticated ? A_ERROR_ESTIMATE : U_ERROR_ESTIMATE,
      errorEstimate,
    );
    writeUint16(this.bytes, this.authenticated ? A_SSID : U_SSID, ssid);
  }

  /**
   * Writes `sequence` and the timestamp `unixMs` (wall clock, milliseconds since the Unix
   * epoch), then the HMACs: call it just before sending.
   */
  write(sequence: number, unixMs: number): void {
    const bytes = this.bytes;
    const keys = this.#keys;
    writeUint32(bytes, 0, sequence >>> 0);
    const ranges = this.#ranges;
    if (keys !== undefined && this.#hmacTlv >= 0) {
      ranges[0] = 0;
      ranges[1] = 4;
      ranges[2] = STAMP_AUTHENTICATED_BYTES;
      ranges[3] = this.#hmacTlv;
      keys.sign(0, bytes, ranges, this.#hmacTlv + TLV_HEADER_BYTES);
    }
    writeStampTimestamp(bytes, keys === undefined ? U_TIMESTAMP : A_TIMESTAMP, unixMs, this.#ptp);
    if (keys !== undefined) {
      ranges[0] = 0;
      ranges[1] = A_HMAC;
      ranges[2] = 0;
      ranges[3] = 0;
      keys.sign(0, bytes, ranges, A_HMAC);
    }
  }
}

function layOutTlvs(options: StampTlvOptions, authenticated: boolean): Uint8Array {
  const parts: { type: number; value: Uint8Array }[] = [];
  if (options.classOfService !== undefined) {
    const dscp1 = options.classOfService.dscp1;
    if (!Number.isInteger(dscp1) || dscp1 < 0 || dscp1 > 63) {
      throw new RangeError(`Cannot write STAMP packets: dscp1 must be 0..63, got ${dscp1}`);
    }
    parts.push({ type: TLV_CLASS_OF_SERVICE, value: new Uint8Array([dscp1 << 2, 0, 0, 0]) });
  }
  if (options.timestampInformation) {
    parts.push({ type: TLV_TIMESTAMP_INFORMATION, value: new Uint8Array(TLV_FOUR_BYTE_VALUE) });
  }
  for (const tlv of options.raw ?? []) {
    if (!Number.isInteger(tlv.type) || tlv.type < 0 || tlv.type > 255 || tlv.value.length > 65535) {
      throw new RangeError(
        `Cannot write STAMP packets: a raw TLV needs a type 0..255 and at most 65535 value bytes`,
      );
    }
    parts.push(tlv);
  }
  if (options.extraPadding !== undefined) {
    if (!Number.isInteger(options.extraPadding) || options.extraPadding < 0) {
      throw new RangeError(
        `Cannot write STAMP packets: extraPadding must be a whole number, got ${options.extraPadding}`,
      );
    }
    parts.push({ type: TLV_EXTRA_PADDING, value: new Uint8Array(options.extraPadding) });
  }
  if (options.hmac) {
    if (!authenticated) {
      throw new RangeError("Cannot write STAMP packets: an HMAC TLV needs a keyring");
    }
    parts.push({ type: TLV_HMAC, value: new Uint8Array(STAMP_HMAC_BYTES) });
  }
  const total = parts.reduce((sum, part) => sum + TLV_HEADER_BYTES + part.value.length, 0);
  const bytes = new Uint8Array(total);
  let offset = 0;
  for (const part of parts) {
    bytes[offset + 1] = part.type;
    writeUint16(bytes, offset + 2, part.value.length);
    bytes.set(part.value, offset + TLV_HEADER_BYTES);
    offset += TLV_HEADER_BYTES + part.value.length;
  }
  return bytes;
}
