/**
 * A probe socket's ring of send batches: each slot holds a copy of the probe template, and a probe
 * is staged by writing its signature, send time and sequence number in place.
 *
 * @module
 */
import {
  DatagramBatch,
  type ProbeAuthenticator,
  ProbeWriter,
  type SocketAddress,
  type WallNanos,
} from "@llama/core";

const BATCH_SLOTS = 64;

const BATCH_RING = 4;

/**
 * Batches of probes, staged one at a time into the current batch and taken whole to be sent.
 * A batch the socket is still sending (Deno's engine sends in the background) is not staged into
 * again until it is done.
 */
export class ProbeBatches {
  readonly #writer: ProbeWriter;
  readonly #wall: WallNanos;
  readonly #auth: ProbeAuthenticator | undefined;
  readonly #batches: DatagramBatch[];
  /** The probe id in each slot of each batch. */
  readonly #ids: Uint32Array[];
  readonly #sending: (Promise<void> | undefined)[] = new Array(BATCH_RING);
  readonly #busy: boolean[] = new Array(BATCH_RING).fill(false);
  readonly #random = new Uint32Array(64);
  #randomIndex = 64;
  #current = 0;
  #staged = 0;

  /**
   * Batches of probes of TOS `tos`, stamped with the wall-clock time of `wall`; with `auth`, each
   * probe is signed with its first key once stamped.
   */
  constructor(tos: number, wall: WallNanos, auth?: ProbeAuthenticator) {
    this.#writer = new ProbeWriter({ tos, authLength: auth?.authLength ?? 0 });
    if (auth !== undefined) auth.writeKeyId(this.#writer.bytes, this.#writer.authOffset);
    this.#auth = auth;
    this.#wall = wall;
    const length = this.#writer.bytes.length;
    this.#batches = Array.from({ length: BATCH_RING }, () => {
      const batch = new DatagramBatch(BATCH_SLOTS, length);
      for (const slot of batch.slots) slot.set(this.#writer.bytes);
      return batch;
    });
    this.#ids = Array.from({ length: BATCH_RING }, () => new Uint32Array(BATCH_SLOTS));
  }

  /** Whether the current batch is full: take it before staging more. */
  get full(): boolean {
    return this.#staged === BATCH_SLOTS;
  }

  /** How many probes the current batch holds. */
  get staged(): number {
    return this.#staged;
  }

  /** A promise that settles when the current batch may be staged into, or undefined if it may now. */
  busy(): Promise<void> | undefined {
    return this.#staged === 0 && this.#busy[this.#current]
      ? this.#sending[this.#current]
      : undefined;
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
    const index = this.#current;
    const batch = this.#batches[index];
    const slot = this.#staged++;
    const signature = batch.slots[slot].byteOffset + this.#writer.signatureOffset;
    batch.view.setUint32(signature, id, true);
    batch.view.setUint32(signature + 4, this.#random[this.#randomIndex - 1], true);
    batch.view.setUint16(signature + 8, instanceTag, true);
    this.#stamp(batch, slot, sequence, now);
    batch.addresses[slot] = target;
    this.#ids[index][slot] = id;
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

  /** Takes the current batch to be sent, and moves on to the next: returns its number. */
  take(): number {
    const index = this.#current;
    this.#staged = 0;
    this.#current = (index + 1) % BATCH_RING;
    return index;
  }

  /** Batch number `index`. */
  batch(index: number): DatagramBatch {
    return this.#batches[index];
  }

  /** The probe id in each slot of batch number `index`. */
  ids(index: number): Uint32Array {
    return this.#ids[index];
  }

  /** Batch `index` is being sent until `done` settles. */
  sending(index: number, done: Promise<void>): void {
    this.#busy[index] = true;
    this.#sending[index] = done.finally(() => this.#busy[index] = false);
  }

  /** Settles once every batch is sent. */
  async sent(): Promise<void> {
    await Promise.all(this.#sending);
  }
}
