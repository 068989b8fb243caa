// The --history-from holder against real VictoriaMetrics: a refresh reads only what is new (and
// the newest intervals again), older intervals come in chunks sized by the path budget, and what
// it holds equals one full read of the same intervals.
import assert from "node:assert/strict";
import { readTsdbHistory, TsdbHistory } from "@llama/scraper";
import { assertRequirement, requirement } from "./_requirements.ts";
import { startVictoriaMetrics } from "./_servers.ts";

const needs = requirement({ commands: ["victoria-metrics"] });
const INTERVAL_SECONDS = 30;
const INTERVALS_WRITTEN = 12;
const PATHS = ["10.9.0.2", "10.9.0.3", "10.9.0.4"];

/** Interval `index`'s samples in Prometheus text format: 3 paths, lost = index, one flow each. */
function intervalLines(index: number, start: number): string[] {
  const lines: string[] = [];
  for (const [number, dstIp] of PATHS.entries()) {
    const path = `src_ip="10.9.0.1",dst_ip="${dstIp}",dst_rack="r${number}"`;
    const flow = `${path},src_port="30001",dst_port="8100"`;
    lines.push(
      `llama_path_probes_sent{${path}} 100 ${start}`,
      `llama_path_probes_lost{${path}} ${index} ${start}`,
      `llama_path_rtt_seconds{${path},quantile="0.5"} 0.00${number + 1}5 ${start}`,
      `llama_path_rtt_seconds{${path},quantile="0.99"} 0.00${number + 2}9 ${start}`,
      `llama_flow_probes_sent{${flow}} 25 ${start}`,
      `llama_flow_probes_lost{${flow}} ${index % 25} ${start}`,
    );
  }
  return lines;
}

/**
 * Refreshes `holder` (calling `before` first each time) until `done` says so: the TSDB makes
 * samples searchable a moment after the flush.
 */
