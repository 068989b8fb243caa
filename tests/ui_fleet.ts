// A synthetic fleet for the matrix's scale test: every source probes every destination.
import type { PathSummaryWithoutFlows } from "@llama/core";
import type { IntervalLike } from "@llama/ui";

/**
 * One interval of `sources` × `destinations` paths in the collector's full format (no flows),
 * hosts spread over `regions` regions on each side. One source region loses 2% towards one
 * destination region, and one path is black-holed, so the worst cells have something to show.
 */
export function fleetInterval(
  sources: number,
  destinations: number,
  regions: number,
  start = Date.parse("2026-01-01T00:00:00Z"),
): IntervalLike {
  const host = (index: number) => `10.${(index >> 8) & 255}.${index & 255}.1`;
  const targetHost = (index: number) => `10.${128 + ((index >> 8) & 127)}.${index & 255}.2`;
  const paths: PathSummaryWithoutFlows[] = [];
  for (let source = 0; source < sources; source++) {
    const srcRegion = `region-${source % regions}`;
    for (let destination = 0; destination < destinations; destination++) {
      const dstRegion = `region-${destination % regions}`;
      const lossy = srcRegion === "region-3" && dstRegion === "region-7";
      const blackHoled = source === 1 && destination === 2;
      const sent = 120;
      const lost = blackHoled ? sent : lossy && (source + destination) % 50 === 0 ? 2 : 0;
      const base = 0.2 + (source % regions) * 0.05 + (destination % regions) * 0.07;
      paths.push({
        srcIp: host(source),
        dstIp: targetHost(destination),
        tags: {
          src_hostname: `host-${source}`,
          src_region: srcRegion,
          dst_hostname: `host-${destination}`,
          dst_region: dstRegion,
        },
        tos: { sent: 0, atReflector: null, onReturn: null },
        sent,
        lost,
        lossPercent: lost / sent * 100,
        late: 0,
        duplicates: 0,
        reordered: 0,
        rtt: lost === sent ? null : {
          min: base * 0.8,
          mean: base * 1.1,
          max: base * 4,
          stddev: base * 0.2,
          p50: base,
          p90: base * 1.5,
          p99: base * 3,
        },
        jitter: lost === sent ? null : base * 0.1,
        dwellCorrected: sent - lost,
      });
    }
  }
  return {
    start: new Date(start).toISOString(),
    end: new Date(start + 30_000).toISOString(),
    intervalSeconds: 30,
    timestampSource: "userspace",
    sendTimestampSource: "userspace",
    paths,
  };
}
