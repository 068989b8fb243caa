// The remote_write output against real receivers: VictoriaMetrics and Prometheus (with
// --web.enable-remote-write-receiver). Every test reads what it wrote back, by export or PromQL.
import assert from "node:assert/strict";
import { ConfigError, PluginError } from "@llama/core";
import type { Output, Point } from "../contract.ts";
import { testContext } from "../_test_util.ts";
import { remoteWriteOutput } from "./remote_write.ts";
import { decodeWriteRequest } from "./_remote_write_codec.ts";
import { assertRequirement, requirement } from "../../tests/_requirements.ts";
import { startVictoriaMetrics } from "../../tests/_servers.ts";
import { startPrometheus } from "../../tests/_prometheus_server.ts";

const needsVictoria = requirement({ commands: ["victoria-metrics"] });
const needsPrometheus = requirement({ commands: ["prometheus"] });

// Recent whole seconds: Prometheus refuses samples far older than what its head holds.
const T0 = Math.floor(Date.now() / 60_000) * 60_000 - 10 * 60_000;

const POINTS: Point[] = [
  {
    measurement: "raw_stats",
    tags: {
      src_ip: "10.0.0.1",
      dst_ip: "10.0.0.2",
      src_rack: "r1",
      dst_rack: "r2",
      "dst host": "b",
    },
    fields: { loss: 2, lost: 2, sent: 100, rtt: 1.5, rtt_p99: 4 },
    time: T0,
  },
  {
    measurement: "raw_stats",
    tags: { src_ip: "10.0.0.1", dst_ip: "10.0.0.3", src_rack: "r1", dst_rack: "r2" },
    fields: { loss: 0, lost: 0, sent: 100, rtt: 0.5, rtt_p99: 1 },
    time: T0,
  },
  {
    measurement: "raw_stats",
    tags: {
      src_ip: "10.0.0.1",
      dst_ip: "10.0.0.2",
      src_rack: "r1",
      dst_rack: "r2",
      "dst host": "b",
    },
    fields: { loss: 0, lost: 0, sent: 100, rtt: 1, rtt_p99: 2 },
    time: T0 + 60_000,
  },
];

function parse(raw: Record<string, unknown>) {
  return remoteWriteOutput.parseOptions(raw, "outputs[0].options");
}

async function create(raw: Record<string, unknown>): Promise<Output> {
  return await remoteWriteOutput.create(parse(raw), testContext("remote_write"));
}

/** The points and the group aggregates the scraper would add for them. */
function withAggregates(output: Output, points: readonly Point[]): Point[] {
  return [...points, ...output.aggregate!(points)];
}

async function pluginError(writing: Promise<void>): Promise<PluginError> {
  try {
    await writing;
  } catch (error) {
    assert.ok(error instanceof PluginError, `expected a PluginError, got ${error}`);
    return error;
  }
  assert.fail("expected the write to fail");
}

Deno.test("remote_write options: defaults, and errors that name the option", () => {
  const options = parse({ url: "http://127.0.0.1:9/api/v1/write" });
  assert.equal(options.paths, "all");
  assert.deepStrictEqual(options.groupBy, ["src_rack", "dst_rack"]);
  assert.equal(options.timeoutMs, 10_000);
  const refused = (raw: Record<string, unknown>, pattern: RegExp) =>
    assert.throws(
      () => parse(raw),
      (error) => error instanceof ConfigError && pattern.test(error.message),
    );
  refused({}, /outputs\[0\]\.options\.url.*missing/);
  refused({ url: "ftp://x" }, /options\.url.*http: or https:/);
  refused({ url: "http://x", paths: "some" }, /options\.paths.*all, lossy, none/);
  refused({ url: "http://x", group_by: ["src_rack"] }, /options\.group_by.*two different tags/);
  refused({ url: "http://x", group_by: "a, a" }, /options\.group_by.*two different tags/);
  refused(
    { url: "http://x", labels: { "bad-name": "x" } },
    /options\.labels\.bad-name.*label name/,
  );
  refused({ url: "http://x", labelz: {} }, /unknown option "labelz"/);
  assert.deepStrictEqual(parse({ url: "http://x", group_by: "src_dc, dst_dc" }).groupBy, [
    "src_dc",
    "dst_dc",
  ]);
});

