/**
 * The scraper benchmark: `deno task bench scraper [--quick [--record]]`.
 *
 * Against a test double of the collector API (`bench/_collector_double.ts`: one `Deno.serve`
 * answering `/cN/api/v1/summaries` with prebuilt summaries of 10,000 paths each) it measures:
 *
 * - how many points per second the scraper's output host writes into a real InfluxDB 1.x
 *   (`influxd` from `tests/_servers.ts`), in batches of 5,000, first into new series and then
 *   into existing ones, counting the points stored afterwards;
 * - the time to scrape 100 collectors × 10,000 paths, into an output that only counts and into
 *   the real InfluxDB: all fetched and turned into points (no tag resolver), all written, and
 *   the scraper's peak memory.
 *
 * Each scraper scenario runs in a process of its own (`bench/_scrape_rounds.ts`) so that its
 * peak memory is its own.
 *
 * @module
 */
import { formatUsage } from "@llama/core";
import { type InfluxServer, startInfluxd } from "../tests/_servers.ts";
import type { RoundResult, ScenarioResult } from "./_scrape_rounds.ts";
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

const FLAGS = planFlags(
  "20 collectors of 5,000 paths instead of 100 of 10,000: a smoke test",
);

/** How big a run is. */
interface Plan {
  /** Collectors the double serves, all scraped in the scale scenarios. */
  collectors: number;
  /** Paths per collector. */
  paths: number;
  /** Collectors scraped in the InfluxDB throughput scenario. */
  throughputCollectors: number;
}

const FULL_PLAN: Plan = { collectors: 100, paths: 10_000, throughputCollectors: 20 };
const QUICK_PLAN: Plan = { collectors: 20, paths: 5_000, throughputCollectors: 10 };

/** Points per write, as the scraper's default. */
const BATCH_POINTS = 5000;
/**
 * Points an output may queue in memory: all of a round. The scraper's default, 100,000, would
 * drop (and count) the oldest points of a 1,000,000-point round while InfluxDB catches up.
 */
const MEMORY_POINTS = 5_000_000;
/** Rounds per scenario: the first writes new series, the second existing ones. */
const ROUNDS = 2;
/** The target: every point of 100 collectors × 10,000 paths written within this. */
const TARGET_WRITTEN_MILLISECONDS = 5000;

interface Scenario {
  name: string;
  result: ScenarioResult;
  /** Points InfluxDB holds afterwards, and how many it should. */
  stored?: { count: number; expected: number };
}

interface Results {
  plan: Plan;
  throughput: Scenario;
  transfer: Scenario;
  counting: Scenario;
  influx: Scenario;
  /** influxd's peak resident memory, KiB. */
  influxdPeakKilobytes: number | undefined;
  /** `influxd version`. */
  influxdVersion: string;
}

interface RunSetup {
  context: BenchmarkContext;
  doubleUrl: string;
}

async function runScenario(
  name: string,
  args: readonly string[],
  setup: RunSetup,
): Promise<ScenarioResult> {
  const { context } = setup;
  context.progress(`${name}…`);
  const command = [
    ...["run", "-A", "bench/_scrape_rounds.ts", "--double", setup.doubleUrl],
    ...["--batch-points", `${BATCH_POINTS}`, "--memory-points", `${MEMORY_POINTS}`, ...args],
  ];
  const output = await new Deno.Command(Deno.execPath(), {
    args: command,
    cwd: context.repositoryRoot,
    env: { NO_COLOR: "1" },
    stdin: "null",
    signal: context.signal,
  }).output();
  context.signal.throwIfAborted();
  const stdout = new TextDecoder().decode(output.stdout).trim();
  if (!output.success) {
    const stderr = new TextDecoder().decode(output.stderr).trim();
    throw new Error(
      `deno ${command.join(" ")} failed (exit code ${output.code}):\n${stderr.slice(-4000)}`,
    );
  }
  const result = JSON.parse(stdout.split("\n").at(-1)!) as ScenarioResult;
  for (const [index, round] of result.rounds.entries()) {
    context.progress(`  round ${index + 1}: ${describeRound(round)}`);
  }
  if (result.transfer !== undefined) {
    context.progress(
      `  ${formatBytes(result.transfer.bytes)} in ${formatSeconds(result.transfer.milliseconds)}`,
    );
  }
  context.progress(`  peak RSS ${formatMebibytes(result.peakRssKilobytes)}`);
  return result;
}

async function countStored(influx: InfluxServer, database: string): Promise<number> {
  const rows = await influx.rows('SELECT COUNT("sent") FROM "raw_stats"', database);
  return Number(rows[0]?.count ?? 0);
}

