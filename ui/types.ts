/**
 * What the matrix reads of the summary contract (core's `IntervalSummary`, `PathSummary`,
 * `PathTrend`): only the fields it draws, so that a collector's latest interval, its older
 * `IntervalTrend`s and a scraper's merge all fit as they are.
 *
 * @module
 */

import type { FlowSummary, IntervalHeader, PathTrend } from "@llama/core";

/** Round-trip times of an interval, in milliseconds: the median and 99th percentile. */
export type RttLike = NonNullable<PathTrend["rtt"]>;

/** What an interval says about a path or a flow: the counts and RTT a matrix cell shows. */
export type StatisticsLike = Pick<PathTrend, "sent" | "lost" | "lossPercent" | "rtt">;

/** One flow of a path: a source port and a destination port. */
export interface FlowLike extends StatisticsLike, Pick<FlowSummary, "srcPort" | "dstPort"> {}

/** One path of an interval: a `PathTrend`, with its flows when the source kept them. */
export interface PathLike extends Omit<PathTrend, "tags"> {
  /** Tags such as `src_region` and `dst_hostname`. */
  tags: Readonly<PathTrend["tags"]>;
  /** Per-flow statistics, when the source kept them. */
  flows?: readonly FlowLike[];
}

/** One summarization interval; its timestamp sources when the source says. */
export interface IntervalLike
  extends
    Pick<IntervalHeader, "start" | "end" | "intervalSeconds">,
    Partial<Pick<IntervalHeader, "timestampSource" | "sendTimestampSource">> {
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
