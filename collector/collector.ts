import { getLogger } from "@logtape/logtape";
import {
  type Clock,
  type EngineChoice,
  formatAddress,
  formatPrometheus,
  type HttpSecurity,
  type HttpServer,
  httpServerMetrics,
  type OpenSocket,
  selectEngine,
  serveHttp,
  type SocketAddress,
  systemClock,
} from "@llama/core";
import { createCollectorApi, type HttpApi } from "./api.ts";
import { type CollectorHealth, collectorMetrics } from "./metrics.ts";
import { Prober } from "./prober.ts";
import type { ResolvedConfig } from "./resolve.ts";
import { routeSourceAddresses, type SourceAddressLookup } from "./source_address.ts";
import type { IntervalSummary, IntervalTrend } from "@llama/core";
import { Summarizer } from "./summarizer.ts";
import { type PathChange, Tracer } from "./tracer.ts";
import { ReverseHops } from "./reverse_hops.ts";
import { TracingState } from "./_tracing_state.ts";
import { tracingMetrics } from "./_trace_metrics.ts";

/** What a collector needs from the world, replaceable in tests. */
export interface CollectorDependencies {
  /** Opens UDP sockets. Default: `Deno.listenDatagram`. */
  openSocket?: OpenSocket;
  /** Clocks. Default: the system's. */
  clock?: Clock;
  /** Learns the real source address of each path. Default: the kernel's routing table. */
  sourceAddresses?: SourceAddressLookup;
}

/** Options of `startCollector`. */
export interface CollectorOptions {
  /** Serve the HTTP API on the config's `api.bind`. Default true. */
  serveApi?: boolean;
  /**
   * API tokens and HTTPS for the API (`--api-token-file`, `--tls-cert`, `--tls-key`). Default:
   * none, plain HTTP open to anyone who can connect.
   */
  apiSecurity?: HttpSecurity;
  /** Called with every interval's summary as it is published. */
  onSummary?: (summary: IntervalSummary) => void;
  /** Called with every path change a trace finds. */
  onPathChange?: (change: PathChange) => void;
  /** UDP engine: `auto` (native on Linux when FFI is permitted), `native` or `deno`. Default auto. */
  engine?: EngineChoice;
  /**
   * Intervals kept in memory for the matrix page's charts (`/api/v1/history`). Default 30. The
   * latest keeps every statistic of every path and flow; older ones keep what the charts draw:
   * sent, lost, loss and RTT p50 and p99 of each path (4 to 8 bytes a path).
   */
  historyIntervals?: number;
}

/** A running collector. */
export interface Collector extends AsyncDisposable {
  /** Where the HTTP API listens, with the real port, if it is served. */
  readonly apiAddress: SocketAddress | undefined;
  /** The HTTP API, also usable without a socket through `api.request()`. */
  readonly api: HttpApi;
  /** The last published interval. */
  latest(): IntervalSummary | undefined;
  /**
   * The last published intervals (`historyIntervals` of them at most), oldest first: the latest
   * with full statistics, older ones with each path's trend.
   */
  history(): readonly IntervalTrend[];
  /** The collector's own health. */
  health(): CollectorHealth;
  /**
   * Switches to a new config without losing probes in flight or the current interval. The
   * summarization interval and the API address cannot change this way (a warning says so).
   */
  reload(config: ResolvedConfig): Promise<void>;
  /** Stops probing, closes sockets and the API. */
  close(): Promise<void>;
}

/**
 * Starts a collector: probes every test's targets, publishes a summary per path and per flow
 * every `summarization.interval` seconds (aligned to wall-clock multiples, once every probe of
 * the interval has come back or timed out), and serves them over HTTP.
 *
 * @example
 * ```ts ignore
 * import { loadCollectorConfig, startCollector } from "@llama/collector";
 * const config = await loadCollectorConfig("collector.yaml");
 * await using collector = await startCollector(config, {
 *   onSummary: (summary) => console.log(summary.paths.length, "paths"),
 * });
 * ```
 */
