/**
 * A probe socket's trace probes: the one slot they are written into, and the reading of the
 * probe a router quotes back in its ICMP error.
 *
 * @module
 */
import {
  DatagramBatch,
  type IcmpErrorReport,
  type PeerAddress,
  type ProbeAuthenticator,
  ProbeWriter,
  SIGNATURE_BYTES,
  type WallNanos,
} from "@llama/core";
import { ID_MASK } from "./in_flight.ts";

/** Trace probes of one socket, written like its regular probes (same TOS, same signing). */
export class TraceSlot {
  /** The trace probe id `readQuote` found. */
  quotedId = 0;
  /** The nonce `readQuote` found. */
  quotedNonce = 0;
  readonly #batch: DatagramBatch;
  readonly #writer: ProbeWriter;
  readonly #instanceTag: number;
  readonly #wall: WallNanos;
  readonly #auth: ProbeAuthenticator | undefined;

  /** The slot of a socket whose probes carry `settings`, stamped by `wall`, signed by `auth`. */
  constructor(
    settings: { tos: number; instanceTag: number },
    wall: WallNanos,
    auth: ProbeAuthenticator | undefined,
  ) {
    this.#writer = new ProbeWriter({ tos: settings.tos, authLength: auth?.authLength ?? 0 });
    auth?.writeKeyId(this.#writer.bytes, this.#writer.authOffset);
    this.#batch = new DatagramBatch(1, this.#writer.bytes.length);
    this.#batch.slots[0].set(this.#writer.bytes);
    this.#instanceTag = settings.instanceTag;
    this.#wall = wall;
    this.#auth = auth;
  }

  /**
   * Writes a trace probe to `target` with TTL `ttl`, signature `id` and `nonce`, stamped with
   * the monotonic time `now`; returns the batch holding it in slot 0, ready to send.
   */
  stage(target: PeerAddress, ttl: number, id: number, nonce: number, now: number): DatagramBatch {
    const batch = this.#batch;
    const writer = this.#writer;
    const view = batch.view;
    const signature = writer.signatureOffset;
    view.setUint32(signature, id, true);
    view.setUint32(signature + 4, nonce, true);
    view.setUint16(signature + 8, this.#instanceTag, true);
    this.#wall.convert(now);
    writer.stamp(batch.slots[0], view, this.#wall.high, this.#wall.low, 0);
    const length = writer.bytes.length;
    batch.lengths[0] = length;
    this.#auth?.sign(batch.slots[0], length, writer.authOffset, length);
    batch.addresses[0] = target;
    batch.ttl[0] = ttl;
    return batch;
  }

  /**
   * Whether the ICMP error quotes one of these trace probes; if so, `quotedId` and `quotedNonce`
   * hold its id and nonce. A router quotes only the start of a probe (576 bytes of the whole
   * packet at most for ICMP, often less), never all of its padding: the signature is read where
   * these probes carry it, after the bytes before it are checked against the template.
   */
  readQuote(report: IcmpErrorReport): boolean {
    const writer = this.#writer;
    const signature = writer.signatureOffset;
    const bytes = report.payload;
    if (report.payloadLength < signature + SIGNATURE_BYTES) return false;
    for (let index = 0; index < signature; index++) {
      if (bytes[index] !== writer.bytes[index]) return false;
    }
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const id = view.getUint32(signature, true);
    if (view.getUint16(signature + 8, true) !== this.#instanceTag || id <= ID_MASK) return false;
    this.quotedId = id;
    this.quotedNonce = view.getUint32(signature + 4, true);
    return true;
  }
}
