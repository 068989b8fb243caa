import type { Clock } from "./clock.ts";
import type { Keyring } from "./key_file.ts";
import type { SocketAddress } from "./_socket_address.ts";
import { allZero, readUint16, readUint32, writeUint16, writeUint32, zero } from "./_stamp_bytes.ts";
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
  STAMP_UNAUTHENTICATED_BYTES,
  TLV_HEADER_BYTES,
  U_ERROR_ESTIMATE,
  U_RECEIVE_TIMESTAMP,
  U_SENDER_ERROR_ESTIMATE,
  U_SENDER_SEQUENCE,
  U_SENDER_TIMESTAMP,
  U_SENDER_TTL,
  U_SSID,
  U_TIMESTAMP,
} from "./_stamp_layout.ts";
import { StampSessionTable } from "./_stamp_sessions.ts";
import {
  findHmacTlv,
  type ReflectedTlvContext,
  reflectTlvs,
  SYNC_SOURCE_FREE_RUNNING,
  SYNC_SOURCE_NTP,
} from "./_stamp_tlv.ts";
import { encodeErrorEstimate, writeStampTimestamp } from "./stamp_time.ts";

/**
 * Why a `StampReflector` did not answer: `too-short`, shorter than the base packet of its mode
 * (44 bytes, 112 authenticated) or longer than the reply buffer; `malformed`, the bytes where a
 * reply carries its Receive Timestamp are not zero (a reply, or junk: answering it could start a
 * loop between two reflectors); `bad-hmac`, authenticated mode and no key verifies its HMAC.
 */
export type StampDropReason = "too-short" | "malformed" | "bad-hmac";

/** The drop reasons, in counter order. */
export const STAMP_DROP_REASONS: readonly StampDropReason[] = [
  "too-short",
  "malformed",
  "bad-hmac",
];

/** Stateless reflectors copy the sender's sequence number; stateful ones count each session's. */
export type StampMode = "stateless" | "stateful";

/**
 * What the engine knows about a received request. Reuse one object: `reflect` keeps nothing.
 */
export interface StampReceiveMeta {
  /** When it arrived, on the clock's monotonic scale (the kernel's receive time when known). */
  receivedAt: number;
  /** The TTL or hop limit it arrived with, or -1 when unknown (sent back as 0). */
  ttl: number;
  /** The TOS byte it arrived with, or -1 when unknown. */
  tos: number;
  /** Who sent it: keys a stateful reflector's sessions. */
  address: SocketAddress;
}

/** How a `StampReflector` answers. */
export interface StampReflectorOptions {
  /** Default `stateless`. */
  mode?: StampMode;
  /** Authenticated mode: only requests whose HMAC verifies with one of these keys are answered. */
  keyring?: Keyring;
  /**
   * Converts receive and transmit times to wall-clock time (`origin + monotonic`); its
   * `monotonic()` is the transmit time unless `now` is given. Default: the system's.
   */
  clock?: Clock;
  /** The transmit time on the scale of `StampReceiveMeta.receivedAt` (a socket's `now`). */
  now?: () => number;
  /**
   * The reflector's Error Estimate (see `encodeErrorEstimate`); its S bit also sets the
   * Synchronization Source of Timestamp Information TLVs (NTP, else free-running). Default: not
   * synchronized, 1 × 2^(22 − 32) s, about a millisecond.
   */
  errorEstimate?: number;
  /** Stateful mode: the most sessions kept (rounded up to a power of two). Default 4096. */
  sessions?: number;
  /** Whether replies are sent with `replyTos` (the native engine can; Deno's cannot). Default true. */
  canSetTos?: boolean;
}

/**
 * A STAMP Session-Reflector (RFC 8762 with the TLVs of RFC 8972), pure: it turns a request's
 * bytes into a reply and leaves the sockets to its caller. It also answers TWAMP-Light test
 * packets (RFC 5357 Appendix I), whose unauthenticated layout is the same.
 *
 * @example Reflect a request in place
 * ```ts
 * import { StampReflector, StampReplyReader, StampTestPacketWriter } from "@llama/core";
 * const reflector = new StampReflector({ mode: "stateful" });
 * const sender = new StampTestPacketWriter({ ssid: 7 });
 * sender.write(41, Date.now());
 * const packet = sender.bytes.slice();
 * const meta = { receivedAt: performance.now(), ttl: 64, tos: 0, address: { hostname: "192.0.2.1", port: 5000 } };
 * const length = reflector.reflect(packet, packet.length, meta, packet);
 * const reader = new StampReplyReader();
 * console.assert(length === 44 && reader.read(packet, length));
 * console.assert(reader.senderSequence === 41 && reader.sequence === 0 && reader.senderTtl === 64);
 * ```
 */
