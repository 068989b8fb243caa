/**
 * The summary contract: what a llama collector's `/api/v1/summaries` returns, declared once and
 * imported by the collector that writes it, the scraper that reads it and the matrix page that
 * draws it. Times are milliseconds; addresses are strings as the collector formats them.
 *
 * @module
 */

import type { TimestampSource } from "./socket.ts";

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

/** Delay statistics of one direction, in milliseconds. */
export interface DelayStatistics {
  /** Smallest. */
  min: number;
  /** Mean. */
  mean: number;
  /** Largest. */
  max: number;
}

/**
 * One-way delays of STAMP answers (RFC 8762): forward `t2 − t1`, from the collector's send
 * timestamp to the reflector's receive timestamp, and backward `t4 − t3`, from the reflector's
 * transmit timestamp to the collector's receive time. Each mixes two clocks: they are only as
 * right as the clocks are synchronized, which llama cannot tell (`clockSynchronized` says so).
 */
export interface OneWayDelay {
  /** Collector to reflector. */
  forward: DelayStatistics;
  /** Reflector to collector. */
  backward: DelayStatistics;
  /** False: llama does not know that both clocks are synchronized; read the delays with care. */
  clockSynchronized: boolean;
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
  /** STAMP flows: the one-way delays of the answers with reflector timestamps; absent otherwise. */
  oneWayDelay?: OneWayDelay;
  /**
   * STAMP flows with a stateful reflector: the lost probes that never reached it
   * (`lost − lostBackward`); absent otherwise.
   */
  lostForward?: number;
  /**
   * STAMP flows with a stateful reflector: the lost probes whose reply was lost on the way back
   * (gaps in the reflector's own sequence numbers), at most `lost`; absent otherwise.
   */
  lostBackward?: number;
}

/** The traffic class along a flow: a change between these shows DSCP re-marking on the way. */
export interface TosSummary {
  /** TOS the probes were sent with. */
  sent: number;
  /** TOS the reflector saw them arrive with (llama reflectors on the native engine), or null. */
  atReflector: number | null;
  /** TOS the answers came back with (native engine), or null. */
  onReturn: number | null;
}

/** One flow's statistics for an interval: one source socket to one target. */
export interface FlowSummary extends ProbeStatistics {
  /** The traffic class along the flow. */
  tos: TosSummary;
  /** Source address. */
  srcIp: string;
  /** Source port. */
  srcPort: number;
  /** Destination address. */
  dstIp: string;
  /** Destination port. */
  dstPort: number;
}

/** One path's statistics for an interval: every flow between a source and a destination address. */
export interface PathSummary extends ProbeStatistics {
  /** The traffic class along the path (of its first flow that reports one). */
  tos: TosSummary;
  /** Source address. */
  srcIp: string;
  /** Destination address. */
  dstIp: string;
  /** The collector's source tags and the target's tags (the target's win on a clash). */
  tags: Record<string, string>;
  /** The path's flows, by source port. */
  flows: FlowSummary[];
}

/** Describes an interval: its bounds and where its timestamps came from. */
export interface IntervalHeader {
  /** Start of the interval (inclusive), RFC 3339. */
  start: string;
  /** End of the interval (exclusive), RFC 3339. */
  end: string;
  /** Length of the interval in seconds. */
  intervalSeconds: number;
  /** Where receive times came from: `kernel` timestamps or the `userspace` clock. */
  timestampSource: TimestampSource;
  /**
   * Where send times came from: `kernel` transmit timestamps, or the `userspace` clock read just
   * before the send (also for any probe whose transmit timestamp the kernel did not deliver).
   */
  sendTimestampSource: TimestampSource;
}

/** Everything one interval says: the body of `/api/v1/summaries`. */
export interface IntervalSummary extends IntervalHeader {
  /** One entry per (source address, destination address). */
  paths: PathSummary[];
}

/** What a collector's history keeps of a path in the intervals before the latest: what charts draw. */
export interface PathTrend {
  /** Source address. */
  srcIp: string;
  /** Destination address. */
  dstIp: string;
  /** The collector's source tags and the target's tags. */
  tags: Record<string, string>;
  /** Probes sent. */
  sent: number;
  /** Probes lost. */
  lost: number;
  /** `lost / sent` in percent. */
  lossPercent: number;
  /** RTT median and 99th percentile in milliseconds, or null when nothing was answered. */
  rtt: Pick<RttStatistics, "p50" | "p99"> | null;
}

/** An interval of a history: the latest has full `PathSummary` paths, older ones `PathTrend`s. */
export interface IntervalTrend extends IntervalHeader {
  /** One entry per path. */
  readonly paths: readonly PathTrend[];
}

/** A path of `/api/v1/summaries?flows=false`: a `PathSummary` with its flows left out. */
export type PathSummaryWithoutFlows = Omit<PathSummary, "flows">;

/** The body of `/api/v1/summaries?flows=false`: an `IntervalSummary` whose paths have no flows. */
export interface IntervalSummaryWithoutFlows extends IntervalHeader {
  /** One entry per (source address, destination address). */
  paths: PathSummaryWithoutFlows[];
}
