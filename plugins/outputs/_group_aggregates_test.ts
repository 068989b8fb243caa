import assert from "node:assert/strict";
import type { Point } from "../contract.ts";
import { groupAggregates } from "./_group_aggregates.ts";

const T0 = Date.UTC(2025, 10, 25, 17, 0, 0);

function path(
  racks: [string | undefined, string | undefined],
  fields: Record<string, number>,
  time = T0,
): Point {
  const tags: Record<string, string> = { src_ip: "a", dst_ip: "b" };
  if (racks[0] !== undefined) tags.src_rack = racks[0];
  if (racks[1] !== undefined) tags.dst_rack = racks[1];
  return { measurement: "raw_stats", tags, fields, time };
}

Deno.test("group aggregates sum probes exactly and weight mean RTT by answered probes", () => {
  const points = [
    path(["r1", "r2"], { sent: 100, lost: 0, loss: 0, rtt: 1, rtt_p99: 2 }),
    path(["r1", "r2"], { sent: 100, lost: 50, loss: 50, rtt: 4, rtt_p99: 9 }),
    path(["r1", "r2"], { sent: 100, lost: 100, loss: 100, rtt: 0 }),
  ];
  assert.deepStrictEqual(groupAggregates(points, ["src_rack", "dst_rack"]), [{
    measurement: "llama_group_stats",
    tags: { src_rack: "r1", dst_rack: "r2" },
    fields: {
      paths: 3,
      lossy_paths: 2,
      probes_sent: 300,
      probes_lost: 150,
      loss_ratio: 0.5,
      // (1 ms × 100 + 4 ms × 50) / 150 answered probes; the path that answered nothing weighs 0.
      rtt_mean_seconds: 0.002,
      // The worst path's p99.
      rtt_p99_max_seconds: 0.009,
    },
    time: T0,
  }]);
});

Deno.test("group aggregates keep groups and intervals apart and name missing tags unknown", () => {
  const points: Point[] = [
    path(["r1", "r2"], { sent: 10, lost: 1 }),
    path(["r2", "r1"], { sent: 10, lost: 2 }),
    path(["r1", "r2"], { sent: 10, lost: 3 }, T0 + 60_000),
    path([undefined, "r1"], { sent: 10, lost: 4 }),
    // Not a path: ignored.
    {
      measurement: "flow_stats",
      tags: { src_rack: "r1", dst_rack: "r2" },
      fields: { sent: 99 },
      time: T0,
    },
  ];
  const summary = groupAggregates(points, ["src_rack", "dst_rack"]).map((point) => [
    point.time - T0,
    point.tags.src_rack,
    point.tags.dst_rack,
    point.fields.probes_lost,
    point.fields.rtt_mean_seconds,
  ]);
  assert.deepStrictEqual(summary, [
    [0, "r1", "r2", 1, undefined],
    [0, "r2", "r1", 2, undefined],
    [60_000, "r1", "r2", 3, undefined],
    [0, "unknown", "r1", 4, undefined],
  ]);
});

Deno.test("group aggregates group by any tag pair", () => {
  const points: Point[] = [
    {
      measurement: "raw_stats",
      tags: { src_dc: "x", dst_dc: "y", src_rack: "1" },
      fields: { sent: 5, lost: 0 },
      time: T0,
    },
    {
      measurement: "raw_stats",
      tags: { src_dc: "x", dst_dc: "y", src_rack: "2" },
      fields: { sent: 5, lost: 5 },
      time: T0,
    },
  ];
  const [only, ...rest] = groupAggregates(points, ["src_dc", "dst_dc"]);
  assert.deepStrictEqual(rest, []);
  assert.deepStrictEqual(only.tags, { src_dc: "x", dst_dc: "y" });
  assert.equal(only.fields.loss_ratio, 0.5);
  assert.equal(only.fields.lossy_paths, 1);
});
