// The scraper program against collectors that send values breaking the summary's contract: each
// bad path or point is left out and counted, the good ones are written, and nothing a collector
// names becomes a measurement, a tag or a field of its own in the database.

import assert from "node:assert/strict";
import { startProgram } from "./_process.ts";
import { assertRequirement, requirement } from "./_requirements.ts";
import { startInfluxd } from "./_servers.ts";
import { fakeCollector, llamaCollector, startScraper, summaryBody, waitUntil } from "./_hostile.ts";

const needsInflux = requirement({ commands: ["influxd"] });

/** A point of /influxdata as JSON, which the tests break in every way on purpose. */
interface OriginalPoint {
  fields: Record<string, number>;
  tags: Record<string, string>;
  time: string;
  measurement: string;
}

/** A point of an original collector's /influxdata to 127.0.0.`host`, as the original writes it. */
function originalPoint(host: number, change: (point: OriginalPoint) => void = () => {}) {
  const point: OriginalPoint = {
    fields: { loss: 0, lost: 0, rtt: 0.2, sent: 100 },
    tags: { dst_hostname: `target-${host}`, dst_ip: `127.0.0.${host}`, src_ip: "::" },
    time: "0001-01-01T00:00:00Z",
    measurement: "raw_stats",
  };
  change(point);
  return point;
}

Deno.test({
  name:
    "scraper leaves out an original collector's hostile points (measurement injection, ranges, times, names) and writes the rest to InfluxDB",
  ignore: needsInflux.ignore,
  async fn() {
    assertRequirement(needsInflux);
    await using influx = await startInfluxd();
    const hostile: [string, (point: OriginalPoint) => void][] = [
      ["[1].measurement", (point) => point.measurement = "raw_stats\nevil,a=b c=1 1"],
      ["[2].fields.lost", (point) => point.fields.lost = -5],
      ["[3].fields.loss", (point) => point.fields.loss = 12345.6],
      ["[4].fields.sent", (point) => point.fields.sent = 1e308],
      ["[5].time", (point) => point.time = "1970-01-01T00:00:00Z"],
      ["[6].time", (point) => point.time = "-000001-01-01T00:00:00Z"],
      ["[7].time", (point) => point.time = "9999-01-01T00:00:00Z"],
      ["[8].tags.dst_hostname", (point) => point.tags.dst_hostname = "x\nevil2 c=1"],
      ["[9].tags", (point) => point.tags["a b"] = "c"],
      ["[10].fields", (point) => point.fields.evil = 1],
      ["[11].fields.rtt", (point) => point.fields.rtt = -1],
    ];
    const body = JSON.stringify([
      originalPoint(1),
      ...hostile.map(([, change], index) => originalPoint(index + 2, change)),
    ]);
    await using original = fakeCollector((request) =>
      new URL(request.url).pathname === "/influxdata"
        ? new Response(body, { headers: { "content-type": "application/json" } })
        : new Response("404 page not found\n", { status: 404 })
    );
    await using scraper = await startScraper(
      `collectors: [{url: "${original.address}", name: original}]
interval: 1
offset: 0
timeout: 1
outputs:
  - use: influxdb
    options: { url: "${influx.url}", database: llama }
`,
    );
    await waitUntil(
      async () => {
        const metrics = await scraper.metrics();
        return metrics.get('llama_scraper_points_written_total{output="influxdb"}')! +
            metrics.get('llama_scraper_points_rejected_total{output="influxdb"}')! >= 2;
      },
      15_000,
      () => `nothing written: ${scraper.stderr().slice(-2000)}`,
    );
    const measurements = (await influx.rows("SHOW MEASUREMENTS", "llama")).map((row) => row.name);
    assert.deepEqual(measurements, ["raw_stats"]);
    const rows = await influx.rows("SELECT * FROM raw_stats", "llama");
    assert.ok(rows.length >= 2);
    assert.deepEqual(new Set(rows.map((row) => row.dst_ip)), new Set(["127.0.0.1"]));
    assert.ok(rows.every((row) => !("a b" in row) && !("evil" in row)), JSON.stringify(rows));
    const metrics = await scraper.metrics();
    const invalid = metrics.get('llama_scraper_points_invalid_total{collector="original"}')!;
    assert.equal(invalid % hostile.length, 0, `${invalid} left out`);
    assert.ok(invalid >= hostile.length * 2);
    const stderr = scraper.stderr();
    assert.match(
      stderr,
      /Left out 11 paths, flows or points of collector original that break the contract: \[1\]\.measurement is not raw_stats: got "raw_stats\\nevil,a=b c=1 1"; \[2\]\.fields\.lost is not a whole number within 0–9007199254740991: got -5; \[3\]\.fields\.loss is not a number within 0–100: got 12345\.6/,
    );
  },
});

