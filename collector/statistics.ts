/**
 * Per-flow counters for one summarization interval, and the statistics computed from them.
 *
 * @module
 */

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

/** Counters of one flow in one interval. Grows its RTT array by doubling; nothing per probe. */
export class FlowAccumulator {
  /** Probes sent. */
  sent = 0;
  /** Probes that timed out. */
  lost = 0;
  /** Answers after their timeout. */
  late = 0;
  /** Answers received a second time. */
  duplicates = 0;
  /** Answers below the highest sequence number seen. */
  reordered = 0;
  /** Answers whose RTT had the reflector's dwell time subtracted. */
  dwellCorrected = 0;
  /** Answers received in time: the first `answers` entries of `rtts` hold their RTTs. */
  answers = 0;
  /** Round-trip times in milliseconds, in order of arrival. */
  rtts: Float64Array = new Float64Array(4);
  /** TOS the reflector last saw this flow's probes arrive with, or -1. */
  tosAtReflector: number = -1;
  /** TOS this flow's answers last came back with, or -1. */
  tosOnReturn: number = -1;
  /** Whether `rtts` has been sorted (by `summarizeFlows`); no answer may follow. */
  sorted = false;
  /** Sum of absolute differences of consecutive RTTs. */
  jitterSum = 0;
  /** Number of differences in `jitterSum`. */
  jitterCount = 0;
  #highestSequence = -1;
  #previousRtt = NaN;

  /** Records an answer with its sequence number and round-trip time. */
  answer(sequence: number, rttMs: number, dwellCorrected: boolean): void {
    if (sequence < this.#highestSequence) this.reordered++;
    else this.#highestSequence = sequence;
    if (this.answers === this.rtts.length) {
      const grown = new Float64Array(this.rtts.length * 2);
      grown.set(this.rtts);
      this.rtts = grown;
    }
    this.rtts[this.answers++] = rttMs;
    if (dwellCorrected) this.dwellCorrected++;
    if (!Number.isNaN(this.#previousRtt)) {
      this.jitterSum += Math.abs(rttMs - this.#previousRtt);
      this.jitterCount++;
    }
    this.#previousRtt = rttMs;
  }
}

/**
 * Combines accumulators (one flow, or every flow of a path) into statistics.
 *
 * @example
 * ```ts
 * import { FlowAccumulator, summarizeFlows } from "@llama/collector";
 * const flow = new FlowAccumulator();
 * flow.sent = 4;
 * flow.lost = 1;
 * for (const [sequence, rtt] of [[0, 1], [1, 3], [3, 2]]) flow.answer(sequence, rtt, false);
 * const stats = summarizeFlows([flow]);
 * console.assert(stats.lossPercent === 25 && stats.rtt?.p50 === 2 && stats.jitter === 1.5);
 * ```
 */
export function summarizeFlows(flows: readonly FlowAccumulator[]): ProbeStatistics {
  let sent = 0, lost = 0, late = 0, duplicates = 0, reordered = 0, dwellCorrected = 0;
  let jitterSum = 0, jitterCount = 0;
  for (const flow of flows) {
    sent += flow.sent;
    lost += flow.lost;
    late += flow.late;
    duplicates += flow.duplicates;
    reordered += flow.reordered;
    dwellCorrected += flow.dwellCorrected;
    jitterSum += flow.jitterSum;
    jitterCount += flow.jitterCount;
  }
  // Each flow's samples are sorted once, in place (jitter was computed as they came); a path's
  // come from merging its flows' sorted samples, which is linear, not from sorting them again.
  const sorted = flows.length === 1
    ? sortedSamples(flows[0])
    : mergeSorted(flows.map(sortedSamples));
  return {
    sent,
    lost,
    lossPercent: sent === 0 ? 0 : (lost / sent) * 100,
    late,
    duplicates,
    reordered,
    rtt: sorted.length === 0 ? null : rttStatistics(sorted),
    jitter: jitterCount === 0 ? null : jitterSum / jitterCount,
    dwellCorrected,
  };
}

/** A flow's samples, sorted in place the first time they are asked for. */
function sortedSamples(flow: FlowAccumulator): Float64Array {
  const samples = flow.rtts.subarray(0, flow.answers);
  if (!flow.sorted) {
    samples.sort();
    flow.sorted = true;
  }
  return samples;
}

/** Merges sorted arrays into one sorted array. */
export function mergeSorted(arrays: readonly Float64Array[]): Float64Array {
  let merged = arrays.filter((array) => array.length > 0);
  if (merged.length === 0) return new Float64Array(0);
  while (merged.length > 1) {
    const next: Float64Array[] = [];
    for (let index = 0; index < merged.length; index += 2) {
      next.push(
        index + 1 < merged.length ? mergeTwo(merged[index], merged[index + 1]) : merged[index],
      );
    }
    merged = next;
  }
  return merged[0];
}

function mergeTwo(left: Float64Array, right: Float64Array): Float64Array {
  const out = new Float64Array(left.length + right.length);
  let i = 0, j = 0, k = 0;
  while (i < left.length && j < right.length) {
    out[k++] = left[i] <= right[j] ? left[i++] : right[j++];
  }
  while (i < left.length) out[k++] = left[i++];
  while (j < right.length) out[k++] = right[j++];
  return out;
}

/** RTT statistics of sorted samples (at least one). */
function rttStatistics(sorted: Float64Array): RttStatistics {
  const count = sorted.length;
  let sum = 0;
  for (let index = 0; index < count; index++) sum += sorted[index];
  const mean = sum / count;
  let squares = 0;
  for (let index = 0; index < count; index++) squares += (sorted[index] - mean) ** 2;
  return {
    min: sorted[0],
    mean,
    max: sorted[count - 1],
    stddev: count > 1 ? Math.sqrt(squares / (count - 1)) : 0,
    p50: percentile(sorted, 50),
    p90: percentile(sorted, 90),
    p99: percentile(sorted, 99),
  };
}

/** The p-th percentile of sorted samples, interpolating linearly between closest ranks. */
export function percentile(sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) return NaN;
  const rank = (p / 100) * (sorted.length - 1);
  const low = Math.floor(rank);
  const high = Math.ceil(rank);
  return sorted[low] + (sorted[high] - sorted[low]) * (rank - low);
}
