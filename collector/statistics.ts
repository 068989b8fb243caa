/**
 * The statistics of an interval, and how they are computed from round-trip time samples.
 *
 * @module
 */
import { percentileOfRange, writeRttStatistics } from "./_samples.ts";

export type { ProbeStatistics, RttStatistics } from "@llama/core";
import type { RttStatistics } from "@llama/core";

/**
 * RTT statistics of sorted samples, or null when there are none.
 *
 * @example
 * ```ts
 * import { rttStatistics } from "@llama/collector";
 * const rtt = rttStatistics(new Float64Array([1, 2, 3, 4]));
 * console.assert(rtt?.p50 === 2.5 && rtt.max === 4 && rtt.mean === 2.5);
 * ```
 */
export function rttStatistics(sorted: ArrayLike<number>): RttStatistics | null {
  const out = new Float64Array(7);
  if (!writeRttStatistics(sorted, 0, sorted.length, out, 0)) return null;
  const [min, mean, max, stddev, p50, p90, p99] = out;
  return { min, mean, max, stddev, p50, p90, p99 };
}

/**
 * The p-th percentile of sorted samples, interpolating linearly between closest ranks.
 *
 * @example
 * ```ts
 * import { percentile } from "@llama/collector";
 * console.assert(percentile([1, 2, 3, 4, 5, 6, 7, 8], 90) === 7.3);
 * ```
 */
export function percentile(sorted: ArrayLike<number>, p: number): number {
  return sorted.length === 0 ? NaN : percentileOfRange(sorted, 0, sorted.length, p);
}
