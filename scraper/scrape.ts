import {
  type IntervalSummary,
  type IntervalSummaryWithoutFlows,
  parseIntervalSummary,
  type ProbeStatistics,
  ProtocolError,
} from "@llama/core";
import type { Point } from "@llama/plugins";
import { type CollectorTarget, SCRAPER_DEFAULTS } from "./config.ts";
import { getJson } from "./_get_json.ts";
import { parseInfluxdata } from "./_influxdata.ts";

/** What one scrape of one collector brought. */
export interface ScrapeResult {
  /** Points, dated by the interval they describe. */
  points: Point[];
  /** Start of the interval, when the collector says (0 from an original collector). */
  intervalStart: number;
  /** Which API answered. */
  api: "llama" | "original";
  /** Length of the interval, seconds (llama collectors; 0 from an original collector). */
  intervalSeconds?: number;
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
  /** Most bytes of an answer taken (after any `Content-Encoding` is undone). Default 64 MiB. */
  maxResponseBytes?: number;
  /**
   * Told of each path, flow or point that breaks the contract, which is then left out; without
   * it they are left out silently.
   */
  onInvalid?: (error: ProtocolError) => void;
  /**
   * The scraper's wall clock, ms since 1970: when given, a point may be dated from a day before
   * it to an hour after (else any time after 1970).
   */
  now?: number;
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
    const answer = await getJson(url, {
      collector: collector.name,
      signal: options.signal,
      maxBytes: options.maxResponseBytes ?? SCRAPER_DEFAULTS.maxResponseBytes,
      fetch: options.fetch ?? fetch,
    });
    if (answer.status === 404) {
      if (index === 0) continue;
      throw new ProtocolError(`collector ${collector.name}: GET ${url} answered HTTP 404`);
    }
    if (api === "original") return fromInfluxdata(collector, answer.body, options);
    return fromSummaries(collector, answer.body, options);
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
  // STAMP targets only: one-way delays (clocks unsynchronized as far as llama knows) and, from a
  // stateful reflector, the loss split.
  const delay = stats.oneWayDelay;
  if (delay !== undefined) {
    fields.owd_forward = delay.forward.mean;
    fields.owd_forward_min = delay.forward.min;
    fields.owd_forward_max = delay.forward.max;
    fields.owd_backward = delay.backward.mean;
    fields.owd_backward_min = delay.backward.min;
    fields.owd_backward_max = delay.backward.max;
  }
  if (stats.lostForward !== undefined && stats.lostBackward !== undefined) {
    fields.lost_forward = stats.lostForward;
    fields.lost_backward = stats.lostBackward;
  }
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
    summary = parseIntervalSummary(body, { flows: withFlows, onInvalid: options.onInvalid });
  } catch (error) {
    throw new ProtocolError(
      `collector ${collector.name}: /api/v1/summaries ${(error as Error).message}`,
      { cause: error },
    );
  }
  if (summary === null) return { points: [], intervalStart: 0, api: "llama" };
  const time = Date.parse(summary.start);
  const window = timeWindow(options);
  if (time < window.earliest || time > window.latest) {
    throw new ProtocolError(
      `collector ${collector.name}: /api/v1/summaries start is not from ${
        new Date(window.earliest).toISOString()
      } to ${new Date(window.latest).toISOString()} (a day before the scraper's clock to an ` +
        `hour after): got ${JSON.stringify(summary.start)}`,
    );
  }
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
  const result: ScrapeResult = {
    points,
    intervalStart: time,
    api: "llama",
    intervalSeconds: summary.intervalSeconds,
  };
  // Parsed with its flows (`withFlows`), so every path has them.
  if (options.keepSummary === true) result.summary = summary as IntervalSummary;
  return result;
}

function fromInfluxdata(
  collector: CollectorTarget,
  body: unknown,
  options: ScrapeOptions,
): ScrapeResult {
  try {
    const { points, intervalStart } = parseInfluxdata(body, {
      fallbackTime: options.fallbackTime,
      window: timeWindow(options),
      onInvalid: options.onInvalid ?? (() => {}),
    });
    return { points, intervalStart, api: "original" };
  } catch (error) {
    throw new ProtocolError(
      `collector ${collector.name}: /influxdata ${(error as Error).message}`,
      {
        cause: error,
      },
    );
  }
}

/** Times a collector's points may have: a day before the scraper's clock to an hour after. */
function timeWindow(options: ScrapeOptions): { earliest: number; latest: number } {
  const now = options.now;
  if (now === undefined) return { earliest: 1, latest: 8.64e15 };
  return { earliest: now - 86_400_000, latest: now + 3_600_000 };
}
