// No data lost: a real InfluxDB goes down for several intervals, the scraper is stopped and
// started again in the middle of the outage, and every point the collector served arrives.
import assert from "node:assert/strict";
import type { IntervalSummary, PathSummary } from "@llama/core";
import { assertRequirement, requirement } from "./_requirements.ts";
import { startInfluxd } from "./_servers.ts";
import { startProgram } from "./_process.ts";
import { parsePrometheusText } from "./_prometheus.ts";

const needs = requirement({ commands: ["influxd"] });
const PATHS = 5;

/** A llama collector double publishing a new 1-second interval every second, with PATHS paths. */
function intervalCollector() {
  const served = new Set<number>();
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, (request) => {
    if (new URL(request.url).pathname !== "/api/v1/summaries") {
      return new Response("", { status: 404 });
    }
    const start = Math.floor(Date.now() / 1000) * 1000 - 1000;
    served.add(start);
    const paths = Array.from({ length: PATHS }, (_, index): PathSummary => ({
      srcIp: "10.9.0.1",
      dstIp: `10.9.1.${index + 1}`,
      tags: { dst_hostname: `host-${index + 1}` },
      tos: { sent: 0, atReflector: null, onReturn: null },
      sent: 100,
      lost: index,
      lossPercent: index,
      late: 0,
      duplicates: 0,
      reordered: 0,
      rtt: { min: 0.1, mean: 0.2, max: 0.3, stddev: 0.05, p50: 0.2, p90: 0.25, p99: 0.29 },
      jitter: 0.01,
      dwellCorrected: 100,
      flows: [],
    }));
    return Response.json(
      {
        start: new Date(start).toISOString(),
        end: new Date(start + 1000).toISOString(),
        intervalSeconds: 1,
        timestampSource: "userspace",
        sendTimestampSource: "userspace",
        paths,
      } satisfies IntervalSummary,
    );
  });
  return { server, served, url: `127.0.0.1:${server.addr.port}` };
}

/** Waits until `offset` ms past a wall-clock second, when no scrape is in flight. */
async function quietMoment(offset = 500): Promise<void> {
  await new Promise((resolve) =>
    setTimeout(resolve, (1000 + offset - (Date.now() % 1000)) % 1000 || 1000)
  );
}

Deno.test({
  name: "scraper loses no point while InfluxDB is down, across a restart of the scraper mid-outage",
  ignore: needs.ignore,
  async fn() {
    assertRequirement(needs);
    await using influx = await startInfluxd();
    const collector = intervalCollector();
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
      await collector.server.shutdown();
      await Deno.remove(directory, { recursive: true });
    }
  },
});
