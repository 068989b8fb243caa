/**
 * A probe socket's ring of send batches: each slot holds a copy of the probe template, and a probe
 * is staged by writing its signature, send time and sequence number in place.
 *
 * @module
 */
import { BatchRing } from "./_batch_ring.ts";
import {
  type DatagramBatch,
  type ProbeAuthenticator,
  ProbeWriter,
  type SocketAddress,
  type WallNanos,
} from "@llama/core";

/**
 * Batches of probes, staged one at a time into the current batch and taken whole to be sent.
 * A batch the socket is still sending (Deno's engine sends in the background) is not staged into
 * again until it is done.
 */
export class ProbeBatches extends BatchRing {
  readonly #writer: ProbeWriter;
  readonly #wall: WallNanos;
  readonly #auth: ProbeAuthenticator | undefined;
  readonly #random = new Uint32Array(64);
  #randomIndex = 64;

  /**
   * Batches of probes of TOS `tos`, stamped with the wall-clock time of `wall`; with `auth`, each
   * probe is signed with its first key once stamped.
   */
  constructor(tos: number, wall: WallNanos, auth?: ProbeAuthenticator) {
    const writer = new ProbeWriter({ tos, authLength: auth?.authLength ?? 0 });
    if (auth !== undefined) auth.writeKeyId(writer.bytes, writer.authOffset);
    super(writer.bytes.length, writer.bytes);
    this.#writer = writer;
    this.#auth = auth;
    this.#wall = wall;
  }

  /** A random number for the signature of the probe staged next (see `stage`). */
  nonce(): number {
    if (this.#randomIndex === this.#random.length) {
      crypto.getRandomValues(this.#random);
      this.#randomIndex = 0;
    }
    return this.#random[this.#randomIndex++];
  }

  /**
   * Stages probe `id` into the current batch: its signature (`id`, the nonce `nonce()` drew last,
   * `instanceTag`), its send time (monotonic `now`, as wall-clock time) and `sequence`. The nonce
   * is read here, not passed: V8 does not inline this call, and a 32-bit nonce passed to it is a
   * heap number three times in four, an allocation a probe.
   */
  stage(
    id: number,
    instanceTag: number,
    sequence: number,
    target: SocketAddress,
    now: number,
  ): void {
    const index = this.current;
    const batch = this.batches[index];
    const slot = this.stagedCount++;
    const signature = batch.slots[slot].byteOffset + this.#writer.signatureOffset;
    batch.view.setUint32(signature, id, true);
    batch.view.setUint32(signature + 4, this.#random[this.#randomIndex - 1], true);
    batch.view.setUint16(signature + 8, instanceTag, true);
    this.#stamp(batch, slot, sequence, now);
    batch.addresses[slot] = target;
    this.slotIds[index][slot] = id;
  }

  /** Writes the send time and sequence number of slot `slot` of `batch`. */
  #stamp(batch: DatagramBatch, slot: number, sequence: number, now: number): void {
    this.#wall.convert(now);
    const writer = this.#writer;
    const bytes = batch.slots[slot];
    writer.stamp(bytes, batch.view, this.#wall.high, this.#wall.low, sequence);
    const length = writer.bytes.length;
    batch.lengths[slot] = length;
    // Signed last, once every byte it covers is written; the tag is the datagram's last field.
    if (this.#auth !== undefined) this.#auth.sign(bytes, length, writer.authOffset, length);
  }
}