/** Peak resident memory (VmHWM) of the influxd whose config lives in `directory`. */
async function influxdPeak(directory: string): Promise<number | undefined> {
  for await (const entry of Deno.readDir("/proc")) {
    if (!/^\d+$/.test(entry.name)) continue;
    const commandLine = await Deno.readTextFile(`/proc/${entry.name}/cmdline`).catch(() => "");
    if (!commandLine.includes(`${directory}/influxdb.conf`)) continue;
    const status = await Deno.readTextFile(`/proc/${entry.name}/status`).catch(() => "");
    const peak = /^VmHWM:\s+(\d+) kB$/m.exec(status);
    if (peak !== null) return Number(peak[1]);
  }
  return undefined;
}

/** `influxd version`'s answer, such as `InfluxDB v1.6.7~rc0 (git: unknown unknown)`. */
async function influxdVersion(): Promise<string> {
  try {
    const output = await new Deno.Command("influxd", { args: ["version"], stderr: "null" })
      .output();
    return new TextDecoder().decode(output.stdout).trim();
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
    throw new PrerequisiteError("influxd (InfluxDB 1.x) is not on PATH: it is the output measured");
  }
}

async function measure(plan: Plan, context: BenchmarkContext): Promise<Results> {
  const version = await influxdVersion();
  context.progress(`Starting influxd (${version})`);
  await using influx = await startInfluxd();
  context.progress(
    `Building the collector double: ${plan.collectors} collectors × ` +
      `${formatNumber(plan.paths)} paths`,
  );
  await using double = await spawnUntilReady(Deno.execPath(), {
    args: [
      ...["run", "-A", "bench/_collector_double.ts"],
      ...["--collectors", `${plan.collectors}`, "--paths", `${plan.paths}`],
    ],
    cwd: context.repositoryRoot,
    readyPattern: /Serving .* on (?<url>http:\/\/\S+)/,
    timeoutMilliseconds: 120_000,
    signal: context.signal,
  });
  const setup: RunSetup = { context, doubleUrl: double.ready.groups!.url };
  const influxArgs = (database: string) => [
    ...["--output", "influxdb", "--influx", influx.url, "--database", database],
  ];

  const throughputPoints = plan.throughputCollectors * plan.paths;
  const throughputResult = await runScenario(
    `InfluxDB throughput: ${plan.throughputCollectors} collectors × ${
      formatNumber(plan.paths)
    } paths, ${ROUNDS} rounds`,
    [
      ...influxArgs("llama_throughput"),
      "--collectors",
      `${plan.throughputCollectors}`,
      "--rounds",
      `${ROUNDS}`,
    ],
    setup,
  );
  const throughput: Scenario = {
    name: "throughput",
    result: throughputResult,
    stored: {
      count: await countStored(influx, "llama_throughput"),
      expected: throughputPoints * ROUNDS,
    },
  };

  const scaleArgs = ["--collectors", `${plan.collectors}`];
  const transfer: Scenario = {
    name: "transfer",
    result: await runScenario(
      `GETs only: ${plan.collectors} collectors' summaries`,
      [...scaleArgs, "--output", "transfer"],
      setup,
    ),
  };
  const counting: Scenario = {
    name: "counting",
    result: await runScenario(
      `${plan.collectors} collectors × ${formatNumber(plan.paths)} paths into a counting output`,
      [...scaleArgs, "--output", "count", "--rounds", `${ROUNDS}`],
      setup,
    ),
  };
  const influxResult = await runScenario(
    `${plan.collectors} collectors × ${formatNumber(plan.paths)} paths into InfluxDB`,
    [...scaleArgs, ...influxArgs("llama_scale"), "--rounds", `${ROUNDS}`],
    setup,
  );
  const influxScenario: Scenario = {
    name: "influx",
    result: influxResult,
    stored: {
      count: await countStored(influx, "llama_scale"),
      expected: plan.collectors * plan.paths * ROUNDS,
    },
  };
  return {
    plan,
    throughput,
    transfer,
    counting,
    influx: influxScenario,
    influxdPeakKilobytes: await influxdPeak(influx.dataDirectory),
    influxdVersion: version,
  };
}

// ---- formatting --------------------------------------------------------------------------------

function formatNumber(value: number | null | undefined, digits = 0): string {
  return value == null || !Number.isFinite(value) ? "n/a" : value.toLocaleString("en-US", {
    minimumFractionDigits: digits,
    maximumFractionDigits: digits,
  });
}

function formatSeconds(milliseconds: number): string {
  return `${formatNumber(milliseconds / 1000, 2)} s`;
}

function formatMebibytes(kilobytes: number | undefined): string {
  return kilobytes === undefined ? "n/a" : `${formatNumber(kilobytes / 1024)} MiB`;
}

