import type { IntervalSummary } from "@llama/core";

/**
 * The body of `GET /influxdata`, as the original collector writes it: one `raw_stats` point per
 * path with fields `loss` (percent), `lost`, `rtt` (mean, milliseconds) and `sent`, every number
 * with six decimals (so InfluxDB stores floats), tags sorted by key. Unlike the original, `time`
 * is the start of the interval, RFC 3339, so even the original scraper dates points correctly.
 *
 * @example
 * ```ts
 * import { formatInfluxdata } from "@llama/collector";
 * console.assert(formatInfluxdata(undefined) === "[]");
 * ```
 */
export function formatInfluxdata(summary: IntervalSummary | undefined): string {
  if (summary === undefined || summary.paths.length === 0) return "[]";
  const time = summary.start.replace(/\.\d+Z$/, "Z");
  const points = summary.paths.map((path) => {
    const tags: Record<string, string> = { ...path.tags, src_ip: path.srcIp, dst_ip: path.dstIp };
    const tagText = Object.keys(tags).sort().map((key) =>
      `${JSON.stringify(key)}:${JSON.stringify(tags[key])}`
    )
      .join(",");
    const fields = `"loss":${fixed(path.lossPercent)},"lost":${fixed(path.lost)},` +
      `"rtt":${fixed(path.rtt?.mean ?? 0)},"sent":${fixed(path.sent)}`;
    return `{"fields":{${fields}},"tags":{${tagText}},"time":${
      JSON.stringify(time)
    },"measurement":"raw_stats"}`;
  });
  return `[${points.join(",")}]`;
}

function fixed(value: number): string {
  return Number.isFinite(value) ? value.toFixed(6) : "0.000000";
}
