import assert from "node:assert/strict";
import type { PathSummary } from "@llama/core";
import { Summarizer } from "./summarizer.ts";
import { createCollectorApi } from "./api.ts";

/** Two paths of two flows: one answered (with a dwell, a duplicate, reordering), one silent. */
async function publish(
  start: number,
  tags: Record<string, string> = { dst_hostname: "a" },
  summarizer = new Summarizer(10),
) {
  summarizer.flows.setSourceTags({ src_region: "west" });
  summarizer.flows.timestamps = { receive: "userspace", send: "kernel" };
  const flows = [40001, 40002].flatMap((srcPort) => [
    summarizer.flows.addFlow({
      srcIp: "10.0.0.1",
      srcPort,
      dstIp: "10.0.1.1",
      dstPort: 8100,
      tags,
      tos: 184,
    }),
    summarizer.flows.addFlow({
      srcIp: "10.0.0.1",
      srcPort,
      dstIp: "10.0.1.2",
      dstPort: 8100,
      tags: { dst_hostname: "b" },
      tos: 0,
    }),
  ]);
  for (const flow of flows) {
    for (let index = 0; index < 5; index++) summarizer.book.sent(flow, start);
  }
  for (const flow of [flows[0], flows[2]]) {
    for (const [sequence, rtt] of [[0, 0.05], [2, 0.0731], [1, 123.456789], [3, 0.1]]) {
      summarizer.book.answered(flow, start, sequence, rtt, sequence !== 3);
    }
    summarizer.book.lost(flow, start);
    summarizer.book.stray(flow, start, "duplicate");
    summarizer.book.observeTos(flow, start, 184, 0);
  }
  for (const flow of [flows[1], flows[3]]) {
    for (let index = 0; index < 5; index++) summarizer.book.lost(flow, start);
  }
  return { summarizer, interval: await summarizer.finish(start) };
}

/** A flow from 10.0.0.1:40001 to `dstIp`:8100. */
function flowTo(summarizer: Summarizer, dstIp: string, tags: Record<string, string> = {}): number {
  return summarizer.flows.addFlow({
    srcIp: "10.0.0.1",
    srcPort: 40001,
    dstIp,
    dstPort: 8100,
    tags,
    tos: 0,
  });
}

/** Calls `action` `count` times. */
function times(count: number, action: () => void): void {
  for (let index = 0; index < count; index++) action();
}

/** What the latest interval serves of a time: its float32, rounded to the nanosecond. */
function stored(milliseconds: number): number {
  return Math.round(Math.fround(milliseconds) * 1e6) / 1e6;
}

Deno.test("the latest interval says everything of every path and flow, from its columns", async () => {
  const { interval } = await publish(0);
  const summary = interval.summary()!;
  assert.equal(summary.sendTimestampSource, "kernel");
  assert.equal(summary.paths.length, 2);
  const [answered, silent] = summary.paths;
  assert.deepEqual(answered.tags, { src_region: "west", dst_hostname: "a" });
  assert.deepEqual(answered.flows.map((flow) => [flow.srcPort, flow.dstPort]), [
    [40001, 8100],
    [40002, 8100],
  ]);
  const flow = answered.flows[0];
  assert.equal(flow.sent, 5);
  assert.equal(flow.lost, 1);
  assert.equal(flow.lossPercent, 20);
  assert.equal(flow.duplicates, 1);
  assert.equal(flow.reordered, 1);
  assert.equal(flow.dwellCorrected, 3);
  assert.equal(flow.rtt!.min, 0.05);
  // Times are kept in float32 (7 significant digits) and served rounded to the nanosecond.
  assert.equal(flow.rtt!.max, stored(123.456789));
  assert.equal(flow.rtt!.max, 123.456787);
  assert.equal(flow.rtt!.p50, 0.08655);
  assert.equal(flow.rtt!.min, 0.05);
  assert.equal(flow.jitter, stored((0.0231 + (123.456789 - 0.0731) + (123.456789 - 0.1)) / 3));
  assert.deepEqual(flow.tos, { sent: 184, atReflector: 184, onReturn: 0 });
  assert.equal(answered.sent, 10);
  assert.equal(answered.jitter, flow.jitter);
  assert.deepEqual(answered.tos, { sent: 184, atReflector: 184, onReturn: 0 });
  assert.equal(silent.lossPercent, 100);
  assert.equal(silent.rtt, null);
  assert.equal(silent.jitter, null);
  assert.deepEqual(silent.tos, { sent: 0, atReflector: null, onReturn: null });
  assert.deepEqual(interval.totals(), { sent: 20, lost: 12 });
  assert.equal(interval.paths, interval.paths, "paths are made once while a reader holds them");
  assert.equal(interval.summary(), interval.summary(), "one summary object: it can key a cache");
});

