/**
 * A published interval, held in typed arrays rather than objects: the latest one with its
 * counters as they were counted and every RTT statistic of every path and flow (~230 bytes a path
 * of four flows, where objects took ~2 KB), older ones with only what the matrix's charts draw (4
 * to 8 bytes a path). Objects are made only when somebody reads them.
 *
 * @module
 */
import type {
  IntervalHeader,
  IntervalSummary,
  IntervalTrend,
  PathSummary,
  PathTrend,
  TimestampSource,
} from "@llama/core";
import { COMMON, COUNTS, type IntervalColumns, type PathTable } from "./_columns.ts";
import { identityOf, type PathIdentity, PathReader, presentRows } from "./_path_objects.ts";
import { type TrendColumns, trendOf, trendPath, trendTotals } from "./_trend_columns.ts";

export type { PathIdentity } from "./_path_objects.ts";

/** Options of `PublishedInterval.pathsJson`. */
export interface PathsJsonOptions {
  /** Include each path's `flows`. */
  flows: boolean;
  /** Only paths from this source address. */
  srcIp?: string;
  /** Only paths to this destination address. */
  dstIp?: string;
  /** Characters a chunk holds at least (but the last). Default 65,536. */
  chunkSize?: number;
}

/**
 * One published interval. Whole until `compact()` keeps only the trend of each path. What a
 * reader is given never changes under it: `summary()` keeps the columns it reads for as long as
 * it is held, `current()` is made whole when asked, and `pathsJson()` holds the columns until it
 * is done. Only columns nobody holds are handed back by `compact()` for a later interval.
 */
export class PublishedInterval implements IntervalTrend {
  /** Start of the interval (inclusive), RFC 3339. */
  readonly start: string;
  /** End of the interval (exclusive), RFC 3339. */
  readonly end: string;
  /** Length of the interval in seconds. */
  readonly intervalSeconds: number;
  /** Where receive times came from. */
  readonly timestampSource: TimestampSource;
  /** Where send times came from. */
  readonly sendTimestampSource: TimestampSource;
  readonly #identities: PathTable;
  #columns: IntervalColumns | undefined;
  #trend: TrendColumns | undefined;
  #paths: WeakRef<PathTrend[]> | undefined;
  #summary: IntervalSummary | undefined;
  /** Whether `summary()` handed out a view that reads the columns (they cannot be reused). */
  #pinned = false;
  /** `pathsJson` readers still going: the columns are not reused until they are done. */
  #readers = 0;

  /** An interval of `columns`. */
  constructor(header: IntervalHeader, columns: IntervalColumns) {
    this.start = header.start;
    this.end = header.end;
    this.intervalSeconds = header.intervalSeconds;
    this.timestampSource = header.timestampSource;
    this.sendTimestampSource = header.sendTimestampSource;
    this.#identities = columns.identities;
    this.#columns = columns;
  }

  /** How many paths the interval has. */
  get pathCount(): number {
    return this.#identities.count;
  }

  /**
   * The table of paths the interval was published with: its arrays are those of the intervals
   * before it while no path was added and no tags changed.
   */
  get pathTable(): PathTable {
    return this.#identities;
  }

