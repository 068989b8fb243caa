import { matchesPath, type PathMatch } from "./matrix.ts";
import type { IntervalLike, PathLike } from "./types.ts";

/** Options of `selectHistory`. */
export interface HistoryOptions {
  /** How many of the last intervals. Default: all. */
  intervals?: number;
  /** Only paths meeting every condition. */
  match?: readonly PathMatch[];
  /** Keep per-flow detail. Default false. */
  flows?: boolean;
  /** Keep only this many paths per interval, the worst first (by loss, then RTT p99). */
  limit?: number;
}

/** An interval of `selectHistory`'s answer. */
export interface HistoryInterval extends Omit<IntervalLike, "paths"> {
  /** Paths that met `match`, before `limit`. */
  matchedPaths: number;
  /** The paths kept. */
  paths: PathLike[];
}

/**
 * The last intervals, their paths filtered, optionally cut to the worst few and stripped of
 * per-flow detail: what a page needs to show one cell of the matrix.
 *
 * @example
 * ```ts
 * import { selectHistory } from "./history.ts";
 * const path = (dstIp: string, lossPercent: number) => ({
 *   srcIp: "10.0.0.1", dstIp, tags: {}, sent: 100, lost: lossPercent, lossPercent, rtt: null,
 * });
 * const [interval] = selectHistory([{
 *   start: "2026-01-01T00:00:00Z", end: "2026-01-01T00:00:30Z", intervalSeconds: 30,
 *   paths: [path("10.0.1.1", 0), path("10.0.1.2", 100)],
 * }], { limit: 1 });
 * console.assert(interval.matchedPaths === 2 && interval.paths[0].dstIp === "10.0.1.2");
 * ```
 */
export function selectHistory(
  history: readonly IntervalLike[],
  options: HistoryOptions = {},
): HistoryInterval[] {
  const count = Math.min(options.intervals ?? history.length, history.length);
  const match = options.match ?? [];
  return history.slice(history.length - count).map((interval) => {
    let paths = match.length === 0
      ? [...interval.paths]
      : interval.paths.filter((path) => matchesPath(path, match));
    const matchedPaths = paths.length;
    if (options.limit !== undefined && paths.length > options.limit) {
      paths = paths.sort((a, b) =>
        b.lossPercent - a.lossPercent || (b.rtt?.p99 ?? 0) - (a.rtt?.p99 ?? 0)
      ).slice(0, options.limit);
    }
    if (options.flows !== true) {
      paths = paths.map((path) => {
        if (path.flows === undefined) return path;
        const { flows: _, ...rest } = path;
        return rest;
      });
    }
    return { ...interval, matchedPaths, paths };
  });
}
