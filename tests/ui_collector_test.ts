import assert from "node:assert/strict";
import type { IntervalSummary } from "@llama/core";
import { startReflector } from "@llama/reflector";
import {
  createCollectorApi,
  parseCollectorConfig,
  resolveTargets,
  startCollector,
} from "@llama/collector";
import { collectorYaml } from "./_collector.ts";

Deno.test("collector serves the matrix page at / and its last intervals at /api/v1/history", async () => {
  await using reflector = await startReflector({ hostname: "127.0.0.1", port: 0, maxPps: 0 });
  const config = await resolveTargets(parseCollectorConfig(
    collectorYaml({
      targets: [
        ["127.0.0.1", reflector.address.port, { dst_region: "west" }],
        ["127.0.0.3", reflector.address.port, { dst_region: "east" }],
      ],
      interval: 1,
    }),
    { file: "test.yaml" },
  ));
  let published = 0;
  const summaries: unknown[] = [];
  await using collector = await startCollector(config, {
    historyIntervals: 2,
    onSummary: (summary) => {
      published++;
      summaries.push(JSON.parse(JSON.stringify(summary)));
    },
  });
  const base = `http://127.0.0.1:${collector.apiAddress!.port}`;
  while (published < 3) await new Promise((resolve) => setTimeout(resolve, 100));

  const page = await fetch(`${base}/?cols=dst_region`);
  assert.equal(page.status, 200);
  assert.match(page.headers.get("content-type") ?? "", /text\/html/);
  assert.match(await page.text(), /<option value="dst_region" selected="">/);

  const history = await (await fetch(`${base}/api/v1/history?flows=true`)).json();
  assert.equal(history.intervals.length, 2, "historyIntervals: 2 kept");
  assert.deepEqual(history.intervals.map((one: { start: string }) => one.start), [
    collector.history()[0].start,
    collector.latest()!.start,
  ]);
  assert.equal(history.intervals[1].paths[0].flows.length, 4);
  // The older interval keeps what the charts draw of each path, times to float16's 4 digits.
  const { matchedPaths: _, ...older } = history.intervals[0];
  const { paths, ...header } = summaries.at(-2) as IntervalSummary;
  assertClose(older, {
    ...header,
    paths: paths.map((path) => ({
      srcIp: path.srcIp,
      dstIp: path.dstIp,
      tags: path.tags,
      sent: path.sent,
      lost: path.lost,
      lossPercent: path.lossPercent,
      rtt: path.rtt === null ? null : { p50: path.rtt.p50, p99: path.rtt.p99 },
    })),
  });
  assert.equal(older.paths.length, 2);

  const matrix = await (await fetch(`${base}/api/v1/matrix?rows=src_ip&cols=dst_region`)).json();
  assert.deepEqual(matrix.cols.values, ["east", "west"]);
  assert.deepEqual(
    matrix.intervals[0].cells.map((cell: { lossPercent: number }) => cell.lossPercent),
    [100, 0],
  );

  // A collector keeping more than 30 intervals serves them all.
  const longer = createCollectorApi({
    latest: () => undefined,
    metrics: () => "",
    history: () => [],
    historyIntervals: 60,
  });
  assert.equal((await longer.request("/api/v1/history?intervals=60")).status, 200);
  assert.equal((await longer.request("/api/v1/history?intervals=61")).status, 400);

  const bad = await fetch(`${base}/api/v1/matrix?intervals=31`);
  assert.equal(bad.status, 400);
  assert.match((await bad.json()).error, /"intervals" takes a whole number from 1 to 30/);
  const post = await fetch(`${base}/api/v1/history`, { method: "POST" });
  assert.equal(post.status, 405);
  assert.match((await post.json()).error, /POST is not allowed on \/api\/v1\/history; use GET/);
});

/**
 * Deep equality, with numbers equal to float16's precision rounded to 4 significant digits
 * (within 0.1%); counts are kept whole, so they still have to match exactly.
 */
function assertClose(actual: unknown, expected: unknown, where = "$"): void {
  if (typeof expected === "number" && typeof actual === "number") {
    const tolerance = Math.abs(expected) * 1e-3;
    assert.ok(Math.abs(actual - expected) <= tolerance, `${where}: ${actual} vs ${expected}`);
  } else if (typeof expected === "object" && expected !== null) {
    assert.ok(typeof actual === "object" && actual !== null, `${where}: ${actual}`);
    assert.deepEqual(Object.keys(actual), Object.keys(expected), `${where}: keys`);
    for (const [key, value] of Object.entries(expected)) {
      assertClose((actual as Record<string, unknown>)[key], value, `${where}.${key}`);
    }
  } else {
    assert.equal(actual, expected, where);
  }
}
