/**
 * The history of published intervals: the latest whole, the ones before compacted to their
 * trends, and the one place where an interval's columns are reused for the next.
 *
 * @module
 */
import type { IntervalHeader } from "@llama/core";
import type { IntervalColumns } from "./_columns.ts";
import { PublishedInterval } from "./published_interval.ts";

/**
 * The last `keep` published intervals, oldest first. Publishing one compacts the one before (the
 * matrix reads flows and full statistics of the latest only), so the latest statistics are kept
 * once; its time columns are written over by the new interval unless a reader still holds them
 * (see `PublishedInterval.compact`). Readers never see a reused column.
 */
export class IntervalHistory {
  readonly #intervals: PublishedInterval[] = [];
  readonly #keep: number;

  /** A history of the last `keep` intervals (1 at least). */
  constructor(keep: number) {
    this.#keep = Math.max(1, keep);
  }

  /** How many intervals are kept at most. */
  get keep(): number {
    return this.#keep;
  }

  /** The latest interval, whole, if any. */
  latest(): PublishedInterval | undefined {
    return this.#intervals.at(-1);
  }

  /** The intervals kept, oldest first: a copy. */
  intervals(): readonly PublishedInterval[] {
    return [...this.#intervals];
  }

  /**
   * Publishes the interval of `header`: compacts the latest, then makes the new one's columns
   * with `build`, given the columns of the latest that it may write over and count in again
   * (undefined: a reader holds them, or there were none), in one synchronous step: there is
   * always a latest interval once there was one.
   */
  publish(
    header: IntervalHeader,
    build: (reusable: IntervalColumns | undefined) => IntervalColumns,
  ): PublishedInterval {
    const reusable = this.#intervals.at(-1)?.compact();
    const published = new PublishedInterval(header, build(reusable));
    this.#intervals.push(published);
    if (this.#intervals.length > this.#keep) {
      this.#intervals.splice(0, this.#intervals.length - this.#keep);
    }
    return published;
  }
}
