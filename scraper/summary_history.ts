import type { IntervalLike, PathLike } from "@llama/ui";

/**
 * The last intervals scraped from each llama collector, for the matrix page (`--ui`), merged into
 * one fleet-wide interval per start time. Only each collector's newest interval keeps per-flow
 * detail: the page shows flows for the last interval only, and flows are most of a summary's size.
 * What a round adds is shown once the round is over (`publish()`), so that the page never shows
 * an interval that only some collectors have reached yet; a slow round that ends after a newer
 * one has begun shows only its own.
 */
export class SummaryHistory {
  readonly #maxIntervals: number;
  readonly #byCollector = new Map<string, IntervalLike[]>();
  #pending: { collector: string; interval: IntervalLike; round: number }[] = [];
  #merged: IntervalLike[] | undefined;

  /** Keeps `maxIntervals` intervals per collector. */
  constructor(maxIntervals: number) {
    this.#maxIntervals = maxIntervals;
  }

  /**
   * Adds a collector's newest interval (one already held is replaced), taken in `round` (any
   * number that grows from round to round, such as its boundary), shown from `publish()` on.
   */
  add(collector: string, interval: IntervalLike, round: number): void {
    this.#pending.push({ collector, interval, round });
  }

  /** Shows what rounds up to `round` added: the scraper calls it as each round ends. */
  publish(round: number): void {
    const ready = this.#pending.filter((entry) => entry.round <= round);
    if (ready.length === 0) return;
    this.#pending = this.#pending.filter((entry) => entry.round > round);
    for (const { collector, interval } of ready) this.#keep(collector, interval);
    this.#merged = undefined;
  }

  #keep(collector: string, interval: IntervalLike): void {
    let intervals = this.#byCollector.get(collector);
    if (intervals === undefined) {
      intervals = [];
      this.#byCollector.set(collector, intervals);
    }
    const previous = intervals.at(-1);
    if (previous?.start === interval.start) intervals.pop();
    else if (previous !== undefined) intervals[intervals.length - 1] = withoutFlows(previous);
    intervals.push(interval);
    if (intervals.length > this.#maxIntervals) {
      intervals.splice(0, intervals.length - this.#maxIntervals);
    }
  }

  /** Every collector's intervals merged by start time, oldest first, the last `maxIntervals`. */
  merged(): readonly IntervalLike[] {
    if (this.#merged !== undefined) return this.#merged;
    const byStart = new Map<string, { interval: IntervalLike; paths: (readonly PathLike[])[] }>();
    for (const intervals of this.#byCollector.values()) {
      for (const interval of intervals) {
        const entry = byStart.get(interval.start);
        if (entry === undefined) byStart.set(interval.start, { interval, paths: [interval.paths] });
        else entry.paths.push(interval.paths);
      }
    }
    // Cached until the next scrape adds an interval: a fleet's merge is millions of paths.
    this.#merged = [...byStart.values()]
      .sort((a, b) => Date.parse(a.interval.start) - Date.parse(b.interval.start))
      .slice(-this.#maxIntervals)
      .map(({ interval, paths }) => ({ ...interval, paths: paths.flat() }));
    return this.#merged;
  }
}

function withoutFlows(interval: IntervalLike): IntervalLike {
  return {
    ...interval,
    paths: interval.paths.map((path) => {
      if (path.flows === undefined) return path;
      const { flows: _, ...rest } = path;
      return rest;
    }),
  };
}
