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

/**
 * Why `text` (a measurement, tag key, tag value or field key) cannot go into line protocol, or
 * undefined when it can. Line protocol has no escape for a line break, so one would end the line
 * and let the rest pass for a point of its own; InfluxDB echoes a refused line in a response
 * header, where a control character (NUL, say) makes the HTTP client fail as if the server were
 * down; and a trailing backslash escapes the separator after it, so the line means something else.
 *
 * @example
 * ```ts
 * import { lineProtocolTextProblem } from "./line_protocol.ts";
 * console.assert(lineProtocolTextProblem("db-1") === undefined);
 * console.assert(lineProtocolTextProblem("db-1\\") === "ends with a backslash");
 * ```
 */
export function lineProtocolTextProblem(text: string): string | undefined {
  if (text === "") return "is empty";
  // deno-lint-ignore no-control-regex
  const control = /[\u0000-\u001f\u007f]/.exec(text);
  if (control !== null) {
    return `holds the control character U+${
      control[0].charCodeAt(0).toString(16).toUpperCase().padStart(4, "0")
    } at offset ${control.index}`;
  }
  if (text.endsWith("\\")) return "ends with a backslash";
  return undefined;
}

/**
 * Why a point cannot be written as line protocol (naming the tag or field at fault), or
 * undefined when it can. Empty tag values are fine: they are left out, as InfluxDB wants.
 *
 * @example
 * ```ts
 * import { lineProtocolPointProblem } from "./line_protocol.ts";
 * const point = { measurement: "raw_stats", tags: { dst_hostname: "a\nb" }, fields: { loss: 0 }, time: 0 };
 * console.assert(lineProtocolPointProblem(point)?.startsWith("tag dst_hostname's value holds"));
 * ```
 */
export function lineProtocolPointProblem(point: Point): string | undefined {
  // A line that starts with "#" is a comment: InfluxDB answers 204 and stores nothing.
  const measurement = point.measurement.startsWith("#")
    ? "starts with #, which makes the line a comment"
    : lineProtocolTextProblem(point.measurement);
  if (measurement !== undefined) {
    return `measurement ${JSON.stringify(point.measurement)} ${measurement}`;
  }
  for (const [key, value] of Object.entries(point.tags)) {
    const keyProblem = lineProtocolTextProblem(key);
    if (keyProblem !== undefined) return `tag key ${JSON.stringify(key)} ${keyProblem}`;
    const valueProblem = value === "" ? undefined : lineProtocolTextProblem(value);
    if (valueProblem !== undefined) {
      return `tag ${key}'s value ${JSON.stringify(value)} ${valueProblem}`;
    }
  }
  for (const key of Object.keys(point.fields)) {
    const keyProblem = lineProtocolTextProblem(key);
    if (keyProblem !== undefined) return `field key ${JSON.stringify(key)} ${keyProblem}`;
  }
  return undefined;
}

/**
 * The first point of `points` that cannot be written as line protocol, as a sentence naming the
 * point (its measurement, time and addresses) and what is wrong; undefined when all can. Outputs throw
 * it as a `PluginError` with `retryable: false`, so the host sets that point aside.
 */
export function lineProtocolBatchProblem(points: readonly Point[]): string | undefined {
  for (const point of points) {
    const problem = lineProtocolPointProblem(point);
    if (problem !== undefined) return `${describePoint(point)}: ${problem}`;
  }
  return undefined;
}

/** `the point "raw_stats" at 2026-12-07T08:00:00.000Z, "10.0.0.1" -> "10.0.0.2"`, for messages. */
export function describePoint(point: Point): string {
  const time = Number.isFinite(point.time)
    ? new Date(point.time).toISOString()
    : String(point.time);
  const addresses = point.tags.src_ip !== undefined || point.tags.dst_ip !== undefined
    ? `, ${JSON.stringify(point.tags.src_ip ?? "?")} -> ${JSON.stringify(point.tags.dst_ip ?? "?")}`
    : "";
  return `the point ${JSON.stringify(point.measurement)} at ${time}${addresses}`;
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
