/**
 * Grouping paths into a matrix of cells: pure functions, shared by the collector's and the
 * scraper's API. A cell sums its paths' probes (so its loss is lost / sent over every path in it)
 * and takes percentiles of its paths' round-trip times.
 *
 * @module
 */
import type { IntervalLike, PathLike } from "./types.ts";

/** A condition on a path: its grouping value for `key` (see `groupValue`) equals the value. */
export type PathMatch = readonly [key: string, value: string];

/** The keys a matrix can be grouped by: for rows (sources) and for columns (destinations). */
export interface GroupingKeys {
  /** `src_ip`, then every `src_*` tag, then tags of neither side. */
  rows: string[];
  /** `dst_ip`, then every `dst_*` tag, then tags of neither side. */
  cols: string[];
}

/** Options of `buildMatrix`. */
export interface MatrixOptions {
  /** Grouping key of the rows: `src_ip`, `dst_ip` or a tag. */
  rows: string;
  /** Grouping key of the columns. */
  cols: string;
  /** Only paths meeting every condition. */
  match?: readonly PathMatch[];
  /** Most rows and most columns kept: the worst ones of the last interval. Default 100. */
  limit?: number;
}

/** One cell: every path from a row's group to a column's group, in one interval. */
export interface MatrixCell {
  /** Index into `rows.values`. */
  row: number;
  /** Index into `cols.values`. */
  col: number;
  /** Paths in the cell. */
  paths: number;
  /** Probes sent on them. */
  sent: number;
  /** Probes lost. */
  lost: number;
  /** `lost / sent` in percent: the cell's loss. */
  lossPercent: number;
  /** Paths that lost at least one probe. */
  lossyPaths: number;
  /** Loss of the worst path, percent. */
  worstPathLoss: number;
  /** Loss of the worst flow, percent (a black-holed ECMP member shows 100), or null without flows. */
  worstFlowLoss: number | null;
  /** Median of the paths' RTT medians, ms; null when nothing was answered. */
  rttP50: number | null;
  /** 99th percentile of the paths' RTT 99th percentiles, ms; null when nothing was answered. */
  rttP99: number | null;
}

/** The groups along one side of the matrix. */
export interface MatrixAxis {
  /** The grouping key. */
  key: string;
  /** Group values, in natural order ("" for paths without the tag). */
  values: string[];
  /** Groups before `limit` kept the worst. */
  total: number;
}

/** The cells of one interval. */
export interface MatrixInterval {
  /** Start, RFC 3339. */
  start: string;
  /** End, RFC 3339. */
  end: string;
  /** Length in seconds. */
  intervalSeconds: number;
  /** Paths that met `match`, before `limit`. */
  paths: number;
  /** Cells that hold at least one path, by row then column. */
  cells: MatrixCell[];
}

/** A grouped matrix over one or more intervals; every interval uses the same rows and columns. */
export interface Matrix {
  /** Row groups. */
  rows: MatrixAxis;
  /** Column groups. */
  cols: MatrixAxis;
  /** Keys present in the last interval, for the page's grouping menus. */
  keys: GroupingKeys;
  /** Oldest first. */
  intervals: MatrixInterval[];
}

/** The default and the largest `limit`. */
export const MATRIX_LIMITS = { default: 100, max: 1000 } as const;

/**
 * The value a path is grouped by for `key`: its source or destination address for `src_ip` and
 * `dst_ip`, else its tag (`""` when it has none: a property of every object, like `toString`,
 * is no tag).
 *
 * @example
 * ```ts
 * import { groupValue } from "./matrix.ts";
 * const path = { srcIp: "10.0.0.1", dstIp: "10.0.1.1", tags: { dst_region: "east" } };
 * console.assert(groupValue(path, "dst_region") === "east" && groupValue(path, "src_ip") === "10.0.0.1");
 * ```
 */
