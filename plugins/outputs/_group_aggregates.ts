// Per-group aggregates of one scrape round: the paths from every host with one tag value to every
// host with another (src_rack × dst_rack, say), summed into one point per group and interval, so
// that a TSDB holds groups² series instead of hosts². Only what sums honestly is summed; the
// percentiles of a group's probes cannot be had from its paths' percentiles, so the worst path's
// p99 is given instead, and named for what it is.
import type { Point } from "../contract.ts";
import { GROUP_MEASUREMENT, isLossy } from "./_prometheus_series.ts";

/** The value of a group tag that a path lacks. */
export const UNKNOWN_GROUP = "unknown";

interface Sums {
  time: number;
  source: string;
  destination: string;
  paths: number;
  lossyPaths: number;
  sent: number;
  lost: number;
  /** Σ mean RTT × answered probes, in milliseconds, over paths with a mean RTT. */
  weightedRtt: number;
  answered: number;
  worstP99: number;
}

/**
 * One `llama_group_stats` point per group and interval among the `raw_stats` points (others are
 * ignored), tagged with the two tags of `groupBy` (`unknown` where a path lacks one). Fields, in
 * base units: `paths`, `lossy_paths`, `probes_sent`, `probes_lost`, `loss_ratio` (Σ lost / Σ
 * sent: exact), `rtt_mean_seconds` (the mean RTT of every answered probe: each path's mean
 * weighted by its answered probes, exact) and `rtt_p99_max_seconds` (the largest p99 of any path
 * of the group: an upper bound of the group's p99, not its p99).
 */
export function groupAggregates(
  points: readonly Point[],
  groupBy: readonly [string, string],
): Point[] {
  const [sourceTag, destinationTag] = groupBy;
  const groups = new Map<string, Sums>();
  for (const point of points) {
    if (point.measurement !== "raw_stats") continue;
    const source = point.tags[sourceTag] || UNKNOWN_GROUP;
    const destination = point.tags[destinationTag] || UNKNOWN_GROUP;
    const key = `${point.time}\u0000${source}\u0000${destination}`;
    let sums = groups.get(key);
    if (sums === undefined) {
      sums = {
        time: point.time,
        source,
        destination,
        paths: 0,
        lossyPaths: 0,
        sent: 0,
        lost: 0,
        weightedRtt: 0,
        answered: 0,
        worstP99: -1,
      };
      groups.set(key, sums);
    }
    const { sent = 0, lost = 0, rtt, rtt_p99: p99 } = point.fields;
    sums.paths++;
    if (isLossy(point)) sums.lossyPaths++;
    sums.sent += finite(sent);
    sums.lost += finite(lost);
    const answered = finite(sent) - finite(lost);
    if (rtt !== undefined && Number.isFinite(rtt) && answered > 0) {
      sums.weightedRtt += rtt * answered;
      sums.answered += answered;
    }
    if (p99 !== undefined && Number.isFinite(p99)) sums.worstP99 = Math.max(sums.worstP99, p99);
  }
  return [...groups.values()].map((sums) => {
    const fields: Record<string, number> = {
      paths: sums.paths,
      lossy_paths: sums.lossyPaths,
      probes_sent: sums.sent,
      probes_lost: sums.lost,
    };
    if (sums.sent > 0) fields.loss_ratio = sums.lost / sums.sent;
    if (sums.answered > 0) fields.rtt_mean_seconds = sums.weightedRtt / sums.answered / 1000;
    if (sums.worstP99 >= 0) fields.rtt_p99_max_seconds = sums.worstP99 / 1000;
    return {
      measurement: GROUP_MEASUREMENT,
      tags: { [sourceTag]: sums.source, [destinationTag]: sums.destination },
      fields,
      time: sums.time,
    };
  });
}

function finite(value: number): number {
  return Number.isFinite(value) ? value : 0;
}
