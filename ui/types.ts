/**
 * The shapes the matrix reads: the collector's `/api/v1/summaries` body, stated structurally so
 * that this package depends on no program (a collector's `IntervalSummary` fits as it is).
 *
 * @module
 */

/** Round-trip times of an interval, in milliseconds. */
export interface RttLike {
  /** Median. */
  p50: number;
  /** 99th percentile. */
  p99: number;
}

/** What an interval says about a path or a flow. */
export interface StatisticsLike {
  /** Probes sent. */
  sent: number;
  /** Probes lost. */
  lost: number;
  /** `lost / sent` in percent. */
  lossPercent: number;
  /** Round-trip times, or null when nothing was answered. */
  rtt: RttLike | null;
}

/** One flow of a path: a source port and a destination port. */
export interface FlowLike extends StatisticsLike {
  /** Source port. */
  srcPort: number;
  /** Destination port. */
  dstPort: number;
}

/** One path of an interval: a source and a destination address, with their tags. */
export interface PathLike extends StatisticsLike {
  /** Source address. */
  srcIp: string;
  /** Destination address. */
  dstIp: string;
  /** Tags such as `src_region` and `dst_hostname`. */
  tags: Readonly<Record<string, string>>;
  /** Per-flow statistics, when the source kept them. */
  flows?: readonly FlowLike[];
}

/** One summarization interval. */
export interface IntervalLike {
  /** Start, RFC 3339. */
  start: string;
  /** End, RFC 3339. */
  end: string;
  /** Length in seconds. */
  intervalSeconds: number;
  /** `kernel` or `userspace` receive timestamps, when the source says. */
  timestampSource?: string;
  /** `kernel` (transmit timestamps) or `userspace` send times, when the source says. */
  sendTimestampSource?: string;
  /** Every path measured in the interval. */
  paths: readonly PathLike[];
}

/** Where the matrix's data comes from: a collector's own intervals, or a scraper's merge. */
export interface MatrixSource {
  /** The intervals held in memory, oldest first. */
  history(): readonly IntervalLike[];
  /** Names what is shown, in the page's header (for example `collector 10.0.0.1`). */
  describe?(): string;
}