Deno.test({
  name: "remote_write output writes series VictoriaMetrics returns with their labels and values",
  ignore: needsVictoria.ignore,
  async fn() {
    assertRequirement(needsVictoria);
    await using victoria = await startVictoriaMetrics();
    const output = await create({ url: `${victoria.url}/api/v1/write`, labels: { scraper: "s1" } });
    await output.write(withAggregates(output, POINTS), AbortSignal.timeout(10_000));
    const path = {
      dst_host: "b",
      dst_ip: "10.0.0.2",
      dst_rack: "r2",
      scraper: "s1",
      src_ip: "10.0.0.1",
      src_rack: "r1",
    };
    const loss = await victoria.exportSeries(
      '{__name__="llama_path_loss_ratio",dst_ip="10.0.0.2"}',
    );
    assert.deepStrictEqual(loss, [{
      metric: { __name__: "llama_path_loss_ratio", ...path },
      values: [0.02, 0],
      timestamps: [T0, T0 + 60_000],
    }]);
    const p99 = await victoria.exportSeries(
      '{__name__="llama_path_rtt_seconds",dst_ip="10.0.0.3"}',
    );
    assert.deepStrictEqual(p99.map((series) => [series.metric.quantile, series.values]), [
      ["0.99", [0.001]],
    ]);
    const group = await victoria.exportSeries('{__name__=~"llama_group_.*"}');
    const byName = Object.fromEntries(group.map((series) => [series.metric.__name__, series]));
    assert.deepStrictEqual(byName.llama_group_probes_lost.metric, {
      __name__: "llama_group_probes_lost",
      dst_rack: "r2",
      scraper: "s1",
      src_rack: "r1",
    });
    assert.deepStrictEqual(byName.llama_group_probes_lost.values, [2, 0]);
    assert.deepStrictEqual(byName.llama_group_loss_ratio.values, [0.01, 0]);
    assert.deepStrictEqual(byName.llama_group_paths.values, [2, 1]);
    assert.deepStrictEqual(byName.llama_group_rtt_p99_max_seconds.values, [0.004, 0.002]);
  },
});

Deno.test({
  name: "remote_write output with paths: lossy writes lossy paths and every group, to Prometheus",
  ignore: needsPrometheus.ignore,
  async fn() {
    assertRequirement(needsPrometheus);
    await using prometheus = await startPrometheus();
    const output = await create({ url: prometheus.writeUrl, paths: "lossy" });
    await output.write(withAggregates(output, POINTS), AbortSignal.timeout(10_000));
    const at = T0 + 120_000;
    const paths = await prometheus.query("llama_path_probes_lost[1h]", at);
    assert.deepStrictEqual(paths, [{
      metric: {
        __name__: "llama_path_probes_lost",
        dst_host: "b",
        dst_ip: "10.0.0.2",
        dst_rack: "r2",
        src_ip: "10.0.0.1",
        src_rack: "r1",
      },
      values: [[T0 / 1000, "2"]],
    }]);
    const sent = await prometheus.query("llama_group_probes_sent[1h]", at);
    assert.deepStrictEqual(sent.map((series) => [series.metric, series.values]), [[
      { __name__: "llama_group_probes_sent", dst_rack: "r2", src_rack: "r1" },
      [[T0 / 1000, "200"], [(T0 + 60_000) / 1000, "100"]],
    ]]);
    const ratio = await prometheus.query(
      'sum(llama_group_probes_lost{src_rack="r1"}) / sum(llama_group_probes_sent{src_rack="r1"})',
      T0 + 30_000,
    );
    assert.deepStrictEqual(ratio.map((series) => series.values[0][1]), ["0.01"]);
  },
});