function formatBytes(bytes: number): string {
  return `${formatNumber(bytes / 1024 / 1024, 1)} MiB`;
}

function pointsPerSecond(round: RoundResult): number {
  return round.points / (round.writtenMilliseconds / 1000);
}

function describeRound(round: RoundResult): string {
  return `${formatNumber(round.points)} points; scraped and queued in ` +
    `${formatSeconds(round.scrapedMilliseconds)} (one collector: median ` +
    `${formatSeconds(round.collectorMedianMilliseconds)}, slowest ` +
    `${formatSeconds(round.collectorMaxMilliseconds)}), all written in ` +
    `${formatSeconds(round.writtenMilliseconds)} (${formatNumber(pointsPerSecond(round))} ` +
    `points/s); dropped ${round.dropped}, rejected ${round.rejected}, write failures ` +
    `${round.failures}, failed scrapes ${round.failed}`;
}

const ROUND_NAMES = ["new series", "existing series"];

function storedCell(scenario: Scenario): string {
  const stored = scenario.stored;
  if (stored === undefined) return "—";
  return `${formatNumber(stored.count)} of ${formatNumber(stored.expected)}` +
    (stored.count === stored.expected ? "" : " (MISSING POINTS)");
}

function headlineRows(results: Results): string[][] {
  const { plan, throughput, transfer, counting, influx } = results;
  const scale = `${plan.collectors} collectors × ${formatNumber(plan.paths)} paths`;
  const target = `≤ ${formatNumber(TARGET_WRITTEN_MILLISECONDS / 1000)} s`;
  const met = (round: RoundResult) =>
    round.writtenMilliseconds <= TARGET_WRITTEN_MILLISECONDS && round.dropped === 0 &&
      round.rejected === 0 && round.failed === 0
      ? "met"
      : "not met";
  return [
    ...throughput.result.rounds.map((round, index) => [
      `InfluxDB write rate through the output host, ${formatNumber(round.points)} points, ` +
      `${ROUND_NAMES[index]}`,
      `${formatNumber(pointsPerSecond(round))} points/s (all written in ` +
      `${formatSeconds(round.writtenMilliseconds)}; scraped in ` +
      `${formatSeconds(round.scrapedMilliseconds)})`,
      "—",
      "—",
    ]),
    [
      `InfluxDB points stored after the throughput rounds`,
      storedCell(throughput),
      "all",
      throughput.stored?.count === throughput.stored?.expected ? "met" : "not met",
    ],
    [
      `${scale}: GET every summary, no parsing (${formatBytes(transfer.result.transfer!.bytes)})`,
      formatSeconds(transfer.result.transfer!.milliseconds),
      "—",
      "—",
    ],
    ...counting.result.rounds.map((round, index) => [
      `${scale} into a counting output, round ${index + 1}: all scraped and turned into points ` +
      "(no tag resolver)",
      `${formatSeconds(round.scrapedMilliseconds)} (one collector: median ` +
      `${formatSeconds(round.collectorMedianMilliseconds)}, slowest ` +
      `${formatSeconds(round.collectorMaxMilliseconds)})`,
      "—",
      "—",
    ]),
    ...counting.result.rounds.map((round, index) => [
      `${scale} into a counting output, round ${index + 1}: processing alone (all scraped and ` +
      "queued, less the GETs-only time)",
      `≈ ${formatSeconds(round.scrapedMilliseconds - transfer.result.transfer!.milliseconds)}`,
      "—",
      "—",
    ]),
    ...counting.result.rounds.map((round, index) => [
      `${scale} into a counting output, round ${index + 1}: all written`,
      formatSeconds(round.writtenMilliseconds),
      target,
      met(round),
    ]),
    ...influx.result.rounds.map((round, index) => [
      `${scale} into InfluxDB, ${ROUND_NAMES[index]}: all written`,
      `${formatSeconds(round.writtenMilliseconds)} (scraped in ` +
      `${formatSeconds(round.scrapedMilliseconds)}; ${formatNumber(pointsPerSecond(round))} ` +
      "points/s)",
      target,
      met(round),
    ]),
    [
      `InfluxDB points stored after the ${scale} rounds`,
      storedCell(influx),
      "all",
      influx.stored?.count === influx.stored?.expected ? "met" : "not met",
    ],
    [
      "scraper peak RSS (VmHWM), counting output / InfluxDB output",
      `${formatMebibytes(counting.result.peakRssKilobytes)} / ${
        formatMebibytes(influx.result.peakRssKilobytes)
      } (at start ${formatMebibytes(counting.result.baselineRssKilobytes)})`,
      "—",
      "—",
    ],
    [
      "influxd peak RSS over the whole run",
      formatMebibytes(results.influxdPeakKilobytes),
      "—",
      "—",
    ],
  ];
}

