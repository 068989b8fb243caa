import { join } from "node:path";
import { IntervalGaps } from "./_interval_gaps.ts";
import { getLogger, type Logger } from "@logtape/logtape";
import { type Clock, systemClock } from "@llama/core";
import { scraperMetrics } from "./_scraper_metrics.ts";
import type { CollectorStatus } from "./collector_status.ts";
import { type PluginContext, type Point, stdoutOutput, type TagResolver } from "@llama/plugins";
import type { ScraperConfig, ScraperPlugins } from "./config.ts";
import { OutputHost } from "./output_host.ts";
import { scrapeCollector } from "./scrape.ts";
import { ScrapeRefusedError } from "./errors.ts";
import { Spool } from "./spool.ts";
import { SummaryHistory } from "./summary_history.ts";
import { type CollectorTrace, type FleetSuspectsResponse, FleetTraces } from "./fleet_traces.ts";
import { takeTraces } from "./_trace_round.ts";
import type { IntervalLike, PathLike } from "@llama/ui";

/** What the scraper needs from the world, replaceable in tests. */
export interface ScraperDependencies {
  /** HTTP client for collectors. Default: `fetch`. */
  fetch?: typeof fetch;
  /** Clocks. Default: the system's. */
  clock?: Clock;
}

/** A running scraper. */
export interface Scraper extends AsyncDisposable {
  /** Scrapes every collector once now, and waits for it. */
  scrapeNow(): Promise<void>;
  /** How each collector is doing. */
  collectors(): CollectorStatus[];
  /** Output hosts, by name, with their counters. */
  outputs(): OutputHost[];
  /** Waits until every output has written what it was given (true), or `timeoutMs` passes (false). */
  drained(timeoutMs: number): Promise<boolean>;
  /** Prometheus text of the scraper's health. */
  metrics(): string;
  /**
   * The last intervals of every llama collector, merged by start time and tagged by the resolvers,
   * oldest first: the matrix page's data. Kept only when `config.ui` is set; else empty.
   */
  history(): readonly IntervalLike[];
  /** The suspect links ranked over every collector's latest traces (`GET /api/v1/suspects`). */
  suspects(): FleetSuspectsResponse;
  /** Every collector's latest flow traces, each naming its collector (`GET /api/v1/traces`). */
  traces(): CollectorTrace[];
  /** Stops scraping, keeps waiting points on disk, closes outputs and resolvers. */
  close(): Promise<void>;
}

/**
 * Starts a scraper: every `interval` seconds (aligned to wall-clock multiples, plus `offset`) it
 * scrapes all collectors concurrently, adds tags from the resolvers, and hands the points to
 * every output. A slow or dead collector delays no other, and is reported.
 */
export async function startScraper(
  config: ScraperConfig,
  plugins: ScraperPlugins,
  dependencies: ScraperDependencies = {},
): Promise<Scraper> {
  const clock = dependencies.clock ?? systemClock;
  const stop = new AbortController();
  const context = (name: string, kind: string): PluginContext => ({
    name,
    logger: getLogger(["llama", "plugin", name]).with({ plugin: name }),
    configDirectory: config.directory,
    dataDirectory: config.dataDirectory === undefined
      ? undefined
      : join(config.dataDirectory, kind, name),
    signal: stop.signal,
  });
  const loaded = plugins.outputs.length > 0 ? plugins.outputs : [{
    plugin: stdoutOutput,
    name: "stdout",
    options: stdoutOutput.parseOptions(undefined, "outputs"),
    path: "outputs",
  }];
  const hosts: OutputHost[] = [];
  const resolvers: RunningResolver[] = [];
  try {
    for (const output of loaded) {
      const instance = await output.plugin.create(
        output.options as never,
        context(output.name, "outputs"),
      );
      const spool = config.dataDirectory === undefined
        ? undefined
        : await Spool.open(join(config.dataDirectory, "spool", output.name), {
          log: getLogger(["llama", "scraper"]).with({ output: output.name }),
        });
      hosts.push(
        new OutputHost(
          output.name,
          instance,
          { ...config.buffer, retry: config.retry, writeTimeoutMs: config.writeTimeoutMs },
          spool,
          getLogger(["llama", "scraper"]),
        ),
      );
    }
    for (const tags of plugins.tags) {
      resolvers.push({
        name: tags.name,
        log: getLogger(["llama", "scraper"]).with({ resolver: tags.name }),
        resolver: await tags.plugin.create(tags.options as never, context(tags.name, "tags")),
      });
    }
  } catch (error) {
    await Promise.allSettled(hosts.map((host) => host.close()));
    await Promise.allSettled(resolvers.map(({ resolver }) => resolver[Symbol.asyncDispose]?.()));
    throw error;
  }
  const gaps = await IntervalGaps.open(
    config.dataDirectory,
    (file, problem) =>
      getLogger(["llama", "scraper"]).warn(
        "The last intervals taken, {file}, cannot be read ({problem}): starting again",
        { file, problem },
      ),
  );
  return new RunningScraper(
    config,
    hosts,
    resolvers,
    stop,
    clock,
    dependencies.fetch ?? fetch,
    gaps,
  );
}

