// The influxdb output against real servers: influxd 1.6 (Debian's `influxdb`) for the 1.x API,
// VictoriaMetrics for the 2.x write API and as a second 1.x implementation. Every test reads
// what it wrote back from the server and compares it, value by value.
import assert from "node:assert/strict";
import { getLogger } from "@logtape/logtape";
import { PluginError } from "@llama/core";
import type { Output, PluginContext, Point } from "../contract.ts";
import { toLineProtocol } from "../line_protocol.ts";
import { influxdbOutput } from "./influxdb.ts";
import { assertRequirement, requirement } from "../../tests/_requirements.ts";
import { type ExportedSeries, startInfluxd, startVictoriaMetrics } from "../../tests/_servers.ts";

const needsInfluxd = requirement({ commands: ["influxd"] });
const needsVictoria = requirement({ commands: ["victoria-metrics"] });

// 2025-11-25T17:00:00Z: whole seconds, as the scraper's intervals are.
const T0 = Date.UTC(2025, 10, 25, 17, 0, 0);

/** Points with tags that need escaping in line protocol, several fields and second times. */
const POINTS: Point[] = [
  {
    measurement: "raw_stats",
    tags: {
      src_ip: "::",
      dst_ip: "127.0.0.2",
      dst_hostname: "other host,with=commas and spaces",
      dst_region: 'eu "west"',
    },
    fields: { loss: 0, lost: 0, rtt: 0.134507, sent: 100 },
    time: T0,
  },
  {
    measurement: "raw_stats",
    tags: {
      src_ip: "10.0.0.1",
      dst_ip: "fe80::1",
      dst_hostname: "ünïcødé\\back\\slash",
      "dst_rack id": "r=1, row 2",
    },
    fields: { loss: 33.333333333333336, lost: 1, rtt: 1e-7, sent: 3, jitter: 123456789.123 },
    time: T0 + 30_000,
  },
  {
    measurement: "raw_stats",
    // An empty tag is left out: line protocol cannot carry one.
    tags: { src_ip: "10.0.0.1", dst_ip: "127.0.0.3", dst_region: "" },
    // A non-finite field is left out too.
    fields: { loss: 100, lost: 100, rtt: 0, sent: 100, jitter: NaN },
    time: T0 + 60_000,
  },
];

function context(): PluginContext {
  return {
    name: "influxdb",
    logger: getLogger(["llama", "plugin", "influxdb"]),
    configDirectory: Deno.cwd(),
    dataDirectory: undefined,
    signal: new AbortController().signal,
  };
}

async function createOutput(raw: Record<string, unknown>): Promise<Output> {
  const options = influxdbOutput.parseOptions(raw, "outputs[0].options");
  return await influxdbOutput.create(options, context());
}

function write(output: Output, points: readonly Point[]): Promise<void> {
  return output.write(points, AbortSignal.timeout(10_000));
}

/**
 * What `SELECT * FROM raw_stats` (with `epoch=ms`) should return for these points: one row per
 * point, every tag and field seen in any point as a column, `null` where a point has none.
 */
function expectedRows(points: readonly Point[], timeUnitMs = 1000): Record<string, unknown>[] {
  const present = (value: string | number) => value !== "" && !Number.isNaN(value);
  const columns = new Set<string>();
  for (const point of points) {
    for (const [key, value] of [...Object.entries(point.tags), ...Object.entries(point.fields)]) {
      if (present(value)) columns.add(key);
    }
  }
  return points.map((point) => {
    const row: Record<string, unknown> = {
      time: Math.floor(point.time / timeUnitMs) * timeUnitMs,
    };
    const values: Record<string, string | number> = { ...point.tags, ...point.fields };
    for (const column of columns) {
      row[column] = column in values && present(values[column]) ? values[column] : null;
    }
    return row;
  });
}

function byTime(rows: Record<string, unknown>[]): Record<string, unknown>[] {
  return rows.toSorted((a, b) => Number(a.time) - Number(b.time));
}

/** The `PluginError` a write rejects with; fails when it resolves or throws something else. */
async function pluginError(writing: Promise<void>): Promise<PluginError> {
  try {
    await writing;
  } catch (error) {
    assert.ok(error instanceof PluginError, `expected a PluginError, got ${error}`);
    return error;
  }
  assert.fail("expected the write to fail");
}

function assertIncludes(text: string, part: string): void {
  assert.ok(
    text.includes(part),
    `${JSON.stringify(text)} does not include ${JSON.stringify(part)}`,
  );
}

