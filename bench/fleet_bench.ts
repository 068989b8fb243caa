/**
 * The fleet simulation: `deno task bench fleet [--quick [--record]]`.
 *
 * Many synthetic collectors (`bench/_collector_double.ts`: one `Deno.serve` answering
 * `/cN/api/v1/summaries` with real summary JSON of `paths` paths each) → two scrapers, each in
 * its own process (`bench/_scrape_rounds.ts`) with half of the collectors (split by config:
 * `/c1/`…`/cK/` and the rest) → one real VictoriaMetrics (`tests/_servers.ts`) through the
 * `remote_write` output (`paths: all`, the worst case for the TSDB). At each fleet size it
 * measures the time to write one interval (both scrapers, from the start of the round to every
 * point written), samples/s into the TSDB, each scraper's peak memory and VictoriaMetrics' own,
 * and checks that every path's series arrived.
 *
 * @module
 */
import { formatUsage } from "@llama/core";
import { readTsdbHistory } from "@llama/scraper";
import { startVictoriaMetrics, type VictoriaServer } from "../tests/_servers.ts";
import type { ScenarioResult } from "./_scrape_rounds.ts";
import {
  type Benchmark,
  type BenchmarkContext,
  choosePlan,
  markdownTable,
  planFlags,
  PrerequisiteError,
  spawnUntilReady,
  textTable,
} from "./_tools.ts";

const FLAGS = planFlags("fleets of 20 and 60 collectors instead of 100, 300 and 1,000");

/** How big a run is. */
interface Plan {
  /** Fleet sizes: collectors (hosts), split between the two scrapers. */
  fleets: readonly number[];
  /** Paths each collector probes per interval (the mesh levels' share of the fleet). */
  paths: number;
}

const FULL_PLAN: Plan = { fleets: [100, 300, 1000], paths: 100 };
const QUICK_PLAN: Plan = { fleets: [20, 60], paths: 100 };
/** Samples per path and interval that `remote_write` writes for a double's path (14 fields). */
const SAMPLES_PER_PATH = 14;
/** The collector double's interval (its default). */
const INTERVAL_SECONDS = 30;
/** Rounds per fleet: the first writes new series, the second the same series at a new time. */
const ROUNDS = 2;

interface FleetRound {
  /** Both scrapers: the slower one's time from its round's start to every point written. */
  writtenMilliseconds: number;
  /** Paths (points) scraped by both. */
  points: number;
  /** Collectors each scraper took (its share by rendezvous hashing). */
  shares: [number, number];
  dropped: number;
  rejected: number;
  failed: number;
}

interface FleetResult {
  collectors: number;
  rounds: FleetRound[];
  /** Peak RSS (VmHWM) of each scraper process, KiB, the larger of its rounds. */
  scraperPeakKilobytes: [number, number];
  /** Resident memory of a scraper process before its round (Deno and the modules), KiB. */
  scraperBaselineKilobytes: number;
  /** Per-path series of `llama_path_probes_sent` in VictoriaMetrics afterwards. */
  storedPaths: number;
  /** `--history-from`'s read of the last intervals: its time and paths, or why it failed. */
  history: { milliseconds: number; intervals: number; paths: number } | { error: string };
  /** VictoriaMetrics' resident memory after the fleet's rounds, KiB. */
  victoriaKilobytes: number | undefined;
}

async function scrapeShard(
  context: BenchmarkContext,
  doubleUrl: string,
  shard: { collectors: number; label: string; writeUrl: string },
): Promise<ScenarioResult> {
  const args = [
    ...["run", "-A", "bench/_scrape_rounds.ts", "--double", doubleUrl, "--rounds", "1"],
    ...["--collectors", `${shard.collectors}`, "--shard", shard.label],
    ...["--output", "remote_write", "--remote-write", shard.writeUrl, "--label", shard.label],
    ...["--batch-points", "5000", "--memory-points", "5000000"],
  ];
  const output = await new Deno.Command(Deno.execPath(), {
    args,
    cwd: context.repositoryRoot,
    env: { NO_COLOR: "1" },
    stdin: "null",
    signal: context.signal,
  }).output();
  context.signal.throwIfAborted();
  if (!output.success) {
    throw new Error(
      `deno ${args.join(" ")} failed (exit code ${output.code}):\n` +
        new TextDecoder().decode(output.stderr).slice(-4000),
    );
  }
  const stdout = new TextDecoder().decode(output.stdout).trim();
  return JSON.parse(stdout.split("\n").at(-1)!) as ScenarioResult;
}