export class StampReflector {
  /** The mode it runs in. */
  readonly mode: StampMode;
  /** Whether it runs in authenticated mode. */
  readonly authenticated: boolean;
  /**
   * The TOS the last reply should be sent with: the DSCP its Class of Service TLV asked for, else
   * the DSCP the request came with; -1 when unknown (send with the socket's default).
   */
  replyTos: number = -1;
  /** Why the last request was not answered, or undefined when it was. */
  lastDrop: StampDropReason | undefined;
  readonly #keys: HmacKeys | undefined;
  readonly #sessions: StampSessionTable | undefined;
  readonly #origin: number;
  readonly #now: () => number;
  readonly #errorEstimate: number;
  readonly #tlvContext: ReflectedTlvContext;
  readonly #ranges = new Int32Array(4);
  readonly #drops = new Float64Array(STAMP_DROP_REASONS.length);

  /** Creates a reflector; throws `RangeError` for bad options. */
  constructor(options: StampReflectorOptions = {}) {
    const clock = options.clock;
    this.mode = options.mode ?? "stateless";
    if (this.mode !== "stateless" && this.mode !== "stateful") {
      throw new RangeError(`Cannot create STAMP reflector: unknown mode "${this.mode}"`);
    }
    this.#keys = options.keyring === undefined ? undefined : new HmacKeys(options.keyring);
    this.authenticated = this.#keys !== undefined;
    this.#sessions = this.mode === "stateful"
      ? new StampSessionTable(options.sessions ?? 4096)
      : undefined;
    this.#origin = clock?.origin ?? performance.timeOrigin;
    this.#now = options.now ??
      (clock === undefined ? () => performance.now() : () => clock.monotonic());
    this.#errorEstimate = options.errorEstimate ??
      encodeErrorEstimate({ synchronized: false, ptp: false, scale: 22, multiplier: 1 });
    this.#tlvContext = {
      receivedTos: -1,
      canSetTos: options.canSetTos ?? true,
      syncSource: (this.#errorEstimate & 0x8000) !== 0 ? SYNC_SOURCE_NTP : SYNC_SOURCE_FREE_RUNNING,
      hmacTlv: -1,
      hmacTlvVerified: false,
    };
  }

  /** Sessions a stateful reflector holds now (0 when stateless). */
  get sessions(): number {
    return this.#sessions?.size ?? 0;
  }