/** A request a capture server received. */
interface CapturedRequest {
  method: string;
  url: URL;
  headers: Headers;
  body: string;
}

/**
 * A tiny HTTP server on loopback that records every request and answers with `respond`;
 * `closing` resolves when the server is being disposed, so a handler can hang until then.
 */
function startCaptureServer(
  respond: (request: CapturedRequest, closing: Promise<void>) => Response | Promise<Response>,
) {
  const requests: CapturedRequest[] = [];
  const { promise: closing, resolve: close } = Promise.withResolvers<void>();
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    async (request) => {
      const captured = {
        method: request.method,
        url: new URL(request.url),
        headers: request.headers,
        body: await request.text(),
      };
      requests.push(captured);
      return await respond(captured, closing);
    },
  );
  return {
    url: `http://127.0.0.1:${server.addr.port}`,
    requests,
    async [Symbol.asyncDispose]() {
      close();
      await server.shutdown();
    },
  };
}

Deno.test({
  name: "influxdb v1 output creates the database and stores every tag, field and second",
  ignore: needsInfluxd.ignore,
  async fn() {
    assertRequirement(needsInfluxd);
    await using influx = await startInfluxd();
    const output = await createOutput({ url: influx.url, database: "llama_new" });
    assert.deepStrictEqual(await influx.rows("SHOW DATABASES"), []);
    // The milliseconds of a point's time are dropped with second precision, not rounded.
    const points = [...POINTS, {
      ...POINTS[0],
      tags: { src_ip: "::", dst_ip: "127.0.0.4" },
      time: T0 + 90_999,
    }];
    await write(output, points);
    assert.deepStrictEqual(await influx.rows("SHOW DATABASES"), [{ name: "llama_new" }]);
    assert.deepStrictEqual(
      byTime(await influx.rows("SELECT * FROM raw_stats", "llama_new")),
      expectedRows(points),
    );
  },
});

Deno.test({
  name: "influxdb v1 output keeps milliseconds with precision ms",
  ignore: needsInfluxd.ignore,
  async fn() {
    assertRequirement(needsInfluxd);
    await using influx = await startInfluxd();
    const output = await createOutput({ url: influx.url, precision: "ms" });
    const points = POINTS.map((point, index) => ({ ...point, time: point.time + 1 + index * 111 }));
    await write(output, points);
    assert.deepStrictEqual(
      byTime(await influx.rows("SELECT * FROM raw_stats", "llama")),
      expectedRows(points, 1),
    );
  },
});

Deno.test({
  name: "influxdb v1 output writes into the configured retention policy",
  ignore: needsInfluxd.ignore,
  async fn() {
    assertRequirement(needsInfluxd);
    await using influx = await startInfluxd();
    await influx.query('CREATE DATABASE "llama"');
    await influx.query(
      'CREATE RETENTION POLICY "ten_years" ON "llama" DURATION 520w REPLICATION 1',
    );
    const output = await createOutput({ url: influx.url, retention_policy: "ten_years" });
    await write(output, POINTS);
    assert.deepStrictEqual(
      byTime(await influx.rows('SELECT * FROM "llama"."ten_years"."raw_stats"')),
      expectedRows(POINTS),
    );
    assert.deepStrictEqual(await influx.rows('SELECT * FROM "llama"."autogen"."raw_stats"'), []);
  },
});

Deno.test({
  name:
    "influxdb v1 output authenticates with username and password; a wrong one is retried, not the points' fault",
  ignore: needsInfluxd.ignore,
  async fn() {
    assertRequirement(needsInfluxd);
    await using influx = await startInfluxd({ auth: { username: "llama", password: "s3cr:t" } });
    const output = await createOutput({ url: influx.url, username: "llama", password: "s3cr:t" });
    await write(output, POINTS);
    assert.deepStrictEqual(
      byTime(await influx.rows("SELECT * FROM raw_stats", "llama")),
      expectedRows(POINTS),
    );
    for (const credentials of [{ username: "llama", password: "wrong" }, {}]) {
      const denied = await createOutput({ url: influx.url, database: "other", ...credentials });
      const error = await pluginError(write(denied, POINTS));
      // The points wait for the password to be fixed, rather than being set aside by the thousand.
      assert.equal(error.retryable, true);
      assertIncludes(error.message, "HTTP 401");
    }
  },
});

