import { ProtocolError } from "@llama/core";
import type { IntervalLike } from "@llama/ui";
import { intervalsFromSeries, type PromSeries } from "./_tsdb_intervals.ts";

/** Options of `readTsdbHistory`. */
export interface TsdbHistoryOptions {
  /** Prometheus's or VictoriaMetrics' base URL: `http://prometheus:9090`, `http://victoria:8428`. */
  url: URL;
  /** How many of the last intervals to read. */
  intervals: number;
  /** Length of an interval in seconds (the scraper's `interval`): the TSDB does not store it. */
  intervalSeconds: number;
  /** The time to read back from, ms since 1970. Default: now. */
  now?: number;
  /** Headers of every request (`authorization`, a tenant's header). */
  headers?: Readonly<Record<string, string>>;
  /** The fetch to use. Default: the global one. */
  fetch?: typeof fetch;
  /** Gives up the request. */
  signal?: AbortSignal;
}

/**
 * The series the matrix needs, as the `remote_write` output names them: per path (and per flow)
 * probes sent and lost, and the RTT quantiles (only 0.5 and 0.99 are drawn; 0.9 comes along).
 */
export const HISTORY_QUERY_SELECTOR =
  '{__name__=~"llama_(path|flow)_(probes_sent|probes_lost|rtt_seconds)"}';

/**
 * Reads the last intervals of every path back from Prometheus or VictoriaMetrics, through
 * PromQL over HTTP (`/api/v1/query` with a range selector, which answers the raw samples), as
 * the matrix draws them: one interval per sample time (the interval's start, as the
 * `remote_write` output writes it), loss recomputed from the probe counts as a collector does,
 * RTTs back in milliseconds. Flows (the `llama_flow_*` series) are kept on the last interval
 * only, as the scraper's own memory keeps them. Throws `ProtocolError` naming the URL when the
 * database does not answer a PromQL matrix.
 *
 * @example
 * ```ts ignore
 * import { readTsdbHistory } from "@llama/scraper";
 * const intervals = await readTsdbHistory({
 *   url: new URL("http://127.0.0.1:8428"), intervals: 30, intervalSeconds: 30,
 * });
 * console.log(intervals.length, intervals.at(-1)?.paths.length);
 * ```
 */
export async function readTsdbHistory(options: TsdbHistoryOptions): Promise<IntervalLike[]> {
  const now = options.now ?? Date.now();
  // Samples are stamped with their interval's start: the last one began up to two intervals ago.
  const windowSeconds = Math.ceil((options.intervals + 2) * options.intervalSeconds);
  const url = new URL("api/v1/query", withSlash(options.url));
  url.searchParams.set("query", `${HISTORY_QUERY_SELECTOR}[${windowSeconds}s]`);
  url.searchParams.set("time", String(now / 1000));
  const response = await (options.fetch ?? fetch)(url, {
    headers: { accept: "application/json", ...options.headers },
    signal: options.signal,
  });
  const text = await response.text();
  if (!response.ok) {
    throw new ProtocolError(
      `history from ${options.url.origin}: /api/v1/query answered HTTP ${response.status}: ${
        text.slice(0, 200)
      }`,
    );
  }
  const series = matrixResult(text, options.url);
  const intervals = intervalsFromSeries(series, options.intervalSeconds);
  return intervals.slice(Math.max(0, intervals.length - options.intervals));
}

/** Options of `TsdbHistory`. */
export interface TsdbHistoryHolderOptions extends Omit<TsdbHistoryOptions, "now" | "signal"> {
  /** Told of a failed refresh (the last good history is kept). */
  onError?: (error: unknown) => void;
}

/**
 * The matrix's source with `--history-from`: the last intervals read from the TSDB by
 * `refresh()` (the scraper calls it every interval), kept between refreshes so that the page's
 * synchronous `history()` answers at once; a failed refresh keeps the last good history.
 */
export class TsdbHistory {
  readonly #options: TsdbHistoryHolderOptions;
  #intervals: readonly IntervalLike[] = [];
  #refreshing: Promise<void> | undefined;

  /** Reads nothing yet: call `refresh()`. */
  constructor(options: TsdbHistoryHolderOptions) {
    this.#options = options;
  }

  /** The intervals of the last good refresh, oldest first. */
  history(): readonly IntervalLike[] {
    return this.#intervals;
  }

  /** Reads the history again; one refresh at a time (a second call joins the running one). */
  refresh(): Promise<void> {
    this.#refreshing ??= (async () => {
      try {
        this.#intervals = await readTsdbHistory({
          ...this.#options,
          signal: AbortSignal.timeout(10_000),
        });
      } catch (error) {
        this.#options.onError?.(error);
      } finally {
        this.#refreshing = undefined;
      }
    })();
    return this.#refreshing;
  }
}

function withSlash(url: URL): URL {
  return url.pathname.endsWith("/") ? url : new URL(`${url.href}/`);
}

function matrixResult(text: string, base: URL): PromSeries[] {
  const fail = (problem: string) =>
    new ProtocolError(`history from ${base.origin}: /api/v1/query ${problem}`);
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw fail(`answered no JSON: ${text.slice(0, 100)}`);
  }
  const data = (body as { data?: { resultType?: unknown; result?: unknown } } | null)?.data;
  if (data?.resultType !== "matrix" || !Array.isArray(data.result)) {
    throw fail(`answered no matrix: ${text.slice(0, 100)}`);
  }
  return data.result as PromSeries[];
}