export function groupValue(path: Pick<PathLike, "srcIp" | "dstIp" | "tags">, key: string): string {
  if (key === "src_ip") return path.srcIp;
  if (key === "dst_ip") return path.dstIp;
  // Own properties only: `toString` is no tag of a path.
  return Object.hasOwn(path.tags, key) ? path.tags[key] : "";
}

/**
 * The grouping keys present in the last interval, for rows and for columns.
 *
 * @example
 * ```ts
 * import { groupingKeys } from "./matrix.ts";
 * const keys = groupingKeys([{ start: "", end: "", intervalSeconds: 1, paths: [
 *   { srcIp: "a", dstIp: "b", tags: { dst_region: "east" }, sent: 1, lost: 0, lossPercent: 0, rtt: null },
 * ] }]);
 * console.assert(keys.cols.join() === "dst_ip,dst_region" && keys.rows.join() === "src_ip");
 * ```
 */
export function groupingKeys(intervals: readonly IntervalLike[]): GroupingKeys {
  const tags = new Set<string>();
  for (const path of intervals.at(-1)?.paths ?? []) {
    for (const key in path.tags) tags.add(key);
  }
  const sorted = [...tags].sort();
  const neither = sorted.filter((key) => !key.startsWith("src_") && !key.startsWith("dst_"));
  return {
    rows: [
      "src_ip",
      ...sorted.filter((key) => key.startsWith("src_") && key !== "src_ip"),
      ...neither,
    ],
    cols: [
      "dst_ip",
      ...sorted.filter((key) => key.startsWith("dst_") && key !== "dst_ip"),
      ...neither,
    ],
  };
}

/** Whether a path meets every condition. */
export function matchesPath(path: PathLike, match: readonly PathMatch[]): boolean {
  for (const [key, value] of match) if (groupValue(path, key) !== value) return false;
  return true;
}

/**
 * Groups the paths of every interval into cells of `rows` × `cols`. With more groups than
 * `limit` on a side, keeps the worst (by their worst cell's loss, then RTT p99, in the last
 * interval), so that a fleet of thousands of hosts still gives a table a browser can draw.
 *
 * @example
 * ```ts
 * import { buildMatrix } from "./matrix.ts";
 * const path = (dstIp: string, region: string, lost: number) => ({
 *   srcIp: "10.0.0.1", dstIp, tags: { dst_region: region }, sent: 100, lost,
 *   lossPercent: lost, rtt: { p50: 1, p99: 2 },
 * });
 * const matrix = buildMatrix([{
 *   start: "2026-01-01T00:00:00Z", end: "2026-01-01T00:00:30Z", intervalSeconds: 30,
 *   paths: [path("10.0.1.1", "east", 0), path("10.0.1.2", "east", 100)],
 * }], { rows: "src_ip", cols: "dst_region" });
 * console.assert(matrix.intervals[0].cells[0].lossPercent === 50);
 * ```
 */
export function buildMatrix(intervals: readonly IntervalLike[], options: MatrixOptions): Matrix {
  const match = options.match ?? [];
  const limit = options.limit ?? MATRIX_LIMITS.default;
  const rowIndex = new Map<string, number>();
  const colIndex = new Map<string, number>();
  const indexOf = (map: Map<string, number>, value: string) => {
    let index = map.get(value);
    if (index === undefined) {
      index = map.size;
      map.set(value, index);
    }
    return index;
  };
  const selected = intervals.map((interval) => {
    const paths = match.length === 0
      ? interval.paths
      : interval.paths.filter((path) => matchesPath(path, match));
    const rows = new Int32Array(paths.length);
    const cols = new Int32Array(paths.length);
    paths.forEach((path, index) => {
      rows[index] = indexOf(rowIndex, groupValue(path, options.rows));
      cols[index] = indexOf(colIndex, groupValue(path, options.cols));
    });
    return { interval, paths, rows, cols };
  });
  const tables = selected.map(({ paths, rows, cols }) =>
    aggregate(paths, rows, cols, rowIndex.size, colIndex.size)
  );
  const keepRows = keep(rowIndex, tables.at(-1), "rows", limit);
  const keepCols = keep(colIndex, tables.at(-1), "cols", limit);
  return {
    rows: { key: options.rows, values: keepRows.values, total: rowIndex.size },
    cols: { key: options.cols, values: keepCols.values, total: colIndex.size },
    keys: groupingKeys(intervals),
    intervals: selected.map(({ interval, paths }, index) => ({
      start: interval.start,
      end: interval.end,
      intervalSeconds: interval.intervalSeconds,
      paths: paths.length,
      cells: cellsOf(tables[index], keepRows.remap, keepCols.remap),
    })),
  };
}

