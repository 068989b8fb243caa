/**
 * The summarizer: the collector's interval pipeline put together. Probe outcomes go into the
 * interval book; a finished interval is closed there, its statistics are worked out, and it is
 * published into the history, where readers find it.
 *
 * @module
 */
import type { IntervalHeader } from "@llama/core";
import type { IntervalColumns } from "./_columns.ts";
import { FlowRegistry } from "./flow_registry.ts";
import { IntervalBook } from "./interval_book.ts";
import { IntervalHistory } from "./interval_history.ts";
import { IntervalStatistics } from "./interval_statistics.ts";
import { PathTableBuilder } from "./path_table.ts";
import type { PublishedInterval } from "./published_interval.ts";

/** Intervals kept for the matrix's charts unless `historyIntervals` says otherwise. */
export const HISTORY_INTERVALS = 30;

/** Options of `Summarizer`. */
export interface SummarizerOptions {
  /** How many published intervals the history keeps (default 30). */
  historyIntervals?: number;
}

/**
 * The flows (`flows`, which the prober fills), the open intervals (`book`, which the probe
 * sockets count outcomes into) and the published ones (`history`). Data flows one way: flows and
 * outcomes in, published intervals out.
 */
export class Summarizer {
  /** Which flows there are. */
  readonly flows: FlowRegistry = new FlowRegistry();
  /** The intervals outcomes are counted in until they are finished. */
  readonly book: IntervalBook;
  /** The published intervals. */
  readonly history: IntervalHistory;
  readonly #statistics = new IntervalStatistics();
  readonly #tables: PathTableBuilder;
  /** The `finish` under way: one interval is summarized at a time, in order. */
  #finishing: Promise<unknown> = Promise.resolve();

  /** A summarizer of intervals of `intervalSeconds`. */
  constructor(intervalSeconds: number, options: SummarizerOptions = {}) {
    this.book = new IntervalBook(intervalSeconds, this.flows);
    this.history = new IntervalHistory(options.historyIntervals ?? HISTORY_INTERVALS);
    this.#tables = new PathTableBuilder(this.flows);
  }

  /** Interval length in milliseconds. */
  get intervalMs(): number {
    return this.book.intervalMs;
  }

  /**
   * Closes the interval starting at `start` and publishes its summary into the history, which
   * compacts the interval before. Call it once every probe sent in it has been answered or has
   * expired; calls made before the last one is done wait for it. An interval in which nothing
   * was sent gives a summary with no paths.
   */
  finish(start: number): Promise<PublishedInterval> {
    const finished = this.#finishing.then(() => this.#finish(start));
    this.#finishing = finished.catch(() => {});
    return finished;
  }

  async #finish(start: number): Promise<PublishedInterval> {
    const header: IntervalHeader = {
      start: new Date(start).toISOString(),
      end: new Date(start + this.intervalMs).toISOString(),
      intervalSeconds: this.intervalMs / 1000,
      timestampSource: this.flows.timestamps.receive,
      sendTimestampSource: this.flows.timestamps.send,
    };
    const counts = this.book.close(start, this.#statistics);
    if (counts === undefined) return this.history.publish(header, emptyColumns);
    // The flows and paths as they are now: a reload during the sorting adds flows after them.
    const flows = this.flows.table();
    const pathCount = this.flows.pathCount;
    await this.#statistics.sort(flows.order, counts);
    return this.history.publish(header, (reusable) => {
      // The counts of the interval compacted now count a later one; its times take this one's.
      if (reusable !== undefined) this.book.reuse(reusable.counts);
      const rows = this.#tables.start(counts, flows.order);
      const times = this.#statistics.writeTimes(counts, flows, pathCount, rows, reusable?.times);
      return { identities: rows.table(), flows, counts, times };
    });
  }
}

/** The columns of an interval in which nothing happened. */
function emptyColumns(): IntervalColumns {
  return {
    identities: {
      paths: new Uint32Array(0),
      tags: [],
      addresses: { sources: [], source: new Uint32Array(0), destinations: [] },
      present: undefined,
      count: 0,
    },
    flows: {
      order: new Uint32Array(0),
      path: new Uint32Array(0),
      srcPorts: new Uint16Array(0),
      dstPorts: new Uint16Array(0),
      tos: new Uint8Array(0),
    },
    counts: {
      capacity: 0,
      counts: new Uint8Array(0),
      rare: undefined,
      tos: new Uint8Array(0),
      tosValues: undefined,
    },
    times: {
      flows: new Float32Array(0),
      paths: new Float32Array(0),
      pathStart: new Uint32Array(0),
    },
  };
}
