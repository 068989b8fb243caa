/**
 * The summary contract's JSON shape, checked in one place: what a program that reads a
 * collector's `/api/v1/summaries` (the scraper, the matrix) may rely on once the body has passed.
 *
 * @module
 */

import { ProtocolError } from "./errors.ts";
import type { IntervalSummary, IntervalSummaryWithoutFlows } from "./summary.ts";

/** Options of `parseIntervalSummary`. */
export interface ParseIntervalSummaryOptions {
  /**
   * Whether every path carries its `flows` list, as `/api/v1/summaries` and
   * `/api/v1/summaries?flows=true` send it; each flow is checked. With false (the body of
   * `?flows=false`) flows are neither expected nor read. Default true.
   */
  flows?: boolean;
  /**
   * Called with each path or flow that breaks the contract, which is then left out of the answer
   * instead of failing the whole body (a hostile or buggy collector's bad path costs that path
   * only). The interval header must still be right. Without it the first bad path throws.
   */
  onInvalid?: (error: ProtocolError) => void;
}

const COUNTS = ["sent", "lost", "late", "duplicates", "reordered", "dwellCorrected"] as const;
const RTT_FIELDS = ["min", "mean", "max", "stddev", "p50", "p90", "p99"] as const;
const TIMESTAMP_SOURCES: readonly unknown[] = ["kernel", "userspace"];

/**
 * Checks a parsed `/api/v1/summaries` body against the summary contract and returns it typed, as
 * it is (nothing is copied unless `onInvalid` left something out), or null for the collector's
 * answer before its first interval (`start: null`). Throws `ProtocolError` naming the JSON path of
 * the first thing wrong, such as `paths[3].flows[1].srcPort is not a number: got "80"`. Besides
 * types it checks ranges: counts are whole numbers from 0 to `Number.MAX_SAFE_INTEGER`,
 * `lossPercent` is within 0–100, times are finite, ports and TOS fit their fields, and the
 * interval's bounds are real times after 1970 in order.
 *
 * @example A collector's body, and one with a flow's port as a string
 * ```ts
 * import { parseIntervalSummary } from "@llama/core";
 * const flow = {
 *   srcIp: "10.0.0.1", srcPort: 33000, dstIp: "10.0.0.2", dstPort: 8100,
 *   tos: { sent: 0, atReflector: null, onReturn: null },
 *   sent: 30, lost: 0, lossPercent: 0, late: 0, duplicates: 0, reordered: 0, dwellCorrected: 0,
 *   rtt: { min: 0.1, mean: 0.2, max: 0.4, stddev: 0.05, p50: 0.2, p90: 0.3, p99: 0.4 },
 *   jitter: 0.01,
 * };
 * const { srcPort: _, dstPort: __, ...statistics } = flow;
 * const body = {
 *   start: "2026-01-01T00:00:00.000Z", end: "2026-01-01T00:00:30.000Z", intervalSeconds: 30,
 *   timestampSource: "userspace", sendTimestampSource: "userspace",
 *   paths: [{ ...statistics, tags: { dst_region: "east" }, flows: [flow] }],
 * };
 * console.assert(parseIntervalSummary(body)?.paths[0].flows[0].dstPort === 8100);
 * console.assert(parseIntervalSummary({ ...body, start: null }) === null);
 * const bad = { ...body, paths: [{ ...body.paths[0], flows: [{ ...flow, srcPort: "33000" }] }] };
 * try {
 *   parseIntervalSummary(bad);
 *   console.assert(false);
 * } catch (error) {
 *   console.assert((error as Error).message.startsWith("paths[0].flows[0].srcPort is not a number"));
 * }
 * ```
 */
