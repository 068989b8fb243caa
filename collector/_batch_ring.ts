/**
 * The ring of send batches a probing socket stages into: the current batch fills slot by slot,
 * is taken whole to be sent, and is not staged into again while it is still being sent (Deno's
 * engine sends in the background).
 *
 * @module
 */
import { DatagramBatch } from "@llama/core";

/** Slots a batch: one sendmmsg. */
export const BATCH_SLOTS = 64;
/** Batches in the ring. */
const BATCH_RING = 4;

/**
 * A ring of batches of `slotBytes`-byte slots (each a copy of `template`, when given). Subclasses
 * write each probe into `batches[current]` at slot `staged++` and record its id in
 * `slotIds[current]`: fields, not calls, on the per-probe path.
 */
export class BatchRing {
  /** The batches. */
  protected readonly batches: DatagramBatch[];
  /** The probe id in each slot of each batch. */
  protected readonly slotIds: Uint32Array[];
  /** The batch staged into now. */
  protected current = 0;
  /** Probes the current batch holds. */
  protected stagedCount = 0;
  readonly #sending: (Promise<void> | undefined)[] = new Array(BATCH_RING);
  readonly #busy: boolean[] = new Array(BATCH_RING).fill(false);

  /** A ring of batches of `slotBytes`-byte slots, each slot a copy of `template` if given. */
  constructor(slotBytes: number, template?: Uint8Array) {
    this.batches = Array.from({ length: BATCH_RING }, () => {
      const batch = new DatagramBatch(BATCH_SLOTS, slotBytes);
      if (template !== undefined) { for (const slot of batch.slots) slot.set(template); }
      return batch;
    });
    this.slotIds = Array.from({ length: BATCH_RING }, () => new Uint32Array(BATCH_SLOTS));
  }

  /** Whether the current batch is full: take it before staging more. */
  get full(): boolean {
    return this.stagedCount === BATCH_SLOTS;
  }

  /** How many probes the current batch holds. */
  get staged(): number {
    return this.stagedCount;
  }

  /** A promise that settles when the current batch may be staged into, or undefined if it may now. */
  busy(): Promise<void> | undefined {
    return this.stagedCount === 0 && this.#busy[this.current]
      ? this.#sending[this.current]
      : undefined;
  }

  /** Takes the current batch to be sent, and moves on to the next: returns its number. */
  take(): number {
    const index = this.current;
    this.stagedCount = 0;
    this.current = (index + 1) % BATCH_RING;
    return index;
  }

  /** Batch number `index`. */
  batch(index: number): DatagramBatch {
    return this.batches[index];
  }

  /** The probe id in each slot of batch number `index`. */
  ids(index: number): Uint32Array {
    return this.slotIds[index];
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
