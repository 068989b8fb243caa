import assert from "node:assert/strict";
import type { Point } from "../contract.ts";
import { labelName, toRemoteSeries } from "./_prometheus_series.ts";
import { decodeWriteRequest, encodeWriteRequest } from "./_remote_write_codec.ts";
import type { RemoteSeries } from "./_remote_write_codec.ts";

const T0 = Date.UTC(2025, 10, 25, 17, 0, 0);

function path(dst: string, lost: number, time = T0, extraTags: Record<string, string> = {}): Point {
  return {
    measurement: "raw_stats",
    tags: { src_ip: "10.0.0.1", dst_ip: dst, ...extraTags },
    fields: { loss: lost, lost, sent: 100, rtt: 1.5, rtt_p50: 1.25, rtt_p99: 4 },
    time,
  };
}

/** `name{label="value",…}` → [timestamp, value] pairs, for comparing whole results. */
function flatten(series: RemoteSeries[]): Record<string, [number, number][]> {
  return Object.fromEntries(series.map((entry) => {
    const name = entry.labels.find((label) => label.name === "__name__")!.value;
    const labels = entry.labels.filter((label) => label.name !== "__name__")
      .map((label) => `${label.name}="${label.value}"`).join(",");
    return [`${name}{${labels}}`, entry.samples.map((sample) => [sample.timestamp, sample.value])];
  }));
}

Deno.test("a path point becomes series in base units, with quantile labels for percentiles", () => {
  const series = toRemoteSeries([path("10.0.0.2", 3)], { paths: "all", labels: {} });
  const labels = 'dst_ip="10.0.0.2",src_ip="10.0.0.1"';
  assert.deepStrictEqual(flatten(series), {
    [`llama_path_loss_ratio{${labels}}`]: [[T0, 0.03]],
    [`llama_path_probes_lost{${labels}}`]: [[T0, 3]],
    [`llama_path_probes_sent{${labels}}`]: [[T0, 100]],
    [`llama_path_rtt_mean_seconds{${labels}}`]: [[T0, 0.0015]],
    ['llama_path_rtt_seconds{dst_ip="10.0.0.2",quantile="0.5",src_ip="10.0.0.1"}']: [[T0, 0.00125]],
    ['llama_path_rtt_seconds{dst_ip="10.0.0.2",quantile="0.99",src_ip="10.0.0.1"}']: [[T0, 0.004]],
  });
});

Deno.test("labels are sorted by name, __name__ among them, as remote_write requires", () => {
  const [first] = toRemoteSeries([path("10.0.0.2", 0, T0, { Zone: "a", a: "b" })], {
    paths: "all",
    labels: {},
  });
  const names = first.labels.map((label) => label.name);
  assert.deepStrictEqual(names, ["Zone", "__name__", "a", "dst_ip", "src_ip"]);
});

Deno.test("tag names are sanitized and a collision keeps the first in name order", () => {
  assert.equal(labelName("dst rack-id"), "dst_rack_id");
  assert.equal(labelName("1st"), "_1st");
  assert.equal(labelName("__name__"), "tag__name__");
  assert.equal(labelName("ünï"), "_n_");
  const [first] = toRemoteSeries(
    [{
      measurement: "raw_stats",
      tags: { "a-b": "dash", a_b: "underscore", e: "" },
      fields: { sent: 1 },
      time: T0,
    }],
    { paths: "all", labels: {} },
  );
  assert.deepStrictEqual(first.labels, [
    { name: "__name__", value: "llama_path_probes_sent" },
    { name: "a_b", value: "dash" },
  ]);
});

Deno.test("paths: lossy keeps only lossy paths and flows, none keeps neither; other points stay", () => {
  const points: Point[] = [
    path("10.0.0.2", 0),
    path("10.0.0.3", 2),
    {
      ...path("10.0.0.3", 2),
      measurement: "flow_stats",
      tags: { dst_ip: "10.0.0.3", dst_port: "7" },
    },
    {
      ...path("10.0.0.2", 0),
      measurement: "flow_stats",
      tags: { dst_ip: "10.0.0.2", dst_port: "7" },
    },
    {
      measurement: "llama_suspect",
      tags: { from: "a", to: "b" },
      fields: { score: 0.5 },
      time: T0,
    },
    {
      measurement: "llama_group_stats",
      tags: { src_rack: "r1" },
      fields: { loss_ratio: 0.5 },
      time: T0,
    },
  ];
  const names = (paths: "all" | "lossy" | "none") =>
    [
      ...new Set(
        Object.keys(flatten(toRemoteSeries(points, { paths, labels: {} }))).map((key) =>
          key.replace(/,?quantile="[^"]*"/, "").replace(/^llama_(path|flow)_[a-z_]+\{/, "llama_$1{")
        ),
      ),
    ].sort();
  assert.deepStrictEqual(names("all"), [
    'llama_flow{dst_ip="10.0.0.2",dst_port="7"}',
    'llama_flow{dst_ip="10.0.0.3",dst_port="7"}',
    'llama_group_loss_ratio{src_rack="r1"}',
    'llama_path{dst_ip="10.0.0.2",src_ip="10.0.0.1"}',
    'llama_path{dst_ip="10.0.0.3",src_ip="10.0.0.1"}',
    'llama_suspect_score{from="a",to="b"}',
  ]);
  assert.deepStrictEqual(names("lossy"), [
    'llama_flow{dst_ip="10.0.0.3",dst_port="7"}',
    'llama_group_loss_ratio{src_rack="r1"}',
    'llama_path{dst_ip="10.0.0.3",src_ip="10.0.0.1"}',
    'llama_suspect_score{from="a",to="b"}',
  ]);
  assert.deepStrictEqual(names("none"), [
    'llama_group_loss_ratio{src_rack="r1"}',
    'llama_suspect_score{from="a",to="b"}',
  ]);
});

Deno.test("samples of one series from several points are ordered by time", () => {
  const series = toRemoteSeries(
    [path("10.0.0.2", 1, T0 + 60_000), path("10.0.0.2", 2, T0)],
    { paths: "all", labels: {} },
  );
  const lost = flatten(series)['llama_path_probes_lost{dst_ip="10.0.0.2",src_ip="10.0.0.1"}'];
  assert.deepStrictEqual(lost, [[T0, 2], [T0 + 60_000, 1]]);
});

Deno.test("extra labels are added where a point lacks them, never over its tags", () => {
  const series = toRemoteSeries(
    [{ measurement: "raw_stats", tags: { src_ip: "a" }, fields: { sent: 1 }, time: T0 }],
    { paths: "all", labels: { scraper: "one", src_ip: "ignored" } },
  );
  assert.deepStrictEqual(Object.keys(flatten(series)), [
    'llama_path_probes_sent{scraper="one",src_ip="a"}',
  ]);
});

Deno.test("non-finite fields are left out", () => {
  const series = toRemoteSeries(
    [{
      measurement: "raw_stats",
      tags: {},
      fields: { sent: 1, jitter: NaN, rtt: Infinity },
      time: T0,
    }],
    { paths: "all", labels: {} },
  );
  assert.deepStrictEqual(Object.keys(flatten(series)), ["llama_path_probes_sent{}"]);
});

Deno.test("a write request survives encoding and decoding, 64-bit timestamps included", () => {
  const series = toRemoteSeries([path("10.0.0.2", 3), path("10.0.0.2", 1, T0 + 30_000)], {
    paths: "all",
    labels: { scraper: "ünïcødé" },
  });
  const body = encodeWriteRequest(series);
  assert.deepStrictEqual(decodeWriteRequest(body), series);
});
