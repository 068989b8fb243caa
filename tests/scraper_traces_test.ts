import assert from "node:assert/strict";
import { rankSuspects } from "@llama/core";
import type { OutputPlugin, Point } from "@llama/plugins";
import { PLUGIN_CONTRACT_VERSION } from "@llama/plugins";
import { parseScraperConfig, type ScraperPlugins, startScraper } from "@llama/scraper";
import {
  collectorATraces,
  collectorBTraces,
  R1,
  R2A,
  R3,
  tracesBody,
  tracingCollector,
} from "./_trace_collectors.ts";
import { startProgram } from "./_process.ts";
import { llamaCollector, summaryBody, waitUntil } from "./_hostile.ts";

/** An output keeping every point it is given. */
function recorder(): { plugins: ScraperPlugins; points: Point[] } {
  const points: Point[] = [];
  const plugin: OutputPlugin = {
    kind: "output",
    name: "record",
    contract: PLUGIN_CONTRACT_VERSION,
    parseOptions: () => ({}),
    create: () => ({
      write(batch) {
        points.push(...batch);
        return Promise.resolve();
      },
    }),
  };
  return {
    plugins: { outputs: [{ plugin, name: "record", options: {}, path: "outputs[0]" }], tags: [] },
    points,
  };
}

const key = (link: { from: string; to: string | null }) => `${link.from}>${link.to}`;

Deno.test("scraper ranks suspects over every collector's traces, sharper than one collector's", async () => {
  await using a = tracingCollector(() => tracesBody(collectorATraces()));
  await using b = tracingCollector(() => tracesBody(collectorBTraces()));
  const { plugins, points } = recorder();
  const config = parseScraperConfig(
    `collectors: [{url: "http://${a.address}", name: a}, {url: "http://${b.address}", name: b}]\n` +
      "interval: 3600\n",
  );
  await using scraper = await startScraper(config, plugins);
  await scraper.scrapeNow();
  // Collector A alone cannot tell r1>r2a from r2a>r3: only its lossy flows cross either.
  const alone = rankSuspects(
    collectorATraces().map((trace) => ({ trace, lossPercent: trace.flowLossPercent! })),
  ).suspects;
  assert.deepEqual(alone.slice(0, 2).map(key), [`${R1}>${R2A}`, `${R2A}>${R3}`]);
  assert.equal(alone[0].score, alone[1].score);
  // B's clean flows through r2a>r3, and its lossy one through r1>r2a, settle it.
  const fleet = scraper.suspects();
  assert.equal(fleet.lossyFlows, 5);
  assert.equal(fleet.cleanFlows, 7);
  assert.deepEqual(
    { ...fleet.suspects[0], examples: fleet.suspects[0].examples.length },
    {
      from: R1,
      to: R2A,
      score: 0.5,
      lossyFlows: 5,
      cleanFlows: 0,
      onsetFlows: 0,
      examples: 5,
      collectors: 2,
    },
  );
  const downstream = fleet.suspects.find((suspect) => key(suspect) === `${R2A}>${R3}`)!;
  assert.ok(downstream.score < alone[1].score, `r2a>r3 scores ${downstream.score}`);
  assert.equal(downstream.cleanFlows, 3);
  const traces = scraper.traces();
  assert.equal(traces.length, 12);
  assert.deepEqual([...new Set(traces.map((trace) => trace.collector))], ["a", "b"]);
  // The round's top suspect reached the output as a point, beside the summaries' points.
  await waitUntil(
    () => points.some((point) => point.measurement === "llama_suspect"),
    10_000,
    () => `no llama_suspect point in ${JSON.stringify(points.map((p) => p.measurement))}`,
  );
  const suspects = points.filter((point) => point.measurement === "llama_suspect");
  assert.deepEqual(suspects.map(({ tags, fields }) => ({ tags, fields })), [{
    tags: { from: R1, to: R2A },
    fields: { score: 0.5, lossy_flows: 5, clean_flows: 0, onset_flows: 0, collectors: 2 },
  }]);
  assert.ok(points.some((point) => point.measurement === "raw_stats"));
});

Deno.test("scraper writes a path change once per new trace, naming the TTL that changed", async () => {
  let changed = false;
  let startedAt = "2026-01-01T00:00:00.000Z";
  await using a = tracingCollector(() => {
    const traces = collectorATraces(2, changed);
    if (changed) {
      traces[0] = {
        ...traces[0],
        startedAt,
        hops: traces[0].hops.map((hop) => hop.ttl === 3 ? { ...hop, address: "10.0.2.9" } : hop),
      };
    }
    return tracesBody(traces);
  });
  const { plugins, points } = recorder();
  const config = parseScraperConfig(`collectors: ["${a.address}"]\ninterval: 3600\n`);
  await using scraper = await startScraper(config, plugins);
  const changes = () => points.filter((point) => point.measurement === "llama_path_change");
  await scraper.scrapeNow();
  changed = true;
  startedAt = "2026-01-01T00:01:00.000Z";
  await scraper.scrapeNow();
  await scraper.scrapeNow(); // the same trace again: no new point
  startedAt = "2026-01-01T00:02:00.000Z";
  await scraper.scrapeNow();
  await waitUntil(() => changes().length >= 2, 10_000, () => `${changes().length} path changes`);
  assert.deepEqual(changes(), [{
    measurement: "llama_path_change",
    tags: {
      src_ip: "10.1.0.1",
      dst_ip: "10.0.9.1",
      src_port: "33000",
      dst_port: "8100",
      tos: "0",
    },
    fields: { hops: 5, reached_target: 1, changed_ttl: 3, reverse_hops: 5 },
    time: Date.parse("2026-01-01T00:01:00.000Z"),
  }, {
    measurement: "llama_path_change",
    tags: {
      src_ip: "10.1.0.1",
      dst_ip: "10.0.9.1",
      src_port: "33000",
      dst_port: "8100",
      tos: "0",
    },
    // Against the trace before, the same path: no changed_ttl.
    fields: { hops: 5, reached_target: 1, reverse_hops: 5 },
    time: Date.parse("2026-01-01T00:02:00.000Z"),
  }]);
});