Deno.test("influxdb v1 output sends the original scraper's request, with Basic auth", async () => {
  const fixture = await Deno.readTextFile(
    new URL("../../tests/fixtures/original/scraper_v1_write.txt", import.meta.url),
  );
  const [header, ...lines] = fixture.split("\n").filter((line) => line !== "");
  const original = new URL(header.replace(/^# /, ""), "http://influxdb.invalid");
  // The fixture's points, with tags and fields given in reverse order: the line must not depend
  // on the order a point's properties were set in.
  const points: Point[] = lines.map((line) => {
    const [head, fields] = line.split(" ");
    const [measurement, ...tags] = head.split(",");
    const pairs = (list: string[]) => list.map((pair) => pair.split("=") as [string, string]);
    return {
      measurement,
      tags: Object.fromEntries(pairs(tags).reverse()),
      fields: Object.fromEntries(
        pairs(fields.split(",")).reverse().map(([k, v]) => [k, Number(v)]),
      ),
      time: T0,
    };
  });
  await using capture = startCaptureServer(() => new Response(null, { status: 204 }));
  const output = await createOutput({ url: capture.url, username: "llama", password: "pa:ss" });
  await write(output, points);

  const [create, sent] = capture.requests;
  assert.deepStrictEqual(capture.requests.length, 2);
  assert.deepStrictEqual(create.url.pathname, "/query");
  assert.deepStrictEqual(create.url.searchParams.get("q"), 'CREATE DATABASE "llama"');
  assert.deepStrictEqual(sent.method, "POST");
  assert.deepStrictEqual(sent.url.pathname, original.pathname);
  // The original sent `consistency=` and `rp=` empty; influxd reads an empty value as absent
  // (consistency only matters to clusters; an empty rp means the database's default policy), so
  // we leave them out and send the same db and precision.
  const filled = (params: URLSearchParams) =>
    [...params].filter(([, value]) => value !== "").sort(([a], [b]) => a.localeCompare(b));
  assert.deepStrictEqual(filled(sent.url.searchParams), filled(original.searchParams));
  assert.deepStrictEqual(filled(sent.url.searchParams), [["db", "llama"], ["precision", "s"]]);
  for (const request of [create, sent]) {
    assert.deepStrictEqual(request.headers.get("authorization"), `Basic ${btoa("llama:pa:ss")}`);
  }
  const sentLines = sent.body.split("\n");
  assert.deepStrictEqual(sentLines.length, lines.length);
  for (const [index, line] of sentLines.entries()) {
    const cut = line.lastIndexOf(" ");
    assert.deepStrictEqual(line.slice(0, cut), lines[index]);
    assert.deepStrictEqual(line.slice(cut + 1), String(T0 / 1000));
  }
});

Deno.test({
  name: "influxdb v1 output creates the database again when it was dropped meanwhile",
  ignore: needsInfluxd.ignore,
  async fn() {
    assertRequirement(needsInfluxd);
    await using influx = await startInfluxd();
    const output = await createOutput({ url: influx.url });
    await write(output, POINTS.slice(0, 1));
    await influx.query('DROP DATABASE "llama"');
    await write(output, POINTS.slice(1));
    assert.deepStrictEqual(
      byTime(await influx.rows("SELECT * FROM raw_stats", "llama")),
      expectedRows(POINTS.slice(1)),
    );
  },
});

Deno.test({
  name: "influxdb v1 output reports a server that is down as retryable and writes once it is back",
  ignore: needsInfluxd.ignore,
  async fn() {
    assertRequirement(needsInfluxd);
    await using influx = await startInfluxd();
    const output = await createOutput({ url: influx.url });
    await write(output, POINTS.slice(0, 1));
    await influx.stop();
    const error = await pluginError(write(output, POINTS.slice(1)));
    assert.equal(error.retryable, true);
    assertIncludes(error.message, influx.url);
    await influx.start();
    await write(output, POINTS.slice(1));
    assert.deepStrictEqual(
      byTime(await influx.rows("SELECT * FROM raw_stats", "llama")),
      expectedRows(POINTS),
    );
  },
});

Deno.test({
  name: "influxdb v1 output reports a rejected write as final, with the server's reason",
  ignore: needsInfluxd.ignore,
  async fn() {
    assertRequirement(needsInfluxd);
    await using influx = await startInfluxd();
    await influx.query('CREATE DATABASE "llama"');
    // Our fields are always floats: an integer `loss` stored first makes them conflict.
    const seeded = await fetch(`${influx.url}/write?db=llama&precision=s`, {
      method: "POST",
      body: `raw_stats,src_ip=::,dst_ip=127.0.0.9 loss=1i ${T0 / 1000}`,
    });
    assert.deepStrictEqual([seeded.status, await seeded.text()], [204, ""]);
    const output = await createOutput({ url: influx.url });
    const error = await pluginError(write(output, POINTS));
    assert.equal(error.retryable, false);
    assertIncludes(error.message, "HTTP 400");
    assertIncludes(error.message, "field type conflict");
  },
});

/**
 * Checks that a write to a server that never answers fails within two seconds when the host's
 * signal aborts (the scraper's `write_timeout_ms`) and, with `ownTimeout`, also after the
 * output's own `timeout_ms`.
 */
async function assertGivesUpPromptly(
  raw: Record<string, unknown>,
  { ownTimeout }: { ownTimeout: boolean },
): Promise<void> {
  await using capture = startCaptureServer(async (_request, closing) => {
    await closing;
    return new Response(null, { status: 204 });
  });
  const cases = [
    { timeoutMs: 60_000, signal: () => AbortSignal.timeout(200) },
    ...(ownTimeout ? [{ timeoutMs: 200, signal: () => new AbortController().signal }] : []),
  ];
  for (const { timeoutMs, signal } of cases) {
    const output = await createOutput({ ...raw, url: capture.url, timeout_ms: timeoutMs });
    const started = Date.now();
    const error = await pluginError(output.write(POINTS, signal()));
    const elapsed = Date.now() - started;
    assert.ok(elapsed < 2000, `rejected after ${elapsed} ms`);
    assert.equal(error.retryable, true);
    assertIncludes(error.message, capture.url);
    assertIncludes(error.message, "timed out");
  }
}

// Version 1 does not use timeout_ms (docs/plugins.md): the host's signal ends its writes.
Deno.test("influxdb v1 output gives up as soon as the signal aborts", async () => {
  await assertGivesUpPromptly({ create_database: false }, { ownTimeout: false });
});

/** The series VictoriaMetrics should hold for points written as line protocol. */
function expectedSeries(points: readonly Point[], extraLabels: Record<string, string> = {}) {
  const series: Record<string, { values: number[]; timestamps: number[] }> = {};
  for (const point of points) {
    const tags = Object.fromEntries(Object.entries(point.tags).filter(([, value]) => value !== ""));
    for (const [field, value] of Object.entries(point.fields)) {
      if (!Number.isFinite(value)) continue;
      const key = labelsKey({ __name__: `${point.measurement}_${field}`, ...tags, ...extraLabels });
      series[key] ??= { values: [], timestamps: [] };
      series[key].values.push(significant(value));
      series[key].timestamps.push(Math.floor(point.time / 1000) * 1000);
    }
  }
  return series;
}

function bySeries(exported: ExportedSeries[]) {
  return Object.fromEntries(
    exported.map(({ metric, values, timestamps }) => [
      labelsKey(metric),
      { values: values.map(significant), timestamps },
    ]),
  );
}

/**
 * A value as VictoriaMetrics gives it back: it stores values as decimals and keeps about 12
 * significant digits (33.333333333333336 comes back as 33.333333333333), not float64's 17.
 */
function significant(value: number): number {
  return Number(value.toPrecision(12));
}

function labelsKey(labels: Record<string, string>): string {
  return JSON.stringify(Object.entries(labels).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

const RAW_STATS = '{__name__=~"raw_stats_.+"}';

Deno.test({
  name: "influxdb v2 output writes to VictoriaMetrics' /api/v2/write, values read back equal",
  ignore: needsVictoria.ignore,
  async fn() {
    assertRequirement(needsVictoria);
    await using victoria = await startVictoriaMetrics();
    const output = await createOutput({
      version: 2,
      url: victoria.url,
      org: "llama-org",
      bucket: "llama",
      token: "any-token",
    });
    await write(output, POINTS);
    const exported = await victoria.exportSeries(RAW_STATS);
    // VictoriaMetrics 1.79 puts the bucket in no label; later versions may name it `db`.
    for (const { metric } of exported) {
      if ("db" in metric) assert.deepStrictEqual(metric.db, "llama");
      delete metric.db;
    }
    assert.deepStrictEqual(bySeries(exported), expectedSeries(POINTS));
  },
});

Deno.test({
  name: "influxdb v2 output reports a server that is down as retryable and writes once it is back",
  ignore: needsVictoria.ignore,
  async fn() {
    assertRequirement(needsVictoria);
    await using victoria = await startVictoriaMetrics();
    const output = await createOutput({
      version: 2,
      url: victoria.url,
      org: "llama-org",
      bucket: "llama",
    });
    await victoria.stop();
    const error = await pluginError(write(output, POINTS.slice(0, 1)));
    assert.equal(error.retryable, true);
    assertIncludes(error.message, victoria.url);
    await victoria.start();
    await write(output, POINTS.slice(0, 1));
    assert.deepStrictEqual(
      bySeries(await victoria.exportSeries(RAW_STATS)),
      expectedSeries(POINTS.slice(0, 1)),
    );
  },
});

Deno.test("influxdb v2 output sends org, bucket, precision and token; a 400 is final, not logged", async () => {
  let status = 204;
  await using capture = startCaptureServer(() =>
    status === 204
      ? new Response(null, { status })
      : Response.json({ code: "invalid", message: "no such bucket" }, { status })
  );
  const output = await createOutput({
    version: 2,
    url: capture.url,
    org: "llama org",
    bucket: "llama/raw",
    token: "t0ken",
    precision: "ms",
  });
  await write(output, POINTS);
  const [sent] = capture.requests;
  assert.deepStrictEqual(sent.url.pathname, "/api/v2/write");
  assert.deepStrictEqual(Object.fromEntries(sent.url.searchParams), {
    org: "llama org",
    bucket: "llama/raw",
    precision: "ms",
  });
  assert.deepStrictEqual(sent.headers.get("authorization"), "Token t0ken");
  assert.deepStrictEqual(sent.body, toLineProtocol(POINTS, "ms"));

  status = 400;
  // The error is the host's to log: the client must not print it to the console as well.
  const printed: unknown[][] = [];
  const { error: consoleError, warn: consoleWarn } = console;
  console.error = console.warn = (...data: unknown[]) => void printed.push(data);
  let error: PluginError;
  try {
    error = await pluginError(write(output, POINTS));
  } finally {
    Object.assign(console, { error: consoleError, warn: consoleWarn });
  }
  assert.equal(error.retryable, false);
  assertIncludes(error.message, "no such bucket");
  assert.deepStrictEqual(printed, []);
});

Deno.test("influxdb v2 output gives up when the signal aborts or timeout_ms passes", async () => {
  await assertGivesUpPromptly({ version: 2, org: "llama", bucket: "llama" }, { ownTimeout: true });
});

Deno.test({
  name: "influxdb v1 output writes to VictoriaMetrics' /write, the database as label db",
  ignore: needsVictoria.ignore,
  async fn() {
    assertRequirement(needsVictoria);
    await using victoria = await startVictoriaMetrics();
    const output = await createOutput({ url: victoria.url });
    await write(output, POINTS);
    assert.deepStrictEqual(
      bySeries(await victoria.exportSeries(RAW_STATS)),
      expectedSeries(POINTS, { db: "llama" }),
    );
  },
});

Deno.test("influxdb v1 output writes again while a database made again still answers 404", async () => {
  // What influxd does for a moment after DROP and CREATE DATABASE under load: writes find no
  // database. Two 404s after the CREATE, then the write goes through.
  let missing = 3;
  await using capture = startCaptureServer((request) =>
    request.url.pathname === "/write" && missing-- > 0
      ? new Response('{"error":"database not found: \\"llama\\""}', { status: 404 })
      : new Response(null, { status: request.url.pathname === "/write" ? 204 : 200 })
  );
  const output = await createOutput({ url: capture.url });
  await write(output, POINTS.slice(0, 1));
  assert.deepStrictEqual(
    capture.requests.map((request) => request.url.pathname),
    ["/query", "/write", "/query", "/write", "/write", "/write"],
  );
});

Deno.test("influxdb v1 output reports a database that stays missing after CREATE as retryable", async () => {
  await using capture = startCaptureServer((request) =>
    request.url.pathname === "/write"
      ? new Response('{"error":"database not found"}', { status: 404 })
      : new Response(null, { status: 200 })
  );
  const output = await createOutput({ url: capture.url });
  const error = await pluginError(write(output, POINTS.slice(0, 1)));
  assert.equal(error.retryable, true);
  assertIncludes(error.message, "404");
});
