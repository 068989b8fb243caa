import assert from "node:assert/strict";
import { buildMatrix, compareGroupValues, groupingKeys, groupValue } from "./matrix.ts";
import { interval, path } from "./_fixtures.ts";

const west = { src_region: "west" };
const east = { src_region: "east" };

Deno.test("matrix: a cell's loss is its paths' lost probes over their sent probes", () => {
  const matrix = buildMatrix([interval(0, [
    path("10.0.0.1", "10.1.0.1", { ...west, dst_region: "east" }, { sent: 100, lost: 0 }),
    path("10.0.0.2", "10.1.0.2", { ...west, dst_region: "east" }, { sent: 300, lost: 300 }),
    path("10.0.0.1", "10.2.0.1", { ...west, dst_region: "west" }, { sent: 100, lost: 1 }),
  ])], { rows: "src_region", cols: "dst_region" });
  assert.deepEqual(matrix.rows, { key: "src_region", values: ["west"], total: 1 });
  assert.deepEqual(matrix.cols, { key: "dst_region", values: ["east", "west"], total: 2 });
  const [toEast, toWest] = matrix.intervals[0].cells;
  assert.deepEqual(
    [toEast.paths, toEast.sent, toEast.lost, toEast.lossPercent, toEast.lossyPaths],
    [2, 400, 300, 75, 1],
    "75%, not the mean of 0% and 100%",
  );
  assert.equal(toEast.worstPathLoss, 100);
  assert.equal(toWest.lossPercent, 1);
  assert.equal(matrix.intervals[0].paths, 3);
});

Deno.test("matrix: RTT is the median of the paths' p50 and the p99 of their p99; null without answers", () => {
  const paths = [1, 2, 3, 4, 100].map((p50, index) =>
    path("10.0.0.1", `10.1.0.${index}`, {}, { p50, p99: p50 * 10 })
  );
  paths.push(path("10.0.0.1", "10.1.0.9", {}, { sent: 10, lost: 10 }));
  paths.push(path("10.0.0.2", "10.1.0.9", {}, { sent: 10, lost: 10 }));
  const matrix = buildMatrix([interval(0, paths)], { rows: "src_ip", cols: "dst_region" });
  const [answered, silent] = matrix.intervals[0].cells;
  assert.equal(answered.rttP50, 3, "the median path, not pulled by the 100 ms one");
  assert.equal(answered.rttP99, 961.6, "p99 interpolated between 40 and 1000");
  assert.equal(silent.rttP50, null);
  assert.equal(silent.rttP99, null);
  assert.equal(silent.lossPercent, 100);
});

Deno.test("matrix: the worst flow shows a black-holed ECMP member at 100% under a path at 25%", () => {
  const flow = (srcPort: number, lost: number) => ({
    srcPort,
    dstPort: 8100,
    sent: 25,
    lost,
    lossPercent: lost * 4,
    rtt: lost === 25 ? null : { p50: 1, p99: 1 },
  });
  const matrix = buildMatrix([interval(0, [
    path("10.0.0.1", "10.1.0.1", {}, {
      sent: 100,
      lost: 25,
      flows: [flow(1001, 0), flow(1002, 25), flow(1003, 0), flow(1004, 0)],
    }),
    path("10.0.0.1", "10.1.0.2", {}),
  ])], { rows: "src_ip", cols: "dst_ip" });
  const [blackHoled, healthy] = matrix.intervals[0].cells;
  assert.equal(blackHoled.lossPercent, 25);
  assert.equal(blackHoled.worstFlowLoss, 100);
  assert.equal(healthy.worstFlowLoss, null, "no flows were kept for that path");
});

Deno.test("matrix: paths without the grouping tag form a group of their own, listed last", () => {
  const matrix = buildMatrix([interval(0, [
    path("10.0.0.1", "10.1.0.1", {}),
    path("10.0.0.1", "10.1.0.2", { dst_rack: "r10" }),
    path("10.0.0.1", "10.1.0.3", { dst_rack: "r9" }),
  ])], { rows: "src_ip", cols: "dst_rack" });
  assert.deepEqual(matrix.cols.values, ["r9", "r10", ""], "natural order, untagged last");
});

