import { ProtocolError } from "@llama/core";
import type { Point } from "@llama/plugins";

/** What the original collector's `/influxdata` may say: measurements and fields (all required). */
const MEASUREMENTS: readonly string[] = ["raw_stats"];
const FIELDS = ["loss", "lost", "rtt", "sent"] as const;
/** The time an original collector leaves in every point (Go's zero time). */
const GO_ZERO_TIME = Date.parse("0001-01-01T00:00:00Z");
/** Longest round-trip time taken, in milliseconds: far above any probe timeout. */
const MAX_RTT_MS = 3_600_000;
const MAX_TAG_NAME = 256;
const MAX_TAG_VALUE = 1024;
/** Tag names as a collector's config allows them, and no control character. */
const TAG_NAME = /^[^\s,="\p{Cc}]+$/u;
const CONTROL = /\p{Cc}/u;

/** Options of `parseInfluxdata`. */
export interface ParseInfluxdataOptions {
  /** Time of points that leave Go's zero time (or no time): the interval before the scrape. */
  fallbackTime: number;
  /** Earliest and latest time a point may state, ms since 1970. */
  window: { earliest: number; latest: number };
  /** Told of each point that breaks the contract, which is left out. */
  onInvalid: (error: ProtocolError) => void;
}

/**
 * Checks the body of an original collector's `GET /influxdata` point by point, against what the
 * original emits (see PROTOCOL.md): measurement `raw_stats`; tags `src_ip`, `dst_ip` and the
 * target's, named as a collector config allows, values without control characters; exactly the
 * fields `loss` (percent, 0–100), `lost` and `sent` (whole numbers from 0 to 2^53 − 1) and `rtt`
 * (milliseconds, 0 to an hour); `time` Go's zero time (then `fallbackTime`) or an RFC 3339 time
 * within `window`. A point that fails is left out and passed to `onInvalid` (so one hostile point
 * in line protocol's measurement, like `raw_stats\nevil,a=b c=1 1`, costs that point only). A
 * body that is not a list throws `ProtocolError`.
 *
 * @returns the points that passed, and the interval's start (0 when every point left the time).
 */
export function parseInfluxdata(
  body: unknown,
  options: ParseInfluxdataOptions,
): { points: Point[]; intervalStart: number } {
  if (!Array.isArray(body)) throw new ProtocolError("is not a list of points");
  let intervalStart = 0;
  const points: Point[] = [];
  for (let index = 0; index < body.length; index++) {
    try {
      const point = checkPoint(body[index], index, options);
      if (point.time !== options.fallbackTime) intervalStart = point.time;
      points.push(point);
    } catch (error) {
      if (!(error instanceof ProtocolError)) throw error;
      options.onInvalid(error);
    }
  }
  return { points, intervalStart };
}

function checkPoint(entry: unknown, index: number, options: ParseInfluxdataOptions): Point {
  const fail = (where: string, problem: string) =>
    new ProtocolError(`[${index}]${where} ${problem}`);
  if (!isObject(entry)) throw fail("", "is not a point");
  const measurement = entry.measurement ?? "";
  if (measurement !== "" && !MEASUREMENTS.includes(measurement as string)) {
    throw fail(".measurement", `is not raw_stats: got ${shown(measurement)}`);
  }
  const tags = entry.tags;
  if (!isObject(tags)) throw fail(".tags", "is not an object");
  for (const name of ["src_ip", "dst_ip"]) {
    if (!Object.hasOwn(tags, name)) throw fail(`.tags.${name}`, "is missing");
  }
  for (const [name, value] of Object.entries(tags)) {
    if (name.length > MAX_TAG_NAME || !TAG_NAME.test(name)) {
      throw fail(".tags", `has a tag name that is not allowed: ${shown(name)}`);
    }
    if (typeof value !== "string") throw fail(`.tags.${name}`, `is not a string: ${shown(value)}`);
    if (value.length > MAX_TAG_VALUE || CONTROL.test(value)) {
      throw fail(`.tags.${name}`, `is too long or holds a control character: ${shown(value)}`);
    }
  }
  const fields = entry.fields;
  if (!isObject(fields)) throw fail(".fields", "is not an object");
  for (const name of Object.keys(fields)) {
    if (!(FIELDS as readonly string[]).includes(name)) {
      throw fail(".fields", `has a field the original does not send: ${shown(name)}`);
    }
  }
  const checked: Record<string, number> = {};
  for (const name of FIELDS) {
    const value = fields[name];
    if (typeof value !== "number" || !Number.isFinite(value)) {
      throw fail(`.fields.${name}`, `is not a number: ${shown(value)}`);
    }
    const [min, max, whole] = name === "loss"
      ? [0, 100, false]
      : name === "rtt"
      ? [0, MAX_RTT_MS, false]
      : [0, Number.MAX_SAFE_INTEGER, true];
    if (value < min || value > max || (whole && !Number.isInteger(value))) {
      throw fail(
        `.fields.${name}`,
        `is not ${whole ? "a whole number" : "a number"} within ${min}–${max}: got ${value}`,
      );
    }
    checked[name] = value;
  }
  return {
    measurement: "raw_stats",
    tags: tags as Record<string, string>,
    fields: checked,
    time: pointTime(entry.time, options, fail),
  };
}

/** The point's time: its own when stated, `fallbackTime` for Go's zero time or none. */
function pointTime(
  time: unknown,
  options: ParseInfluxdataOptions,
  fail: (where: string, problem: string) => ProtocolError,
): number {
  if (time === undefined) return options.fallbackTime;
  const parsed = typeof time === "string" ? Date.parse(time) : NaN;
  if (parsed === GO_ZERO_TIME) return options.fallbackTime;
  if (!(parsed >= options.window.earliest && parsed <= options.window.latest)) {
    throw fail(
      ".time",
      `is neither Go's zero time nor an RFC 3339 time from ${
        new Date(options.window.earliest).toISOString()
      } to ${new Date(options.window.latest).toISOString()}: got ${shown(time)}`,
    );
  }
  return parsed;
}

function shown(value: unknown): string {
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}