/** Orders group values naturally (`host-2` before `host-10`, addresses by number); "" last. */
export function compareGroupValues(a: string, b: string): number {
  if (a === "" || b === "") return (a === "" ? 1 : 0) - (b === "" ? 1 : 0);
  return a.localeCompare(b, "en", { numeric: true });
}

/** The cells of one interval, one typed array per field: a million cells make no million objects. */
interface CellTable {
  count: number;
  rows: Int32Array;
  cols: Int32Array;
  paths: Float64Array;
  sent: Float64Array;
  lost: Float64Array;
  lossyPaths: Float64Array;
  worstPathLoss: Float64Array;
  /** NaN: no flows. */
  worstFlowLoss: Float64Array;
  /** NaN: no answers. */
  rttP50: Float64Array;
  /** NaN: no answers. */
  rttP99: Float64Array;
}

/**
 * Sums the paths of each cell. Paths are first counted per cell, then their RTT medians and 99th
 * percentiles laid out cell by cell in one array (a counting sort), so a million paths cost a few
 * typed arrays rather than a million small ones.
 */
function aggregate(
  paths: readonly PathLike[],
  rows: Int32Array,
  cols: Int32Array,
  height: number,
  width: number,
): CellTable {
  // Cell numbers: a dense lookup while the grid is small enough, else a map of the cells present.
  const dense = height * width <= 4_000_000 ? new Int32Array(height * width).fill(-1) : undefined;
  const sparse = dense === undefined ? new Map<number, number>() : undefined;
  const cellOf = new Int32Array(paths.length);
  let count = 0;
  for (let index = 0; index < paths.length; index++) {
    const key = rows[index] * width + cols[index];
    let cell = dense !== undefined ? dense[key] : sparse!.get(key) ?? -1;
    if (cell < 0) {
      cell = count++;
      if (dense !== undefined) dense[key] = cell;
      else sparse!.set(key, cell);
    }
    cellOf[index] = cell;
  }
  const table: CellTable = {
    count,
    rows: new Int32Array(count),
    cols: new Int32Array(count),
    paths: new Float64Array(count),
    sent: new Float64Array(count),
    lost: new Float64Array(count),
    lossyPaths: new Float64Array(count),
    worstPathLoss: new Float64Array(count),
    worstFlowLoss: new Float64Array(count).fill(NaN),
    rttP50: new Float64Array(count).fill(NaN),
    rttP99: new Float64Array(count).fill(NaN),
  };
  // Where each cell's answered paths start in the RTT arrays.
  const offsets = new Int32Array(count + 1);
  for (let index = 0; index < paths.length; index++) {
    const cell = cellOf[index];
    const path = paths[index];
    table.rows[cell] = rows[index];
    table.cols[cell] = cols[index];
    table.paths[cell]++;
    table.sent[cell] += path.sent;
    table.lost[cell] += path.lost;
    if (path.lost > 0) table.lossyPaths[cell]++;
    if (path.lossPercent > table.worstPathLoss[cell]) table.worstPathLoss[cell] = path.lossPercent;
    for (const flow of path.flows ?? []) {
      if (!(flow.lossPercent <= table.worstFlowLoss[cell])) {
        table.worstFlowLoss[cell] = flow.lossPercent;
      }
    }
    if (path.rtt !== null) offsets[cell + 1]++;
  }
  for (let cell = 0; cell < count; cell++) offsets[cell + 1] += offsets[cell];
  const fill = offsets.slice(0, count);
  const p50s = new Float64Array(offsets[count]);
  const p99s = new Float64Array(offsets[count]);
  for (let index = 0; index < paths.length; index++) {
    const rtt = paths[index].rtt;
    if (rtt === null) continue;
    const at = fill[cellOf[index]]++;
    p50s[at] = rtt.p50;
    p99s[at] = rtt.p99;
  }
  for (let cell = 0; cell < count; cell++) {
    if (offsets[cell + 1] === offsets[cell]) continue;
    table.rttP50[cell] = percentile(p50s.subarray(offsets[cell], offsets[cell + 1]), 50);
    table.rttP99[cell] = percentile(p99s.subarray(offsets[cell], offsets[cell + 1]), 99);
  }
  return table;
}

