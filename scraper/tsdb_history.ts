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

/** The per-path series only: older intervals keep no flows. */
const PATH_QUERY_SELECTOR = '{__name__=~"llama_path_(probes_sent|probes_lost|rtt_seconds)"}';

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
  const intervals = await readWindow(
    options,
    now - (options.intervals + 2) * options.intervalSeconds * 1000,
    now,
  );
  return intervals.slice(Math.max(0, intervals.length - options.intervals));
}

/** The intervals whose start is in (`from`, `to`], ms since 1970: one PromQL range query. */
async function readWindow(
  options: Omit<TsdbHistoryOptions, "intervals" | "now">,
  from: number,
  to: number,
  selector = HISTORY_QUERY_SELECTOR,
): Promise<IntervalLike[]> {
  const body = await query(
    options,
    `${selector}[${Math.max(1, Math.ceil(to - from))}ms]`,
    to,
  );
  return intervalsFromSeries(matrixResult(body, options.url), options.intervalSeconds);
}

/** One PromQL instant query at `time` (ms since 1970): its parsed JSON answer. */
async function query(
  options: Omit<TsdbHistoryOptions, "intervals" | "now">,
  promql: string,
  time: number,
): Promise<unknown> {
  const url = new URL("api/v1/query", withSlash(options.url));
  url.searchParams.set("query", promql);
  url.searchParams.set("time", String(time / 1000));
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
  try {
    return JSON.parse(text);
  } catch {
    throw new ProtocolError(
      `history from ${options.url.origin}: /api/v1/query answered no JSON: ${text.slice(0, 100)}`,
    );
  }
}

/**
 * The time of the newest path sample in (`from`, `to`], ms since 1970, or undefined: PromQL's
 * `timestamp()` of the raw samples, the largest over a subquery (so only one number travels).
 */
async function newestSampleTime(
  options: Omit<TsdbHistoryOptions, "intervals" | "now">,
  from: number,
  to: number,
): Promise<number | undefined> {
  // A step within PromQL's 5-minute lookback, so that no sample falls between two steps.
  const step = Math.min(options.intervalSeconds, 60);
  const window = `${Math.max(1, Math.ceil(to - from))}ms:${step}s`;
  const body = await query(
    options,
    `max(max_over_time(timestamp(llama_path_probes_sent)[${window}]))`,
    to,
  );
  const data = (body as { data?: { resultType?: unknown; result?: unknown } } | null)?.data;
  if (data?.resultType !== "vector" || !Array.isArray(data.result)) {
    throw new ProtocolError(
      `history from ${options.url.origin}: /api/v1/query answered no vector: ${
        JSON.stringify(body).slice(0, 100)
      }`,
    );
  }
  const seconds = Number((data.result[0] as { value?: [number, string] } | undefined)?.value?.[1]);
  return Number.isFinite(seconds) && seconds * 1000 > from ? Math.round(seconds * 1000) : undefined;
}

/** Options of `TsdbHistory`. */
export interface TsdbHistoryHolderOptions extends Omit<TsdbHistoryOptions, "now" | "signal"> {
  /** Told of a failed refresh (the last good history is kept). */
  onError?: (error: unknown) => void;
  /**
   * About how many path-intervals one read of older intervals asks for (default 200,000, some
   * 10 s of a TSDB's answer on 2 cores): a large fleet's history fills over several refreshes.
   */
  pathIntervalsPerRead?: number;
  /** The clock, ms since 1970. Default: `Date.now`. */
  now?: () => number;
}

/**
 * How far back, in intervals, a refresh reads again at least: an interval may be written late
 * (a second scraper slower than this one, a retried write).
 */
const REREAD_INTERVALS = 2;
/** Further behind than this (an outage, failed refreshes), a refresh starts again from the newest. */
const CATCH_UP_INTERVALS = 4;
const DEFAULT_PATH_INTERVALS_PER_READ = 200_000;
/** VictoriaMetrics' default `-search.latencyOffset`: how recent a sample its functions skip. */
const COMPUTED_LATENCY_MS = 30_000;

/**
 * The matrix's source with `--history-from`: the last intervals read from the TSDB, kept between
 * refreshes so that the page's synchronous `history()` answers at once; a failed refresh keeps
 * the last good history. The scraper calls `refresh()` every interval. A refresh reads the last
 * two intervals' time again and anything newer (about three intervals of samples, whatever
 * `intervals` is), then, until `intervals` are held or the TSDB has no older ones, one chunk of
 * older intervals sized by `pathIntervalsPerRead` (halved after a failed read): at 100 paths the
 * whole history comes at the first refresh, at 400k paths an interval one refresh at a time.
 * Further behind than a few intervals (or a chunk's worth), it starts again from the newest.
 */
export class TsdbHistory {
  readonly #options: TsdbHistoryHolderOptions;
  #intervals: IntervalLike[] = [];
  /** How far back (ms since 1970) the history has been read: nothing older is held. */
  #readBackTo: number | undefined;
  /** What divides a chunk of older intervals: doubled by a failed read, halved by a good one. */
  #chunkDivisor = 1;
  #refreshing: Promise<void> | undefined;

  /** Reads nothing yet: call `refresh()`. */
  constructor(options: TsdbHistoryHolderOptions) {
    this.#options = options;
  }

  /** The intervals held, oldest first. */
  history(): readonly IntervalLike[] {
    return this.#intervals;
  }