async function storedPaths(victoria: VictoriaServer): Promise<number> {
  const flush = await fetch(new URL("/internal/force_flush", victoria.url));
  await flush.body?.cancel();
  const url = new URL("/api/v1/query", victoria.url);
  url.searchParams.set("query", "count(llama_path_probes_sent)");
  const body = await (await fetch(url)).json();
  return Number(body?.data?.result?.[0]?.value?.[1] ?? 0);
}

/** What the matrix page's refresh with `--history-from` costs: reading both rounds back. */
async function readHistory(
  victoria: VictoriaServer,
  now: number,
): Promise<FleetResult["history"]> {
  const started = performance.now();
  try {
    const intervals = await readTsdbHistory({
      url: new URL(victoria.url),
      intervals: ROUNDS,
      intervalSeconds: INTERVAL_SECONDS,
      now,
    });
    return {
      milliseconds: performance.now() - started,
      intervals: intervals.length,
      paths: intervals.reduce((sum, interval) => sum + interval.paths.length, 0),
    };
  } catch (error) {
    return { error: (error as Error).message.slice(0, 300) };
  }
}

/** Resident memory of the victoria-metrics whose data lives in `directory`, KiB. */
async function victoriaMemory(directory: string): Promise<number | undefined> {
  for await (const entry of Deno.readDir("/proc")) {
    if (!/^\d+$/.test(entry.name)) continue;
    const commandLine = await Deno.readTextFile(`/proc/${entry.name}/cmdline`).catch(() => "");
    if (!commandLine.includes(`-storageDataPath=${directory}`)) continue;
    const status = await Deno.readTextFile(`/proc/${entry.name}/status`).catch(() => "");
    const rss = /^VmRSS:\s+(\d+) kB$/m.exec(status);
    if (rss !== null) return Number(rss[1]);
  }
  return undefined;
}

async function measureFleet(
  context: BenchmarkContext,
  plan: Plan,
  collectors: number,
): Promise<FleetResult> {
  // A fresh TSDB per fleet, so the first round writes new series only.
  await using victoria = await startVictoriaMetrics().catch((error) => {
    throw new PrerequisiteError(`Cannot start victoria-metrics: ${error.message}`);
  });
  await using double = await spawnUntilReady(Deno.execPath(), {
    args: [
      ...["run", "-A", "bench/_collector_double.ts"],
      ...["--collectors", `${collectors}`, "--paths", `${plan.paths}`],
    ],
    cwd: context.repositoryRoot,
    readyPattern: /Serving .* on (?<url>http:\/\/\S+)/,
    timeoutMilliseconds: 120_000,
    signal: context.signal,
  });
  const doubleUrl = double.ready.groups!.url;
  const writeUrl = `${victoria.url}/api/v1/write`;
  // Both list every collector; `sharding:` gives each its rendezvous-hashed share.
  const shards = ["scraper-1", "scraper-2"].map((label) => ({ collectors, label, writeUrl }));
  const rounds: FleetRound[] = [];
  const peaks: [number, number] = [0, 0];
  // The double's intervals are simulated: read them back as at the end of the last one.
  let lastStart = Date.now();
  let baseline = 0;
  for (let round = 0; round < ROUNDS; round++) {
    if (round > 0) {
      const advanced = await fetch(new URL("advance", doubleUrl), { method: "POST" });
      lastStart = Date.parse(await advanced.text());
    }
    const results = await Promise.all(
      shards.map((shard) => scrapeShard(context, doubleUrl, shard)),
    );
    const [first, second] = results.map((result) => result.rounds[0]);
    results.forEach((result, index) => {
      peaks[index] = Math.max(peaks[index], result.peakRssKilobytes);
      baseline = Math.max(baseline, result.baselineRssKilobytes);
    });
    rounds.push({
      writtenMilliseconds: Math.max(first.writtenMilliseconds, second.writtenMilliseconds),
      points: first.points + second.points,
      shares: [results[0].collectors, results[1].collectors],
      dropped: first.dropped + second.dropped,
      rejected: first.rejected + second.rejected,
      failed: first.failed + second.failed,
    });
    context.progress(
      `  ${collectors} collectors, round ${round + 1}: ${first.points + second.points} paths ` +
        `written in ${Math.round(rounds.at(-1)!.writtenMilliseconds)} ms`,
    );
  }
  const stored = await storedPaths(victoria);
  const history = await readHistory(victoria, lastStart + INTERVAL_SECONDS * 1000);
  context.progress(`  history read: ${JSON.stringify(history)}`);
  return {
    collectors,
    rounds,
    history,
    scraperPeakKilobytes: peaks,
    scraperBaselineKilobytes: baseline,
    storedPaths: stored,
    victoriaKilobytes: await victoriaMemory(victoria.dataDirectory),
  };
}

