import assert from "node:assert/strict";
import { percentile, rttStatistics } from "./statistics.ts";
import { jitterSum, sortRange, writeRttStatistics } from "./_samples.ts";

Deno.test("statistics: percentiles, mean and sample stddev of sorted samples", () => {
  assert.deepEqual(rttStatistics(new Float64Array([1, 2, 3, 4, 5, 6, 7, 8])), {
    min: 1,
    mean: 4.5,
    max: 8,
    stddev: Math.sqrt(42 / 7),
    p50: 4.5,
    p90: 7.3,
    p99: 7.93,
  });
  assert.equal(rttStatistics([5])?.stddev, 0);
  assert.equal(rttStatistics([]), null);
  assert.ok(Number.isNaN(percentile([], 50)));
  assert.equal(percentile([5], 99), 5);
});

Deno.test("statistics: a range of a larger array gives what the range alone gives", () => {
  const samples = new Float64Array([100, 3, 1, 2, -100]);
  sortRange(samples, 1, 4);
  assert.deepEqual([...samples], [100, 1, 2, 3, -100], "only the range is sorted");
  const out = new Float64Array(9).fill(-1);
  assert.equal(writeRttStatistics(samples, 1, 4, out, 1), true);
  assert.deepEqual([...out], [-1, 1, 2, 3, 1, 2, 2.8, 2.98, -1]);
  assert.equal(writeRttStatistics(samples, 2, 2, out, 0), false);
  assert.equal(jitterSum(new Float64Array([1, 5, 1, 2]), 0, 4), 4 + 4 + 1);
  assert.equal(jitterSum(new Float64Array([1, 5]), 1, 2), 0);
});

Deno.test("statistics: sorting a range works for short ranges and long ones alike", () => {
  let state = 12345;
  const random = () => (state = (state * 1103515245 + 12345) % 2147483648) / 2147483648;
  for (const length of [0, 1, 2, 5, 32, 33, 100, 1000]) {
    const values = Array.from({ length }, () => Math.round(random() * 1000) / 10);
    const samples = new Float64Array([7, ...values, 7]);
    sortRange(samples, 1, length + 1);
    assert.deepEqual([...samples.subarray(1, length + 1)], [...values].sort((a, b) => a - b));
    assert.equal(samples[0], 7);
    assert.equal(samples[length + 1], 7);
  }
});
