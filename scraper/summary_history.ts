import type { IntervalLike, PathLike } from "@llama/ui";

/**
 * The last intervals scraped from each llama collector, for the matrix page (`--ui`), merged into
 * one fleet-wide interval per start time. Only each collector's newest interval keeps per-flow
 * detail: the page shows flows for the last interval only, and flows are most of a summary's size.
 * What a round adds is shown once the round is over (`publish()`), so that the page never shows
 * an interval that only some collectors have reached yet.
 */
export class SummaryHistory {
  readonly #maxIntervals: number;
  readonly #byCollector = new Map<string, IntervalLike[]>();
  readonly #pending: [string, IntervalLike][] = [];
  #merged: IntervalLike[] | undefined;

  /** Keeps `maxIntervals` intervals per collector. */
  constructor(maxIntervals: number) {
    this.#maxIntervals = maxIntervals;
  }

  /** Adds a collector's newest interval (one already held is replaced), shown from `publish()` on. */
  add(collector: string, interval: IntervalLike): void {
    this.#pending.push([collector, interval]);
  }

  /** Shows what was added since the last call: the scraper calls it at the end of each round. */
  publish(): void {
    if (this.#pending.length === 0) return;
    for (const [collector, interval] of this.#pending) this.#keep(collector, interval);
    this.#pending.length = 0;
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
