/**
 * A published interval, held in typed arrays rather than objects: the latest one with its
 * counters as the summarizer counted them and every RTT statistic of every path and flow (~230
 * bytes a path of four flows, where objects took ~2 KB), older ones with only what the matrix's
 * charts draw (4 to 8 bytes a path). Objects are made only when somebody reads `paths`, and are not
 * kept.
 *
 * @module
 */
import type {
  FlowSummary,
  IntervalHeader,
  IntervalSummary,
  IntervalTrend,
  PathSummary,
  PathTrend,
  ProbeStatistics,
  TimestampSource,
  TosSummary,
} from "@llama/core";

/** Counters per flow in `FlowCounts.counts`: sent, lost, then dwell-corrected (`SENT`, ...). */
export const COUNTS = 3;
/** Offsets of a flow's counters in `FlowCounts.counts`. */
export const SENT = 0, LOST = 1, DWELL_CORRECTED = 2;
/** Counters per flow in `FlowCounts.rare`: late, duplicates, then reordered (`LATE`, ...). */
export const RARE_COUNTS = 3;
/** Offsets of a flow's counters in `FlowCounts.rare`. */
export const LATE = 0, DUPLICATES = 1, REORDERED = 2;
/**
 * What `FlowCounts.tos` says of a flow's TOS at the reflector (bits 0-1) and on return (bits
 * 2-3): unknown, the TOS it was sent with, or another (in `FlowCounts.tosValues`).
 */
export const TOS_UNKNOWN = 0, TOS_AS_SENT = 1, TOS_OTHER = 2;
/** Times per flow or path (ms): rtt min, mean, max, stddev, p50, p90, p99, then jitter; NaN: none. */
export const TIMES = 8;

/**
 * An interval's counters by flow id, as the summarizer counted them: published as they are. What
 * a healthy network rarely does (late and duplicate answers, reordering, a TOS re-marked on the
 * way) has arrays of its own, made when it first happens.
 */
export interface FlowCounts {
  /** Flow ids below this have counters; others had nothing. */
  readonly capacity: number;
  /** `COUNTS` counters per flow id: 8 bits, or 16 or 32 where one of them needed it. */
  readonly counts: Uint8Array | Uint16Array | Uint32Array;
  /** `RARE_COUNTS` counters per flow id, the same way; undefined until one is counted. */
  readonly rare: Uint8Array | Uint16Array | Uint32Array | undefined;
  /** The TOS at the reflector and on return, per flow id: `TOS_UNKNOWN` and the rest. */
  readonly tos: Uint8Array;
  /**
   * The TOS at the reflector and on return, 2 per flow id, where `tos` says `TOS_OTHER`;
   * undefined until a flow says so.
   */
  readonly tosValues: Uint8Array | undefined;
}

/**
 * The flows the summarizer knows, by flow id, and the order they are published in. A flow's
 * entries never change once it is added, so an interval keeps the arrays as they were when it
 * was published.
 */
export interface FlowTable {
  /** Flow ids by path (in the summary's order), then source and destination port. */
  readonly order: Uint32Array;
  /** Each flow's path. */
  readonly path: Uint32Array;
  /** Each flow's source port. */
  readonly srcPorts: Uint16Array;
  /** Each flow's destination port. */
  readonly dstPorts: Uint16Array;
  /** The TOS each flow's probes are sent with. */
  readonly tos: Uint8Array;
}

/**
 * An interval's RTT statistics and jitter in milliseconds, in float32 (served rounded to the
 * nanosecond).
 */
export interface TimeColumns {
  /** `TIMES` per flow id. */
  readonly flows: Float32Array;
  /** `TIMES` per path row. */
  readonly paths: Float32Array;
  /** Each path row's first flow, as an index into the flow table's `order`. */
  readonly pathStart: Uint32Array;
}

/** What a path is: its addresses and tags. */
export interface PathIdentity {
  /** Source address. */
  readonly srcIp: string;
  /** Destination address. */
  readonly dstIp: string;
  /** The collector's source tags and the target's tags. */
  readonly tags: Record<string, string>;
}

export type { IntervalTrend, PathTrend } from "@llama/core";

/**
 * The addresses of every path the summarizer knows, by path id. A path's addresses never change,
 * and paths are only added: a table keeps the arrays it was made with.
 */