Deno.test("a compacted interval keeps each path's sent, lost, RTT p50 and p99, and nothing else", async () => {
  const { interval } = await publish(0);
  const before = interval.summary()!;
  const full = before.paths;
  interval.compact();
  assert.equal(interval.compacted, true);
  assert.equal(interval.summary(), undefined);
  assert.deepEqual(interval.paths, [
    {
      srcIp: "10.0.0.1",
      dstIp: "10.0.1.1",
      tags: { src_region: "west", dst_hostname: "a" },
      sent: 10,
      lost: 2,
      lossPercent: 20,
      // float16: 4 significant digits.
      rtt: { p50: 0.08655, p99: 123.4 },
    },
    {
      srcIp: "10.0.0.1",
      dstIp: "10.0.1.2",
      tags: { src_region: "west", dst_hostname: "b" },
      sent: 10,
      lost: 10,
      lossPercent: 100,
      rtt: null,
    },
  ]);
  assert.equal(full[0].rtt!.p99, stored(123.456789));
  assert.deepEqual(interval.totals(), { sent: 20, lost: 12 });
  assert.equal(before.paths[0].flows.length, 2, "a summary taken before keeps its detail");
});

Deno.test("an interval that misses a path keeps the others' rows and shares the table", async () => {
  const summarizer = new Summarizer(10);
  const flows = ["10.0.1.1", "10.0.1.2", "10.0.1.3"].map((dstIp) =>
    flowTo(summarizer, dstIp, { dst: dstIp })
  );
  const publish = (start: number, active: number[]) => {
    for (const flow of active) {
      for (let index = 0; index <= flow; index++) summarizer.book.sent(flow, start);
    }
    return summarizer.finish(start);
  };
  const first = await publish(0, flows);
  const second = await publish(10_000, [flows[0], flows[2]]);
  const third = await publish(20_000, flows);
  assert.equal(second.pathCount, 2);
  assert.deepEqual(
    second.paths.map((path) => [path.dstIp, path.tags.dst, path.sent]),
    [["10.0.1.1", "10.0.1.1", 1], ["10.0.1.3", "10.0.1.3", 3]],
  );
  assert.deepEqual(second.totals(), { sent: 4, lost: 0 });
  assert.equal(third.pathTable.paths, first.pathTable.paths, "one table across the intervals");
  assert.equal(third.pathTable.tags, first.pathTable.tags);
  assert.equal(second.pathTable.tags, first.pathTable.tags);
  second.compact();
  assert.deepEqual(second.paths.map((path) => [path.dstIp, path.sent]), [
    ["10.0.1.1", 1],
    ["10.0.1.3", 3],
  ]);
  const json = JSON.parse([...third.pathsJson({ flows: false })!].join(""));
  assert.deepEqual(json.map((path: { sent: number }) => path.sent), [1, 2, 3]);
});

Deno.test("a compacted interval keeps counts beyond 16 bits", async () => {
  const summarizer = new Summarizer(10);
  const busy = flowTo(summarizer, "10.0.1.1");
  const quiet = flowTo(summarizer, "10.0.1.2");
  times(70_000, () => summarizer.book.sent(busy, 0));
  times(65_537, () => summarizer.book.lost(busy, 0));
  summarizer.book.sent(quiet, 0);
  summarizer.book.answered(quiet, 0, 0, 0.25, false);
  const interval = await summarizer.finish(0);
  const flows = interval.summary()!.paths.map((path) => path.flows[0]);
  assert.deepEqual(flows.map((flow) => [flow.sent, flow.lost]), [[70_000, 65_537], [1, 0]]);
  interval.compact();
  assert.deepEqual(
    interval.paths.map((path) => [path.sent, path.lost, path.rtt?.p50 ?? null]),
    [[70_000, 65_537, null], [1, 0, 0.25]],
  );
});

