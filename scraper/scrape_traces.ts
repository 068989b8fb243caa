/**
 * Fetching a collector's flow traces.
 *
 * @module
 */
import { type FlowTrace, parseTracesResponse } from "@llama/core";
import { ScrapeRefusedError } from "./errors.ts";
import type { CollectorTarget } from "./config.ts";
import { getJson } from "./_get_json.ts";

/** What a collector's `/api/v1/traces` said: its traces, or why it has none. */
export type TracesResult =
  | { tracing: true; traces: FlowTrace[] }
  | { tracing: false; reason: string };

/** Options of `scrapeTraces`. */
export interface ScrapeTracesOptions {
  /** Aborts the request (the scrape's deadline). */
  signal: AbortSignal;
  /** Most bytes of the answer taken. */
  maxResponseBytes: number;
  /** `fetch`, replaceable in tests. */
  fetch?: typeof fetch;
}

/**
 * `GET /api/v1/traces` of a llama collector, through the scraper's hardened fetch (no redirect
 * followed, the body capped in size and density). A 404 (a collector from before tracing) or
 * `tracing.available: false` is a collector that does not trace, not an error. Throws
 * `ScrapeRefusedError` for a refused answer (reason `invalid_traces` for a body breaking the
 * contract, naming the JSON path of what is wrong) and `ProtocolError` for any other failure,
 * each naming the collector.
 *
 * @example
 * ```ts ignore
 * import { collectorTarget } from "./config.ts";
 * const result = await scrapeTraces(collectorTarget("127.0.0.1:5000")!, {
 *   signal: AbortSignal.timeout(5000), maxResponseBytes: 1 << 26,
 * });
 * ```
 */
export async function scrapeTraces(
  collector: CollectorTarget,
  options: ScrapeTracesOptions,
): Promise<TracesResult> {
  const url = new URL("api/v1/traces", collector.url);
  const answer = await getJson(url, {
    collector: collector.name,
    signal: options.signal,
    maxBytes: options.maxResponseBytes,
    fetch: options.fetch ?? fetch,
  });
  if (answer.status === 404) return { tracing: false, reason: "it has no /api/v1/traces" };
  let parsed;
  try {
    parsed = parseTracesResponse(answer.body);
  } catch (error) {
    throw new ScrapeRefusedError(
      `collector ${collector.name}: /api/v1/traces ${(error as Error).message}`,
      "invalid_traces",
      { cause: error },
    );
  }
  if (!parsed.tracing.available) {
    return { tracing: false, reason: parsed.tracing.reason ?? "it says it cannot trace" };
  }
  return { tracing: true, traces: parsed.traces };
}
