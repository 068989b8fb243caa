/**
 * A STAMP socket's ring of send batches: each probe is written by the socket's
 * `StampTestPacketWriter` (sequence number, timestamp, HMACs) and copied into its slot.
 *
 * @module
 */
import type { SocketAddress, StampTestPacketWriter } from "@llama/core";
import { BatchRing } from "./_batch_ring.ts";
/** Where the fraction of the sender's timestamp is: unauthenticated (RFC 8762 Figure 2), authenticated (Figure 3). */
const FRACTION_UNAUTHENTICATED = 8, FRACTION_AUTHENTICATED = 20;

/**
 * Batches of STAMP test packets, staged one at a time into the current batch and taken whole to
 * be sent; a batch still being sent (Deno's engine) is not staged into again until it is done.
 */
export class StampBatches extends BatchRing {
  readonly #writer: StampTestPacketWriter;
  readonly #fraction: number;

  /** Batches of the packets `writer` lays out. */
  constructor(writer: StampTestPacketWriter) {
    super(writer.bytes.length);
    this.#writer = writer;
    this.#fraction = writer.authenticated ? FRACTION_AUTHENTICATED : FRACTION_UNAUTHENTICATED;
  }

  /**
   * Stages probe `id` (its STAMP sequence number) sent at wall-clock `unixMs` to `target`;
   * returns the 32-bit fraction of the timestamp it carries, which its reply echoes.
   */
  stage(id: number, unixMs: number, target: SocketAddress): number {
    const index = this.current;
    const batch = this.batches[index];
    const slot = this.stagedCount++;
    const writer = this.#writer;
    writer.write(id, unixMs);
    const bytes = writer.bytes;
    batch.slots[slot].set(bytes);
    batch.lengths[slot] = bytes.length;
    batch.addresses[slot] = target;
    this.slotIds[index][slot] = id;
    const at = this.#fraction;
    return ((bytes[at] << 24) | (bytes[at + 1] << 16) | (bytes[at + 2] << 8) | bytes[at + 3]) >>> 0;
  }
}

/** Where a reply echoes the fraction of the sender's timestamp (RFC 8762 Figures 4 and 5). */
export function echoedFractionOffset(authenticated: boolean): number {
  return authenticated ? 68 : 32;
}
