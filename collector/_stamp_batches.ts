/**
 * A STAMP socket's ring of send batches: each probe is written by the socket's
 * `StampTestPacketWriter` (sequence number, timestamp, HMACs) and copied into its slot.
 *
 * @module
 */
import { DatagramBatch, type SocketAddress, type StampTestPacketWriter } from "@llama/core";

const BATCH_SLOTS = 64;
const BATCH_RING = 4;
/** Where the fraction of the sender's timestamp is: unauthenticated (RFC 8762 Figure 2), authenticated (Figure 3). */
const FRACTION_UNAUTHENTICATED = 8, FRACTION_AUTHENTICATED = 20;

/**
 * Batches of STAMP test packets, staged one at a time into the current batch and taken whole to
 * be sent; a batch still being sent (Deno's engine) is not staged into again until it is done.
 */
export class StampBatches {
  readonly #writer: StampTestPacketWriter;
  readonly #fraction: number;
  readonly #batches: DatagramBatch[];
  readonly #ids: Uint32Array[];
  readonly #sending: (Promise<void> | undefined)[] = new Array(BATCH_RING);
  readonly #busy: boolean[] = new Array(BATCH_RING).fill(false);
  #current = 0;
  #staged = 0;

  /** Batches of the packets `writer` lays out. */
  constructor(writer: StampTestPacketWriter) {
    this.#writer = writer;
    this.#fraction = writer.authenticated ? FRACTION_AUTHENTICATED : FRACTION_UNAUTHENTICATED;
    const length = writer.bytes.length;
    this.#batches = Array.from(
      { length: BATCH_RING },
      () => new DatagramBatch(BATCH_SLOTS, length),
    );
    this.#ids = Array.from({ length: BATCH_RING }, () => new Uint32Array(BATCH_SLOTS));
  }

  /** Whether the current batch is full. */
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

  /**
   * Stages probe `id` (its STAMP sequence number) sent at wall-clock `unixMs` to `target`;
   * returns the 32-bit fraction of the timestamp it carries, which its reply echoes.
   */
  stage(id: number, unixMs: number, target: SocketAddress): number {
    const index = this.#current;
    const batch = this.#batches[index];
    const slot = this.#staged++;
    const writer = this.#writer;
    writer.write(id, unixMs);
    const bytes = writer.bytes;
    batch.slots[slot].set(bytes);
    batch.lengths[slot] = bytes.length;
    batch.addresses[slot] = target;
    this.#ids[index][slot] = id;
    const at = this.#fraction;
    return ((bytes[at] << 24) | (bytes[at + 1] << 16) | (bytes[at + 2] << 8) | bytes[at + 3]) >>> 0;
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

/** Where a reply echoes the fraction of the sender's timestamp (RFC 8762 Figures 4 and 5). */
export function echoedFractionOffset(authenticated: boolean): number {
  return authenticated ? 68 : 32;
}
