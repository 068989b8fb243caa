import { Point as InfluxPoint } from "@influxdata/influxdb-client";
import type { Point } from "./contract.ts";

/** Timestamp precision of line protocol. */
export type Precision = "s" | "ms";

/**
 * Formats points as InfluxDB line protocol, one line each, with the official client's escaping:
 * tags sorted by key, fields as floats without a type suffix (as the original scraper wrote them).
 *
 * @example
 * ```ts
 * import { toLineProtocol } from "./line_protocol.ts";
 * const text = toLineProtocol([{
 *   measurement: "raw_stats", tags: { src_ip: "::", dst_ip: "10.0.0.2" },
 *   fields: { loss: 0, rtt: 0.134507 }, time: 1764090000000,
 * }], "s");
 * console.assert(text === "raw_stats,dst_ip=10.0.0.2,src_ip=:: loss=0,rtt=0.134507 1764090000");
 * ```
 */
export function toLineProtocol(points: readonly Point[], precision: Precision): string {
  const settings = {
    convertTime: (time: unknown) =>
      String(precision === "s" ? Math.floor(Number(time) / 1000) : Math.floor(Number(time))),
  };
  const lines: string[] = [];
  for (const point of points) {
    const line = toInfluxPoint(point).toLineProtocol(settings as never);
    // A point with no field is not valid line protocol; there is nothing to write for it.
    if (line !== undefined) lines.push(line);
  }
  return lines.join("\n");
}

/** The official client's point for one of ours. */
function toInfluxPoint(point: Point): InfluxPoint {
  const influx = new InfluxPoint(point.measurement);
  for (const [key, value] of Object.entries(point.tags)) if (value !== "") influx.tag(key, value);
  for (const [key, value] of Object.entries(point.fields)) {
    if (Number.isFinite(value)) influx.floatField(key, value);
  }
  return influx.timestamp(point.time as unknown as string);
}