const HEADLINE_HEADER = ["measure", "this run", "target", "verdict"];

function roundRows(results: Results): string[][] {
  const scenarios: [string, Scenario][] = [
    [`InfluxDB, ${results.plan.throughputCollectors} collectors`, results.throughput],
    [`counting output, ${results.plan.collectors} collectors`, results.counting],
    [`InfluxDB, ${results.plan.collectors} collectors`, results.influx],
  ];
  return scenarios.flatMap(([name, scenario]) =>
    scenario.result.rounds.map((round, index) => [
      name,
      `${index + 1}`,
      formatNumber(round.points),
      formatSeconds(round.collectorMedianMilliseconds),
      formatSeconds(round.collectorMaxMilliseconds),
      formatSeconds(round.scrapedMilliseconds),
      formatSeconds(round.writtenMilliseconds),
      formatNumber(pointsPerSecond(round)),
      `${round.dropped} / ${round.rejected} / ${round.failures} / ${round.failed}`,
      formatMebibytes(scenario.result.peakRssKilobytes),
    ])
  );
}

const ROUND_HEADER = [
  "scenario",
  "round",
  "points",
  "one collector, median",
  "one collector, slowest",
  "all scraped and queued",
  "all written",
  "points/s (written)",
  "dropped / rejected / write failures / failed scrapes",
  "scraper peak RSS",
];

function describeMethod(plan: Plan, influxdVersion: string): string {
  return [
    `Method: a collector double (\`bench/_collector_double.ts\`, one \`Deno.serve\` on ` +
    `127.0.0.1 in its own process) serves \`/cN/api/v1/summaries\` for N = 1..${plan.collectors}, ` +
    `each a prebuilt summary of ${formatNumber(plan.paths)} paths shaped like the collector's ` +
    "`PathSummary` (tags, TOS, counters, an `rtt` object, jitter, an empty `flows` list), with " +
    "source address 10.1.N.1, so that every path is its own series. Each scenario is a fresh " +
    "process (`bench/_scrape_rounds.ts`) running the library scraper (`parseScraperConfig`, " +
    "`loadScraperPlugins`, `startScraper`) with collectors given as `{url: " +
    "http://127.0.0.1:PORT/cN/, name: cN}` (the name is needed: by default it is the URL's " +
    "host and port, the same for every collector here, and a name listed twice is refused), no " +
    "tag resolver, `buffer: {memory_points: " +
    `${MEMORY_POINTS}, batch_points: ${BATCH_POINTS}}\` (the default memory_points, 100,000, ` +
    `would drop most of a round while InfluxDB catches up), and ${ROUNDS} rounds: ` +
    "`scrapeNow()` (every " +
    "collector fetched, parsed, turned into points and queued), then `drained()` (every point " +
    "written); before the second round the double moves to the next interval, so the second " +
    "round writes the same series at a new time. Times are from the start of each round; " +
    "points/s = points / time until all written. The InfluxDB output is the built-in " +
    `\`influxdb\` (1.x API, precision s) writing to influxd (\`${influxdVersion}\`) from ` +
    "`tests/_servers.ts` (inmem index, default settings); its count is " +
    '`SELECT COUNT("sent") FROM "raw_stats"` afterwards. The counting output is an in-process ' +
    "plugin that only adds up the points it is given. Peak RSS is the scenario process's VmHWM.",
  ].join(" ");
}

function formatSummary(results: Results): string {
  return [
    textTable(HEADLINE_HEADER, headlineRows(results)),
    "",
    textTable(ROUND_HEADER, roundRows(results)),
  ].join("\n");
}

function formatRecord(results: Results): string {
  return [
    markdownTable(HEADLINE_HEADER, headlineRows(results)),
    "",
    "Every round:",
    "",
    markdownTable(ROUND_HEADER, roundRows(results)),
    "",
    describeMethod(results.plan, results.influxdVersion),
  ].join("\n");
}

/** The scraper benchmark. */
const scraperBenchmark: Benchmark = {
  description: "Scraper: points/s into InfluxDB through the output host, and the time to scrape " +
    "and write 100 collectors × 10,000 paths",
  usage: formatUsage("deno task bench scraper", FLAGS),
  async run(context) {
    const { plan, record } = choosePlan(context, FLAGS, { full: FULL_PLAN, quick: QUICK_PLAN });
    const results = await measure(plan, context);
    return {
      summary: formatSummary(results),
      record: record ? formatRecord(results) : undefined,
    };
  },
};

export default scraperBenchmark;