export interface PathAddresses {
  /** The source addresses. */
  readonly sources: readonly string[];
  /** Each path's source address, as an index into `sources`. */
  readonly source: Uint32Array;
  /** Each path's destination address. */
  readonly destinations: readonly string[];
}

/**
 * The paths of an interval: every path the summarizer knows, in the summary's order, and which of
 * them the interval has. Intervals share the table's arrays while no path is added and no tags
 * change, so an interval that misses a few paths costs a bit a path, not a pointer; a path costs
 * a row (4 bytes and a pointer to tags shared with its target), no object.
 */
export interface PathTable {
  /** Each row's path id, in order. */
  paths: Uint32Array;
  /** Each row's tags, as last published (undefined: never published). */
  tags: readonly (Record<string, string> | undefined)[];
  /** The addresses of the paths. */
  addresses: PathAddresses;
  /** Bit `i` set: the interval has row `i`; undefined: it has every row. */
  present: Uint8Array | undefined;
  /** How many paths the interval has. */
  count: number;
}

/**
 * The columns of a published interval, filled by the summarizer: its counters as they were
 * counted, by flow id, and the statistics it worked out of them. A path's counters are its flows'.
 */
export interface IntervalColumns {
  /** The interval's paths: path row `r` is the `r`-th present path of the table. */
  identities: PathTable;
  /** The flows, and the order they are published in. */
  flows: FlowTable;
  /** The counters of each flow. */
  counts: FlowCounts;
  /** RTT statistics of each flow and path row. */
  times: TimeColumns;
}

/**
 * Sent, lost, RTT p50 and p99 (NaN: none) of every path: what an older interval keeps, in 4 to 8
 * bytes a path. The times are float16 (within 0.05%, plenty for a chart) unless an RTT of the
 * interval is beyond its largest value, 65,504 ms (a port's timeout may be longer).
 */
interface TrendColumns {
  sent: CountColumn;
  lost: CountColumn;
  p50: Float16Array | Float32Array;
  p99: Float16Array | Float32Array;
}

/**
 * A count of every path, 16 bits unless one needs 32. When fewer than a third of the paths differ
 * from the most common count (every path sends as many probes on a steady schedule; most lose
 * none), only those are kept, with their rows: 6 bytes each rather than 2 bytes a path.
 */
interface CountColumn {
  /** The count of every path not in `rows`. */
  base: number;
  /** The count of each path in `rows`, or, without `rows`, of every path. */
  values: Uint16Array | Uint32Array;
  /** The path rows `values` is for, ascending; undefined: `values` has every path. */
  rows: Uint32Array | undefined;
}

/** The count of path row `path`. */
function countAt(column: CountColumn, path: number): number {
  const rows = column.rows;
  if (rows === undefined) return column.values[path];
  let low = 0, high = rows.length;
  while (low < high) {
    const middle = (low + high) >>> 1;
    if (rows[middle] < path) low = middle + 1;
    else high = middle;
  }
  return low < rows.length && rows[low] === path ? column.values[low] : column.base;
}

/** The sum of the counts of `paths` paths. */
function countSum(column: CountColumn, paths: number): number {
  let sum = column.rows === undefined ? 0 : column.base * (paths - column.rows.length);
  for (let index = 0; index < column.values.length; index++) sum += column.values[index];
  return sum;
}

/** An empty column for `paths` paths of which `differ` differ from `base`, their counts at most `most`. */
function countColumn(paths: number, base: number, differ: number, most: number): CountColumn {
  const sparse = differ * 3 < paths;
  const length = sparse ? differ : paths;
  return {
    base,
    values: most <= 0xffff ? new Uint16Array(length) : new Uint32Array(length),
    rows: sparse ? new Uint32Array(length) : undefined,
  };
}

/** Sets the count of path row `path` (in ascending order of rows); `listed` is how many rows were listed before. */
function setCount(column: CountColumn, path: number, count: number, listed: number): number {
  if (column.rows === undefined) column.values[path] = count;
  else if (count !== column.base) {
    column.rows[listed] = path;
    column.values[listed++] = count;
  }
  return listed;
}

/** The largest time float16 holds, in milliseconds. */
const FLOAT16_MAX = 65_504;

