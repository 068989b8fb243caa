import assert from "node:assert/strict";
import { ID_MASK, InFlightTable, type ProbeOutcomeSink } from "./in_flight.ts";

function recorder() {
  const events: string[] = [];
  const sink: ProbeOutcomeSink = {
    answered: (flow, interval, sequence, rtt, corrected) =>
      events.push(
        `answered flow=${flow} interval=${interval} seq=${sequence} rtt=${rtt} dwell=${corrected}`,
      ),
    lost: (flow, interval) => events.push(`lost flow=${flow} interval=${interval}`),
    stray: (flow, interval, kind) => events.push(`${kind} flow=${flow} interval=${interval}`),
  };
  return { events, sink };
}

Deno.test("in-flight table matches a reply by id and nonce and subtracts the reflector's dwell", () => {
  const table = new InFlightTable(16);
  const { events, sink } = recorder();
  const id = table.insert(3, 1000, 7, 0xdeadbeef, 10);
  table.setSentAt(id, 12);
  assert.equal(table.inFlight, 1);
  assert.equal(table.match(id, 0x12345678, 20, -1, sink), "unknown", "wrong nonce");
  assert.equal(table.match(id + 1, 0xdeadbeef, 20, -1, sink), "unknown", "wrong id");
  assert.equal(table.match(id, 0xdeadbeef, 20, 0.5, sink), "answered");
  assert.equal(table.match(id, 0xdeadbeef, 21, -1, sink), "duplicate");
  assert.deepEqual(events, [
    "answered flow=3 interval=1000 seq=7 rtt=7.5 dwell=true",
    "duplicate flow=3 interval=1000",
  ]);
  assert.equal(table.inFlight, 0);
});

Deno.test("in-flight table expires in send order and recognises late replies", () => {
  const table = new InFlightTable(16);
  const { events, sink } = recorder();
  const ids = [0, 1, 2, 3].map((index) => table.insert(index, 0, index, 100 + index, index * 10));
  table.match(ids[1], 101, 15, -1, sink);
  table.expire(20, sink); // probes sent at 0, 10 (answered) and 20 expire; 30 does not
  assert.deepEqual(events, [
    "answered flow=1 interval=0 seq=1 rtt=5 dwell=false",
    "lost flow=0 interval=0",
    "lost flow=2 interval=0",
  ]);
  assert.equal(table.inFlight, 1);
  assert.equal(table.match(ids[0], 100, 50, -1, sink), "late");
  assert.equal(events.at(-1), "late flow=0 interval=0");
});

Deno.test("in-flight table grows instead of overwriting probes still in flight", () => {
  const table = new InFlightTable(16);
  const { events, sink } = recorder();
  const ids: number[] = [];
  for (let index = 0; index < 100; index++) {
    ids.push(table.insert(index, 0, index, index * 7919, index));
  }
  assert.ok(table.capacity >= 128);
  for (const [index, id] of ids.entries()) {
    assert.equal(table.match(id, index * 7919, 200, -1, sink), "answered");
  }
  assert.equal(events.length, 100);
  assert.equal(table.inFlight, 0);
});

Deno.test("in-flight table reuses its slots once probes are resolved instead of growing", () => {
  const table = new InFlightTable(16);
  const { sink } = recorder();
  for (let index = 0; index < 10_000; index++) {
    const id = table.insert(0, 0, index, index, index);
    assert.equal(table.match(id, index, index + 1, -1, sink), "answered");
    table.expire(index, sink);
  }
  assert.equal(table.capacity, 16, "no growth when probes come back");
});

Deno.test("in-flight table takes a kernel transmit time only when it is plausible for the probe", () => {
  const table = new InFlightTable(16);
  const { events, sink } = recorder();
  const id = table.insert(0, 0, 0, 1, 10);
  assert.equal(table.refineSentAt(id, 9, 20), false, "before the clock read before the send");
  assert.equal(table.refineSentAt(id, 40, 20), false, "too long after it: another probe's");
  assert.equal(table.refineSentAt(id + 1, 10.01, 20), false, "no such probe");
  assert.equal(table.refineSentAt(id, 10.005, 20), true);
  assert.equal(table.match(id, 1, 11.005, -1, sink), "answered");
  assert.equal(table.refineSentAt(id, 10.006, 20), false, "already answered");
  assert.equal(table.isInFlight(id), false);
  assert.deepEqual(events, ["answered flow=0 interval=0 seq=0 rtt=1 dwell=false"]);
});

Deno.test("in-flight ids wrap around at 2^30 (small integers), through growth, matching and expiry", () => {
  const table = new InFlightTable(16, ID_MASK - 9);
  const { events, sink } = recorder();
  // 40 probes across the wrap make the ring of 16 grow twice.
  const ids = Array.from({ length: 40 }, (_, index) => table.insert(index, 0, index, index, index));
  assert.equal(ids[0], ID_MASK - 9);
  assert.equal(ids[9], ID_MASK);
  assert.equal(ids[10], 0, "the id after 2^30 - 1 is 0");
  assert.ok(ids.every((id) => id >= 0 && id <= ID_MASK), "every id is below 2^30");
  assert.equal(new Set(ids).size, ids.length, "ids in flight are distinct");
  assert.equal(table.match(ids[9], 9, 50, -1, sink), "answered");
  assert.equal(table.match(ids[10], 10, 50, -1, sink), "answered");
  // A reply carrying the 32-bit id the table would have used without the wrap matches nothing.
  assert.equal(table.match(ID_MASK + 1, 10, 50, -1, sink), "unknown");
  table.expire(11, sink); // sent at 0..11, less the two answered
  assert.equal(events.filter((event) => event.startsWith("lost")).length, 10);
  assert.equal(table.inFlight, 40 - 12);
  assert.equal(table.match(ids[11], 11, 60, -1, sink), "late");
});