Deno.test({
  name: "remote_write output: a sample Prometheus refuses (a duplicate) is a final failure",
  ignore: needsPrometheus.ignore,
  async fn() {
    assertRequirement(needsPrometheus);
    await using prometheus = await startPrometheus();
    const output = await create({ url: prometheus.writeUrl });
    await output.write(POINTS.slice(0, 1), AbortSignal.timeout(10_000));
    const changed = [{ ...POINTS[0], fields: { lost: 7 } }];
    const error = await pluginError(output.write(changed, AbortSignal.timeout(10_000)));
    assert.equal(error.retryable, false);
    assert.match(error.message, /HTTP 400: duplicate sample for timestamp/);
  },
});

Deno.test({
  name: "remote_write output: a stopped receiver is a failure to retry, and writing resumes after",
  ignore: needsVictoria.ignore,
  async fn() {
    assertRequirement(needsVictoria);
    await using victoria = await startVictoriaMetrics();
    const output = await create({ url: `${victoria.url}/api/v1/write` });
    await victoria.stop();
    const error = await pluginError(output.write(POINTS, AbortSignal.timeout(10_000)));
    assert.equal(error.retryable, true);
    assert.match(error.message, /unreachable/);
    await victoria.start();
    await output.write(POINTS, AbortSignal.timeout(10_000));
    const sent = await victoria.exportSeries('{__name__="llama_path_probes_sent"}');
    assert.equal(sent.length, 2);
  },
});

Deno.test("remote_write output sends snappy protobuf with the protocol's headers, and sorts answers into final or retryable", async () => {
  const answers = [204, 500, 503, 429, 401, 404, 400, 413, 422];
  const seen: { headers: Headers; body: Uint8Array }[] = [];
  await using server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    async (request) => {
      seen.push({ headers: request.headers, body: new Uint8Array(await request.arrayBuffer()) });
      return new Response(seen.length === 1 ? null : "no", { status: answers[seen.length - 1] });
    },
  );
  const output = await create({
    url: `http://127.0.0.1:${server.addr.port}/api/v1/write`,
    headers: { authorization: "Bearer t" },
  });
  const results: [number, boolean | "ok"][] = [];
  for (const status of answers) {
    try {
      await output.write(POINTS.slice(0, 1), AbortSignal.timeout(10_000));
      results.push([status, "ok"]);
    } catch (error) {
      assert.ok(error instanceof PluginError);
      assert.match(error.message, new RegExp(`HTTP ${status}: no`));
      results.push([status, error.retryable]);
    }
  }
  assert.deepStrictEqual(results, [
    [204, "ok"],
    [500, true],
    [503, true],
    [429, true],
    [401, true],
    [404, true],
    [400, false],
    [413, false],
    [422, false],
  ]);
  const { headers, body } = seen[0];
  assert.equal(headers.get("content-encoding"), "snappy");
  assert.equal(headers.get("content-type"), "application/x-protobuf");
  assert.equal(headers.get("x-prometheus-remote-write-version"), "0.1.0");
  assert.equal(headers.get("authorization"), "Bearer t");
  const names = decodeWriteRequest(body).map((series) => series.labels[0]);
  assert.ok(names.some((label) => label.value === "llama_path_loss_ratio"), JSON.stringify(names));
});

Deno.test("remote_write output sends nothing when no series is left", async () => {
  let requests = 0;
  await using server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, () => {
    requests++;
    return new Response(null, { status: 204 });
  });
  const output = await create({ url: `http://127.0.0.1:${server.addr.port}/`, paths: "none" });
  await output.write(POINTS, AbortSignal.timeout(10_000));
  assert.equal(requests, 0);
  await output.write(output.aggregate!(POINTS), AbortSignal.timeout(10_000));
  assert.equal(requests, 1);
});