export async function startCollector(
  config: ResolvedConfig,
  options: CollectorOptions = {},
  dependencies: CollectorDependencies = {},
): Promise<Collector> {
  const clock = dependencies.clock ?? systemClock;
  const engine = dependencies.openSocket === undefined
    ? selectEngine(options.engine ?? "auto")
    : undefined;
  if (engine?.fallbackReason !== undefined) {
    getLogger(["llama", "collector"]).info(
      "Using Deno.listenDatagram: the native engine is unavailable: {reason}",
      {
        reason: engine.fallbackReason,
      },
    );
  }
  const summarizer = new Summarizer(config.summarization.intervalSeconds, {
    historyIntervals: options.historyIntervals,
  });
  const hops = new ReverseHops();
  const tracer = config.tracing.mode === "off"
    ? undefined
    : new Tracer(config.tracing, clock, { hops, onPathChange: options.onPathChange });
  const prober = new Prober(summarizer, {
    openSocket: dependencies.openSocket ?? engine!.open,
    clock,
    sourceAddresses: dependencies.sourceAddresses ?? routeSourceAddresses,
  }, { tracer, hops });
  await prober.apply(config);
  const tracing = new TracingState(config.tracing, { prober, tracer, hops });
  const collector = new RunningCollector(config, options, clock, summarizer, prober, tracing);
  try {
    await collector.listen(options.serveApi !== false);
  } catch (error) {
    await prober.close();
    throw error;
  }
  prober.start();
  tracing.start();
  collector.startPublishing();
  return collector;
}

class RunningCollector implements Collector {
  apiAddress: SocketAddress | undefined;
  readonly api: HttpApi;
  /** The running config without its targets: the prober and the summarizer keep what they need. */
  #config: RunningSettings;
  /** Probes a second the config schedules. */
  #scheduledRate: number;
  readonly #options: CollectorOptions;
  readonly #clock: Clock;
  readonly #summarizer: Summarizer;
  readonly #prober: Prober;
  readonly #tracing: TracingState;
  readonly #log = getLogger(["llama", "collector"]);
  #server: HttpServer | undefined;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #closed = false;

