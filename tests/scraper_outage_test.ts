// No data lost: a real InfluxDB goes down for several intervals, the scraper is stopped and
// started again in the middle of the outage, and every point the collector served arrives.
import assert from "node:assert/strict";
import { assertRequirement, requirement } from "./_requirements.ts";
import { startInfluxd } from "./_servers.ts";
import { startProgram } from "./_process.ts";
import { parsePrometheusText } from "./_prometheus.ts";
import { intervalCollector, pathTo, quietMoment } from "./_interval_collector.ts";

const needs = requirement({ commands: ["influxd"] });
const PATHS = 5;

Deno.test({
  name: "scraper loses no point while InfluxDB is down, across a restart of the scraper mid-outage",
  ignore: needs.ignore,
  async fn() {
    assertRequirement(needs);
    await using influx = await startInfluxd();
    await using collector = intervalCollector(
      Array.from(
        { length: PATHS },
        (_, index) => pathTo(`10.9.1.${index + 1}`, { dst_hostname: `host-${index + 1}` }, index),
      ),
    );
    const directory = await Deno.makeTempDir({ prefix: "llama-scraper-outage-" });
    try {
      const config = `${directory}/scraper.yaml`;
      await Deno.writeTextFile(
        config,
        `collectors: ["${collector.url}"]
interval: 1
offset: 0.1
timeout: 0.5
data_directory: ./data
metrics: 127.0.0.1:0
buffer: { memory_points: 7, batch_points: 4 }
retry: { initial_ms: 100, max_ms: 400 }
write_timeout_ms: 1000
outputs:
  - use: influxdb
    options: { url: "${influx.url}", database: outage }
`,
      );
      const start = () =>
        startProgram("scraper/main.ts", ["--config", config, "--log-level", "debug"], {
          readyPattern: /Serving metrics on http:\/\/(\S+)\/metrics/,
        });
      const metrics = async (address: string) =>
        parsePrometheusText(await (await fetch(`http://${address}/metrics`)).text());

      const first = await start();
      await new Promise((resolve) => setTimeout(resolve, 2500));
      await influx.stop();
      // Several intervals of outage: points pile up in memory, then on disk.
      await new Promise((resolve) => setTimeout(resolve, 3000));
      const during = await metrics(first.ready[1]);
      assert.ok(
        during.get('llama_scraper_spool_points{output="influxdb"}')! > 0,
        "points spilled to disk",
      );
      assert.ok(during.get('llama_scraper_write_failures_total{output="influxdb"}')! > 0);
      await quietMoment();
      assert.equal((await first.stop("SIGTERM")).code, 0, first.stderr());
      const spooled = [...Deno.readDirSync(`${directory}/data/spool/influxdb`)].length;
      assert.ok(spooled > 0, "what waited in memory was kept on disk");

      // Started again while the database is still down, then the database comes back.
      const second = await start();
      await new Promise((resolve) => setTimeout(resolve, 2000));
      await influx.start();
      const deadline = Date.now() + 30_000;
      for (;;) {
        const now = await metrics(second.ready[1]);
        if (
          now.get('llama_scraper_queue_points{output="influxdb"}') === 0 &&
          now.get('llama_scraper_points_written_total{output="influxdb"}')! > 0
        ) break;
        assert.ok(
          Date.now() < deadline,
          `the queue did not drain: ${second.stderr().slice(-2000)}`,
        );
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
      await quietMoment();
      assert.equal((await second.stop("SIGTERM")).code, 0, second.stderr());

      const rows = await influx.rows("SELECT * FROM raw_stats", "outage");
      const times = new Set(rows.map((row) => Number(row.time)));
      const missing = [...collector.served].filter((time) => !times.has(time));
      assert.deepEqual(
        missing.map((time) => new Date(time).toISOString()),
        [],
        "intervals served but not stored",
      );
      assert.equal(rows.length, collector.served.size * PATHS, "every point of every interval");
      assert.ok(collector.served.size >= 9, `only ${collector.served.size} intervals were served`);
    } finally {
      await Deno.remove(directory, { recursive: true });
    }
  },
});
