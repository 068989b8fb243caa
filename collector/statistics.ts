/**
 * The statistics of an interval, and how they are computed from round-trip time samples.
 *
 * @module
 */
import { percentileOfRange, writeRttStatistics } from "./_samples.ts";

/** Round-trip time statistics, in milliseconds. */
export interface RttStatistics {
  /** Fastest answer. */
  min: number;
  /** Mean. */
  mean: number;
  /** Slowest answer. */
  max: number;
  /** Sample standard deviation (0 for one answer). */
  stddev: number;
  /** Median, by linear interpolation between the closest ranks. */
  p50: number;
  /** 90th percentile. */
  p90: number;
  /** 99th percentile. */
  p99: number;
}

/** What one interval says about a flow or a path. */
export interface ProbeStatistics {
  /** Probes sent in the interval. */
  sent: number;
  /** Probes not answered within their timeout (late answers are counted here too). */
  lost: number;
  /** `lost / sent` in percent (0 when nothing was sent). */
  lossPercent: number;
  /** Answers that came after their timeout. */
  late: number;
  /** Answers received more than once. */
  duplicates: number;
  /** Answers that came back with a lower sequence number than one already seen on the flow. */
  reordered: number;
  /** Round-trip times of the answered probes, or null when none was answered. */
  rtt: RttStatistics | null;
  /**
   * Mean absolute difference of consecutive round-trip times on a flow, in milliseconds (the
   * IPDV of RFC 3550, unsmoothed); for a path, the flows' jitter weighted by their answers.
   */
  jitter: number | null;
  /** Answers whose reflector reported its dwell time, which was subtracted from the RTT. */
  dwellCorrected: number;
}

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