Deno.test("scraper refuses a hostile /api/v1/traces body, counts it, and keeps scraping", async () => {
  await using good = tracingCollector(() => tracesBody(collectorATraces()));
  await using hostile = tracingCollector(() => ({
    tracing: { available: true },
    traces: [{ ...collectorBTraces()[0], srcPort: "http" }],
  }));
  await using old = llamaCollector(() => summaryBody()); // no /api/v1/traces: does not trace
  await using off = tracingCollector(() => ({
    tracing: { available: false, reason: "no native engine" },
    traces: [],
  }));
  const { plugins, points } = recorder();
  const names = ["good", "hostile", "old", "off"];
  const config = parseScraperConfig(
    `collectors: [${
      [good, hostile, old, off].map((c, i) => `{url: "http://${c.address}", name: ${names[i]}}`)
        .join(", ")
    }]\ninterval: 3600\n`,
  );
  await using scraper = await startScraper(config, plugins);
  await scraper.scrapeNow();
  await scraper.scrapeNow();
  const status = Object.fromEntries(scraper.collectors().map((s) => [s.collector.name, s]));
  assert.equal(status.hostile.refused.invalid_traces, 2);
  assert.ok(names.every((name) => status[name].up), "every collector is up");
  assert.deepEqual(names.map((name) => status[name].tracing), [true, undefined, false, false]);
  assert.equal(scraper.traces().length, 8, "only the good collector's traces");
  await waitUntil(
    () => new Set(points.filter((p) => p.measurement === "raw_stats").map((p) => p.time)).size > 0,
    10_000,
    () => "no raw_stats point",
  );
  assert.match(
    scraper.metrics(),
    /llama_scraper_responses_refused_total\{collector="hostile",reason="invalid_traces"\} 2/,
  );
});

Deno.test("scraper program serves /api/v1/suspects and /api/v1/traces beside its matrix, and prints the events", async () => {
  await using a = tracingCollector(() => tracesBody(collectorATraces(8, true)));
  await using b = tracingCollector(() => tracesBody(collectorBTraces()));
  const directory = await Deno.makeTempDir({ prefix: "llama-scraper-traces-" });
  try {
    await Deno.writeTextFile(
      `${directory}/scraper.yaml`,
      `collectors: [{url: "http://${a.address}", name: a}, {url: "http://${b.address}", name: b}]\n` +
        `interval: 1\ndata_directory: ${directory}/data\nui: 127.0.0.1:0\n`,
    );
    await using program = await startProgram(
      "scraper/main.ts",
      ["--config", `${directory}/scraper.yaml`],
      { readyPattern: /Serving the matrix on http:\/\/(\S+)\// },
    );
    const base = `http://${program.ready[1]}`;
    await program.waitForStdout(/^llama_suspect,/m);
    await program.waitForStdout(/^llama_path_change,/m);
    const suspects = await (await fetch(`${base}/api/v1/suspects`)).json();
    assert.equal(suspects.suspects[0].from, R1);
    assert.equal(suspects.suspects[0].collectors, 2);
    const traces = await (await fetch(`${base}/api/v1/traces`)).json();
    assert.equal(traces.length, 12);
    assert.equal(traces[0].collector, "a");
    const lines = program.stdout().split("\n");
    // Line protocol: tags and fields sorted, time in seconds (the round's, the trace's start).
    assert.ok(
      lines.some((line) =>
        /^llama_suspect,from=10\.0\.1\.1,to=10\.0\.2\.1 clean_flows=0,collectors=2,lossy_flows=5,onset_flows=0,score=0\.5 \d{10}$/
          .test(line)
      ),
      lines.filter((line) => line.startsWith("llama_suspect")).join("\n"),
    );
    assert.ok(
      lines.includes(
        "llama_path_change,dst_ip=10.0.9.1,dst_port=8100,src_ip=10.1.0.1,src_port=33000,tos=0 " +
          `hops=5,reached_target=1,reverse_hops=5 ${Date.parse("2026-01-01T00:00:00Z") / 1000}`,
      ),
      lines.filter((line) => line.startsWith("llama_path_change")).join("\n"),
    );
  } finally {
    await Deno.remove(directory, { recursive: true });
  }
});
