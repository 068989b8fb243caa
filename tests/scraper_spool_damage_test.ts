// A damaged spool (an empty file, one cut short, JSON of another shape) neither stops the
// scraper from starting nor holds back the rest: the damaged files are moved aside, logged and
// counted, and every good batch is written to a real InfluxDB.
import assert from "node:assert/strict";
import { assertRequirement, requirement } from "./_requirements.ts";
import { startInfluxd } from "./_servers.ts";
import { runProgram } from "./_process.ts";
import { intervalCollector, pathTo } from "./_interval_collector.ts";

const needs = requirement({ commands: ["influxd"] });
const T0 = Date.UTC(2026, 0, 1);

function batch(first: number, count: number): string {
  return JSON.stringify(Array.from({ length: count }, (_, index) => ({
    measurement: "raw_stats",
    tags: { src_ip: "10.9.0.1", dst_ip: "10.9.3.1" },
    fields: { loss: first + index, rtt: Number.NaN },
    time: T0 + (first + index) * 1000,
  })));
}

Deno.test({
  name:
    "scraper moves damaged spool files (empty, cut short, another shape) aside and replays the rest",
  ignore: needs.ignore,
  async fn() {
    assertRequirement(needs);
    await using influx = await startInfluxd();
    await using collector = intervalCollector([pathTo("10.9.1.1")]);
    const directory = await Deno.makeTempDir({ prefix: "llama-scraper-damaged-" });
    try {
      const spool = `${directory}/data/spool/influxdb`;
      await Deno.mkdir(spool, { recursive: true });
      const files: Record<string, string> = {
        "5000000000000000-2.json": batch(0, 2),
        "5000000000000001-2.json": "",
        "5000000000000002-2.json": batch(2, 2).slice(0, 60),
        "5000000000000003-2.json": '{"points": "elsewhere"}',
        "5000000000000004-2.json": '[{"measurement": "raw_stats"}, 1]',
        "5000000000000005-3.json": batch(5, 2), // not the count its name says
        "5000000000000006-2.json": batch(8, 2),
      };
      for (const [name, text] of Object.entries(files)) {
        await Deno.writeTextFile(`${spool}/${name}`, text);
      }
      const config = `${directory}/scraper.yaml`;
      await Deno.writeTextFile(
        config,
        `collectors: ["${collector.url}"]
data_directory: ./data
write_timeout_ms: 1000
outputs:
  - use: influxdb
    options: { url: "${influx.url}", database: damaged }
`,
      );
      const run = await runProgram("scraper/main.ts", ["--config", config, "--once"]);
      // Points were left unwritten (those of the damaged files): --once says so.
      assert.equal(run.code, 1, run.stderr);
      assert.match(run.stderr, /5 spool files could not be read back/);
      const damaged = [
        ["5000000000000001-2.json", /is empty/],
        ["5000000000000002-2.json", /is not JSON \(cut short\?\)/],
        ["5000000000000003-2.json", /is not a list of points/],
        ["5000000000000004-2.json", /has an entry \[0\] that is not a point: no time/],
        ["5000000000000005-3.json", /holds 2 points, its name says 3/],
      ] as const;
      for (const [name, problem] of damaged) {
        assert.match(run.stderr, new RegExp(`Spool file \\S+${name} ${problem.source}`));
      }
      const left = [...Deno.readDirSync(spool)].map((entry) => entry.name).sort();
      assert.deepEqual(
        left,
        [...damaged.map(([name]) => `${name}.damaged`), "lock"].sort(),
        "only the damaged files are left, renamed",
      );
      const rows = await influx.rows(
        "SELECT loss FROM raw_stats WHERE dst_ip = '10.9.3.1'",
        "damaged",
      );
      assert.deepEqual(rows.map((row) => row.loss), [0, 1, 8, 9], "the good batches are written");
      const scraped = await influx.rows(
        "SELECT loss FROM raw_stats WHERE dst_ip = '10.9.1.1'",
        "damaged",
      );
      assert.equal(scraped.length, 1, "and the new scrape too");

      // The next start finds nothing to complain about.
      const again = await runProgram("scraper/main.ts", ["--config", config, "--once"]);
      assert.equal(again.code, 0, again.stderr);
      assert.doesNotMatch(again.stderr, /Spool file/);
    } finally {
      await Deno.remove(directory, { recursive: true });
    }
  },
});
