import assert from "node:assert/strict";
import {
  addCounters,
  clearCounters,
  COMMON,
  COMMON_COUNTERS,
  COUNTER_NAMES,
  COUNTS,
  type FlowCounts,
  RARE,
  RARE_COUNTERS,
  RARE_COUNTS,
  readCounters,
  zeroCounters,
} from "./_columns.ts";

/** Counts of two flows whose every counter holds a value of its own: 1, 2, 3, … */
function distinctCounts(): FlowCounts {
  const counts = new Uint32Array(2 * COUNTS);
  const rare = new Uint32Array(2 * RARE_COUNTS);
  COMMON_COUNTERS.forEach((name, index) => {
    counts[COMMON[name]] = index + 1;
    counts[COUNTS + COMMON[name]] = 10 * (index + 1);
  });
  RARE_COUNTERS.forEach((name, index) => {
    rare[RARE[name]] = COMMON_COUNTERS.length + index + 1;
    rare[RARE_COUNTS + RARE[name]] = 10 * (COMMON_COUNTERS.length + index + 1);
  });
  return { capacity: 2, counts, rare, tos: new Uint8Array(2), tosValues: undefined };
}

Deno.test("every counter name has a place of its own in its array", () => {
  assert.deepEqual(COMMON_COUNTERS.map((name) => COMMON[name]), [...COMMON_COUNTERS.keys()]);
  assert.deepEqual(RARE_COUNTERS.map((name) => RARE[name]), [...RARE_COUNTERS.keys()]);
  assert.deepEqual(Object.keys(zeroCounters()).sort(), [...COUNTER_NAMES].sort());
});

Deno.test("readCounters, addCounters and clearCounters handle every counter by name", () => {
  const counts = distinctCounts();
  const values = zeroCounters();
  readCounters(counts, 0, values);
  assert.deepEqual(COUNTER_NAMES.map((name) => values[name]), COUNTER_NAMES.map((_, i) => i + 1));
  addCounters(counts, 1, values);
  assert.deepEqual(
    COUNTER_NAMES.map((name) => values[name]),
    COUNTER_NAMES.map((_, i) => 11 * (i + 1)),
  );
  readCounters(counts, 5, values);
  assert.deepEqual(COUNTER_NAMES.map((name) => values[name]), COUNTER_NAMES.map(() => 0));
  values.reordered = 7;
  clearCounters(values);
  assert.ok(COUNTER_NAMES.every((name) => values[name] === 0));
});