const HEADER = [
  "hosts (collectors)",
  "paths per interval",
  "round",
  "one interval written (slower scraper)",
  "samples/s into the TSDB",
  "dropped / rejected / failed scrapes",
  "scraper peak RSS (each)",
  "path series stored",
  "VictoriaMetrics RSS",
  "history read back (--history-from)",
];

function rows(results: readonly FleetResult[]): string[][] {
  return results.flatMap((fleet) =>
    fleet.rounds.map((round, index) => [
      `${number(fleet.collectors)} (${round.shares.join(" + ")})`,
      number(round.points),
      index === 0 ? "1 (new series)" : `${index + 1}`,
      `${(round.writtenMilliseconds / 1000).toFixed(2)} s`,
      number(samplesPerSecond(round)),
      `${round.dropped} / ${round.rejected} / ${round.failed}`,
      `${fleet.scraperPeakKilobytes.map(mebibytes).join(" / ")} (at start ${
        mebibytes(fleet.scraperBaselineKilobytes)
      })`,
      `${number(fleet.storedPaths)} of ${number(round.points)}`,
      fleet.victoriaKilobytes === undefined ? "—" : mebibytes(fleet.victoriaKilobytes),
      index > 0
        ? ""
        : "error" in fleet.history
        ? `failed: ${fleet.history.error}`
        : `${number(fleet.history.paths)} paths of ${fleet.history.intervals} intervals in ` +
          `${(fleet.history.milliseconds / 1000).toFixed(2)} s`,
    ])
  );
}

function samplesPerSecond(round: FleetRound): number {
  return (round.points * SAMPLES_PER_PATH) / (round.writtenMilliseconds / 1000);
}

function number(value: number): string {
  return Math.round(value).toLocaleString("en-US");
}

function mebibytes(kilobytes: number): string {
  return `${Math.round(kilobytes / 1024)} MiB`;
}

function method(plan: Plan): string {
  return `Method: per fleet size, a fresh VictoriaMetrics (\`tests/_servers.ts\`) and a collector ` +
    `double (\`bench/_collector_double.ts\`) serving N collectors of ${plan.paths} paths each ` +
    "(real summary JSON, every path its own series). Two scrapers, each a process of its own " +
    "(`bench/_scrape_rounds.ts`, the library scraper), list every collector and take their " +
    "share by `sharding: {identity, members: [scraper-1, scraper-2]}` (rendezvous hashing; the " +
    "shares are in the first column) and write through `remote_write` " +
    `(\`paths: all\`, each with its own \`labels: {scraper: …}\`): ${SAMPLES_PER_PATH} samples ` +
    "per path, plus the per-group aggregates. Both scrape at once; a round's time is the slower " +
    "scraper's, from `scrapeNow()` to `drained()`; samples/s = paths × " +
    `${SAMPLES_PER_PATH} / that time. Round 2 is a new interval of the same series (each ` +
    "scraper process starts afresh per round, so peak RSS is one round's). Path series stored " +
    "is `count(llama_path_probes_sent)` afterwards.";
}

/** The fleet simulation. */
const fleetBenchmark: Benchmark = {
  description:
    "Fleet simulation: synthetic collectors → two scrapers → VictoriaMetrics, at growing sizes",
  usage: formatUsage("deno task bench fleet", FLAGS),
  async run(context) {
    const { plan, record } = choosePlan(context, FLAGS, { full: FULL_PLAN, quick: QUICK_PLAN });
    const results: FleetResult[] = [];
    for (const collectors of plan.fleets) {
      context.progress(`${collectors} collectors…`);
      results.push(await measureFleet(context, plan, collectors));
    }
    return {
      summary: textTable(HEADER, rows(results)),
      record: record
        ? [markdownTable(HEADER, rows(results)), "", method(plan)].join("\n")
        : undefined,
    };
  },
};

export default fleetBenchmark;