export type { IntervalHeader } from "@llama/core";

/**
 * One published interval. `paths` gives full `PathSummary` objects until `compact()` keeps only
 * the trend of each path; either way they are made on demand and held only weakly.
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
    for (const row of this.#rows()) identities.push(identityOf(this.#identities, row));
    return identities;
  }

  /** The table's rows that this interval has, in order. */
  *#rows(): Generator<number> {
    const { paths, present } = this.#identities;
    for (let row = 0; row < paths.length; row++) {
      if (present === undefined || present[row >> 3] & (1 << (row & 7))) yield row;
    }
  }

  /** Whether only the trend is kept (see `compact`). */
  get compacted(): boolean {
    return this.#columns === undefined;
  }

  /** Probes sent and lost over every path. */
  totals(): { sent: number; lost: number } {
    let sent = 0, lost = 0;
    const columns = this.#columns;
    if (columns === undefined) {
      sent = countSum(this.#trend!.sent, this.pathCount);
      lost = countSum(this.#trend!.lost, this.pathCount);
    } else {
      const { counts, capacity } = columns.counts;
      const order = columns.flows.order;
      for (let index = 0; index < order.length; index++) {
        if (order[index] >= capacity) continue;
        sent += counts[order[index] * COUNTS + SENT];
        lost += counts[order[index] * COUNTS + LOST];
      }
    }
    return { sent, lost };
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
   * Always the same object, so it can key a cache.
   */
  summary(): IntervalSummary | undefined {
    const columns = this.#columns;
    if (columns === undefined) return undefined;
    if (this.#summary === undefined) {
      // A reader holding the summary keeps its columns, even once the interval is compacted.
      this.#pinned = true;
      this.#summary = this.#view(() => this.#fullPaths(columns));
    }
    return this.#summary;
  }

  /**
   * Keeps only sent, lost, RTT p50 and p99 of each path (4 to 8 bytes); drops flows and the rest.
   * Returns the columns for the next interval to fill, unless a `summary()` still reads them.
   */
  compact(): IntervalColumns | undefined {
    const columns = this.#columns;
    if (columns === undefined) return undefined;
    const count = this.pathCount;
    // The most common count of sent probes, if more than half the paths have it (Boyer-Moore).
    let usual = 0, lead = 0;
    let most = 0, slowest = 0, lossy = 0;
    for (let path = 0; path < count; path++) {
      sumCounts(columns, path);
      if (lead === 0) usual = pathCounts[0];
      lead += pathCounts[0] === usual ? 1 : -1;
      if (pathCounts[1] > 0) lossy++;
      most = Math.max(most, pathCounts[0], pathCounts[1]);
      const p99 = columns.times.paths[path * TIMES + 6];
      if (p99 > slowest) slowest = p99; // NaN (nothing answered) is not
    }
    let unusual = 0;
    for (let path = 0; path < count; path++) {
      sumCounts(columns, path);
      if (pathCounts[0] !== usual) unusual++;
    }
    const times = (length: number) =>
      slowest <= FLOAT16_MAX ? new Float16Array(length) : new Float32Array(length);
    const trend: TrendColumns = {
      sent: countColumn(count, usual, unusual, most),
      lost: countColumn(count, 0, lossy, most),
      p50: times(count),
      p99: times(count),
    };
    let sentListed = 0, lostListed = 0;
    for (let path = 0; path < count; path++) {
      sumCounts(columns, path);
      sentListed = setCount(trend.sent, path, pathCounts[0], sentListed);
      lostListed = setCount(trend.lost, path, pathCounts[1], lostListed);
      trend.p50[path] = columns.times.paths[path * TIMES + 4];
      trend.p99[path] = columns.times.paths[path * TIMES + 6];
    }
    this.#trend = trend;
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
    this.#readers++;
    try {
      yield "";
      let chunk = "[";
      let first = true;
      let index = -1;
      for (const row of this.#rows()) {
        index++;
        const identity = identityOf(this.#identities, row);
        if (options.srcIp !== undefined && identity.srcIp !== options.srcIp) continue;
        if (options.dstIp !== undefined && identity.dstIp !== options.dstIp) continue;
        // One path's objects at a time: they die young, where all of them at once did not.
        const path: Partial<PathSummary> = pathSummary(columns, identity, index);
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

  /**
   * The interval as an `IntervalSummary` for a reader that is done with it before the next
   * interval is published (an HTTP handler): unlike `summary()`, it lets the columns be reused.
   */
  current(): IntervalSummary | undefined {
    if (this.#columns === undefined) return undefined;
    return this.#view(() => this.paths as PathSummary[]);
  }

  /** An `IntervalSummary` of this interval whose paths `paths` makes when they are read. */
  #view(paths: () => PathSummary[]): IntervalSummary {
    return {
      start: this.start,
      end: this.end,
      intervalSeconds: this.intervalSeconds,
      timestampSource: this.timestampSource,
      sendTimestampSource: this.sendTimestampSource,
      get paths(): PathSummary[] {
        return paths();
      },
    };
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
    return this.identities.map((identity, index) => pathSummary(columns, identity, index));
  }

  #unpackTrend(): PathTrend[] {
    const trend = this.#trend!;
    return this.identities.map((identity, index): PathTrend => {
      const sent = countAt(trend.sent, index);
      const lost = countAt(trend.lost, index);
      return {
        srcIp: identity.srcIp,
        dstIp: identity.dstIp,
        tags: identity.tags,
        sent,
        lost,
        lossPercent: sent === 0 ? 0 : (lost / sent) * 100,
        rtt: Number.isNaN(trend.p50[index])
          ? null
          : { p50: chartMilliseconds(trend.p50[index]), p99: chartMilliseconds(trend.p99[index]) },
      };
    });
  }
}

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

/** Path row `row` of `columns`, with its flows, as the objects of an `IntervalSummary`. */
function pathSummary(
  columns: IntervalColumns,
  identity: PathIdentity,
  row: number,
): PathSummary {
  const { order, srcPorts, dstPorts } = columns.flows;
  const flows: FlowSummary[] = [];
  const end = pathEnd(columns, row);
  let tosFlow = -1, tosReported = false;
  for (let index = columns.times.pathStart[row]; index < end; index++) {
    const flow = order[index];
    if (!activeFlow(columns.counts, flow)) continue;
    flows.push({
      srcIp: identity.srcIp,
      srcPort: srcPorts[flow],
      dstIp: identity.dstIp,
      dstPort: dstPorts[flow],
      tos: tosSummary(columns, flow),
      ...statistics(readCounts(columns.counts, flow), 0, columns.times.flows, flow * TIMES),
    });
    // The path's TOS is that of its first flow that reports one, else of its first flow.
    if (!tosReported) {
      const reported = columns.counts.tos[flow] !== TOS_UNKNOWN;
      if (tosFlow < 0 || reported) tosFlow = flow;
      tosReported = reported;
    }
  }
  sumCounts(columns, row, end);
  return {
    srcIp: identity.srcIp,
    dstIp: identity.dstIp,
    tags: identity.tags,
    tos: tosFlow < 0
      ? { sent: 0, atReflector: null, onReturn: null }
      : tosSummary(columns, tosFlow),
    ...statistics(pathCounts, 0, columns.times.paths, row * TIMES),
    flows,
  };
}

/** The identity of row `row` of `table`. */
function identityOf(table: PathTable, row: number): PathIdentity {
  const { sources, source, destinations } = table.addresses;
  const path = table.paths[row];
  return { srcIp: sources[source[path]], dstIp: destinations[path], tags: table.tags[row]! };
}

/** Whether anything happened on `flow` in the interval of `counts`. */
export function activeFlow(counts: FlowCounts, flow: number): boolean {
  if (flow >= counts.capacity) return false;
  const at = flow * COUNTS;
  const values = counts.counts;
  if ((values[at + SENT] | values[at + LOST]) !== 0) return true;
  const rare = counts.rare;
  return rare !== undefined &&
    (rare[flow * RARE_COUNTS + LATE] | rare[flow * RARE_COUNTS + DUPLICATES]) !== 0;
}

/** Counters in the order of a published row: sent, lost, late, duplicates, reordered, dwellCorrected. */
const ROW = 6;
/** One flow's counters, as `readCounts` left them. */
const flowCounts = new Float64Array(ROW);

/** Reads `flow`'s counters into `flowCounts`, in the order of a published row; returns it. */
function readCounts(counts: FlowCounts, flow: number): Float64Array {
  flowCounts.fill(0);
  if (flow >= counts.capacity) return flowCounts;
  const at = flow * COUNTS;
  flowCounts[0] = counts.counts[at + SENT];
  flowCounts[1] = counts.counts[at + LOST];
  flowCounts[5] = counts.counts[at + DWELL_CORRECTED];
  const rare = counts.rare;
  if (rare !== undefined) {
    const from = flow * RARE_COUNTS;
    flowCounts[2] = rare[from + LATE];
    flowCounts[3] = rare[from + DUPLICATES];
    flowCounts[4] = rare[from + REORDERED];
  }
  return flowCounts;
}

/** One past the index in `order` of path row `row`'s last flow. */
function pathEnd(columns: IntervalColumns, row: number): number {
  const { order, path } = columns.flows;
  const start = columns.times.pathStart[row];
  const own = path[order[start]];
  let end = start + 1;
  while (end < order.length && path[order[end]] === own) end++;
  return end;
}

/** A path's counters, summed from its flows by `sumCounts`, in the order of a published row. */
const pathCounts = new Float64Array(ROW);

/** Sums the counters of path row `row`'s flows (up to `end` in `order`) into `pathCounts`. */
function sumCounts(
  columns: IntervalColumns,
  row: number,
  end: number = pathEnd(columns, row),
): void {
  pathCounts.fill(0);
  const order = columns.flows.order;
  for (let index = columns.times.pathStart[row]; index < end; index++) {
    const counts = readCounts(columns.counts, order[index]);
    for (let field = 0; field < ROW; field++) pathCounts[field] += counts[field];
  }
}

/**
 * The statistics of counters at `counts[at..]` (in the order of a published row) and times at
 * `times[timesAt..]`, as objects.
 */
function statistics(
  counts: ArrayLike<number>,
  at: number,
  times: Float32Array,
  timesAt: number,
): ProbeStatistics {
  const sent = counts[at];
  const lost = counts[at + 1];
  return {
    sent,
    lost,
    lossPercent: sent === 0 ? 0 : (lost / sent) * 100,
    late: counts[at + 2],
    duplicates: counts[at + 3],
    reordered: counts[at + 4],
    rtt: Number.isNaN(times[timesAt]) ? null : {
      min: milliseconds(times[timesAt]),
      mean: milliseconds(times[timesAt + 1]),
      max: milliseconds(times[timesAt + 2]),
      stddev: milliseconds(times[timesAt + 3]),
      p50: milliseconds(times[timesAt + 4]),
      p90: milliseconds(times[timesAt + 5]),
      p99: milliseconds(times[timesAt + 6]),
    },
    jitter: Number.isNaN(times[timesAt + 7]) ? null : milliseconds(times[timesAt + 7]),
    dwellCorrected: counts[at + 5],
  };
}

/** The TOS summary of a flow. */
function tosSummary(columns: IntervalColumns, flow: number): TosSummary {
  const sent = columns.flows.tos[flow];
  const state = columns.counts.tos[flow];
  return {
    sent,
    atReflector: observedTos(state & 3, sent, columns.counts.tosValues, flow * 2),
    onReturn: observedTos(state >> 2, sent, columns.counts.tosValues, flow * 2 + 1),
  };
}

/** A TOS that `FlowCounts.tos` says is `state`, or null when it is unknown. */
function observedTos(
  state: number,
  sent: number,
  values: Uint8Array | undefined,
  at: number,
): number | null {
  return state === TOS_AS_SENT ? sent : state === TOS_OTHER ? values![at] : null;
}

/**
 * A float32 time in milliseconds, rounded to the nanosecond: float32 keeps ~7 significant digits,
 * so 0.05 comes back as 0.05, not 0.05000000074505806.
 */
function milliseconds(value: number): number {
  return Math.round(value * 1e6) / 1e6;
}

/**
 * A chart's time in milliseconds, to 4 significant digits: float16 holds a time to within 0.05%,
 * and the rounding adds as much, so it is served within 0.1% (0.02 comes back as 0.02, not
 * 0.0200042724609375).
 */
function chartMilliseconds(value: number): number {
  return Number(value.toPrecision(4));
}