  /** Each path's identity, in order, made now. */
  get identities(): readonly PathIdentity[] {
    const identities: PathIdentity[] = [];
    for (const row of presentRows(this.#identities)) {
      identities.push(identityOf(this.#identities, row));
    }
    return identities;
  }

  /** Whether only the trend is kept (see `compact`). */
  get compacted(): boolean {
    return this.#columns === undefined;
  }

  /** Probes sent and lost over every path. */
  totals(): { sent: number; lost: number } {
    const columns = this.#columns;
    if (columns === undefined) return trendTotals(this.#trend!, this.pathCount);
    let sent = 0, lost = 0;
    const { counts, capacity } = columns.counts;
    const order = columns.flows.order;
    for (let index = 0; index < order.length; index++) {
      if (order[index] >= capacity) continue;
      sent += counts[order[index] * COUNTS + COMMON.sent];
      lost += counts[order[index] * COUNTS + COMMON.lost];
    }
    return { sent, lost };
  }

  /**
   * Flow `flow`'s loss in this interval, 0–100; NaN when it sent nothing or only the trend is
   * kept.
   */
  flowLoss(flow: number): number {
    const columns = this.#columns;
    if (columns === undefined || flow >= columns.counts.capacity) return NaN;
    const { counts } = columns.counts;
    const sent = counts[flow * COUNTS + COMMON.sent];
    return sent === 0 ? NaN : (100 * counts[flow * COUNTS + COMMON.lost]) / sent;
  }

  /** The paths, made now unless a reader still holds the ones made before. */
  get paths(): readonly PathTrend[] {
    const columns = this.#columns;
    return columns === undefined
      ? this.#cached(() => this.#unpackTrend())
      : this.#fullPaths(columns);
  }

  /**
   * The interval as an `IntervalSummary`, its paths made when read; undefined once compacted.
   * Always the same object, so it can key a cache; it keeps the columns it reads.
   */
  summary(): IntervalSummary | undefined {
    const columns = this.#columns;
    if (columns === undefined) return undefined;
    if (this.#summary === undefined) {
      this.#pinned = true;
      const header = this.#header();
      const paths = () => this.#fullPaths(columns);
      this.#summary = {
        ...header,
        get paths(): PathSummary[] {
          return paths();
        },
      };
    }
    return this.#summary;
  }

  /**
   * The interval as an `IntervalSummary` made whole now, for a reader that reads it at once (an
   * HTTP handler): it holds no columns, so unlike `summary()` it lets them be reused.
   * Undefined once compacted.
   */
  current(): IntervalSummary | undefined {
    const columns = this.#columns;
    if (columns === undefined) return undefined;
    return { ...this.#header(), paths: this.#fullPaths(columns) };
  }

  /**
   * Keeps only sent, lost, RTT p50 and p99 of each path (4 to 8 bytes); drops flows and the rest.
   * Returns the columns for a later interval to fill, unless a reader still holds them.
   */
  compact(): IntervalColumns | undefined {
    const columns = this.#columns;
    if (columns === undefined) return undefined;
    this.#trend = trendOf(columns, this.pathCount);
    this.#columns = undefined;
    this.#summary = undefined;
    this.#paths = undefined;
    return this.#pinned || this.#readers > 0 ? undefined : columns;
  }

  /**
   * The paths (of the full interval) as JSON text in chunks of about `chunkSize` characters:
   * exactly what `JSON.stringify` makes of `paths` (filtered, without `flows` unless asked), but
   * one path at a time, never all the objects and the whole text at once: 10,000 paths of four
   * flows are ~20 MB of JSON, and made whole they grew a collector's heap by ~100 MB a scrape.
   * Undefined once compacted.
   */
  pathsJson(options: PathsJsonOptions): Generator<string> | undefined {
    const columns = this.#columns;
    if (columns === undefined) return undefined;
    const chunks = this.#writePaths(columns, options);
    // Started now, so that the columns are held from this moment until it is done or returned.
    chunks.next();
    return chunks;
  }

  *#writePaths(columns: IntervalColumns, options: PathsJsonOptions): Generator<string> {
    const chunkSize = options.chunkSize ?? 65_536;
    const reader = new PathReader(columns);
    this.#readers++;
    try {
      yield "";
      let chunk = "[";
      let first = true;
      let index = -1;
      for (const row of presentRows(this.#identities)) {
        index++;
        const identity = identityOf(this.#identities, row);
        if (options.srcIp !== undefined && identity.srcIp !== options.srcIp) continue;
        if (options.dstIp !== undefined && identity.dstIp !== options.dstIp) continue;
        // One path's objects at a time: they die young, where all of them at once did not.
        const path: Partial<PathSummary> = reader.path(identity, index);
        if (!options.flows) delete path.flows;
        chunk += (first ? "" : ",") + JSON.stringify(path);
        first = false;
        if (chunk.length >= chunkSize) {
          yield chunk;
          chunk = "";
        }
      }
      yield chunk + "]";
    } finally {
      this.#readers--;
    }
  }

  #header(): IntervalHeader {
    const { start, end, intervalSeconds, timestampSource, sendTimestampSource } = this;
    return { start, end, intervalSeconds, timestampSource, sendTimestampSource };
  }

  #cached<Paths extends PathTrend[]>(unpack: () => Paths): Paths {
    let paths = this.#paths?.deref() as Paths | undefined;
    if (paths === undefined) {
      paths = unpack();
      this.#paths = new WeakRef(paths);
    }
    return paths;
  }

  #fullPaths(columns: IntervalColumns): PathSummary[] {
    return columns === this.#columns
      ? this.#cached(() => this.#unpackFull(columns))
      : this.#unpackFull(columns);
  }

  #unpackFull(columns: IntervalColumns): PathSummary[] {
    const reader = new PathReader(columns);
    return this.identities.map((identity, index) => reader.path(identity, index));
  }

  #unpackTrend(): PathTrend[] {
    const trend = this.#trend!;
    return this.identities.map((identity, index) => trendPath(trend, identity, index));
  }
}
