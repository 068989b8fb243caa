import assert from "node:assert/strict";
import { ConfigError } from "@llama/core";
import { startReflector } from "@llama/reflector";
import type { OutputPlugin, Point } from "@llama/plugins";
import { PLUGIN_CONTRACT_VERSION } from "@llama/plugins";
import {
  loadScraperPlugins,
  parseScraperConfig,
  type ScraperPlugins,
  startScraper,
} from "@llama/scraper";
import { collectorYaml, startRecordingCollector } from "./_collector.ts";
import { runProgram } from "./_process.ts";
import { parsePrometheusText } from "./_prometheus.ts";

const fixtureBody = await Deno.readFile(
  new URL("./fixtures/original/influxdata_response.json", import.meta.url),
);

/** An output that keeps what it is given, for tests of the scraper itself. */
function recorder(): { plugins: ScraperPlugins; batches: Point[][] } {
  const batches: Point[][] = [];
  const plugin: OutputPlugin = {
    kind: "output",
    name: "record",
    contract: PLUGIN_CONTRACT_VERSION,
    parseOptions: () => ({}),
    create: () => ({
      write(points) {
        batches.push([...points]);
        return Promise.resolve();
      },
    }),
  };
  return {
    plugins: { outputs: [{ plugin, name: "record", options: {}, path: "outputs[0]" }], tags: [] },
    batches,
  };
}

/** A collector double: `handler` answers its requests. */
function fakeCollector(
  handler: (request: Request) => Response | Promise<Response>,
): Deno.HttpServer<Deno.NetAddr> & { url: string } {
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, handler);
  return Object.assign(server, { url: `127.0.0.1:${server.addr.port}` });
}