export function parseIntervalSummary(
  body: unknown,
  options?: ParseIntervalSummaryOptions & { flows?: true },
): IntervalSummary | null;
/** Checks the body of `/api/v1/summaries?flows=false`, whose paths have no flows. */
export function parseIntervalSummary(
  body: unknown,
  options: ParseIntervalSummaryOptions & { flows: false },
): IntervalSummaryWithoutFlows | null;
/** Checks a body with flows or without, as `options.flows` says. */
export function parseIntervalSummary(
  body: unknown,
  options?: ParseIntervalSummaryOptions,
): IntervalSummary | IntervalSummaryWithoutFlows | null;
export function parseIntervalSummary(
  body: unknown,
  options: ParseIntervalSummaryOptions = {},
): IntervalSummary | IntervalSummaryWithoutFlows | null {
  if (!isObject(body)) throw new ProtocolError(`the body is not an object: got ${shown(body)}`);
  if (!Array.isArray(body.paths)) throw failure("paths", "is not a list", body.paths);
  if (body.start === null) return null;
  const start = time(body, "start");
  const end = time(body, "end");
  if (end < start) throw failure("end", `is before start (${body.start})`, body.end);
  const intervalSeconds = body.intervalSeconds;
  if (typeof intervalSeconds !== "number") {
    throw failure("intervalSeconds", "is not a number", intervalSeconds);
  }
  if (!(Number.isFinite(intervalSeconds) && intervalSeconds > 0)) {
    throw failure("intervalSeconds", "is not a positive number", intervalSeconds);
  }
  for (const name of ["timestampSource", "sendTimestampSource"]) {
    if (!TIMESTAMP_SOURCES.includes(body[name])) {
      throw failure(name, 'is not "kernel" or "userspace"', body[name]);
    }
  }
  const flows = options.flows ?? true;
  const onInvalid = options.onInvalid;
  const paths: unknown[] = body.paths;
  let kept: unknown[] | undefined;
  for (let index = 0; index < paths.length; index++) {
    let path = paths[index];
    try {
      checkPath(path, index);
      if (flows) path = checkFlows(path as Record<string, unknown>, index, onInvalid);
    } catch (error) {
      if (onInvalid === undefined || !(error instanceof ProtocolError)) throw error;
      onInvalid(error);
      kept ??= paths.slice(0, index);
      continue;
    }
    if (path !== paths[index]) kept ??= paths.slice(0, index);
    kept?.push(path);
  }
  if (kept !== undefined) {
    return { ...body, paths: kept } as unknown as IntervalSummary | IntervalSummaryWithoutFlows;
  }
  return body as unknown as IntervalSummary | IntervalSummaryWithoutFlows;
}

/** A path's own fields, its flows left aside. */
function checkPath(path: unknown, index: number): asserts path is Record<string, unknown> {
  if (!isObject(path)) throw failure(`paths[${index}]`, "is not an object", path);
  checkStatistics(path, index, -1);
  for (const name of ["srcIp", "dstIp"]) {
    if (typeof path[name] !== "string") {
      throw failure(`paths[${index}].${name}`, "is not a string", path[name]);
    }
  }
  checkTags(path.tags, index);
}

/** The path, or a copy of it without the flows `onInvalid` was told of. */
function checkFlows(
  path: Record<string, unknown>,
  index: number,
  onInvalid: ((error: ProtocolError) => void) | undefined,
): Record<string, unknown> {
  const pathFlows = path.flows;
  if (!Array.isArray(pathFlows)) {
    throw failure(`paths[${index}].flows`, "is not a list", pathFlows);
  }
  let kept: unknown[] | undefined;
  for (let flowIndex = 0; flowIndex < pathFlows.length; flowIndex++) {
    try {
      checkFlow(pathFlows[flowIndex], index, flowIndex);
    } catch (error) {
      if (onInvalid === undefined || !(error instanceof ProtocolError)) throw error;
      onInvalid(error);
      kept ??= pathFlows.slice(0, flowIndex);
      continue;
    }
    kept?.push(pathFlows[flowIndex]);
  }
  return kept === undefined ? path : { ...path, flows: kept };
}

function checkFlow(flow: unknown, index: number, flowIndex: number): void {
  if (!isObject(flow)) {
    throw failure(`paths[${index}].flows[${flowIndex}]`, "is not an object", flow);
  }
  checkStatistics(flow, index, flowIndex);
  for (const name of ["srcIp", "dstIp"]) {
    if (typeof flow[name] !== "string") {
      throw failure(`${where(index, flowIndex)}.${name}`, "is not a string", flow[name]);
    }
  }
  for (const name of ["srcPort", "dstPort"]) {
    wholeNumber(flow[name], 65535, index, flowIndex, name);
  }
}

/** The fields `ProbeStatistics` and `tos` of a path (`flowIndex` -1) or of a flow. */
function checkStatistics(value: Record<string, unknown>, index: number, flowIndex: number): void {
  for (const name of COUNTS) {
    wholeNumber(value[name], Number.MAX_SAFE_INTEGER, index, flowIndex, name);
  }
  const lossPercent = value.lossPercent;
  if (typeof lossPercent !== "number") {
    throw failure(`${where(index, flowIndex)}.lossPercent`, "is not a number", lossPercent);
  }
  if (!(lossPercent >= 0 && lossPercent <= 100)) {
    throw failure(`${where(index, flowIndex)}.lossPercent`, "is not within 0–100", lossPercent);
  }
  const rtt = value.rtt;
  if (rtt !== null) {
    if (!isObject(rtt)) {
      throw failure(`${where(index, flowIndex)}.rtt`, "is neither null nor an object", rtt);
    }
    for (const name of RTT_FIELDS) finite(rtt[name], index, flowIndex, `rtt.${name}`);
  }
  if (value.jitter !== null) finite(value.jitter, index, flowIndex, "jitter");
  const tos = value.tos;
  if (!isObject(tos)) throw failure(`${where(index, flowIndex)}.tos`, "is not an object", tos);
  wholeNumber(tos.sent, 255, index, flowIndex, "tos.sent");
  if (tos.atReflector !== null) {
    wholeNumber(tos.atReflector, 255, index, flowIndex, "tos.atReflector");
  }
  if (tos.onReturn !== null) wholeNumber(tos.onReturn, 255, index, flowIndex, "tos.onReturn");
  checkStamp(value, index, flowIndex);
}

