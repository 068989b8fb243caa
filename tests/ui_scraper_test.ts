import assert from "node:assert/strict";
import { startReflector } from "@llama/reflector";
import { startRecordingCollector } from "./_collector.ts";
import { startProgram } from "./_process.ts";
import { assertRequirement, requirement } from "./_requirements.ts";
import { artifactPath, collectPageErrors, launchBrowser } from "./ui_browser.ts";

const needs = requirement({ commands: ["chromium"] });

/** A collector whose probes leave from `source`, tagged `src_region: region`. */
function collectorConfig(source: string, region: string, westPort: number, eastPort: number) {
  return `summarization: {interval: 1, handlers: 2}
api: {bind: "127.0.0.1:0"}
source_tags: {src_hostname: collector-${region}, src_region: ${region}}
ports: {p: {ip: "${source}", port: 0, tos: 0, timeout: 300}}
port_groups: {g: [{port: p, count: 4}]}
rate_limits: {r: {cps: 20}}
tests: [{targets: t, port_group: g, rate_limit: r}]
targets:
  t:
    - {ip: "127.0.0.1", port: ${westPort}, tags: {dst_hostname: alpha, dst_region: west}}
    - {ip: "127.0.0.2", port: ${eastPort}, tags: {dst_hostname: beta, dst_region: east}}
    - {ip: "127.0.0.3", port: ${eastPort}, tags: {dst_hostname: nobody-home, dst_region: east}}
`;
}

interface MatrixBody {
  rows: { values: string[] };
  cols: { values: string[] };
  intervals: { cells: { row: number; col: number; lossPercent: number }[] }[];
}

async function getJson<T>(url: string, status = 200): Promise<T> {
  const response = await fetch(url);
  assert.equal(response.status, status, url);
  return await response.json();
}

Deno.test({
  name: "scraper --ui serves one matrix over every collector it scrapes",
  sanitizeResources: false,
  sanitizeOps: false,
}, async (t) => {
  await using west = await startReflector({ hostname: "127.0.0.1", port: 0, maxPps: 0 });
  await using east = await startReflector({ hostname: "127.0.0.2", port: 0, maxPps: 0 });
  await using north = await startRecordingCollector(
    collectorConfig("127.0.0.4", "north", west.address.port, east.address.port),
    { serveApi: true },
  );
  await using south = await startRecordingCollector(
    collectorConfig("127.0.0.5", "south", west.address.port, east.address.port),
    { serveApi: true },
  );
  const hosts = [north, south].map((run) => `127.0.0.1:${run.collector.apiAddress!.port}`);
  // Its own data directory: the default one may be in use by another test's scraper.
  const data = await Deno.makeTempDir({ prefix: "llama-scraper-data-" });
  await using _data = { [Symbol.asyncDispose]: () => Deno.remove(data, { recursive: true }) };
  await using scraper = await startProgram("scraper/main.ts", [
    "-llama.collector-hosts",
    hosts.join(","),
    "-llama.interval",
    "1",
    "--ui",
    "127.0.0.1:0",
    "--data-dir",
    data,
  ], { readyPattern: /Serving the matrix on http:\/\/(\S+)\// });
  const base = `http://${scraper.ready[1]}/`;

  await t.step(
    "the merged matrix has both collectors' rows, the silent target at 100%",
    async () => {
      const url = `${base}api/v1/matrix?rows=src_region&cols=dst_hostname`;
      const deadline = Date.now() + 15_000;
      let matrix = await getJson<MatrixBody>(url);
      // Wait for an interval in which both collectors were scraped, each a full interval.
      while (
        matrix.intervals.at(-1)?.cells.length !== 6 || (await getJson<{ intervals: unknown[] }>(
            `${base}api/v1/history`,
          )).intervals.length < 2
      ) {
        assert.ok(Date.now() < deadline, `no merged interval in time: ${JSON.stringify(matrix)}`);
        await new Promise((resolve) => setTimeout(resolve, 200));
        matrix = await getJson<MatrixBody>(url);
      }
      assert.deepEqual(matrix.rows.values, ["north", "south"]);
      assert.deepEqual(matrix.cols.values, ["alpha", "beta", "nobody-home"]);
      const loss = matrix.intervals.at(-1)!.cells.map((cell) => [
        matrix.rows.values[cell.row],
        matrix.cols.values[cell.col],
        cell.lossPercent,
      ]);
      assert.deepEqual(loss, [
        ["north", "alpha", 0],
        ["north", "beta", 0],
        ["north", "nobody-home", 100],
        ["south", "alpha", 0],
        ["south", "beta", 0],
        ["south", "nobody-home", 100],
      ]);
    },
  );

  await t.step("/api/v1/summaries merges the collectors' last intervals, with flows", async () => {
    const summary = await getJson<{ paths: { srcIp: string; flows: unknown[] }[] }>(
      `${base}api/v1/summaries`,
    );
    assert.deepEqual([...new Set(summary.paths.map((path) => path.srcIp))].sort(), [
      "127.0.0.4",
      "127.0.0.5",
    ]);
    assert.ok(summary.paths.every((path) => path.flows.length === 4));
    const bad = await getJson<{ error: string }>(`${base}api/v1/history?intervals=x`, 400);
    assert.match(bad.error, /"intervals" takes a whole number/);
    const missing = await getJson<{ error: string }>(`${base}nope`, 404);
    assert.match(missing.error, /no route \/nope/);
    assert.equal(await (await fetch(`${base}status`)).text(), "ok");
  });

  await t.step({
    name: "the page shows the merged matrix and a cell's flows in a browser",
    ignore: needs.ignore,
    fn: async () => {
      assertRequirement(needs);
      await using browser = await launchBrowser();
      const page = await browser.context.newPage();
      const errors = collectPageErrors(page);
      await page.goto(`${base}?rows=src_region&cols=dst_hostname&row=south&col=nobody-home`);
      await page.waitForSelector("#detail tr.flow");
      assert.deepEqual(await page.locator("#matrix tbody th").allTextContents(), [
        "north",
        "south",
      ]);
      assert.match(await page.locator("#source").textContent() ?? "", /scraper of 2 collectors/);
      assert.equal(await page.locator('#detail tr.flow[data-loss="100"]').count(), 4);
      await page.screenshot({ path: await artifactPath("ui-scraper.png") });
      assert.deepEqual(errors, [], "no error in the page, the trace routes' 404s aside");
    },
  });
});
