// No point lost to kill -9: with the default settings (no data_directory in the config), a
// scraper killed during an InfluxDB outage has every point it took on disk, and the next start
// writes them all.
import assert from "node:assert/strict";
import { assertRequirement, requirement } from "./_requirements.ts";
import { startInfluxd } from "./_servers.ts";
import { startProgram } from "./_process.ts";
import { parsePrometheusText } from "./_prometheus.ts";
import { eventually, intervalCollector, pathTo, quietMoment } from "./_interval_collector.ts";

const needs = requirement({ commands: ["influxd"] });
const PATHS = 5;

Deno.test({
  name: "scraper killed with SIGKILL during an InfluxDB outage loses no point (default settings)",
  ignore: needs.ignore,
  async fn() {
    assertRequirement(needs);
    await using influx = await startInfluxd();
    await using collector = intervalCollector(
      Array.from({ length: PATHS }, (_, index) => pathTo(`10.9.1.${index + 1}`, {}, index)),
    );
    const directory = await Deno.makeTempDir({ prefix: "llama-scraper-kill-" });
    try {
      const config = `${directory}/scraper.yaml`;
      // Default buffer and data directory; only the timing is made quick.
      await Deno.writeTextFile(
        config,
        `collectors: ["${collector.url}"]
interval: 1
offset: 0.1
timeout: 0.5
metrics: 127.0.0.1:0
retry: { initial_ms: 100, max_ms: 400 }
write_timeout_ms: 1000
outputs:
  - use: influxdb
    options: { url: "${influx.url}", database: killed }
`,
      );
      // The default data directory is under $XDG_STATE_HOME: this test's own.
      const env = { XDG_STATE_HOME: `${directory}/state` };
      const start = () =>
        startProgram("scraper/main.ts", ["--config", config], {
          readyPattern: /Serving metrics on http:\/\/(\S+)\/metrics/,
          env,
        });
      const metrics = async (address: string) =>
        parsePrometheusText(await (await fetch(`http://${address}/metrics`)).text());

      await influx.stop();
      const first = await start();
      await eventually(() => collector.served.size >= 6, () => "6 scrapes during the outage");
      await quietMoment();
      const before = await metrics(first.ready[1]);
      assert.equal(before.get('llama_scraper_points_written_total{output="influxdb"}'), 0);
      assert.ok(before.get('llama_scraper_write_failures_total{output="influxdb"}')! > 0);
      assert.equal((await first.stop("SIGKILL")).signal, "SIGKILL");
      const servedBeforeKill = collector.served.size;

      await influx.start();
      const second = await start();
      await eventually(() => collector.served.size >= servedBeforeKill + 2, () => "2 more scrapes");
      await quietMoment();
      collector.freeze();
      await eventually(
        async () =>
          (await metrics(second.ready[1])).get('llama_scraper_queue_points{output="influxdb"}') ===
            0,
        () => `the queue never emptied:\n${second.stderr().slice(-3000)}`,
      );
      assert.equal((await second.stop("SIGTERM")).code, 0, second.stderr());
      const rows = await influx.rows("SELECT * FROM raw_stats", "killed");
      const stored = new Set(rows.map((row) => `${row.dst_ip} ${row.time}`));
      const served = [...collector.served].flatMap((time) =>
        Array.from({ length: PATHS }, (_, index) => `10.9.1.${index + 1} ${time}`)
      );
      const lost = served.filter((key) => !stored.has(key));
      console.log(
        `kill -9 during an outage: ${served.length} points served (${servedBeforeKill} intervals ` +
          `before the kill), ${rows.length} written, ${lost.length} lost`,
      );
      assert.deepEqual(lost, [], "points served but not stored");
      assert.equal(rows.length, served.length);
      // The spool was the default one, under $XDG_STATE_HOME (its lock file stays).
      await Deno.stat(`${directory}/state/llama-scraper/spool/influxdb/lock`);
    } finally {
      await Deno.remove(directory, { recursive: true });
    }
  },
});
