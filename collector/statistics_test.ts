import assert from "node:assert/strict";
import { FlowAccumulator, percentile, summarizeFlows } from "./statistics.ts";

Deno.test("statistics: loss, percentiles, stddev and RFC 3550 jitter of one flow", () => {
  const flow = new FlowAccumulator();
  flow.sent = 10;
  flow.lost = 2;
  const rtts = [1, 2, 3, 4, 5, 6, 7, 8];
  rtts.forEach((rtt, index) => flow.answer(index, rtt, index % 2 === 0));
  const stats = summarizeFlows([flow]);
  assert.equal(stats.lossPercent, 20);
  assert.deepEqual(stats.rtt, {
    min: 1,
    mean: 4.5,
    max: 8,
    stddev: Math.sqrt(42 / 7),
    p50: 4.5,
    p90: 7.3,
    p99: 7.93,
  });
  assert.equal(stats.jitter, 1);
  assert.equal(stats.dwellCorrected, 4);
});

Deno.test("statistics: a path combines its flows' samples and weighs their jitter", () => {
  const steady = new FlowAccumulator();
  const bumpy = new FlowAccumulator();
  steady.sent = bumpy.sent = 3;
  [1, 1, 1].forEach((rtt, index) => steady.answer(index, rtt, false));
  [1, 5, 1].forEach((rtt, index) => bumpy.answer(index, rtt, false));
  const path = summarizeFlows([steady, bumpy]);
  assert.equal(path.sent, 6);
  assert.equal(path.rtt?.max, 5);
  assert.equal(path.rtt?.p50, 1);
  assert.equal(path.jitter, (0 + 0 + 4 + 4) / 4);
});

Deno.test("statistics: reordering counts answers below the highest sequence seen", () => {
  const flow = new FlowAccumulator();
  for (const sequence of [0, 2, 1, 3, 5, 4]) flow.answer(sequence, 1, false);
  assert.equal(summarizeFlows([flow]).reordered, 2);
});

Deno.test("statistics: nothing answered gives null RTT and jitter, nothing sent 0% loss", () => {
  const flow = new FlowAccumulator();
  assert.deepEqual(summarizeFlows([flow]), {
    sent: 0,
    lost: 0,
    lossPercent: 0,
    late: 0,
    duplicates: 0,
    reordered: 0,
    rtt: null,
    jitter: null,
    dwellCorrected: 0,
  });
  assert.ok(Number.isNaN(percentile([], 50)));
  assert.equal(percentile([5], 99), 5);
});

Deno.test("statistics: thousands of answers grow the sample array and keep exact percentiles", () => {
  const flow = new FlowAccumulator();
  for (let index = 0; index < 10_000; index++) flow.answer(index, (index * 7) % 10_000, false);
  const stats = summarizeFlows([flow]);
  assert.equal(stats.rtt?.min, 0);
  assert.equal(stats.rtt?.max, 9999);
  assert.equal(stats.rtt?.p50, 4999.5);
  assert.equal(stats.rtt?.p99, 9899.01);
});

Deno.test("statistics: merging sorted flows gives exactly what sorting all samples gives", () => {
  let state = 12345;
  const random = () => (state = (state * 1103515245 + 12345) % 2147483648) / 2147483648;
  for (let round = 0; round < 50; round++) {
    const flows = Array.from({ length: 1 + Math.floor(random() * 6) }, () => {
      const flow = new FlowAccumulator();
      const count = Math.floor(random() * 300);
      for (let index = 0; index < count; index++) {
        flow.answer(index, Math.round(random() * 1000) / 10, false);
      }
      return flow;
    });
    const all = new Float64Array(flows.flatMap((flow) => [...flow.rtts.subarray(0, flow.answers)]))
      .sort();
    const stats = summarizeFlows(flows);
    if (all.length === 0) {
      assert.equal(stats.rtt, null);
      continue;
    }
    assert.equal(stats.rtt?.min, all[0]);
    assert.equal(stats.rtt?.max, all[all.length - 1]);
    assert.equal(stats.rtt?.p50, percentile(all, 50));
    assert.equal(stats.rtt?.p99, percentile(all, 99));
  }
});