Deno.test("counters widened past 16 bits stay right when the interval's counters count again", async () => {
  const summarizer = new Summarizer(10);
  const flow = flowTo(summarizer, "10.0.1.1");
  const other = flowTo(summarizer, "10.0.1.2");
  // Counted before the counters widen from 8 bits to 16 and from 16 to 32: kept through both.
  times(200, () => summarizer.book.sent(other, 0));
  times(70_000, () => summarizer.book.sent(flow, 0));
  times(100, () => summarizer.book.sent(other, 0));
  const first = await summarizer.finish(0);
  assert.deepEqual(first.paths.map((path) => path.sent), [70_000, 300]);
  summarizer.book.sent(flow, 10_000);
  const second = await summarizer.finish(10_000);
  times(3, () => summarizer.book.sent(flow, 20_000));
  const third = await summarizer.finish(20_000);
  assert.deepEqual([first, second, third].map((interval) => interval.totals().sent), [
    70_300,
    1,
    3,
  ]);
});

Deno.test("a path's TOS is its first flow's that reports one", async () => {
  const summarizer = new Summarizer(10);
  const flows = [40001, 40002, 40003].map((srcPort) =>
    summarizer.flows.addFlow({
      srcIp: "10.0.0.1",
      srcPort,
      dstIp: "10.0.1.1",
      dstPort: 8100,
      tags: {},
      tos: srcPort - 40000,
    })
  );
  for (const flow of flows) summarizer.book.sent(flow, 0);
  summarizer.book.observeTos(flows[1], 0, 32, -1);
  summarizer.book.observeTos(flows[2], 0, 64, 64);
  const [path] = (await summarizer.finish(0)).paths as PathSummary[];
  assert.deepEqual(path.tos, { sent: 2, atReflector: 32, onReturn: null });
  assert.deepEqual(path.flows.map((flow) => flow.tos.atReflector), [null, 32, 64]);
});

Deno.test("a compacted interval keeps an RTT beyond float16's range", async () => {
  const summarizer = new Summarizer(10);
  const slow = flowTo(summarizer, "10.0.1.1");
  const fast = flowTo(summarizer, "10.0.1.2");
  summarizer.book.sent(slow, 0);
  summarizer.book.answered(slow, 0, 0, 70_000, false);
  summarizer.book.sent(fast, 0);
  summarizer.book.answered(fast, 0, 0, 0.02, false);
  const interval = await summarizer.finish(0);
  interval.compact();
  assert.deepEqual(interval.paths.map((path) => path.rtt), [
    { p50: 70_000, p99: 70_000 },
    { p50: 0.02, p99: 0.02 },
  ]);
});

Deno.test("intervals share their paths' identities while the tags stay the same", async () => {
  const { summarizer, interval: first } = await publish(0);
  const { interval: second } = await publish(10_000, undefined, summarizer);
  assert.equal(first.pathTable.tags, second.pathTable.tags, "one array for both intervals");
  assert.equal(first.pathTable.paths, second.pathTable.paths);
  const { interval: third } = await publish(20_000, { dst_hostname: "renamed" }, summarizer);
  assert.notEqual(third.pathTable.tags, second.pathTable.tags);
  assert.equal(third.pathTable.paths, second.pathTable.paths, "no path added: the same rows");
  assert.notEqual(third.pathTable.tags[0], second.pathTable.tags[0]);
  assert.equal(third.pathTable.tags[1], second.pathTable.tags[1], "the other path keeps its tags");
  assert.equal(third.paths[0].tags.dst_hostname, "renamed");
  second.compact();
  assert.equal(second.paths[0].tags.dst_hostname, "a", "history keeps the old tags");
});

Deno.test("columns are reused by a later interval only when no summary of them is held", async () => {
  const summarizer = new Summarizer(10);
  const flow = flowTo(summarizer, "10.0.1.1");
  const publish = async (start: number, rtt: number) => {
    summarizer.book.sent(flow, start);
    summarizer.book.answered(flow, start, start, rtt, false);
    return await summarizer.finish(start);
  };
  const first = await publish(0, 1);
  assert.equal(first.current()!.paths[0].rtt!.p50, 1);
  const second = await publish(10_000, 2);
  const held = second.summary()!;
  assert.equal(second.compact(), undefined, "a held summary keeps its columns");
  const third = await publish(20_000, 3);
  const fourth = await publish(30_000, 4);
  assert.equal(held.paths[0].rtt!.p50, 2, "the held summary still reads its own interval");
  assert.equal(fourth.current()!.paths[0].rtt!.p50, 4);
  assert.equal(fourth.current()!.paths[0].sent, 1, "reused counters start again from 0");
  assert.deepEqual(third.paths.map((path) => path.rtt?.p50), [3]);
});