async function waitFor(condition: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

Deno.test("scraper reads a llama collector's summaries, dated by their interval, and skips a stale one", async () => {
  await using reflector = await startReflector({ hostname: "127.0.0.1", port: 0, maxPps: 0 });
  await using run = await startRecordingCollector(
    collectorYaml({
      targets: [["127.0.0.1", reflector.address.port, { dst_hostname: "localhost" }]],
      interval: 1,
    }),
    { serveApi: true },
  );
  // The second interval: the first is partial, and may hold one probe a flow (then no jitter).
  const summary = await run.next(2);
  const { plugins, batches } = recorder();
  const config = parseScraperConfig(
    `collectors: ["127.0.0.1:${run.collector.apiAddress!.port}"]\nflows: true\ninterval: 3600\n`,
  );
  await using scraper = await startScraper(config, plugins);
  await scraper.scrapeNow();
  await waitFor(() => batches.length === 1);
  const points = batches[0];
  const path = points.find((point) => point.measurement === "raw_stats")!;
  assert.equal(path.time, Date.parse(run.collector.latest()!.start));
  assert.ok(path.time >= Date.parse(summary.start));
  assert.deepEqual(path.tags, {
    dst_hostname: "localhost",
    src_ip: "127.0.0.1",
    dst_ip: "127.0.0.1",
  });
  assert.deepEqual(
    Object.keys(path.fields).sort(),
    [
      "duplicates",
      "jitter",
      "late",
      "loss",
      "lost",
      "reordered",
      "rtt",
      "rtt_max",
      "rtt_min",
      "rtt_p50",
      "rtt_p90",
      "rtt_p99",
      "rtt_stddev",
      "sent",
    ],
  );
  assert.equal(path.fields.loss, 0);
  const flows = points.filter((point) => point.measurement === "flow_stats");
  assert.equal(flows.length, 4);
  assert.equal(new Set(flows.map((flow) => flow.tags.src_port)).size, 4);
  // Scraped again before the collector publishes: nothing is written twice.
  await scraper.scrapeNow();
  assert.equal(batches.length, 1);
  assert.equal(scraper.collectors()[0].stale + batches.length, 2);
});

Deno.test("scraper reads an original collector's /influxdata and writes the original's line protocol", async () => {
  let requests = 0;
  await using collector = fakeCollector((request) => {
    requests++;
    const path = new URL(request.url).pathname;
    return path === "/influxdata"
      ? new Response(fixtureBody, { headers: { "content-type": "application/json" } })
      : new Response("404 page not found\n", { status: 404 });
  });
  // Its own data directory: the default one may be in use by another test's scraper.
  const data = await Deno.makeTempDir({ prefix: "llama-scraper-data-" });
  const { code, stdout, stderr } = await runProgram("scraper/main.ts", [
    "-llama.collector-hosts",
    collector.url,
    "-llama.interval",
    "5",
    "--once",
    "--data-dir",
    data,
  ]).finally(() => Deno.remove(data, { recursive: true }));
  assert.equal(code, 0, stderr);
  const lines = stdout.trim().split("\n");
  assert.equal(lines.length, 3);
  // The original's fields and tags, sorted, floats without a type suffix; the time is the
  // interval before the scrape (the original collector leaves it at zero).
  assert.match(
    lines[0],
    /^raw_stats,dst_hostname=localhost,dst_ip=127\.0\.0\.1,dst_region=west,src_ip=:: loss=10\.10101,lost=20,rtt=0\.207123,sent=198 \d{10}$/,
  );
  assert.match(
    lines[2],
    /^raw_stats,dst_hostname=nobody-home,dst_ip=127\.0\.0\.3,src_ip=:: loss=100,lost=178,rtt=0,sent=178 \d{10}$/,
  );
  const time = Number(lines[0].split(" ")[2]);
  assert.equal(time % 5, 0, "aligned to the 5 s interval");
  assert.ok(Math.abs(time - Date.now() / 1000) < 11);
  assert.equal(requests, 2, "tried the llama API, then /influxdata");
});

Deno.test("scraper: a slow collector delays no other and is reported; bad answers are errors naming it", async () => {
  const original = (request: Request) =>
    new URL(request.url).pathname === "/influxdata"
      ? new Response(fixtureBody)
      : new Response("", { status: 404 });
  const fast = fakeCollector(original);
  const slow = fakeCollector(async (request) => {
    await new Promise((resolve) => setTimeout(resolve, 3000));
    return original(request);
  });
  const broken = fakeCollector((request) =>
    new URL(request.url).pathname === "/influxdata"
      ? new Response("not json")
      : new Response("", { status: 404 })
  );
  const failing = fakeCollector(() => new Response("boom", { status: 500 }));
  try {
    const { plugins, batches } = recorder();
    const config = parseScraperConfig(
      `collectors:\n  - ${fast.url}\n  - {url: "${slow.url}", name: slow}\n  - ${broken.url}\n  - ${failing.url}\ninterval: 3600\ntimeout: 1\n`,
    );
    await using scraper = await startScraper(config, plugins);
    const started = Date.now();
    const round = scraper.scrapeNow();
    await waitFor(() => batches.length === 1);
    assert.ok(
      Date.now() - started < 900,
      "the fast collector's points did not wait for the slow one",
    );
    await round;
    assert.ok(Date.now() - started < 2500, "the slow collector was given up after its timeout");
    const status = Object.fromEntries(
      scraper.collectors().map((item) => [item.collector.name, item]),
    );
    assert.equal(status[fast.url].up, true);
    assert.equal(status.slow.up, false);
    assert.match(
      status.slow.lastError!,
      /collector slow: GET http:\/\/127\.0\.0\.1:\d+\/api\/v1\/summaries\?flows=false failed: timed out/,
    );
    assert.match(status[broken.url].lastError!, /\/influxdata did not answer JSON/);
    assert.match(status[failing.url].lastError!, /answered HTTP 500/);
    const metrics = parsePrometheusText(scraper.metrics());
    assert.equal(metrics.get(`llama_scraper_collector_up{collector="slow"}`), 0);
    assert.equal(metrics.get(`llama_scraper_scrapes_total{collector="slow",result="failed"}`), 1);
    assert.equal(
      metrics.get(`llama_scraper_scrapes_total{collector="${fast.url}",result="ok"}`),
      1,
    );
    assert.equal(metrics.get(`llama_scraper_points_written_total{output="record"}`), 3);
  } finally {
    await Promise.all([fast.shutdown(), slow.shutdown(), broken.shutdown(), failing.shutdown()]);
  }
});

Deno.test("scraper config errors name the file, line, column and path, plugin options included", async () => {
  const directory = await Deno.makeTempDir();
  try {
    const cases: [string, RegExp][] = [
      ["interval: 30\n", /scraper\.yaml:1:1: missing "collectors"/],
      [
        "collectors: [a:5000]\nintervall: 3\n",
        /scraper\.yaml:2:1: intervall: unknown key "intervall" \(did you mean "interval"\?\)/,
      ],
      [
        "collectors: [a:5000, 'http://a:5000/']\n",
        /scraper\.yaml:1:22: collectors\[1\]: collector "a:5000" is listed twice/,
      ],
      [
        'collectors: ["ftp://x"]\n',
        /scraper\.yaml:1:14: collectors\[0\]: expected host:port or an http\(s\) URL, got "ftp:\/\/x"/,
      ],
      [
        "collectors: [a:5000]\noutputs:\n  - use: influxdb\n    options:\n      url: nowhere\n",
        /scraper\.yaml:5:12: outputs\[0\]\.options\.url: influxdb: expected a URL like http:\/\/127\.0\.0\.1:8086, got "nowhere"/,
      ],
      [
        "collectors: [a:5000]\noutputs:\n  - use: stdout\n    options: {format: xml}\n",
        /scraper\.yaml:4:23: outputs\[0\]\.options\.format: stdout: expected one of line, json, got "xml"/,
      ],
      [
        "collectors: [a:5000]\noutputs:\n  - use: ./missing_plugin.ts\n",
        /scraper\.yaml:3:10: outputs\[0\]\.use: Cannot load plugin "\.\/missing_plugin\.ts": importing file:\/\/.*missing_plugin\.ts failed/,
      ],
      [
        "collectors: [a:5000]\ntags:\n  - use: influxdb\n",
        /scraper\.yaml:3:10: tags\[0\]\.use: Cannot load plugin "influxdb": "influxdb" is a built-in output plugin, but a tags plugin is needed here/,
      ],
      [
        "collectors: [a:5000]\ntags:\n  - use: static\n",
        /scraper\.yaml:3:5: tags\[0\]\.options\.file: static: missing: expected a YAML, JSON or CSV file/,
      ],
    ];
    for (const [text, message] of cases) {
      const file = `${directory}/scraper.yaml`;
      await Deno.writeTextFile(file, text);
      await assert.rejects(
        async () => await loadScraperPlugins(parseScraperConfig(text, { file }), text),
        (error: Error) => {
          assert.ok(error instanceof ConfigError, `${text}: ${error}`);
          assert.match(error.message, message);
          return true;
        },
        text,
      );
    }
  } finally {
    await Deno.remove(directory, { recursive: true });
  }
});

Deno.test("scraper program: original flags, --check, and a clear exit 2 without collectors", async () => {
  const none = await runProgram("scraper/main.ts", []);
  assert.equal(none.code, 2);
  assert.match(none.stderr, /No collectors: give --config FILE or -llama.collector-hosts/);
  const check = await runProgram("scraper/main.ts", [
    "-llama.collector-hosts",
    "c1,c2:6000",
    "-llama.influxdb-host",
    "127.0.0.1",
    "--check",
  ]);
  assert.equal(check.code, 0, check.stderr);
  assert.match(check.stderr, /the flags are valid: 2 collectors, outputs: influxdb/);
  const bad = await runProgram("scraper/main.ts", [
    "-llama.collector-hosts",
    "c1",
    "-llama.influxdb-port",
    "0",
  ]);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /--llama.influxdb-port takes a whole number from 1 to 65535, got 0/);
});