  /** Reads what is new and some of what is missing; one at a time (a second call joins it). */
  refresh(): Promise<void> {
    this.#refreshing ??= (async () => {
      try {
        await this.#readNew();
        await this.#readOlder();
      } catch (error) {
        this.#options.onError?.(error);
      } finally {
        this.#refreshing = undefined;
      }
    })();
    return this.#refreshing;
  }

  async #readNew(): Promise<void> {
    const options = this.#options, intervalMs = options.intervalSeconds * 1000;
    const now = (options.now ?? Date.now)();
    const newestHeld = this.#intervals.at(-1);
    const allowance = Math.max(CATCH_UP_INTERVALS, this.#chunkIntervals());
    const newestSample = () =>
      newestSampleTime(
        { ...options, signal: this.#timeout() },
        now - (options.intervals + 2) * intervalMs,
        now,
      );
    let from: number, again = false;
    if (newestHeld === undefined) {
      // At first: from the newest interval, wherever it lies in the history's length.
      // VictoriaMetrics leaves the last 30 s out of computed answers (-search.latencyOffset),
      // not out of raw samples: when it names none, the raw read covers them.
      again = true;
      const newest = await newestSample();
      from = newest !== undefined
        ? newest - 1
        : now - Math.max((REREAD_INTERVALS + 2) * intervalMs, COMPUTED_LATENCY_MS + intervalMs);
    } else {
      const heldStart = Date.parse(newestHeld.start);
      from = Math.min(heldStart - 1, now - REREAD_INTERVALS * intervalMs);
      if ((now - from) / intervalMs > allowance) {
        // Far behind (an outage, failed refreshes, or nothing written for a while): start again
        // from the newest interval if much is new, else read from the newest held (what is
        // newer than it lies in the last 30 s).
        const newest = await newestSample();
        again = newest !== undefined && (newest - heldStart) / intervalMs > allowance;
        from = again ? newest! - 1 : heldStart - 1;
      }
    }
    const fresh = await readWindow({ ...options, signal: this.#timeout() }, from, now);
    if (fresh.length === 0) return;
    const first = Date.parse(fresh[0].start);
    const held = again ? [] : this.#intervals;
    const kept = held.filter((interval) => Date.parse(interval.start) < first).map(withoutFlows);
    const all = [...kept, ...fresh];
    this.#intervals = all.slice(-options.intervals);
    // Everything after #readBackTo has been read: from the first read on, back to its start.
    if (again) this.#readBackTo = from;
    if (all.length > this.#intervals.length) {
      this.#readBackTo = Date.parse(this.#intervals[0].start) - 1;
    }
  }

  async #readOlder(): Promise<void> {
    const options = this.#options, intervalMs = options.intervalSeconds * 1000;
    const held = this.#intervals, newest = held.at(-1), to = this.#readBackTo;
    if (newest === undefined || to === undefined || held.length >= options.intervals) return;
    // Nothing older than the history's length is wanted, held or not.
    const oldestWanted = Date.parse(newest.start) - options.intervals * intervalMs;
    if (to <= oldestWanted) return;
    const chunk = Math.min(options.intervals - held.length, this.#chunkIntervals());
    const from = Math.max(oldestWanted, to - chunk * intervalMs);
    let older;
    try {
      older = await readWindow(
        { ...options, signal: this.#timeout() },
        from,
        to,
        PATH_QUERY_SELECTOR,
      );
      this.#chunkDivisor = Math.max(1, this.#chunkDivisor / 2);
    } catch (error) {
      this.#chunkDivisor *= 2;
      throw error;
    }
    const oldest = Date.parse(held[0].start);
    const before = older.filter((interval) => Date.parse(interval.start) < oldest);
    this.#intervals = [...before, ...held].slice(-options.intervals);
    this.#readBackTo = from;
  }

  /** Intervals a read of older ones may span: the budget over the most paths an interval held. */
  #chunkIntervals(): number {
    const budget = this.#options.pathIntervalsPerRead ?? DEFAULT_PATH_INTERVALS_PER_READ;
    const paths = this.#intervals.reduce((most, each) => Math.max(most, each.paths.length), 1);
    return Math.max(1, Math.floor(budget / paths / this.#chunkDivisor));
  }

  /** A read gives up after an interval (at least 10 s): the next refresh would start by then. */
  #timeout(): AbortSignal {
    return AbortSignal.timeout(Math.max(10_000, this.#options.intervalSeconds * 1000));
  }
}

/** Flows are kept on the newest interval only, as the scraper's memory keeps them. */
function withoutFlows(interval: IntervalLike): IntervalLike {
  if (!interval.paths.some((path) => path.flows !== undefined)) return interval;
  return { ...interval, paths: interval.paths.map(({ flows: _, ...path }) => path) };
}

function withSlash(url: URL): URL {
  return url.pathname.endsWith("/") ? url : new URL(`${url.href}/`);
}

function matrixResult(body: unknown, base: URL): PromSeries[] {
  const data = (body as { data?: { resultType?: unknown; result?: unknown } } | null)?.data;
  if (data?.resultType !== "matrix" || !Array.isArray(data.result)) {
    throw new ProtocolError(
      `history from ${base.origin}: /api/v1/query answered no matrix: ${
        JSON.stringify(body).slice(0, 100)
      }`,
    );
  }
  return data.result as PromSeries[];
}