async function refreshUntil(
  holder: TsdbHistory,
  done: () => boolean,
  before: () => void = () => {},
): Promise<void> {
  for (let attempt = 0; attempt < 50; attempt++) {
    before();
    await holder.refresh();
    if (done()) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** Posts samples in Prometheus text format to VictoriaMetrics, and makes them searchable. */
async function importLines(url: string, lines: string[]): Promise<void> {
  const imported = await fetch(`${url}/api/v1/import/prometheus`, {
    method: "POST",
    body: lines.join("\n") + "\n",
  });
  assert.equal(imported.status, 204, await imported.text());
  await (await fetch(`${url}/internal/force_flush`)).body?.cancel();
}

/** Writes intervals 0 and 1, forty intervals ago; returns the start of interval 0. */
async function twoIntervalsLongAgo(url: string): Promise<number> {
  const intervalMs = INTERVAL_SECONDS * 1000;
  const first = Math.floor(Date.now() / intervalMs) * intervalMs - 40 * intervalMs;
  await importLines(url, [...intervalLines(0, first), ...intervalLines(1, first + intervalMs)]);
  return first;
}

Deno.test({
  name:
    "history from the TSDB: a refresh reads what is new, older intervals in budgeted chunks, equal to one full read",
  ignore: needs.ignore,
  async fn() {
    assertRequirement(needs);
    await using victoria = await startVictoriaMetrics();
    const intervalMs = INTERVAL_SECONDS * 1000;
    const first = Math.floor(Date.now() / intervalMs) * intervalMs - 40 * intervalMs;
    const startOf = (index: number) => first + index * intervalMs;
    const lines = [];
    for (let index = 0; index < INTERVALS_WRITTEN; index++) {
      lines.push(...intervalLines(index, startOf(index)));
    }
    await importLines(victoria.url, lines);

    const windows: number[] = [];
    let requests = 0;
    const recording: typeof fetch = (input, init) => {
      requests++;
      const query = new URL(String(input)).searchParams.get("query") ?? "";
      const window = /\[(\d+)ms\]$/.exec(query)?.[1];
      if (window !== undefined) windows.push(Number(window) / intervalMs);
      return fetch(input, init);
    };
    // "Now" is 15 s into interval 9: 10 and 11 lie in its future.
    let now = startOf(9) + 15_000;
    const holder = new TsdbHistory({
      url: new URL(victoria.url),
      intervals: 5,
      intervalSeconds: INTERVAL_SECONDS,
      // 3 paths an interval: older intervals come two at a time.
      pathIntervalsPerRead: 6,
      fetch: recording,
      now: () => now,
      onError: (error) => {
        throw error;
      },
    });
    const held = () => holder.history().map((interval) => interval.paths[0].lost);
    const full = () =>
      readTsdbHistory({ url: new URL(victoria.url), intervals: 5, intervalSeconds: 30, now });

    // What each refresh reads.
    const counting = () => {
      windows.length = 0;
      requests = 0;
    };
    await refreshUntil(holder, () => holder.history().length > 0, counting);
    // The newest sample's time, interval 9 from it, then 7-8 a chunk back.
    assert.deepEqual(held(), [7, 8, 9]);
    assert.equal(requests, 3);
    assert.deepEqual(windows.map((window) => window <= 2), [true, true], `${windows}`);
    // The last two intervals' time again (8-9), and 5-6: the 5 intervals asked for.
    counting();
    await holder.refresh();
    assert.deepEqual(held(), [5, 6, 7, 8, 9]);
    assert.equal(requests, 2);
    assert.deepEqual(windows.map((window) => window <= 2), [true, true], `${windows}`);
    // Nothing new: the same, in one read.
    counting();
    await holder.refresh();
    assert.deepEqual(held(), [5, 6, 7, 8, 9]);
    assert.equal(requests, 1);
    assert.deepStrictEqual(holder.history(), await full());
    const newest = holder.history().at(-1)!;
    assert.ok(newest.paths.every((path) => path.flows?.length === 1), "flows on the newest");
    assert.ok(
      holder.history().slice(0, -1).every((interval) =>
        interval.paths.every((path) => path.flows === undefined)
      ),
      "no flows on older intervals",
    );

    // Two intervals later: one read, from the newest held on, and nothing older to fetch.
    counting();
    now += 2 * intervalMs;
    await holder.refresh();
    assert.deepEqual(held(), [7, 8, 9, 10, 11]);
    assert.equal(windows.length, 1, `${windows}`);
    assert.ok(windows[0] < 3, `the read spans ${windows[0]} intervals`);
    assert.deepStrictEqual(holder.history(), await full());

    // Nothing new: the same history, one small read.
    counting();
    await holder.refresh();
    assert.deepEqual(held(), [7, 8, 9, 10, 11]);
    assert.equal(windows.length, 1);

    // Ten intervals later (the reader was down): not ten intervals read at once, but the newest,
    // then older ones in chunks.
    const later = [];
    for (let index = INTERVALS_WRITTEN; index < 22; index++) {
      later.push(...intervalLines(index, startOf(index)));
    }
    await importLines(victoria.url, later);
    now = startOf(21) + 15_000;
    await refreshUntil(holder, () => holder.history().at(-1)?.paths[0].lost === 21, counting);
    assert.deepEqual(held(), [19, 20, 21]);
    assert.ok(windows.every((window) => window <= 2), `${windows}`);
    await holder.refresh();
    assert.deepEqual(held(), [17, 18, 19, 20, 21]);
    assert.deepStrictEqual(holder.history(), await full());
  },
});

Deno.test({
  name: "history from the TSDB: with fewer intervals stored than asked for, the reads stop",
  ignore: needs.ignore,
  async fn() {
    assertRequirement(needs);
    await using victoria = await startVictoriaMetrics();
    const intervalMs = INTERVAL_SECONDS * 1000;
    const first = await twoIntervalsLongAgo(victoria.url);
    let reads = 0;
    const holder = new TsdbHistory({
      url: new URL(victoria.url),
      intervals: 30,
      intervalSeconds: INTERVAL_SECONDS,
      pathIntervalsPerRead: 3,
      fetch: (input, init) => (reads++, fetch(input, init)),
      now: () => first + intervalMs + 5_000,
    });
    await refreshUntil(holder, () => holder.history().length > 0);
    // One interval a chunk: 28 more intervals' time to look through, then no older reads.
    for (let refresh = 0; refresh < 40; refresh++) await holder.refresh();
    assert.deepEqual(holder.history().map((interval) => interval.paths[0].lost), [0, 1]);
    reads = 0;
    await holder.refresh();
    assert.equal(reads, 1, "only the newest intervals are read once the history's time is covered");
  },
});

Deno.test({
  name: "history from the TSDB: a history whose newest interval lies far back is found",
  ignore: needs.ignore,
  async fn() {
    assertRequirement(needs);
    await using victoria = await startVictoriaMetrics();
    const intervalMs = INTERVAL_SECONDS * 1000;
    const first = await twoIntervalsLongAgo(victoria.url);
    // Twenty intervals after the last one written (the writer has been down since).
    const holder = new TsdbHistory({
      url: new URL(victoria.url),
      intervals: 30,
      intervalSeconds: INTERVAL_SECONDS,
      now: () => first + 21 * intervalMs,
    });
    await refreshUntil(holder, () => holder.history().length >= 2);
    assert.deepEqual(holder.history().map((interval) => interval.paths[0].lost), [0, 1]);
  },
});