/** The optional STAMP fields: `oneWayDelay`, `lostForward` and `lostBackward`. */
function checkStamp(value: Record<string, unknown>, index: number, flowIndex: number): void {
  const split = ["lostForward", "lostBackward"].filter((name) => value[name] !== undefined);
  if (split.length === 1) {
    throw failure(
      `${where(index, flowIndex)}.${split[0] === "lostForward" ? "lostBackward" : "lostForward"}`,
      "is missing",
      undefined,
    );
  }
  if (split.length === 2) {
    for (const name of split) {
      wholeNumber(value[name], Number.MAX_SAFE_INTEGER, index, flowIndex, name);
    }
    if ((value.lostForward as number) + (value.lostBackward as number) !== value.lost) {
      throw failure(
        `${where(index, flowIndex)}.lostForward`,
        `plus lostBackward is not lost (${value.lost})`,
        value.lostForward,
      );
    }
  }
  const delay = value.oneWayDelay;
  if (delay === undefined) return;
  if (!isObject(delay)) {
    throw failure(`${where(index, flowIndex)}.oneWayDelay`, "is not an object", delay);
  }
  for (const direction of ["forward", "backward"]) {
    const statistics = delay[direction];
    if (!isObject(statistics)) {
      throw failure(
        `${where(index, flowIndex)}.oneWayDelay.${direction}`,
        "is not an object",
        statistics,
      );
    }
    for (const name of ["min", "mean", "max"]) {
      finite(statistics[name], index, flowIndex, `oneWayDelay.${direction}.${name}`);
    }
  }
  if (typeof delay.clockSynchronized !== "boolean") {
    throw failure(
      `${where(index, flowIndex)}.oneWayDelay.clockSynchronized`,
      "is not a boolean",
      delay.clockSynchronized,
    );
  }
}

function checkTags(tags: unknown, index: number): void {
  if (!isObject(tags)) throw failure(`paths[${index}].tags`, "is not an object", tags);
  for (const key in tags) {
    if (typeof tags[key] !== "string") {
      throw failure(`paths[${index}].tags${member(key)}`, "is not a string", tags[key]);
    }
  }
}

/** A time of the interval header, in ms since 1970, after 1970. */
function time(body: Record<string, unknown>, name: string): number {
  const value = body[name];
  if (typeof value !== "string") throw failure(name, "is not a string", value);
  const parsed = Date.parse(value);
  if (!(parsed > 0)) throw failure(name, "is not an RFC 3339 time after 1970", value);
  return parsed;
}

function wholeNumber(
  value: unknown,
  max: number,
  index: number,
  flowIndex: number,
  name: string,
): void {
  if (typeof value !== "number") {
    throw failure(`${where(index, flowIndex)}.${name}`, "is not a number", value);
  }
  if (!(Number.isInteger(value) && value >= 0 && value <= max)) {
    const range = max === Number.MAX_SAFE_INTEGER ? "from 0 to 2^53 − 1" : `within 0–${max}`;
    throw failure(`${where(index, flowIndex)}.${name}`, `is not a whole number ${range}`, value);
  }
}

function finite(value: unknown, index: number, flowIndex: number, name: string): void {
  if (typeof value !== "number") {
    throw failure(`${where(index, flowIndex)}.${name}`, "is not a number", value);
  }
  if (!Number.isFinite(value)) {
    throw failure(`${where(index, flowIndex)}.${name}`, "is not a finite number", value);
  }
}

function where(index: number, flowIndex: number): string {
  return flowIndex < 0 ? `paths[${index}]` : `paths[${index}].flows[${flowIndex}]`;
}

/** `.name` for a key that reads as an identifier, else `["key"]`. */
function member(key: string): string {
  return /^[A-Za-z_$][\w$]*$/.test(key) ? `.${key}` : `[${JSON.stringify(key)}]`;
}

function failure(path: string, problem: string, value: unknown): ProtocolError {
  return new ProtocolError(
    value === undefined ? `${path} is missing` : `${path} ${problem}: got ${shown(value)}`,
  );
}

/** A value as it appears in JSON, cut short: what was there instead of what was expected. */
function shown(value: unknown): string {
  if (typeof value === "number") return String(value);
  let text: string;
  try {
    text = JSON.stringify(value) ?? String(value);
  } catch {
    text = String(value);
  }
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}