/** The cells whose row and column were kept, as objects, by row then column. */
function cellsOf(table: CellTable, rowRemap: Int32Array, colRemap: Int32Array): MatrixCell[] {
  const cells: MatrixCell[] = [];
  const orNull = (value: number) => Number.isNaN(value) ? null : round(value);
  for (let cell = 0; cell < table.count; cell++) {
    const row = rowRemap[table.rows[cell]];
    const col = colRemap[table.cols[cell]];
    if (row < 0 || col < 0) continue;
    const sent = table.sent[cell];
    cells.push({
      row,
      col,
      paths: table.paths[cell],
      sent,
      lost: table.lost[cell],
      lossPercent: sent === 0 ? 0 : round(table.lost[cell] / sent * 100),
      lossyPaths: table.lossyPaths[cell],
      worstPathLoss: round(table.worstPathLoss[cell]),
      worstFlowLoss: orNull(table.worstFlowLoss[cell]),
      rttP50: orNull(table.rttP50[cell]),
      rttP99: orNull(table.rttP99[cell]),
    });
  }
  return cells.sort((a, b) => a.row - b.row || a.col - b.col);
}

/** The `limit` worst groups of a side, in natural order, and where each old index went (-1: dropped). */
function keep(
  index: Map<string, number>,
  last: CellTable | undefined,
  side: "rows" | "cols",
  limit: number,
): { values: string[]; remap: Int32Array } {
  const values = [...index.keys()];
  let kept = values.map((_, position) => position);
  if (values.length > limit) {
    const loss = new Float64Array(values.length);
    const p99 = new Float64Array(values.length);
    for (let cell = 0; cell < (last?.count ?? 0); cell++) {
      const group = last![side][cell];
      const cellLoss = last!.sent[cell] === 0 ? 0 : last!.lost[cell] / last!.sent[cell];
      loss[group] = Math.max(loss[group], cellLoss);
      if (last!.rttP99[cell] > p99[group]) p99[group] = last!.rttP99[cell];
    }
    kept = kept.sort((a, b) =>
      loss[b] - loss[a] || p99[b] - p99[a] || compareGroupValues(values[a], values[b])
    ).slice(0, limit);
  }
  kept.sort((a, b) => compareGroupValues(values[a], values[b]));
  const remap = new Int32Array(values.length).fill(-1);
  kept.forEach((old, position) => remap[old] = position);
  return { values: kept.map((old) => values[old]), remap };
}

/** Linear interpolation between the closest ranks, like the collector's own percentiles. */
function percentile(values: Float64Array, rank: number): number {
  values.sort();
  const position = (values.length - 1) * rank / 100;
  const low = Math.floor(position);
  const high = Math.ceil(position);
  return values[low] + (values[high] - values[low]) * (position - low);
}

function round(value: number): number {
  return Math.round(value * 1000) / 1000;
}
