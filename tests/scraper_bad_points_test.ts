// Points a real InfluxDB cannot take (a NUL byte, a trailing backslash in a tag) are set aside in
// the dead-letter file and counted; they never hold back the good points behind them, and
// `--once` says, by its exit code, that something was refused.
import assert from "node:assert/strict";
import { assertRequirement, requirement } from "./_requirements.ts";
import { startInfluxd } from "./_servers.ts";
import { runProgram, startProgram } from "./_process.ts";
import { parsePrometheusText } from "./_prometheus.ts";
import { eventually, intervalCollector, pathTo, quietMoment } from "./_interval_collector.ts";

const needs = requirement({ commands: ["influxd"] });

/**
 * A tag resolver (user code, as a plugin may be) that gives the bad collector's addresses tags
 * line protocol cannot carry: a NUL byte beside a trailing backslash (InfluxDB refuses the line
 * and echoes it, NUL included, in a response header that fetch cannot read), or a trailing
 * backslash alone (InfluxDB answers "partial write").
 */
const HOSTILE_RESOLVER = `export default {
  kind: "tags", name: "hostile", contract: 1,
  parseOptions: () => ({}),
  create: () => ({
    resolve: (address) =>
      address === "10.9.2.1" ? { hostname: "evil\\u0000host", rack: "r1\\\\" }
      : address === "10.9.2.2" ? { hostname: "ends-in\\\\" }
      : {},
  }),
};
`;

interface DeadLetter {
  refusedAt: string;
  output: string;
  reason: string;
  point: { tags: Record<string, string>; time: number };
}

async function deadLetters(file: string): Promise<DeadLetter[]> {
  try {
    return (await Deno.readTextFile(file)).split("\n").filter((line) => line !== "")
      .map((line) => JSON.parse(line));
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return [];
    throw error;
  }
}

async function writeConfig(directory: string, collectors: string[], influxUrl: string) {
  await Deno.writeTextFile(`${directory}/hostile_tags.ts`, HOSTILE_RESOLVER);
  const config = `${directory}/scraper.yaml`;
  await Deno.writeTextFile(
    config,
    `collectors: [${collectors.map((url) => `"${url}"`).join(", ")}]
interval: 1
offset: 0.1
timeout: 0.5
data_directory: ./data
metrics: 127.0.0.1:0
retry: { initial_ms: 100, max_ms: 400 }
write_timeout_ms: 1000
outputs:
  - use: influxdb
    options: { url: "${influxUrl}", database: hostile }
tags:
  - use: ./hostile_tags.ts
`,
  );
  return config;
}

Deno.test({
  name:
    "points InfluxDB cannot take (NUL, trailing backslash) never hold back a good collector's; they are kept in the dead-letter file and counted",
  ignore: needs.ignore,
  async fn() {
    assertRequirement(needs);
    await using influx = await startInfluxd();
    await using good = intervalCollector([pathTo("10.9.1.1"), pathTo("10.9.1.2")]);
    await using bad = intervalCollector([pathTo("10.9.2.1"), pathTo("10.9.2.2")]);
    const directory = await Deno.makeTempDir({ prefix: "llama-scraper-hostile-" });
    try {
      const config = await writeConfig(directory, [bad.url, good.url], influx.url);
      await using scraper = await startProgram("scraper/main.ts", ["--config", config], {
        readyPattern: /Serving metrics on http:\/\/(\S+)\/metrics/,
      });
      const metrics = async () =>
        parsePrometheusText(await (await fetch(`http://${scraper.ready[1]}/metrics`)).text());
      // A few intervals, each with a bad batch ahead of (or beside) the good one.
      await eventually(() => good.served.size >= 4 && bad.served.size >= 4, () => "4 scrapes");
      await quietMoment();
      good.freeze();
      bad.freeze();
      // Nothing new comes in now: everything taken must be written or set aside.
      await eventually(
        async () => (await metrics()).get('llama_scraper_queue_points{output="influxdb"}') === 0,
        () => `the queue never emptied; the scraper said:\n${scraper.stderr().slice(-3000)}`,
      );
      const counted = await metrics();
      assert.equal((await scraper.stop("SIGTERM")).code, 0, scraper.stderr());

      const rows = await influx.rows("SELECT * FROM raw_stats", "hostile");
      const stored = new Set(rows.map((row) => `${row.dst_ip} ${row.time}`));
      const missing = [...good.served].flatMap((time) =>
        ["10.9.1.1", "10.9.1.2"].map((ip) => `${ip} ${time}`)
      ).filter((key) => !stored.has(key));
      assert.deepEqual(missing, [], "every good point of every interval is in InfluxDB");
      assert.deepEqual(rows.filter((row) => String(row.dst_ip).startsWith("10.9.2.")), []);

      const letters = await deadLetters(`${directory}/data/spool/influxdb/dead-letter.jsonl`);
      const expected = [...bad.served].flatMap((time) =>
        ["10.9.2.1", "10.9.2.2"].map((ip) => `${ip} ${time}`)
      ).sort();
      assert.deepEqual(
        letters.map((letter) => `${letter.point.tags.dst_ip} ${letter.point.time}`).sort(),
        expected,
        "every bad point is kept, once",
      );
      const nul = letters.find((letter) => letter.point.tags.dst_ip === "10.9.2.1")!;
      assert.equal(nul.point.tags.dst_hostname, "evil\u0000host", "kept as it was");
      assert.match(nul.reason, /dst_hostname.*U\+0000/);
      const slash = letters.find((letter) => letter.point.tags.dst_ip === "10.9.2.2")!;
      assert.match(slash.reason, /dst_hostname.*ends with a backslash/);
      assert.equal(
        counted.get('llama_scraper_points_rejected_total{output="influxdb"}'),
        expected.length,
      );
      assert.match(scraper.stderr(), /refused 1 points for good: .*kept in .*dead-letter\.jsonl/);
    } finally {
      await Deno.remove(directory, { recursive: true });
    }
  },
});

Deno.test({
  name: "scraper --once exits 1 when a point was refused, and still writes the good ones",
  ignore: needs.ignore,
  async fn() {
    assertRequirement(needs);
    await using influx = await startInfluxd();
    await using collector = intervalCollector([pathTo("10.9.1.1"), pathTo("10.9.2.2")]);
    const directory = await Deno.makeTempDir({ prefix: "llama-scraper-once-" });
    try {
      const config = await writeConfig(directory, [collector.url], influx.url);
      const once = await runProgram("scraper/main.ts", ["--config", config, "--once"]);
      assert.equal(once.code, 1, once.stderr);
      assert.match(once.stderr, /1 points were refused for good/);
      const rows = await influx.rows("SELECT * FROM raw_stats", "hostile");
      assert.deepEqual(rows.map((row) => row.dst_ip), ["10.9.1.1"]);
      const letters = await deadLetters(`${directory}/data/spool/influxdb/dead-letter.jsonl`);
      assert.deepEqual(letters.map((letter) => letter.point.tags.dst_hostname), ["ends-in\\"]);

      // Nothing refused: exit 0.
      await Deno.writeTextFile(
        `${directory}/hostile_tags.ts`,
        HOSTILE_RESOLVER.replaceAll("\\\\", ""),
      );
      const clean = await runProgram("scraper/main.ts", ["--config", config, "--once"]);
      assert.equal(clean.code, 0, clean.stderr);
    } finally {
      await Deno.remove(directory, { recursive: true });
    }
  },
});