  constructor(
    config: ResolvedConfig,
    options: CollectorOptions,
    clock: Clock,
    summarizer: Summarizer,
    prober: Prober,
    tracing: TracingState,
  ) {
    this.#tracing = tracing;
    this.#config = runningSettings(config);
    this.#scheduledRate = scheduledRate(config);
    this.#options = options;
    this.#clock = clock;
    this.#summarizer = summarizer;
    this.#prober = prober;
    this.api = createCollectorApi({
      // Handlers are done with an interval before the next is published: let them read it
      // without holding its columns (see PublishedInterval.current).
      latest: () => summarizer.history.latest()?.current(),
      latestInterval: () => summarizer.history.latest(),
      metrics: () =>
        collectorMetrics(summarizer.history.latest()?.current(), this.health()) +
        formatPrometheus(tracingMetrics(tracing)) +
        (this.#server === undefined
          ? ""
          : formatPrometheus(httpServerMetrics([this.#server.stats()]))),
      history: () => this.history(),
      historyIntervals: summarizer.history.keep,
      describe: () => describeCollector(this.#config, this.apiAddress),
      tracing,
    });
  }

  async listen(serve: boolean): Promise<void> {
    if (!serve) return;
    const bind = this.#config.api.bind;
    try {
      this.#server = await serveHttp(bind, this.api.fetch, {
        name: "api",
        security: this.#options.apiSecurity,
        onError: (error) => {
          this.#log.error("API request failed: {error}", { error });
          return Response.json({ error: "internal error" }, { status: 500 });
        },
      });
    } catch (error) {
      throw new Error(
        `Cannot serve the API on ${formatAddress(bind)}: ${(error as Error).message}`,
        {
          cause: error,
        },
      );
    }
    this.apiAddress = this.#server.address;
    this.#log.info("Serving the API on {scheme}://{address}", {
      scheme: this.#server.scheme,
      address: formatAddress(this.apiAddress),
    });
  }

  startPublishing(): void {
    const intervalMs = this.#summarizer.intervalMs;
    // Intervals are published one after another, each once every probe sent in it has come back
    // or timed out, however the timeout compares with the interval.
    let next = this.#summarizer.book.intervalOf(this.#clock.origin + this.#clock.monotonic());
    const schedule = () => {
      if (this.#closed) return;
      const publishAt = next + intervalMs + this.#prober.maxTimeoutMs + 20;
      this.#timer = setTimeout(async () => {
        await this.#publish(next);
        next += intervalMs;
        schedule();
      }, Math.max(0, publishAt - (this.#clock.origin + this.#clock.monotonic())));
    };
    schedule();
  }

  async #publish(start: number): Promise<void> {
    this.#prober.expire();
    const published = await this.#summarizer.finish(start);
    if (this.#closed) return;
    this.#tracing.tracer?.observeLoss((flow) => published.flowLoss(flow));
    const { sent, lost } = published.totals();
    this.#log.info("Interval {start}: {paths} paths, {sent} probes sent, {lost} lost", {
      start: published.start,
      paths: published.pathCount,
      sent,
      lost,
    });
    try {
      if (this.#options.onSummary !== undefined) this.#options.onSummary(published.summary()!);
    } catch (error) {
      this.#log.error("Summary listener failed: {error}", { error });
    }
  }

  latest(): IntervalSummary | undefined {
    return this.#summarizer.history.latest()?.summary();
  }

  history(): readonly IntervalTrend[] {
    return this.#summarizer.history.intervals();
  }

  health(): CollectorHealth {
    const latest = this.#summarizer.history.latest();
    return {
      ...this.#prober.health(),
      scheduledRate: this.#scheduledRate,
      lastIntervalEnd: latest === undefined ? 0 : Date.parse(latest.end) / 1000,
    };
  }

  async reload(config: ResolvedConfig): Promise<void> {
    if (config.summarization.intervalSeconds !== this.#config.summarization.intervalSeconds) {
      this.#log.warn(
        "summarization.interval changed from {old} s to {new} s: restart the collector to apply it",
        {
          old: this.#config.summarization.intervalSeconds,
          new: config.summarization.intervalSeconds,
        },
      );
      config = { ...config, summarization: this.#config.summarization };
    }
    if (formatAddress(config.api.bind) !== formatAddress(this.#config.api.bind)) {
      this.#log.warn("api.bind changed to {address}: restart the collector to apply it", {
        address: formatAddress(config.api.bind),
      });
      config = { ...config, api: this.#config.api };
    }
    await this.#prober.apply(config);
    this.#config = runningSettings(config);
    this.#scheduledRate = scheduledRate(config);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearTimeout(this.#timer);
    this.#tracing.close();
    await Promise.all([this.#prober.close(), this.#server?.shutdown()]);
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

/** What the running collector keeps of its config. */
type RunningSettings = Omit<ResolvedConfig, "targets">;

/**
 * The config without its targets: a target's object, with its place in the file for error
 * messages, took ~250 bytes of a collector's heap for as long as it ran.
 */
function runningSettings(config: ResolvedConfig): RunningSettings {
  const { targets: _targets, ...settings } = config;
  return settings;
}

/** Probes a second that `config` schedules: cycles a second × sockets × targets, over its tests. */
function scheduledRate(config: ResolvedConfig): number {
  let rate = 0;
  for (const test of config.tests) {
    const sockets = config.portGroups[test.portGroup].reduce(
      (sum, member) => sum + member.count,
      0,
    );
    rate += config.rateLimits[test.rateLimit].cps * sockets * config.targets[test.targets].length;
  }
  return rate;
}

/** `collector db-1 (10.0.0.1:5000)`: its `src_hostname` source tag, if any, and its API address. */
function describeCollector(config: RunningSettings, address: SocketAddress | undefined): string {
  const name = config.sourceTags.src_hostname;
  const where = address === undefined ? undefined : formatAddress(address);
  return ["collector", name, where === undefined ? undefined : name ? `(${where})` : where]
    .filter((part) => part !== undefined && part !== "").join(" ");
}