/** How many of a scrape's bad paths, flows or points its log line names (all are counted). */
const INVALID_NAMED = 3;

/** Longest a round's log line waits for the outputs to write the round's points, in ms. */
const ROUND_LOG_WAIT_MS = 2_000;

/** Intervals of each collector kept for the matrix page. */
const UI_INTERVALS = 30;

/** A tag resolver in use, with its instance name and a logger whose lines carry that name. */
interface RunningResolver {
  name: string;
  resolver: TagResolver;
  log: Logger;
}

/** `tags` plus the resolvers' tags of the source and destination, as `src_<tag>` and `dst_<tag>`. */
function withResolvedTags(
  tags: Readonly<Record<string, string>>,
  srcIp: string | undefined,
  dstIp: string | undefined,
  found: Map<string, Record<string, string>>,
): Record<string, string> {
  const result: Record<string, string> = { ...tags };
  for (const [side, address] of [["src", srcIp], ["dst", dstIp]]) {
    for (const [key, value] of Object.entries(found.get(address ?? "") ?? {})) {
      if (key !== "ip") result[`${side}_${key}`] = value;
    }
  }
  return result;
}

class RunningScraper implements Scraper {
  readonly #config: ScraperConfig;
  readonly #hosts: OutputHost[];
  readonly #resolvers: RunningResolver[];
  readonly #stop: AbortController;
  readonly #clock: Clock;
  readonly #fetch: typeof fetch;
  readonly #gaps: IntervalGaps;
  readonly #status: CollectorStatus[];
  readonly #log = getLogger(["llama", "scraper"]);
  /** Each collector's logger, in the order of `#status`: its lines carry its name. */
  readonly #collectorLogs: Logger[];
  readonly #running = new Set<Promise<void>>();
  readonly #history: SummaryHistory | undefined;
  readonly #fleet = new FleetTraces();
  #timer: ReturnType<typeof setTimeout> | undefined;