Deno.test("matrix: past the limit it keeps the worst rows and columns, still in natural order", () => {
  const paths = [];
  for (let source = 1; source <= 5; source++) {
    for (let target = 1; target <= 5; target++) {
      const lost = source === 4 && target === 2 ? 50 : source === 2 && target === 5 ? 10 : 0;
      paths.push(path(`10.0.0.${source}`, `10.1.0.${target}`, {}, { lost, p99: source + target }));
    }
  }
  const matrix = buildMatrix([interval(0, paths)], { rows: "src_ip", cols: "dst_ip", limit: 2 });
  assert.deepEqual(matrix.rows, { key: "src_ip", values: ["10.0.0.2", "10.0.0.4"], total: 5 });
  assert.deepEqual(matrix.cols, { key: "dst_ip", values: ["10.1.0.2", "10.1.0.5"], total: 5 });
  assert.equal(matrix.intervals[0].cells.length, 4);
  const lossy = matrix.intervals[0].cells.filter((cell) => cell.lost > 0)
    .map((cell) => [matrix.rows.values[cell.row], matrix.cols.values[cell.col], cell.lossPercent]);
  assert.deepEqual(lossy, [["10.0.0.2", "10.1.0.5", 10], ["10.0.0.4", "10.1.0.2", 50]]);
});

Deno.test("matrix: every interval shares the rows and columns; a path gone later leaves its cell empty", () => {
  const matrix = buildMatrix([
    interval(0, [path("10.0.0.1", "10.1.0.1", west), path("10.0.0.2", "10.1.0.1", east)]),
    interval(1, [path("10.0.0.1", "10.1.0.1", west, { lost: 20 })]),
  ], { rows: "src_region", cols: "dst_ip" });
  assert.deepEqual(matrix.rows.values, ["east", "west"]);
  assert.deepEqual(
    matrix.intervals.map((one) => one.cells.map((cell) => [cell.row, cell.lossPercent])),
    [[[0, 0], [1, 0]], [[1, 20]]],
  );
});

Deno.test("matrix: match keeps the paths whose group values are all equal to the given ones", () => {
  const matrix = buildMatrix([interval(0, [
    path("10.0.0.1", "10.1.0.1", { ...west, dst_region: "east" }, { lost: 10 }),
    path("10.0.0.1", "10.1.0.2", { ...west, dst_region: "west" }),
    path("10.0.0.2", "10.1.0.1", { ...east, dst_region: "east" }),
  ])], {
    rows: "src_region",
    cols: "dst_region",
    match: [["src_region", "west"], ["dst_region", "east"]],
  });
  assert.equal(matrix.intervals[0].paths, 1);
  assert.deepEqual(matrix.intervals[0].cells.map((cell) => cell.lossPercent), [10]);
});

Deno.test("matrix: grouping keys offer src_ side keys for rows and dst_ side keys for columns", () => {
  const keys = groupingKeys([interval(0, [
    path("10.0.0.1", "10.1.0.1", { src_region: "west", dst_region: "east", dst_rack: "r1" }),
    path("10.0.0.1", "10.1.0.2", { dst_hostname: "db-1", site: "lab" }),
  ])]);
  assert.deepEqual(keys, {
    rows: ["src_ip", "src_region", "site"],
    cols: ["dst_ip", "dst_hostname", "dst_rack", "dst_region", "site"],
  });
  assert.deepEqual(groupingKeys([]), { rows: ["src_ip"], cols: ["dst_ip"] });
});

Deno.test("matrix: group values are addresses for src_ip and dst_ip, tags otherwise", () => {
  const one = path("10.0.0.1", "10.1.0.1", { dst_region: "east" });
  assert.equal(groupValue(one, "src_ip"), "10.0.0.1");
  assert.equal(groupValue(one, "dst_ip"), "10.1.0.1");
  assert.equal(groupValue(one, "dst_region"), "east");
  assert.equal(groupValue(one, "dst_rack"), "");
  assert.ok(compareGroupValues("10.0.0.9", "10.0.0.10") < 0);
});

Deno.test("groupValue reads only a path's own tags: toString, constructor and __proto__ are no tags", () => {
  const path = { srcIp: "10.0.0.1", dstIp: "10.0.1.1", tags: { dst_region: "east" } };
  for (const key of ["toString", "constructor", "__proto__", "hasOwnProperty"]) {
    assert.equal(groupValue(path, key), "", key);
  }
  assert.equal(
    groupValue({ ...path, tags: { toString: "a tag after all" } }, "toString"),
    "a tag after all",
  );
});
