// No data lost through remote_write: a real scraper writes two collectors of one rack to real
// VictoriaMetrics and real Prometheus; both go down for several intervals and come back; every
// interval served arrives once, per lossy path and as one aggregate of the whole rack pair.
import assert from "node:assert/strict";
import { assertRequirement, requirement } from "./_requirements.ts";
import { startVictoriaMetrics } from "./_servers.ts";
import { startPrometheus } from "./_prometheus_server.ts";
import { startProgram } from "./_process.ts";
import { parsePrometheusText } from "./_prometheus.ts";
import { eventually, intervalCollector, pathTo, quietMoment } from "./_interval_collector.ts";

const needs = requirement({ commands: ["victoria-metrics", "prometheus"] });
const RACKS = { src_rack: "r1", dst_rack: "r2" };

Deno.test({
  name:
    "scraper's remote_write loses no interval while VictoriaMetrics and Prometheus are down, and writes none twice",
  ignore: needs.ignore,
  async fn() {
    assertRequirement(needs);
    await using victoria = await startVictoriaMetrics();
    await using prometheus = await startPrometheus();
    // Two collectors in rack r1: the rack pair's aggregate must add both up.
    await using lossy = intervalCollector([
      pathTo("10.9.1.1", RACKS, 3),
      pathTo("10.9.1.2", RACKS, 0),
    ]);
    await using clean = intervalCollector([pathTo("10.9.1.3", RACKS, 0)]);
    const directory = await Deno.makeTempDir({ prefix: "llama-scraper-remote-write-" });
    try {
      const config = `${directory}/scraper.yaml`;
      await Deno.writeTextFile(
        config,
        `collectors: ["${lossy.url}", "${clean.url}"]
interval: 1
offset: 0.2
timeout: 0.5
data_directory: ./data
metrics: 127.0.0.1:0
retry: { initial_ms: 100, max_ms: 400 }
write_timeout_ms: 1000
outputs:
  - use: remote_write
    name: victoria
    options: { url: "${victoria.url}/api/v1/write", paths: lossy }
  - use: remote_write
    name: prometheus
    options: { url: "${prometheus.writeUrl}", paths: lossy }
`,
      );
      const scraper = await startProgram("scraper/main.ts", ["--config", config], {
        readyPattern: /Serving metrics on http:\/\/(\S+)\/metrics/,
      });
      const metrics = async () =>
        parsePrometheusText(await (await fetch(`http://${scraper.ready[1]}/metrics`)).text());
      await new Promise((resolve) => setTimeout(resolve, 2500));
      await Promise.all([victoria.stop(), prometheus.stop()]);
      await new Promise((resolve) => setTimeout(resolve, 3000));
      const during = await metrics();
      for (const output of ["victoria", "prometheus"]) {
        assert.ok(during.get(`llama_scraper_spool_points{output="${output}"}`)! > 0, output);
      }
      await Promise.all([victoria.start(), prometheus.start()]);
      await new Promise((resolve) => setTimeout(resolve, 1500));
      lossy.freeze();
      clean.freeze();
      await eventually(async () => {
        const now = await metrics();
        return now.get('llama_scraper_queue_points{output="victoria"}') === 0 &&
          now.get('llama_scraper_queue_points{output="prometheus"}') === 0;
      }, () => `the queues did not drain: ${scraper.stderr().slice(-2000)}`);
      await quietMoment();
      const after = await metrics();
      assert.equal((await scraper.stop("SIGTERM")).code, 0, scraper.stderr());
      for (const output of ["victoria", "prometheus"]) {
        assert.equal(after.get(`llama_scraper_points_rejected_total{output="${output}"}`), 0);
      }

      const times = [...lossy.served].sort((a, b) => a - b);
      assert.ok(times.length >= 6, `only ${times.length} intervals were served`);
      assert.deepStrictEqual([...clean.served].sort((a, b) => a - b), times);
      // Per path, lossy only: one series, one sample per interval, none twice.
      const lost = await victoria.exportSeries('{__name__="llama_path_probes_lost"}');
      assert.deepStrictEqual(lost.map((series) => series.metric.dst_ip), ["10.9.1.1"]);
      assert.deepStrictEqual(lost[0].timestamps, times);
      assert.deepStrictEqual(lost[0].values, times.map(() => 3));
      const paths = await victoria.exportSeries('{__name__="llama_group_paths"}');
      assert.deepStrictEqual(paths.map((series) => series.metric), [
        { __name__: "llama_group_paths", ...RACKS },
      ]);
      assert.deepStrictEqual(paths[0].timestamps, times);
      assert.deepStrictEqual(paths[0].values, times.map(() => 3), "both collectors in each");

      const last = times.at(-1)!;
      const fromPrometheus = await prometheus.query("llama_group_probes_lost[1h]", last + 1000);
      assert.deepStrictEqual(fromPrometheus.map((series) => series.metric), [
        { __name__: "llama_group_probes_lost", ...RACKS },
      ]);
      assert.deepStrictEqual(
        fromPrometheus[0].values,
        times.map((time) => [time / 1000, "3"]),
      );
      const ratio = await prometheus.query(
        'llama_group_loss_ratio{src_rack="r1",dst_rack="r2"}',
        last,
      );
      assert.equal(Number(ratio[0].values[0][1]), 3 / 300);
    } finally {
      await Deno.remove(directory, { recursive: true });
    }
  },
});