  constructor(
    config: ScraperConfig,
    hosts: OutputHost[],
    resolvers: RunningResolver[],
    stop: AbortController,
    clock: Clock,
    fetcher: typeof fetch,
    gaps: IntervalGaps,
  ) {
    this.#gaps = gaps;
    this.#config = config;
    this.#hosts = hosts;
    this.#resolvers = resolvers;
    this.#stop = stop;
    this.#clock = clock;
    this.#fetch = fetcher;
    this.#history = config.ui === undefined ? undefined : new SummaryHistory(UI_INTERVALS);
    this.#status = config.collectors.map((collector) => ({
      collector,
      api: undefined,
      ok: 0,
      failed: 0,
      stale: 0,
      points: 0,
      invalid: 0,
      refused: {
        redirect: 0,
        too_large: 0,
        too_dense: 0,
        invalid_traces: 0,
        unauthorized: 0,
        tls: 0,
      },
      tracing: undefined,
      up: false,
      lastError: undefined,
      lastDurationMs: 0,
      lastInterval: 0,
      missed: 0,
    }));
    this.#collectorLogs = config.collectors.map(({ name }) => this.#log.with({ collector: name }));
    this.#schedule();
  }

  #schedule(): void {
    if (this.#stop.signal.aborted) return;
    const intervalMs = this.#config.intervalSeconds * 1000;
    const offsetMs = this.#config.offsetSeconds * 1000;
    const now = this.#clock.wall();
    let next = Math.floor((now - offsetMs) / intervalMs) * intervalMs + intervalMs + offsetMs;
    if (next <= now) next += intervalMs;
    this.#timer = setTimeout(() => {
      this.#round(next - offsetMs);
      this.#schedule();
    }, next - now);
  }

  scrapeNow(): Promise<void> {
    const intervalMs = this.#config.intervalSeconds * 1000;
    return this.#round(Math.floor(this.#clock.wall() / intervalMs) * intervalMs);
  }

  /** Counts and names the intervals of `status`'s collector skipped before the one at `start`. */
  #reportGap(status: CollectorStatus, log: Logger, start: number, seconds = 0): void {
    if (start === 0) return;
    const missed = this.#gaps.taken(status.collector.name, start, seconds);
    if (missed === undefined) return;
    status.missed += missed.count;
    log.warn(
      "Missed {count} intervals of collector {collector}, {from} to {to}: never scraped while " +
        "they were its latest (the scraper was down or its scrapes failed; or the collector was down)",
      {
        count: missed.count,
        collector: status.collector.name,
        from: new Date(missed.from).toISOString(),
        to: new Date(missed.to).toISOString(),
      },
    );
  }

  /** One round: every collector on its own, none waiting for another; then one line of health. */
  #round(boundary: number): Promise<void> {
    const before = this.#status.map((status) => ({ ...status }));
    // Every point the round takes, for the outputs that aggregate a whole round.
    const taken: Point[] = [];
    const scrapes = this.#status.map((status, index) =>
      this.#scrape(status, this.#collectorLogs[index], boundary, taken)
    );
    // The matrix page shows the round's intervals once every collector was scraped (or failed).
    Promise.allSettled(scrapes).then(() => this.#history?.publish(boundary));
    const round = Promise.all(
      this.#status.map(async (status, index) => {
        await scrapes[index];
        if (status.up && status.api === "llama") {
          await this.#traces(status, this.#collectorLogs[index]);
        }
      }),
    ).then(
      async () => {
        if (this.#stop.signal.aborted) return;
        await Promise.all(this.#hosts.map((host) => host.enqueueAggregates(taken)));
        const suspects = this.#fleet.suspectPoints(boundary);
        if (suspects.length > 0) await this.#enqueue(suspects);
        this.#gaps.save().catch((error) =>
          this.#log.warn("Cannot keep the last intervals taken: {error}", { error })
        );
        // So that "written so far" counts this round's points (as /metrics does once they are
        // written): give the outputs a moment to write them, not longer than a write may take.
        await this.#unlessStopped(
          this.drained(Math.min(this.#config.writeTimeoutMs, ROUND_LOG_WAIT_MS)),
        );
        if (this.#stop.signal.aborted) return;
        const delta = (key: "ok" | "failed" | "stale" | "points") =>
          this.#status.reduce((sum, status, index) => sum + status[key] - before[index][key], 0);
        const failed = this.#status.filter((status, index) => status.failed > before[index].failed);
        this.#log.info(
          "Scraped {ok} collectors ({failed} failed, {stale} without a new interval): {points} points in; " +
            "{written} written so far, {queued} waiting",
          {
            ok: delta("ok"),
            failed: delta("failed"),
            stale: delta("stale"),
            points: delta("points"),
            failedCollectors: failed.map((status) => status.collector.name),
            written: this.#hosts.reduce((sum, host) => sum + host.counters.written, 0),
            queued: this.#hosts.reduce((sum, host) => sum + host.counters.queued, 0),
            outputs: Object.fromEntries(
              this.#hosts.map((host) => [host.name, { ...host.counters }]),
            ),
          },
        );
      },
    );
    this.#running.add(round);
    round.finally(() => this.#running.delete(round));
    return round;
  }

  async #scrape(
    status: CollectorStatus,
    log: Logger,
    boundary: number,
    taken: Point[],
  ): Promise<void> {
    const started = performance.now();
    const signal = AbortSignal.any([
      this.#stop.signal,
      AbortSignal.timeout(this.#config.timeoutSeconds * 1000),
    ]);
    // Each bad path, flow or point is counted; the first few are named in one line a scrape.
    const invalid: string[] = [];
    let invalidCount = 0;
    try {
      const result = await scrapeCollector(status.collector, {
        signal,
        maxResponseBytes: this.#config.maxResponseBytes,
        now: this.#clock.wall(),
        onInvalid: (error) => {
          invalidCount++;
          if (invalid.length < INVALID_NAMED) invalid.push(error.message);
        },
        flows: this.#config.flows,
        // An original collector's points describe the interval before this boundary.
        fallbackTime: boundary - this.#config.intervalSeconds * 1000,
        prefer: status.api,
        fetch: this.#fetch,
        keepSummary: this.#history !== undefined,
      });
      status.api = result.api;
      if (invalidCount > 0) {
        status.invalid += invalidCount;
        log.warn(
          "Left out {count} paths, flows or points of collector {collector} that break the " +
            "contract: {problems}",
          { count: invalidCount, collector: status.collector.name, problems: invalid.join("; ") },
        );
      }
      status.lastDurationMs = performance.now() - started;
      status.up = true;
      status.lastError = undefined;
      if (result.intervalStart !== 0 && result.intervalStart === status.lastInterval) {
        // The collector has not published a new interval since the last scrape.
        status.stale++;
        return;
      }
      if (result.points.length === 0) {
        status.ok++;
        return;
      }
      const found = await this.#resolveTags(result.points, signal);
      const points = found.size === 0 ? result.points : result.points.map((point) => ({
        ...point,
        tags: withResolvedTags(point.tags, point.tags.src_ip, point.tags.dst_ip, found),
      }));
      // Counted as taken only once every output holds them (on disk, when it has a spool).
      await Promise.all(this.#hosts.map((host) => host.enqueue(points)));
      for (const point of points) taken.push(point);
      status.ok++;
      status.lastInterval = result.intervalStart;
      this.#reportGap(status, log, result.intervalStart, result.intervalSeconds);
      status.points += result.points.length;
      if (result.summary !== undefined) {
        const paths = found.size === 0 ? result.summary.paths : result.summary.paths.map((
          path,
        ): PathLike => ({
          ...path,
          tags: withResolvedTags(path.tags, path.srcIp, path.dstIp, found),
        }));
        this.#history?.add(status.collector.name, { ...result.summary, paths }, boundary);
      }
    } catch (error) {
      if (this.#stop.signal.aborted) return;
      if (error instanceof ScrapeRefusedError) status.refused[error.reason]++;
      status.failed++;
      status.up = false;
      status.lastDurationMs = performance.now() - started;
      status.lastError = (error as Error).message;
      // The error names the collector; the logger adds it as a property.
      log.warn("Scrape failed: {error}", { error });
    }
  }

  /** Takes the collector's traces into the fleet view, and writes its path changes. */
  async #traces(status: CollectorStatus, log: Logger): Promise<void> {
    const signal = AbortSignal.any([
      this.#stop.signal,
      AbortSignal.timeout(this.#config.timeoutSeconds * 1000),
    ]);
    const changes = await takeTraces(status, log, {
      fleet: this.#fleet,
      signal,
      maxResponseBytes: this.#config.maxResponseBytes,
      fetch: this.#fetch,
    });
    if (changes.length === 0) return;
    const found = await this.#resolveTags(changes, signal);
    await this.#enqueue(changes.map((point) => ({
      ...point,
      tags: withResolvedTags(point.tags, point.tags.src_ip, point.tags.dst_ip, found),
    })));
  }

  /** Hands `points` to every output; a failure is logged (a full memory with no spool). */
  async #enqueue(points: Point[]): Promise<void> {
    try {
      await Promise.all(this.#hosts.map((host) => host.enqueue(points)));
    } catch (error) {
      this.#log.warn("Cannot queue {count} trace points: {error}", { count: points.length, error });
    }
  }

  /** Each resolver's tags for the points' source and destination addresses. */
  async #resolveTags(
    points: Point[],
    signal: AbortSignal,
  ): Promise<Map<string, Record<string, string>>> {
    const found = new Map<string, Record<string, string>>();
    if (this.#resolvers.length === 0) return found;
    const addresses = new Set<string>();
    for (const point of points) {
      if (point.tags.src_ip !== undefined) addresses.add(point.tags.src_ip);
      if (point.tags.dst_ip !== undefined) addresses.add(point.tags.dst_ip);
    }
    for (const { resolver, log } of this.#resolvers) {
      await Promise.all([...addresses].map(async (address) => {
        try {
          const tags = await resolver.resolve(address, signal);
          found.set(address, { ...found.get(address), ...tags });
        } catch (error) {
          log.warn("Tag resolver {resolver} failed for {address}: {error}", { address, error });
        }
      }));
    }
    return found;
  }

  history(): readonly IntervalLike[] {
    return this.#history?.merged() ?? [];
  }

  async drained(timeoutMs: number): Promise<boolean> {
    const results = await Promise.all(this.#hosts.map((host) => host.drained(timeoutMs)));
    return results.every(Boolean);
  }

  suspects(): FleetSuspectsResponse {
    return this.#fleet.suspects();
  }

  traces(): CollectorTrace[] {
    return this.#fleet.traces();
  }

  collectors(): CollectorStatus[] {
    return this.#status.map((status) => ({ ...status, refused: { ...status.refused } }));
  }

  outputs(): OutputHost[] {
    return [...this.#hosts];
  }

  metrics(): string {
    return scraperMetrics(this.#status, this.#hosts);
  }

  /** Waits for `promise`, or until the scraper stops, whichever comes first. */
  async #unlessStopped(promise: Promise<unknown>): Promise<void> {
    const signal = this.#stop.signal;
    let onAbort = () => {};
    const stopped = new Promise<void>((resolve) => (onAbort = resolve));
    signal.addEventListener("abort", onAbort, { once: true });
    try {
      await Promise.race([promise, stopped]);
    } finally {
      signal.removeEventListener("abort", onAbort);
    }
  }

  async close(): Promise<void> {
    if (this.#stop.signal.aborted) return;
    this.#stop.abort();
    clearTimeout(this.#timer);
    await Promise.allSettled(this.#running);
    await Promise.allSettled(this.#hosts.map((host) => host.close()));
    await Promise.allSettled(
      this.#resolvers.map(({ resolver }) => resolver[Symbol.asyncDispose]?.()),
    );
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
