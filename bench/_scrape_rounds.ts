/**
 * One scraper scenario of the scraper benchmark, in a process of its own so that its peak memory
 * is its own: starts the library scraper (`startScraper`) on collectors `/c1/` … `/cN/` of a
 * collector double (`bench/_collector_double.ts`), runs rounds of `scrapeNow()` then
 * `drained()`, and prints one JSON line of timings and memory on stdout.
 *
 *     deno run -A bench/_scrape_rounds.ts --double http://127.0.0.1:PORT/ --collectors 100 \
 *       --output count --rounds 2
 *     deno run -A bench/_scrape_rounds.ts --double … --output influxdb \
 *       --influx http://127.0.0.1:8086 --database llama
 *     deno run -A bench/_scrape_rounds.ts --double … --output remote_write \
 *       --remote-write http://127.0.0.1:8428/api/v1/write --shard scraper-2 --label scraper-2
 *     deno run -A bench/_scrape_rounds.ts --double … --output transfer   # GETs only
 *
 * Before every round but the first it asks the double to move to the next interval. No tag
 * resolver is configured: the round time is the scraper's own processing.
 *
 * @module
 */
import { formatUsage, parseFlags, UsageError } from "@llama/core";
import { type OutputPlugin, PLUGIN_CONTRACT_VERSION } from "@llama/plugins";
import {
  loadScraperPlugins,
  parseScraperConfig,
  type ScraperPlugins,
  startScraper,
} from "@llama/scraper";

const FLAGS = {
  double: { type: "string", description: "Base URL of the collector double" },
  collectors: { type: "number", default: 100, description: "Collectors to scrape: /c1/ … /cN/" },
  first: {
    type: "number",
    default: 1,
    description: "Number of the first collector (a shard of the double: /cFIRST/ onwards)",
  },
  output: {
    type: "string",
    default: "count",
    description:
      "count (an in-process output that counts), influxdb, remote_write, or transfer (GETs only)",
  },
  "remote-write": { type: "string", description: "Receiver URL, for --output remote_write" },
  label: { type: "string", default: "scraper-1", description: "remote_write's scraper label" },
  shard: {
    type: "string",
    description: "Take this member's share of the collectors: sharding with members MEMBERS",
  },
  members: { type: "string", default: "scraper-1,scraper-2", description: "Sharding members" },
  influx: { type: "string", description: "InfluxDB URL, for --output influxdb" },
  database: { type: "string", default: "llama", description: "InfluxDB database" },
  rounds: { type: "number", default: 1, description: "Rounds of scrape-then-drain" },
  "batch-points": { type: "number", default: 5000, description: "Points per write" },
  "memory-points": {
    type: "number",
    default: 5_000_000,
    description: "Points an output may queue in memory (the scraper's default is 100,000)",
  },
} as const;

/** What one round took, in milliseconds from its start. */
export interface RoundResult {
  /** `scrapeNow()` resolved: every collector fetched, parsed, turned into points and queued. */
  scrapedMilliseconds: number;
  /** `drained()` resolved: the output has written everything. */
  writtenMilliseconds: number;
  /** Median and largest duration of one collector's scrape (GET, JSON, points). */
  collectorMedianMilliseconds: number;
  collectorMaxMilliseconds: number;
  /** Points scraped in the round. */
  points: number;
  /** The output host's counters after the round. */
  written: number;
  dropped: number;
  rejected: number;
  failures: number;
  /** Collectors whose scrape failed. */
  failed: number;
}

/** The JSON line this program prints. */
export interface ScenarioResult {
  output: string;
  collectors: number;
  rounds: RoundResult[];
  /** For `--output transfer`: milliseconds to GET every body, and their total size. */
  transfer?: { milliseconds: number; bytes: number };
  /** Points the counting output was given. */
  counted?: number;
  /** Resident memory before the first round, and the process's peak (VmHWM), in KiB. */
  baselineRssKilobytes: number;
  peakRssKilobytes: number;
}

async function readMemory(): Promise<{ rss: number; peak: number }> {
  const status = await Deno.readTextFile("/proc/self/status");
  const field = (name: string) =>
    Number(new RegExp(`^${name}:\\s+(\\d+) kB$`, "m").exec(status)?.[1]);
  return { rss: field("VmRSS"), peak: field("VmHWM") };
}

function counter(): { plugins: ScraperPlugins; count: () => number } {
  let points = 0;
  const plugin: OutputPlugin = {
    kind: "output",
    name: "count",
    contract: PLUGIN_CONTRACT_VERSION,
    parseOptions: () => ({}),
    create: () => ({
      write(batch) {
        points += batch.length;
        return Promise.resolve();
      },
    }),
  };
  return {
    plugins: { outputs: [{ plugin, name: "count", options: {}, path: "outputs[0]" }], tags: [] },
    count: () => points,
  };
}

