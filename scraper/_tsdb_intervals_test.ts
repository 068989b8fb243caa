import assert from "node:assert/strict";
import { intervalsFromSeries, type PromSeries } from "./_tsdb_intervals.ts";

const T0 = Date.parse("2026-01-01T00:00:00Z") / 1000;
const PATH = { src_ip: "10.0.0.1", dst_ip: "10.0.1.1", dst_rack: "r2" };
const PATH_OUT = { srcIp: "10.0.0.1", dstIp: "10.0.1.1", tags: { dst_rack: "r2" } };

function series(name: string, labels: Record<string, string>, values: [number, string][]) {
  return { metric: { __name__: name, ...labels }, values } satisfies PromSeries;
}

Deno.test("intervalsFromSeries groups samples by time into paths with loss from the counts", () => {
  const intervals = intervalsFromSeries([
    series("llama_path_probes_sent", PATH, [[T0, "120"], [T0 + 30, "120"]]),
    series("llama_path_probes_lost", PATH, [[T0, "3"], [T0 + 30, "0"]]),
    series("llama_path_rtt_seconds", { ...PATH, quantile: "0.5" }, [[T0, "0.0017333719"]]),
    series("llama_path_rtt_seconds", { ...PATH, quantile: "0.99" }, [[T0, "2.5e-05"]]),
    series("llama_path_rtt_seconds", { ...PATH, quantile: "0.9" }, [[T0, "0.002"]]),
    // Not drawn by the matrix: left alone.
    series("llama_path_jitter_seconds", PATH, [[T0, "0.001"]]),
  ], 30);
  assert.deepStrictEqual(intervals, [
    {
      start: "2026-01-01T00:00:00.000Z",
      end: "2026-01-01T00:00:30.000Z",
      intervalSeconds: 30,
      paths: [{
        srcIp: "10.0.0.1",
        dstIp: "10.0.1.1",
        tags: { dst_rack: "r2" },
        sent: 120,
        lost: 3,
        lossPercent: 2.5,
        // The decimal point moved, not ×1000: no float noise.
        rtt: { p50: 1.7333719, p99: 0.025 },
      }],
    },
    {
      start: "2026-01-01T00:00:30.000Z",
      end: "2026-01-01T00:01:00.000Z",
      intervalSeconds: 30,
      // No RTT samples: nothing was answered.
      paths: [{ ...PATH_OUT, sent: 120, lost: 0, lossPercent: 0, rtt: null }],
    },
  ]);
});

Deno.test("intervalsFromSeries keeps flows on the last interval only, sorted by port", () => {
  const flow = (port: string) => ({ ...PATH, src_port: port, dst_port: "8100" });
  const intervals = intervalsFromSeries([
    series("llama_path_probes_sent", PATH, [[T0, "50"], [T0 + 30, "50"]]),
    series("llama_path_probes_lost", PATH, [[T0, "0"], [T0 + 30, "25"]]),
    series("llama_flow_probes_sent", flow("9"), [[T0, "25"], [T0 + 30, "25"]]),
    series("llama_flow_probes_lost", flow("9"), [[T0, "0"], [T0 + 30, "25"]]),
    series("llama_flow_probes_sent", flow("7"), [[T0, "25"], [T0 + 30, "25"]]),
    series("llama_flow_probes_lost", flow("7"), [[T0, "0"], [T0 + 30, "0"]]),
  ], 30);
  assert.equal(intervals[0].paths[0].flows, undefined);
  assert.deepStrictEqual(intervals[1].paths[0].flows, [
    { srcPort: 7, dstPort: 8100, sent: 25, lost: 0, lossPercent: 0, rtt: null },
    { srcPort: 9, dstPort: 8100, sent: 25, lost: 25, lossPercent: 100, rtt: null },
  ]);
});

Deno.test("intervalsFromSeries leaves out a path missing a probe count in an interval", () => {
  const intervals = intervalsFromSeries([
    series("llama_path_probes_sent", PATH, [[T0, "50"]]),
    series("llama_path_probes_sent", { ...PATH, dst_ip: "10.0.1.2" }, [[T0, "50"]]),
    series("llama_path_probes_lost", { ...PATH, dst_ip: "10.0.1.2" }, [[T0, "1"]]),
  ], 30);
  assert.deepStrictEqual(intervals[0].paths.map((path) => path.dstIp), ["10.0.1.2"]);
});
