/**
 * What an older interval keeps of each path: sent, lost, RTT p50 and p99, in 4 to 8 bytes a path.
 *
 * @module
 */
import type { PathTrend } from "@llama/core";
import { type IntervalColumns, TIME, TIMES } from "./_columns.ts";
import { type PathIdentity, PathReader } from "./_path_objects.ts";

/**
 * Sent, lost, RTT p50 and p99 (NaN: none) of every path. The times are float16 (within 0.05%,
 * plenty for a chart) unless an RTT of the interval is beyond its largest value, 65,504 ms (a
 * port's timeout may be longer).
 */
export interface TrendColumns {
  /** Probes sent, by path row. */
  readonly sent: CountColumn;
  /** Probes lost, by path row. */
  readonly lost: CountColumn;
  /** RTT medians, by path row. */
  readonly p50: Float16Array | Float32Array;
  /** RTT 99th percentiles, by path row. */
  readonly p99: Float16Array | Float32Array;
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

/** The largest time float16 holds, in milliseconds. */
const FLOAT16_MAX = 65_504;

/** The trend of the `count` path rows of `columns`. */
export function trendOf(columns: IntervalColumns, count: number): TrendColumns {
  const reader = new PathReader(columns);
  // The most common count of sent probes, if more than half the paths have it (Boyer-Moore).
  let usual = 0, lead = 0;
  let most = 0, slowest = 0, lossy = 0;
  for (let path = 0; path < count; path++) {
    const { sent, lost } = reader.pathCounters(path);
    if (lead === 0) usual = sent;
    lead += sent === usual ? 1 : -1;
    if (lost > 0) lossy++;
    most = Math.max(most, sent, lost);
    const p99 = columns.times.paths[path * TIMES + TIME.p99];
    if (p99 > slowest) slowest = p99; // NaN (nothing answered) is not
  }
  let unusual = 0;
  for (let path = 0; path < count; path++) {
    if (reader.pathCounters(path).sent !== usual) unusual++;
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
    const { sent, lost } = reader.pathCounters(path);
    sentListed = setCount(trend.sent, path, sent, sentListed);
    lostListed = setCount(trend.lost, path, lost, lostListed);
    trend.p50[path] = columns.times.paths[path * TIMES + TIME.p50];
    trend.p99[path] = columns.times.paths[path * TIMES + TIME.p99];
  }
  return trend;
}

/** Path row `row` of `trend`, whose identity is `identity`. */
export function trendPath(trend: TrendColumns, identity: PathIdentity, row: number): PathTrend {
  const sent = countAt(trend.sent, row);
  const lost = countAt(trend.lost, row);
  return {
    srcIp: identity.srcIp,
    dstIp: identity.dstIp,
    tags: identity.tags,
    sent,
    lost,
    lossPercent: sent === 0 ? 0 : (lost / sent) * 100,
    rtt: Number.isNaN(trend.p50[row])
      ? null
      : { p50: chartMilliseconds(trend.p50[row]), p99: chartMilliseconds(trend.p99[row]) },
  };
}

/** Probes sent and lost over the `count` paths of `trend`. */
export function trendTotals(trend: TrendColumns, count: number): { sent: number; lost: number } {
  return { sent: countSum(trend.sent, count), lost: countSum(trend.lost, count) };
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

/**
 * A chart's time in milliseconds, to 4 significant digits: float16 holds a time to within 0.05%,
 * and the rounding adds as much, so it is served within 0.1% (0.02 comes back as 0.02, not
 * 0.0200042724609375).
 */
function chartMilliseconds(value: number): number {
  return Number(value.toPrecision(4));
}