function configText(
  double: URL,
  collectors: number,
  values: {
    first: number;
    shard?: string;
    members: string;
    output: string;
    remoteWrite?: string;
    label: string;
    influx?: string;
    database: string;
    batchPoints: number;
    memoryPoints: number;
  },
): string {
  // Scheduled rounds must not run during the benchmark: the next one is about 12 h away.
  const secondOfDay = Math.floor(Date.now() / 1000) % 86400;
  return [
    "collectors:",
    ...Array.from(
      { length: collectors },
      (_, index) => {
        const number = values.first + index;
        return `  - {url: "${new URL(`c${number}/`, double).href}", name: c${number}}`;
      },
    ),
    ...(values.shard === undefined ? [] : [
      `sharding: {identity: ${values.shard}, members: [${values.members}]}`,
    ]),
    "interval: 86400",
    `offset: ${(secondOfDay + 43200) % 86400}`,
    "timeout: 300",
    "write_timeout_ms: 300000",
    `buffer: {memory_points: ${values.memoryPoints}, batch_points: ${values.batchPoints}}`,
    ...(values.output === "influxdb"
      ? [
        "outputs:",
        `  - {use: influxdb, options: {url: "${values.influx}", database: ${values.database}}}`,
      ]
      : []),
    ...(values.output === "remote_write"
      ? [
        "outputs:",
        `  - {use: remote_write, options: {url: "${values.remoteWrite}", paths: all, ` +
        `labels: {scraper: ${values.label}}}}`,
      ]
      : []),
    "",
  ].join("\n");
}

async function transfer(double: URL, collectors: number): Promise<ScenarioResult["transfer"]> {
  const started = performance.now();
  const sizes = await Promise.all(
    Array.from({ length: collectors }, async (_, index) => {
      const response = await fetch(new URL(`c${index + 1}/api/v1/summaries?flows=false`, double));
      return (await response.arrayBuffer()).byteLength;
    }),
  );
  return {
    milliseconds: performance.now() - started,
    bytes: sizes.reduce((sum, size) => sum + size, 0),
  };
}

async function main(args: readonly string[]): Promise<number> {
  let values;
  try {
    ({ values } = parseFlags(args, FLAGS));
    if (values.double === undefined) throw new UsageError("--double is required");
    if (!["count", "influxdb", "remote_write", "transfer"].includes(values.output)) {
      throw new UsageError(
        `--output takes count, influxdb, remote_write or transfer, got "${values.output}"`,
      );
    }
    if (values.output === "remote_write" && values["remote-write"] === undefined) {
      throw new UsageError("--output remote_write needs --remote-write URL");
    }
    if (values.output === "influxdb" && values.influx === undefined) {
      throw new UsageError("--output influxdb needs --influx");
    }
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    console.error(`${error.message}\n\n${formatUsage("bench/_scrape_rounds.ts", FLAGS)}`);
    return 2;
  }
  const double = new URL(values.double);
  const { collectors, output } = values;
  const baseline = await readMemory();
  if (output === "transfer") {
    const result: ScenarioResult = {
      output,
      collectors,
      rounds: [],
      transfer: await transfer(double, collectors),
      baselineRssKilobytes: baseline.rss,
      peakRssKilobytes: (await readMemory()).peak,
    };
    console.log(JSON.stringify(result));
    return 0;
  }
  const text = configText(double, collectors, {
    first: values.first,
    shard: values.shard,
    members: values.members,
    output,
    remoteWrite: values["remote-write"],
    label: values.label,
    influx: values.influx,
    database: values.database,
    batchPoints: values["batch-points"],
    memoryPoints: values["memory-points"],
  });
  const config = parseScraperConfig(text);
  const counting = counter();
  const plugins = output === "count" ? counting.plugins : await loadScraperPlugins(config, text);
  await using scraper = await startScraper(config, plugins);
  const rounds: RoundResult[] = [];
  let pointsBefore = 0;
  for (let round = 0; round < values.rounds; round++) {
    if (round > 0) {
      const advanced = await fetch(new URL("advance", double), { method: "POST" });
      await advanced.body?.cancel();
    }
    const started = performance.now();
    await scraper.scrapeNow();
    const scraped = performance.now();
    if (!await scraper.drained(600_000)) throw new Error("The output did not drain in 10 minutes");
    const written = performance.now();
    const statuses = scraper.collectors();
    const durations = statuses.map((status) => status.lastDurationMs).sort((a, b) => a - b);
    const points = statuses.reduce((sum, status) => sum + status.points, 0);
    const counters = scraper.outputs()[0].counters;
    rounds.push({
      scrapedMilliseconds: scraped - started,
      writtenMilliseconds: written - started,
      collectorMedianMilliseconds: durations[Math.floor(durations.length / 2)],
      collectorMaxMilliseconds: durations[durations.length - 1],
      points: points - pointsBefore,
      written: counters.written,
      dropped: counters.dropped,
      rejected: counters.rejected,
      failures: counters.failures,
      failed: statuses.filter((status) => !status.up).length,
    });
    pointsBefore = points;
  }
  const result: ScenarioResult = {
    output,
    // With --shard, this scraper's share.
    collectors: config.collectors.length,
    rounds,
    counted: output === "count" ? counting.count() : undefined,
    baselineRssKilobytes: baseline.rss,
    peakRssKilobytes: (await readMemory()).peak,
  };
  console.log(JSON.stringify(result));
  return 0;
}

if (import.meta.main) Deno.exit(await main(Deno.args));
