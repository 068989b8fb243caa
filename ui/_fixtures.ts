// Paths and intervals for the tests of this package.
import type { FlowLike, IntervalLike, PathLike } from "./types.ts";

/** A path with `sent` probes of which `lost` were lost, RTT p50/p99 in ms (null: no answer). */
export function path(
  srcIp: string,
  dstIp: string,
  tags: Record<string, string>,
  counts: { sent?: number; lost?: number; p50?: number; p99?: number; flows?: FlowLike[] } = {},
): PathLike {
  const sent = counts.sent ?? 100;
  const lost = counts.lost ?? 0;
  return {
    srcIp,
    dstIp,
    tags,
    sent,
    lost,
    lossPercent: sent === 0 ? 0 : lost / sent * 100,
    rtt: lost === sent ? null : { p50: counts.p50 ?? 1, p99: counts.p99 ?? 2 },
    ...(counts.flows === undefined ? {} : { flows: counts.flows }),
  };
}

/** A 30-second interval starting `index` intervals after 2026-01-01T00:00:00Z. */
export function interval(index: number, paths: PathLike[]): IntervalLike {
  const start = Date.parse("2026-01-01T00:00:00Z") + index * 30_000;
  return {
    start: new Date(start).toISOString(),
    end: new Date(start + 30_000).toISOString(),
    intervalSeconds: 30,
    paths,
  };
}