Deno.test("scraper leaves out a llama collector's hostile paths, keeps its good one, and refuses an interval dated year 9999", async () => {
  const body = summaryBody({ paths: 4 });
  body.paths[1].sent = 1e308;
  body.paths[2].lossPercent = 12345.6;
  body.paths[3].lost = -5;
  await using llama = llamaCollector(() => ({ ...body, start: summaryBody().start }));
  const far = summaryBody();
  far.start = "9999-01-01T00:00:00.000Z";
  far.end = "9999-01-01T00:00:01.000Z";
  far.paths[0].dstIp = "127.0.9.9";
  await using future = llamaCollector(() => far);
  await using scraper = await startScraper(
    `collectors: [{url: "${llama.address}", name: llama}, {url: "${future.address}", name: future}]
interval: 1
offset: 0
timeout: 1
flows: true
`,
  );
  await waitUntil(
    async () => {
      const metrics = await scraper.metrics();
      return ["llama", "future"].every((name) =>
        ["ok", "failed", "stale"].reduce(
          (sum, result) =>
            sum +
            metrics.get(`llama_scraper_scrapes_total{collector="${name}",result="${result}"}`)!,
          0,
        ) >= 2
      );
    },
    15_000,
    () => `not scraped: ${scraper.stderr().slice(-2000)}`,
  );
  const lines = scraper.stdout().trim().split("\n");
  const dstIps = new Set(lines.map((line) => /dst_ip=([^,]+)/.exec(line)?.[1]));
  assert.deepEqual(dstIps, new Set(["127.0.1.1"]), "only the good path, and nothing of year 9999");
  assert.ok(lines.some((line) => line.startsWith("raw_stats,")));
  assert.ok(lines.some((line) => line.startsWith("flow_stats,")));
  const metrics = await scraper.metrics();
  assert.equal(metrics.get('llama_scraper_scrapes_total{collector="future",result="ok"}'), 0);
  const invalid = metrics.get('llama_scraper_points_invalid_total{collector="llama"}')!;
  assert.ok(invalid >= 3 && invalid % 3 === 0, `${invalid} left out`);
  const stderr = scraper.stderr();
  assert.match(
    stderr,
    /Left out 3 paths, flows or points of collector llama that break the contract: paths\[1\]\.sent is not a whole number from 0 to 2\^53 − 1: got 1e\+308; paths\[2\]\.lossPercent is not within 0–100: got 12345\.6; paths\[3\]\.lost is not a whole number/,
  );
  assert.match(
    stderr,
    /collector future: \/api\/v1\/summaries start is not from \S+ to \S+ \(a day before the scraper's clock to an hour after\): got "9999-01-01T00:00:00\.000Z"/,
  );
});

Deno.test("scraper --ui: a built-in property such as toString is no tag to group the matrix by (400 naming it)", async () => {
  await using llama = llamaCollector(() => summaryBody({ paths: 2 }));
  await using scraper = await startProgram("scraper/main.ts", [
    "-llama.collector-hosts",
    llama.address,
    "-llama.interval",
    "1",
    "--ui",
    "127.0.0.1:0",
  ], { readyPattern: /Serving the matrix on http:\/\/(\S+)\// });
  const base = `http://${scraper.ready[1]}/api/v1/`;
  await waitUntil(
    async () => {
      const response = await fetch(`${base}history`);
      return ((await response.json()).intervals as unknown[]).length > 0;
    },
    10_000,
    () => `no interval: ${scraper.stderr().slice(-2000)}`,
  );
  const response = await fetch(`${base}matrix?rows=toString&cols=dst_hostname`);
  const body = await response.json();
  assert.equal(response.status, 400, JSON.stringify(body));
  assert.equal(
    body.error,
    'query parameter "rows" names "toString", which no path has as a tag; known: src_ip, dst_ip, dst_hostname',
  );
  const good = await fetch(`${base}matrix?rows=src_ip&cols=dst_hostname`);
  assert.equal(good.status, 200);
  assert.deepEqual((await good.json()).cols.values, ["target-1", "target-2"]);
});
