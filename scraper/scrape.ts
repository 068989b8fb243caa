import {
  type IntervalSummary,
  type IntervalSummaryWithoutFlows,
  parseIntervalSummary,
  type ProbeStatistics,
  ProtocolError,
} from "@llama/core";
import type { Point } from "@llama/plugins";
import type { CollectorTarget } from "./config.ts";

/** What one scrape of one collector brought. */
export interface ScrapeResult {
  /** Points, dated by the interval they describe. */
  points: Point[];
  /** Start of the interval, when the collector says (0 from an original collector). */
  intervalStart: number;
  /** Which API answered. */
  api: "llama" | "original";
  /** The summary itself, per-flow detail included, when `keepSummary` asked for it (llama collectors). */
  summary?: IntervalSummary;
}

/** Options of `scrapeCollector`. */
export interface ScrapeOptions {
  /** Aborts the scrape (its timeout). */
  signal: AbortSignal;
  /** Also make one `flow_stats` point per flow. */
  flows: boolean;
  /** Time for points of an original collector, which leaves `time` at zero: the scrape's boundary. */
  fallbackTime: number;
  /** Which API to try first; the other is tried on a 404. */
  prefer?: "llama" | "original";
  /** `fetch`, replaceable in tests. */
  fetch?: typeof fetch;
  /** Also return a llama collector's summary, with its flows (for the matrix page). */
  keepSummary?: boolean;
}

/**
 * Scrapes one collector: `GET /api/v1/summaries` from a llama collector (every statistic, and
 * per-flow points when asked), or `GET /influxdata` from an original one. Throws `ProtocolError`
 * naming the collector and what was wrong with its answer.
 *
 * @example
 * ```ts ignore
 * import { collectorTarget } from "./config.ts";
 * import { scrapeCollector } from "./scrape.ts";
 * const result = await scrapeCollector(collectorTarget("127.0.0.1:5000")!, {
 *   signal: AbortSignal.timeout(5000), flows: false, fallbackTime: Date.now(),
 * });
 * ```
 */
export async function scrapeCollector(
  collector: CollectorTarget,
  options: ScrapeOptions,
): Promise<ScrapeResult> {
  const order: ("llama" | "original")[] = options.prefer === "original"
    ? ["original", "llama"]
    : ["llama", "original"];
  for (const [index, api] of order.entries()) {
    const path = api === "llama"
      ? "api/v1/summaries?flows=" + (options.flows || options.keepSummary === true)
      : "influxdata";
    const url = new URL(path, collector.url);
    let response: Response;
    try {
      response = await (options.fetch ?? fetch)(url, {
        signal: options.signal,
        headers: { accept: "application/json" },
      });
    } catch (error) {
      const reason = options.signal.aborted ? "timed out" : (error as Error).message;
      throw new ProtocolError(`collector ${collector.name}: GET ${url} failed: ${reason}`, {
        cause: error,
      });
    }
    if (response.status === 404 && index === 0) {
      await response.body?.cancel();
      continue;
    }
    if (!response.ok) {
      await response.body?.cancel();
      throw new ProtocolError(
        `collector ${collector.name}: GET ${url} answered HTTP ${response.status}`,
      );
    }
    let body: unknown;
    try {
      body = await response.json();
    } catch (error) {
      throw new ProtocolError(
        `collector ${collector.name}: GET ${url} did not answer JSON: ${(error as Error).message}`,
        {
          cause: error,
        },
      );
    }
    if (api === "original") return fromInfluxdata(collector, body, options.fallbackTime);
    return fromSummaries(collector, body, options);
  }
  throw new ProtocolError(
    `collector ${collector.name}: neither /api/v1/summaries nor /influxdata exists`,
  );
}

/** The fields of a point: the original's four, then llama's. Times in milliseconds. */
function statsFields(stats: ProbeStatistics): Record<string, number> {
  const fields: Record<string, number> = {
    loss: stats.lossPercent,
    lost: stats.lost,
    rtt: stats.rtt?.mean ?? 0,
    sent: stats.sent,
    late: stats.late,
    duplicates: stats.duplicates,
    reordered: stats.reordered,
  };
  if (stats.rtt !== null) {
    fields.rtt_min = stats.rtt.min;
    fields.rtt_max = stats.rtt.max;
    fields.rtt_stddev = stats.rtt.stddev;
    fields.rtt_p50 = stats.rtt.p50;
    fields.rtt_p90 = stats.rtt.p90;
    fields.rtt_p99 = stats.rtt.p99;
  }
  if (stats.jitter !== null) fields.jitter = stats.jitter;
  return fields;
}

function fromSummaries(
  collector: CollectorTarget,
  body: unknown,
  options: ScrapeOptions,
): ScrapeResult {
  // The summary's flows were asked for when flow points or the summary itself are wanted.
  const withFlows = options.flows || options.keepSummary === true;
  let summary: IntervalSummary | IntervalSummaryWithoutFlows | null;
  try {
    summary = parseIntervalSummary(body, { flows: withFlows });
  } catch (error) {
    throw new ProtocolError(
      `collector ${collector.name}: /api/v1/summaries ${(error as Error).message}`,
      { cause: error },
    );
  }
  if (summary === null) return { points: [], intervalStart: 0, api: "llama" };
  const time = Date.parse(summary.start);
  const points: Point[] = [];
  for (const path of summary.paths) {
    const tags = { ...path.tags, src_ip: path.srcIp, dst_ip: path.dstIp };
    points.push({ measurement: "raw_stats", tags, fields: statsFields(path), time });
    if (!options.flows || !("flows" in path)) continue;
    for (const flow of path.flows) {
      points.push({
        measurement: "flow_stats",
        tags: { ...tags, src_port: String(flow.srcPort), dst_port: String(flow.dstPort) },
        fields: statsFields(flow),
        time,
      });
    }
  }
  const result: ScrapeResult = { points, intervalStart: time, api: "llama" };
  // Parsed with its flows (`withFlows`), so every path has them.
  if (options.keepSummary === true) result.summary = summary as IntervalSummary;
  return result;
}

function fromInfluxdata(
  collector: CollectorTarget,
  body: unknown,
  fallbackTime: number,
): ScrapeResult {
  const fail = (what: string) =>
    new ProtocolError(`collector ${collector.name}: /influxdata ${what}`);
  if (!Array.isArray(body)) throw fail("is not a list of points");
  let intervalStart = 0;
  const points = body.map((entry, index): Point => {
    if (!isObject(entry) || !isStringMap(entry.tags) || !isObject(entry.fields)) {
      throw fail(`[${index}] is not a point`);
    }
    const fields: Record<string, number> = {};
    for (const [key, value] of Object.entries(entry.fields)) {
      if (typeof value !== "number" || !Number.isFinite(value)) {
        throw fail(`[${index}].fields.${key} is not a number`);
      }
      fields[key] = value;
    }
    // The original leaves Go's zero time; a llama collector's /influxdata says the interval.
    const stated = typeof entry.time === "string" ? Date.parse(entry.time) : NaN;
    const time = Number.isFinite(stated) && stated > 0 ? stated : fallbackTime;
    if (time !== fallbackTime) intervalStart = time;
    return {
      measurement: typeof entry.measurement === "string" && entry.measurement !== ""
        ? entry.measurement
        : "raw_stats",
      tags: entry.tags,
      fields,
      time,
    };
  });
  return { points, intervalStart, api: "original" };
}

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}

function isStringMap(value: unknown): value is Record<string, string> {
  return isObject(value) && Object.values(value).every((item) => typeof item === "string");
}
