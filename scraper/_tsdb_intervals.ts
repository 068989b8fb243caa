// PromQL matrix results back into intervals of paths, as the matrix draws them.
import type { FlowLike, IntervalLike, PathLike } from "@llama/ui";

/** One series of a PromQL matrix result: labels and `[seconds, "value"]` samples. */
export interface PromSeries {
  metric: Record<string, string>;
  values: [number, string][];
}

/** Labels that are no tag of a path. */
const NOT_TAGS = new Set(["__name__", "quantile", "src_ip", "dst_ip", "src_port", "dst_port"]);

interface Counts {
  sent?: number;
  lost?: number;
  p50?: number;
  p99?: number;
}

interface PathEntry extends Counts {
  srcIp: string;
  dstIp: string;
  tags: Record<string, string>;
  flows: Map<string, Counts & { srcPort: number; dstPort: number }>;
}

/**
 * Groups samples by their time (an interval's start) and their labels (a path; with
 * `src_port` and `dst_port`, one of its flows). A path without both probe counts in an interval
 * is left out of it (with `paths: lossy`, only lossy paths are there at all).
 */
export function intervalsFromSeries(
  series: readonly PromSeries[],
  intervalSeconds: number,
): IntervalLike[] {
  const byTime = new Map<number, Map<string, PathEntry>>();
  for (const { metric, values } of series) {
    const name = metric.__name__ ?? "";
    const field = fieldOf(name, metric.quantile);
    if (field === undefined || metric.src_ip === undefined || metric.dst_ip === undefined) continue;
    const tags: Record<string, string> = {};
    for (const label of Object.keys(metric).sort()) {
      if (!NOT_TAGS.has(label)) tags[label] = metric[label];
    }
    const pathKey = JSON.stringify([metric.src_ip, metric.dst_ip, tags]);
    const flow = name.startsWith("llama_flow_");
    for (const [seconds, text] of values) {
      const time = Math.round(seconds * 1000);
      let paths = byTime.get(time);
      if (paths === undefined) byTime.set(time, paths = new Map());
      let path = paths.get(pathKey);
      if (path === undefined) {
        path = { srcIp: metric.src_ip, dstIp: metric.dst_ip, tags, flows: new Map() };
        paths.set(pathKey, path);
      }
      let counts: Counts = path;
      if (flow) {
        const srcPort = Number(metric.src_port), dstPort = Number(metric.dst_port);
        if (!Number.isInteger(srcPort) || !Number.isInteger(dstPort)) continue;
        const flowKey = `${srcPort}/${dstPort}`;
        let entry = path.flows.get(flowKey);
        if (entry === undefined) path.flows.set(flowKey, entry = { srcPort, dstPort });
        counts = entry;
      }
      counts[field] = field === "sent" || field === "lost" ? Number(text) : milliseconds(text);
    }
  }
  const times = [...byTime.keys()].sort((a, b) => a - b);
  return times.map((time, index) => ({
    start: new Date(time).toISOString(),
    end: new Date(time + intervalSeconds * 1000).toISOString(),
    intervalSeconds,
    paths: pathsOf(byTime.get(time)!, index === times.length - 1),
  }));
}

/**
 * Seconds as the TSDB prints them back to milliseconds, by moving the decimal point of the
 * printed number (`0.0017333719` → `1.7333719`) rather than multiplying: the writer's ×0.001
 * then ×1000 would leave float noise (1.7333719000000001) in what the page shows.
 */
function milliseconds(text: string): number {
  const [mantissa, exponent = "0"] = text.toLowerCase().split("e");
  return Number(`${mantissa}e${Number(exponent) + 3}`);
}

function fieldOf(name: string, quantile: string | undefined): keyof Counts | undefined {
  const suffix = name.replace(/^llama_(path|flow)_/, "");
  if (suffix === "probes_sent") return "sent";
  if (suffix === "probes_lost") return "lost";
  if (suffix !== "rtt_seconds") return undefined;
  return quantile === "0.5" ? "p50" : quantile === "0.99" ? "p99" : undefined;
}

function pathsOf(entries: Map<string, PathEntry>, withFlows: boolean): PathLike[] {
  const paths: PathLike[] = [];
  for (const entry of entries.values()) {
    const statistics = statisticsOf(entry);
    if (statistics === undefined) continue;
    const path: PathLike = {
      srcIp: entry.srcIp,
      dstIp: entry.dstIp,
      tags: entry.tags,
      ...statistics,
    };
    if (withFlows && entry.flows.size > 0) {
      const flows: FlowLike[] = [];
      for (const flow of entry.flows.values()) {
        const flowStatistics = statisticsOf(flow);
        if (flowStatistics === undefined) continue;
        flows.push({ srcPort: flow.srcPort, dstPort: flow.dstPort, ...flowStatistics });
      }
      path.flows = flows.sort((a, b) => a.srcPort - b.srcPort || a.dstPort - b.dstPort);
    }
    paths.push(path);
  }
  return paths.sort((a, b) =>
    a.srcIp < b.srcIp
      ? -1
      : a.srcIp > b.srcIp
      ? 1
      : a.dstIp < b.dstIp
      ? -1
      : a.dstIp > b.dstIp
      ? 1
      : 0
  );
}

function statisticsOf(counts: Counts): Omit<FlowLike, "srcPort" | "dstPort"> | undefined {
  if (counts.sent === undefined || counts.lost === undefined) return undefined;
  const { sent, lost } = counts;
  return {
    sent,
    lost,
    // As the collector computes it, so the TSDB's matrix equals the one drawn from memory.
    lossPercent: sent === 0 ? 0 : (lost / sent) * 100,
    rtt: counts.p50 === undefined || counts.p99 === undefined
      ? null
      : { p50: counts.p50, p99: counts.p99 },
  };
}