Deno.test("reused counters start again from 0, those a healthy network rarely needs too", async () => {
  const summarizer = new Summarizer(10);
  const flow = flowTo(summarizer, "10.0.1.1");
  summarizer.book.sent(flow, 0);
  summarizer.book.sent(flow, 0);
  summarizer.book.answered(flow, 0, 1, 1, false);
  summarizer.book.answered(flow, 0, 0, 1, false);
  summarizer.book.stray(flow, 0, "late");
  summarizer.book.stray(flow, 0, "duplicate");
  summarizer.book.observeTos(flow, 0, 32, 40);
  const first = await summarizer.finish(0);
  const counted = first.current()!.paths[0].flows[0];
  assert.deepEqual(
    [counted.late, counted.duplicates, counted.reordered, counted.tos],
    [1, 1, 1, { sent: 0, atReflector: 32, onReturn: 40 }],
  );
  const recycled = first.compact();
  assert.ok(recycled?.counts.rare !== undefined && recycled.counts.tosValues !== undefined);
  summarizer.book.sent(flow, 10_000);
  summarizer.book.answered(flow, 10_000, 2, 1, false);
  summarizer.book.observeTos(flow, 10_000, -1, 0);
  const second = await summarizer.finish(10_000);
  const again = second.current()!.paths[0].flows[0];
  assert.deepEqual(
    [again.sent, again.late, again.duplicates, again.reordered, again.tos],
    [1, 0, 0, 0, { sent: 0, atReflector: null, onReturn: 0 }],
  );
  const fresh = new Summarizer(10);
  const healthy = flowTo(fresh, "10.0.1.1");
  fresh.book.sent(healthy, 0);
  fresh.book.answered(healthy, 0, 0, 1, false);
  fresh.book.observeTos(healthy, 0, 0, 0);
  const columns = (await fresh.finish(0)).compact();
  assert.equal(columns?.counts.rare, undefined, "no array for what did not happen");
  assert.equal(columns?.counts.tosValues, undefined, "no array for TOS values as sent");
});

Deno.test("paths as JSON from the columns are exactly JSON.stringify of the paths", async () => {
  const { interval } = await publish(0, { dst_hostname: 'a "quoted" név\n', "odd key": "\u2028" });
  const objects = interval.current()!.paths;
  const withoutFlows = objects.map(({ flows: _, ...path }) => path);
  for (const chunkSize of [1, 100, 65_536]) {
    const text = [...interval.pathsJson({ flows: true, chunkSize })!].join("");
    assert.equal(text, JSON.stringify(objects));
  }
  assert.equal(
    [...interval.pathsJson({ flows: false })!].join(""),
    JSON.stringify(withoutFlows),
  );
  assert.equal(
    [...interval.pathsJson({ flows: false, dstIp: "10.0.1.2" })!].join(""),
    JSON.stringify(withoutFlows.filter((path) => path.dstIp === "10.0.1.2")),
  );
  assert.equal([...interval.pathsJson({ flows: true, srcIp: "10.9.9.9" })!].join(""), "[]");
});

Deno.test("columns being written as JSON are not reused until the writing ends", async () => {
  const { summarizer, interval } = await publish(0);
  const chunks = interval.pathsJson({ flows: true, chunkSize: 1 })!;
  const first = chunks.next().value;
  assert.equal(interval.compact(), undefined, "held while a reader is on it");
  const { interval: later } = await publish(10_000, { dst_hostname: "later" }, summarizer);
  const rest = [...chunks].join("");
  assert.match(first + rest, /"dst_hostname":"a"/, "the reader kept its own interval");
  const done = later.pathsJson({ flows: false })!;
  done.return(undefined);
  assert.ok(later.compact() !== undefined, "a reader that stopped early lets go");
  const after = await publish(20_000, undefined, summarizer);
  assert.equal(after.interval.paths.length, 2);
});

