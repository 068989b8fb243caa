import assert from "node:assert/strict";
import { type DatagramSocket, systemClock } from "@llama/core";
import { Answerer, COUNTER_SLOTS, readCounters } from "./answerer.ts";
import { reflectorMetrics } from "./metrics.ts";

Deno.test("answers a partial batch send left out are counted as unsent and reported", () => {
  const counters = new Float64Array(COUNTER_SLOTS);
  const answerer = new Answerer(
    { now: () => performance.now() } as unknown as DatagramSocket,
    systemClock,
    { maxPps: 0, backlogLimit: 10, refusedSourcePorts: new Uint8Array(65536) },
    counters,
    () => {},
  );
  answerer.sent(64, 64);
  answerer.sent(40, 64);
  const read = readCounters(counters);
  assert.equal(read.answered, 104);
  assert.equal(read.unsent, 24);
  assert.equal(read.sendErrors, 0, "a partial send is not a failed one");
  const text = reflectorMetrics(read);
  assert.match(text, /^# TYPE llama_reflector_unsent_total counter$/m);
  assert.match(text, /^llama_reflector_unsent_total 24$/m);
});