  /** Requests not answered since it was created, by reason. */
  drops(): Record<StampDropReason, number> {
    const drops = {} as Record<StampDropReason, number>;
    STAMP_DROP_REASONS.forEach((reason, index) => drops[reason] = this.#drops[index]);
    return drops;
  }

  /**
   * Writes the reply to `request[0, length)` into `reply` (which may be `request` itself: the
   * reply is built in place) and returns its length, the request's; 0 when it is not answered
   * (see `lastDrop`). The transmit timestamp is read last, just before the HMAC is computed.
   */
  reflect(
    request: Uint8Array,
    length: number,
    meta: StampReceiveMeta,
    reply: Uint8Array,
  ): number {
    const keys = this.#keys;
    const base = keys === undefined ? STAMP_UNAUTHENTICATED_BYTES : STAMP_AUTHENTICATED_BYTES;
    if (length < base || length > request.length || length > reply.length) return this.#drop(0);
    const receiveAt = keys === undefined ? U_RECEIVE_TIMESTAMP : A_RECEIVE_TIMESTAMP;
    if (!allZero(request, receiveAt, receiveAt + 8)) return this.#drop(1);
    const ranges = this.#ranges;
    let key = -1;
    const ssid = readUint16(request, keys === undefined ? U_SSID : A_SSID);
    if (keys !== undefined) {
      setRanges(ranges, 0, A_HMAC, 0, 0);
      key = keys.find(ssid, request, ranges, A_HMAC);
      if (key < 0) return this.#drop(2);
    }
    this.lastDrop = undefined;
    if (reply !== request) {
      for (let index = 0; index < length; index++) reply[index] = request[index];
    }
    const context = this.#tlvContext;
    context.hmacTlv = findHmacTlv(reply, base, length);
    context.hmacTlvVerified = false;
    if (context.hmacTlv >= 0 && keys !== undefined) {
      setRanges(ranges, 0, 4, base, context.hmacTlv);
      context.hmacTlvVerified = keys.verify(key, reply, ranges, context.hmacTlv + TLV_HEADER_BYTES);
    }
    context.receivedTos = meta.tos;
    const requestedDscp = reflectTlvs(reply, base, length, context);
    this.replyTos = requestedDscp >= 0 ? requestedDscp << 2 : meta.tos < 0 ? -1 : meta.tos & 0xfc;

    const senderSequence = readUint32(reply, 0);
    const sequence = this.#sessions === undefined
      ? senderSequence
      : this.#sessions.next(meta.address.hostname, meta.address.port, ssid);
    const receivedMs = this.#origin + meta.receivedAt;
    const ttl = meta.ttl < 0 ? 0 : meta.ttl & 0xff;
    let timestampAt: number;
    if (keys === undefined) {
      // Sender fields move from 0..13 to 24..37 first; nothing they come from is written before.
      copy8(reply, U_TIMESTAMP, U_SENDER_TIMESTAMP);
      writeUint16(reply, U_SENDER_ERROR_ESTIMATE, readUint16(reply, U_ERROR_ESTIMATE));
      writeUint32(reply, U_SENDER_SEQUENCE, senderSequence);
      zero(reply, U_SENDER_ERROR_ESTIMATE + 2, STAMP_UNAUTHENTICATED_BYTES);
      reply[U_SENDER_TTL] = ttl;
      writeStampTimestamp(reply, U_RECEIVE_TIMESTAMP, receivedMs, false);
      writeUint16(reply, U_ERROR_ESTIMATE, this.#errorEstimate);
      timestampAt = U_TIMESTAMP;
    } else {
      copy8(reply, A_TIMESTAMP, A_SENDER_TIMESTAMP);
      writeUint16(reply, A_SENDER_ERROR_ESTIMATE, readUint16(reply, A_ERROR_ESTIMATE));
      zero(reply, 4, A_TIMESTAMP);
      zero(reply, A_SSID + 2, A_RECEIVE_TIMESTAMP);
      zero(reply, A_RECEIVE_TIMESTAMP + 8, A_SENDER_SEQUENCE);
      writeUint32(reply, A_SENDER_SEQUENCE, senderSequence);
      zero(reply, A_SENDER_SEQUENCE + 4, A_SENDER_TIMESTAMP);
      zero(reply, A_SENDER_ERROR_ESTIMATE + 2, A_HMAC);
      reply[A_SENDER_TTL] = ttl;
      writeStampTimestamp(reply, A_RECEIVE_TIMESTAMP, receivedMs, false);
      writeUint16(reply, A_ERROR_ESTIMATE, this.#errorEstimate);
      timestampAt = A_TIMESTAMP;
    }
    writeUint32(reply, 0, sequence);
    if (context.hmacTlv >= 0 && keys !== undefined) {
      setRanges(ranges, 0, 4, base, context.hmacTlv);
      keys.sign(key, reply, ranges, context.hmacTlv + TLV_HEADER_BYTES);
    }
    writeStampTimestamp(reply, timestampAt, this.#origin + this.#now(), false);
    if (keys !== undefined) {
      setRanges(ranges, 0, A_HMAC, 0, 0);
      keys.sign(key, reply, ranges, A_HMAC);
    }
    return length;
  }

  #drop(reason: number): number {
    this.#drops[reason]++;
    this.lastDrop = STAMP_DROP_REASONS[reason];
    return 0;
  }
}

function copy8(bytes: Uint8Array, from: number, to: number): void {
  for (let index = 0; index < 8; index++) bytes[to + index] = bytes[from + index];
}

function setRanges(ranges: Int32Array, start: number, end: number, start2: number, end2: number) {
  ranges[0] = start;
  ranges[1] = end;
  ranges[2] = start2;
  ranges[3] = end2;
}