Deno.test("the API streams /api/v1/summaries from the columns and lets go of them, HEAD too", async () => {
  const { interval } = await publish(0);
  const api = createCollectorApi({
    latest: () => interval.current(),
    latestInterval: () => interval,
    metrics: () => "",
  });
  const head = await api.request("/api/v1/summaries", { method: "HEAD" });
  assert.equal(head.status, 200);
  await head.body?.cancel();
  const response = await api.request("/api/v1/summaries?flows=false");
  const body = await response.json();
  assert.equal(body.paths.length, 2);
  assert.equal(body.start, "1970-01-01T00:00:00.000Z");
  assert.ok(interval.compact() !== undefined, "no reader is left holding the columns");
});

Deno.test("the interval before stays whole until the next is ready, then its times are written over", async () => {
  const summarizer = new Summarizer(10);
  const flows = [40001, 40002].map((srcPort) =>
    summarizer.flows.addFlow({
      srcIp: "10.0.0.1",
      srcPort,
      dstIp: "10.0.1.1",
      dstPort: 8100,
      tags: {},
      tos: 0,
    })
  );
  const publish = (start: number, rtt: number) => {
    for (const flow of flows) {
      summarizer.book.sent(flow, start);
      summarizer.book.answered(flow, start, start, rtt + flow, false);
    }
    return summarizer.finish(start);
  };
  const first = await publish(0, 1);
  const second = await publish(10_000, 2);
  assert.equal(first.compacted, true);
  // A reader on `second` while the third is being sorted, and one that is still going after.
  const pending = publish(20_000, 3);
  assert.equal(second.compacted, false, "whole while the next is sorted");
  assert.deepEqual(second.current()!.paths[0].flows.map((flow) => flow.rtt!.max), [2, 3]);
  const third = await pending;
  assert.equal(second.compacted, true);
  assert.deepEqual(second.paths.map((path) => path.rtt!.p50), [2.5]);
  const chunks = third.pathsJson({ flows: true, chunkSize: 1 })!;
  const fourth = await publish(30_000, 4);
  const fifth = await publish(40_000, 5);
  assert.match([...chunks].join(""), /"max":4,/, "the reader's interval was not written over");
  assert.deepEqual([third, fourth].map((interval) => interval.paths[0].rtt!.p50), [3.5, 4.5]);
  assert.deepEqual(fifth.current()!.paths[0].flows.map((flow) => flow.rtt!.mean), [5, 6]);
  assert.deepEqual(fifth.totals(), { sent: 2, lost: 0 });
  // Being summarized, the next interval replaces the one before only when published.
  for (const flow of flows) summarizer.book.sent(flow, 50_000);
  const publishSixth = summarizer.finish(50_000);
  assert.equal(fifth.compacted, false);
  const sixth = await publishSixth;
  assert.equal(fifth.compacted, true);
  assert.deepEqual(sixth.totals(), { sent: 2, lost: 0 });
});

Deno.test("a compacted interval keeps every path's sent and lost, whether few paths or many differ from the rest", async () => {
  const cases = [
    { lossy: [3, 7], busier: [1, 8] },
    { lossy: [0, 2, 4, 5, 9], busier: [0, 1, 2, 3, 4, 5] },
    { lossy: [], busier: [] },
  ];
  for (const { lossy, busier } of cases) {
    const summarizer = new Summarizer(10);
    const flows = Array.from({ length: 10 }, (_, index) => flowTo(summarizer, `10.0.1.${index}`));
    const sent = flows.map((flow): number => busier.includes(flow) ? 70_001 : 70_000);
    const lost = flows.map((flow) => lossy.includes(flow) ? flow + 1 : 0);
    for (const flow of flows) {
      times(sent[flow], () => summarizer.book.sent(flow, 0));
      times(lost[flow], () => summarizer.book.lost(flow, 0));
    }
    const interval = await summarizer.finish(0);
    const full = interval.paths.map((path) => [path.sent, path.lost]);
    interval.compact();
    assert.deepEqual(full, flows.map((flow) => [sent[flow], lost[flow]]));
    assert.deepEqual(interval.paths.map((path) => [path.sent, path.lost]), full);
    assert.deepEqual(interval.totals(), {
      sent: sent.reduce((sum, count) => sum + count),
      lost: lost.reduce((sum, count) => sum + count),
    });
  }
});