Deno.test("every sample scraper config in configs/ passes --check", async () => {
  const names = [...Deno.readDirSync(new URL("../configs/", import.meta.url))]
    .map((entry) => entry.name)
    .filter((name) => name.startsWith("scraper") && name.endsWith(".yaml"))
    .sort();
  assert.deepEqual(names, ["scraper.influxdb.yaml", "scraper.remote_write.yaml", "scraper.yaml"]);
  for (const name of names) {
    const { code, stderr } = await runProgram("scraper/main.ts", [
      "--config",
      `configs/${name}`,
      "--check",
    ]);
    assert.equal(code, 0, stderr);
    assert.match(stderr, new RegExp(`configs/${name} is valid: \\d collectors, outputs: `));
  }
});

Deno.test("collectors behind one proxy are told apart by their path", () => {
  const config = parseScraperConfig(
    "collectors: ['http://proxy:8080/c1/', 'http://proxy:8080/c2', '[::1]:5000']\n",
    { file: "scraper.yaml" },
  );
  assert.deepEqual(
    config.collectors.map((collector) => [collector.name, collector.url.href]),
    [
      ["proxy:8080/c1", "http://proxy:8080/c1/"],
      ["proxy:8080/c2", "http://proxy:8080/c2/"],
      ["[::1]:5000", "http://[::1]:5000/"],
    ],
  );
});
