/**
 * Which intervals of each llama collector the scraper never took: the scraper takes only a
 * collector's latest interval, so when it was down, or its scrapes failed, for longer than an
 * interval, the intervals published meanwhile are never written. They are reported, not lost
 * silently: counted, and named in a log line. The last interval taken of each collector is kept
 * in the data directory, so that a restart (a `kill -9` included) reports the intervals it
 * missed too.
 *
 * @module
 */
import { join } from "node:path";

/** Intervals a collector published that the scraper did not take. */
export interface MissedIntervals {
  /** How many. */
  count: number;
  /** Start of the first, wall-clock milliseconds. */
  from: number;
  /** Start of the last. */
  to: number;
}

const FILE = "last-intervals.json";

/** The last interval taken of each collector, by collector name. */
export class IntervalGaps {
  readonly #file: string | undefined;
  readonly #last: Map<string, number>;
  #changed = false;

  private constructor(file: string | undefined, last: Map<string, number>) {
    this.#file = file;
    this.#last = last;
  }

  /**
   * The gaps kept in `dataDirectory` (in memory only without one). A file that cannot be read is
   * started again, with `onDamaged` told why: at worst, one gap goes unreported.
   */
  static async open(
    dataDirectory: string | undefined,
    onDamaged: (file: string, problem: string) => void,
  ): Promise<IntervalGaps> {
    const last = new Map<string, number>();
    if (dataDirectory === undefined) return new IntervalGaps(undefined, last);
    const file = join(dataDirectory, FILE);
    let text: string | undefined;
    try {
      text = await Deno.readTextFile(file);
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) onDamaged(file, (error as Error).message);
    }
    if (text !== undefined) {
      try {
        const parsed: unknown = JSON.parse(text);
        if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
          throw new Error("not an object of collector names");
        }
        for (const [name, start] of Object.entries(parsed)) {
          if (Number.isSafeInteger(start) && (start as number) > 0) last.set(name, start as number);
        }
      } catch (error) {
        onDamaged(file, (error as Error).message);
      }
    }
    return new IntervalGaps(file, last);
  }

  /**
   * Records that the interval of `collector` starting at `start` (`intervalSeconds` long) was
   * taken; returns the intervals between it and the one taken before, if any were skipped.
   */
  taken(collector: string, start: number, intervalSeconds: number): MissedIntervals | undefined {
    const before = this.#last.get(collector);
    if (before !== undefined && start <= before) return undefined;
    this.#last.set(collector, start);
    this.#changed = true;
    const intervalMs = intervalSeconds * 1000;
    if (before === undefined || !(intervalMs > 0)) return undefined;
    const count = Math.round((start - before) / intervalMs) - 1;
    return count > 0 ? { count, from: before + intervalMs, to: start - intervalMs } : undefined;
  }

  /** Writes what changed to the data directory (a new file renamed over the old one). */
  async save(): Promise<void> {
    if (this.#file === undefined || !this.#changed) return;
    this.#changed = false;
    const temporary = `${this.#file}.tmp`;
    await Deno.writeTextFile(temporary, JSON.stringify(Object.fromEntries(this.#last)));
    await Deno.rename(temporary, this.#file);
  }
}
