import assert from "node:assert/strict";
import { createMatrixUi } from "./api.ts";
import { interval, path } from "./_fixtures.ts";
import type { IntervalLike } from "./types.ts";

const history: IntervalLike[] = [0, 1, 2].map((index) =>
  interval(index, [
    path("10.0.0.1", "10.1.0.1", { src_region: "west", dst_region: "east" }, { lost: index }),
    path("10.0.0.1", "10.1.0.2", { src_region: "west", dst_region: "west" }, {
      flows: [{ srcPort: 1000, dstPort: 8100, sent: 100, lost: 0, lossPercent: 0, rtt: null }],
    }),
  ])
);
const ui = createMatrixUi({ history: () => history, describe: () => "collector test-1" });

async function json(path: string, status = 200): Promise<Record<string, unknown>> {
  const response = await ui.request(path);
  assert.equal(response.status, status, path);
  assert.match(response.headers.get("content-type") ?? "", /application\/json/);
  return await response.json();
}

Deno.test("ui api: /api/v1/matrix groups the last interval by the keys asked for", async () => {
  const body = await json("/api/v1/matrix?rows=src_region&cols=dst_region");
  assert.deepEqual(body.rows, { key: "src_region", values: ["west"], total: 1 });
  assert.deepEqual(body.cols, { key: "dst_region", values: ["east", "west"], total: 2 });
  const [last] = body.intervals as { start: string; cells: { lossPercent: number }[] }[];
  assert.equal(last.start, history[2].start);
  assert.deepEqual(last.cells.map((cell) => cell.lossPercent), [2, 0]);
  assert.deepEqual((body.keys as { rows: string[] }).rows, ["src_ip", "src_region"]);
});

Deno.test("ui api: /api/v1/matrix gives one cell's last intervals for its charts", async () => {
  const body = await json(
    "/api/v1/matrix?rows=src_region&cols=dst_region&intervals=30&match=src_region:west&match=dst_region:east",
  );
  const intervals = body.intervals as { cells: { lossPercent: number }[] }[];
  assert.deepEqual(intervals.map((one) => one.cells.map((cell) => cell.lossPercent)), [[0], [1], [
    2,
  ]]);
});

Deno.test("ui api: /api/v1/history filters paths, keeps flows only when asked, and cuts to the worst", async () => {
  const all = await json("/api/v1/history");
  assert.equal((all.intervals as unknown[]).length, 3);
  const [lastOnly] = (await json("/api/v1/history?intervals=1&match=dst_region:west"))
    .intervals as { matchedPaths: number; paths: { dstIp: string; flows?: unknown }[] }[];
  assert.equal(lastOnly.matchedPaths, 1);
  assert.equal(lastOnly.paths[0].dstIp, "10.1.0.2");
  assert.equal(lastOnly.paths[0].flows, undefined);
  const [withFlows] = (await json("/api/v1/history?intervals=1&flows=true&limit=1"))
    .intervals as { matchedPaths: number; paths: { dstIp: string; flows?: unknown[] }[] }[];
  assert.equal(withFlows.matchedPaths, 2);
  assert.deepEqual(withFlows.paths.map((one) => one.dstIp), ["10.1.0.1"], "the lossy one");
});

Deno.test("ui api: bad query parameters are answered 400 with a JSON error", async () => {
  const cases: [string, RegExp][] = [
    ["/api/v1/history?intervals=0", /"intervals" takes a whole number from 1 to 30, got "0"/],
    ["/api/v1/history?intervals=abc", /"intervals" takes a whole number/],
    ["/api/v1/history?flows=yes", /"flows" takes true or false, got "yes"/],
    ["/api/v1/history?match=west", /"match" takes KEY:VALUE \(like dst_region:west\), got "west"/],
    ["/api/v1/history?nope=1", /unknown query parameter "nope"; known: intervals, flows/],
    ["/api/v1/matrix?rows=a&rows=b", /"rows" given 2 times/],
    ["/api/v1/matrix?cols=", /"cols" takes src_ip, dst_ip or a tag name/],
    ["/api/v1/matrix?limit=1001", /"limit" takes a whole number from 1 to 1000/],
  ];
  for (const [url, message] of cases) {
    const body = await json(url, 400);
    assert.match(String(body.error), message, url);
  }
});

Deno.test("ui api: a built-in property such as toString is no tag: /api/v1/matrix refuses it with 400, match finds nothing", async () => {
  for (const name of ["toString", "constructor", "__proto__", "hasOwnProperty", "nope"]) {
    const body = await json(`/api/v1/matrix?rows=${name}`, 400);
    assert.equal(
      body.error,
      `query parameter "rows" names "${name}", which no path has as a tag; known: ` +
        "src_ip, dst_ip, dst_region, src_region",
    );
    assert.match(String((await json(`/api/v1/matrix?cols=${name}`, 400)).error), /"cols" names/);
  }
  const [last] = (await json("/api/v1/history?intervals=1&match=toString:x")).intervals as {
    matchedPaths: number;
  }[];
  assert.equal(last.matchedPaths, 0);
  // Before the first interval there is nothing to group and nothing to refuse.
  const empty = createMatrixUi({ history: () => [] });
  assert.equal((await empty.request("/api/v1/matrix?rows=src_region")).status, 200);
});

Deno.test("ui page: rendered with the view from the URL and the keys in the data", async () => {
  const response = await ui.request("/?rows=src_region&cols=dst_region&metric=p99&sort=worst");
  assert.equal(response.status, 200);
  assert.match(response.headers.get("content-security-policy") ?? "", /default-src 'self'/);
  const html = await response.text();
  assert.match(html, /^<!doctype html>/);
  assert.match(html, /collector test-1/);
  assert.match(html, /<option value="src_region" selected="">src_region<\/option>/);
  assert.match(html, /<option value="dst_region" selected="">dst_region<\/option>/);
  assert.match(html, /value="p99" checked=""/);
  assert.match(html, /<option value="worst" selected="">/);
  assert.match(html, /<script type="module" src="ui\/matrix.js">/);
  const fallback = await (await ui.request("/?metric=<script>&rows=%3Cb%3E")).text();
  assert.match(fallback, /value="loss" checked=""/, "an unknown metric falls back to loss");
  assert.doesNotMatch(fallback, /<b>/, "values from the URL are escaped");
});

Deno.test("ui page: its browser modules and stylesheet are served as static text", async () => {
  for (
    const [file, type] of [
      ["matrix.js", "text/javascript"],
      ["detail.js", "text/javascript"],
      ["scale.js", "text/javascript"],
      ["dom.js", "text/javascript"],
      ["trace.js", "text/javascript"],
      ["suspects.js", "text/javascript"],
      ["matrix.css", "text/css"],
      ["trace.css", "text/css"],
    ]
  ) {
    const response = await ui.request(`/ui/${file}`);
    assert.equal(response.status, 200, file);
    assert.match(response.headers.get("content-type") ?? "", new RegExp(type));
    const text = await response.text();
    assert.equal(text, await Deno.readTextFile(new URL(`./browser/${file}`, import.meta.url)));
  }
});
