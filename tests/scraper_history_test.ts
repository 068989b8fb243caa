// The matrix drawn from the TSDB equals the one drawn from memory: a real scraper writes two
// collectors' intervals (paths and flows) through remote_write to real VictoriaMetrics and real
// Prometheus, and keeps them in memory for its matrix page; a second scraper started afterwards
// with `--history-from` (as after a restart) draws the same matrix and history from the TSDB.
import assert from "node:assert/strict";
import type { FlowSummary, PathSummary } from "@llama/core";
import { assertRequirement, requirement } from "./_requirements.ts";
import { type ManagedServer, startVictoriaMetrics } from "./_servers.ts";
import { startPrometheus } from "./_prometheus_server.ts";
import { type RunningProgram, startProgram } from "./_process.ts";
import { eventually, intervalCollector, quietMoment } from "./_interval_collector.ts";

const needs = requirement({ commands: ["victoria-metrics", "prometheus"] });
const UI_READY = /Serving the matrix on http:\/\/(\S+)\//;

function flow(srcPort: number, lost: number, p50: number): Omit<FlowSummary, "srcIp" | "dstIp"> {
  return {
    tos: { sent: 0, atReflector: null, onReturn: null },
    srcPort,
    dstPort: 8100,
    sent: 25,
    lost,
    lossPercent: (lost / 25) * 100,
    late: 0,
    duplicates: 0,
    reordered: 0,
    rtt: {
      min: p50 / 2,
      mean: p50,
      max: p50 * 2,
      stddev: 0.01,
      p50,
      p90: p50 * 1.5,
      p99: p50 * 1.9,
    },
    jitter: 0.01,
    dwellCorrected: 0,
  };
}

/** A path from `srcIp` whose loss and RTTs are not round numbers, with four flows. */
function path(srcIp: string, dstIp: string, rack: string, lost: number): PathSummary {
  const flows = [
    flow(30002, 0, 0.912301),
    flow(30001, lost, 0.8734),
    flow(30003, 0, 1.000007),
    flow(30004, 0, 0.777777),
  ].map((one) => ({ ...one, srcIp, dstIp }));
  const sent = 100;
  return {
    srcIp,
    dstIp,
    tags: {
      src_rack: srcIp.endsWith(".1") ? "r1" : "r2",
      dst_rack: rack,
      dst_hostname: `h-${dstIp}`,
    },
    tos: { sent: 0, atReflector: null, onReturn: null },
    sent,
    lost,
    lossPercent: (lost / sent) * 100,
    late: 0,
    duplicates: 0,
    reordered: 0,
    rtt: lost === sent ? null : {
      min: 0.3,
      mean: 0.9,
      max: 2.1,
      stddev: 0.2,
      p50: 0.873401 + lost / 1000,
      p90: 1.4,
      p99: 1.987654,
    },
    jitter: 0.02,
    dwellCorrected: 0,
    flows: lost === sent
      ? flows.map((one) => ({ ...one, lost: 25, lossPercent: 100, rtt: null }))
      : flows,
  };
}

const QUERIES = [
  "/api/v1/matrix?rows=src_ip&cols=dst_ip&intervals=INTERVALS",
  "/api/v1/matrix?rows=src_rack&cols=dst_rack&intervals=INTERVALS",
  "/api/v1/matrix?rows=src_ip&cols=dst_hostname&intervals=1",
];

/**
 * An API answer, every number to 15 significant digits: the TSDB holds RTTs in seconds, and a
 * millisecond value that needs all 17 digits (1.9000133000000001) does not survive ×0.001 and
 * back; counts and losses are whole numbers or computed from them, and unaffected.
 */
async function json(program: RunningProgram, path: string): Promise<unknown> {
  const response = await fetch(`http://${program.ready[1]}${path}`);
  const text = await response.text();
  assert.equal(response.status, 200, text);
  return JSON.parse(
    text,
    (_, value) => typeof value === "number" ? Number(value.toPrecision(15)) : value,
  );
}

/** The paths of `/api/v1/history`, without what the TSDB does not keep (timestamp sources). */
async function historyPaths(program: RunningProgram, intervals: number): Promise<unknown> {
  const body = await json(program, `/api/v1/history?intervals=${intervals}&flows=true`) as {
    intervals: { start: string; end: string; paths: unknown[] }[];
  };
  return body.intervals.map(({ start, end, paths }) => ({
    start,
    end,
    // In the order of the TSDB's answer: by address, flows by port (memory's is the collectors').
    paths: (paths as Drawn[]).map(drawn).sort((a, b) =>
      a.srcIp.localeCompare(b.srcIp) || a.dstIp.localeCompare(b.dstIp)
    ),
  }));
}

interface Statistics {
  sent: number;
  lost: number;
  lossPercent: number;
  rtt: { p50: number; p99: number } | null;
}

interface Drawn extends Statistics {
  srcIp: string;
  dstIp: string;
  tags: Record<string, string>;
  flows?: (Statistics & { srcPort: number; dstPort: number })[];
}

/** What the matrix draws of a path or flow (`StatisticsLike`): the TSDB keeps no more of it. */
function statistics({ sent, lost, lossPercent, rtt }: Statistics): Statistics {
  return { sent, lost, lossPercent, rtt: rtt === null ? null : { p50: rtt.p50, p99: rtt.p99 } };
}

/** What the matrix draws of a path (`PathLike`), flows included. */
function drawn(path: Drawn): Drawn {
  const { srcIp, dstIp, tags, flows } = path;
  const result: Drawn = { srcIp, dstIp, tags, ...statistics(path) };
  if (flows !== undefined) {
    result.flows = flows.map((flow) => ({
      srcPort: flow.srcPort,
      dstPort: flow.dstPort,
      ...statistics(flow),
    })).sort((a, b) => a.srcPort - b.srcPort || a.dstPort - b.dstPort);
  }
  return result;
}

async function matrixFromTsdbEqualsMemory(
  tsdb: ManagedServer,
  writeUrl: string,
): Promise<void> {
  await using first = intervalCollector([
    path("10.7.0.1", "10.7.1.1", "r3", 3),
    path("10.7.0.1", "10.7.1.2", "r3", 0),
    path("10.7.0.1", "10.7.1.3", "r4", 100),
  ]);
  await using second = intervalCollector([
    path("10.7.0.2", "10.7.1.1", "r3", 7),
    path("10.7.0.2", "10.7.1.4", "r4", 0),
  ]);
  const directory = await Deno.makeTempDir({ prefix: "llama-scraper-history-" });
  try {
    await Deno.writeTextFile(
      `${directory}/writer.yaml`,
      `collectors: ["${first.url}", "${second.url}"]
interval: 1
offset: 0.2
timeout: 0.5
flows: true
data_directory: ./data
outputs:
  - use: remote_write
    options: { url: "${writeUrl}", paths: all }
`,
    );
    await using writer = await startProgram(
      "scraper/main.ts",
      ["--config", `${directory}/writer.yaml`, "--ui", "127.0.0.1:0"],
      { readyPattern: UI_READY },
    );
    await new Promise((resolve) => setTimeout(resolve, 4500));
    await quietMoment();
    first.freeze();
    second.freeze();
    await new Promise((resolve) => setTimeout(resolve, 1500));
    const memoryHistory = await historyPaths(writer, 30) as unknown[];
    const intervals = memoryHistory.length;
    assert.ok(intervals >= 3, `only ${intervals} intervals in memory: ${writer.stderr()}`);

    // A second scraper with nothing to scrape of its own, as one restarted after an outage.
    await Deno.writeTextFile(
      `${directory}/reader.yaml`,
      `collectors: ["127.0.0.1:1"]\ninterval: 1\ndata_directory: ./data2\n`,
    );
    await using reader = await startProgram("scraper/main.ts", [
      "--config",
      `${directory}/reader.yaml`,
      "--ui",
      "127.0.0.1:0",
      "--history-from",
      tsdb.url,
    ], { readyPattern: UI_READY });
    // The TSDB makes samples searchable within a few seconds; the reader refreshes every second.
    let difference = "";
    await eventually(
      async () => {
        try {
          assert.deepStrictEqual(await historyPaths(reader, intervals), memoryHistory);
          return true;
        } catch (error) {
          difference = (error as Error).message.slice(0, 3000);
          return false;
        }
      },
      () => `the TSDB's history never equalled memory's: ${difference}`,
      20_000,
    );
    for (const query of QUERIES) {
      const wanted = query.replace("INTERVALS", String(intervals));
      const fromMemory = await json(writer, wanted);
      assert.deepStrictEqual(await json(reader, wanted), fromMemory, wanted);
    }
    const matrix = await json(reader, QUERIES[0].replace("INTERVALS", String(intervals))) as {
      intervals: { cells: { worstFlowLoss: number | null }[] }[];
    };
    // Not an empty matrix that equals another empty one: every path is there, flows too.
    assert.equal(matrix.intervals.length, intervals);
    assert.equal(matrix.intervals.at(-1)!.cells.length, 5);
    assert.ok(matrix.intervals.at(-1)!.cells.some((cell) => cell.worstFlowLoss === 12));
  } finally {
    await Deno.remove(directory, { recursive: true });
  }
}

Deno.test({
  name: "scraper's matrix and history read from VictoriaMetrics equal those drawn from memory",
  ignore: needs.ignore,
  async fn() {
    assertRequirement(needs);
    await using victoria = await startVictoriaMetrics();
    await matrixFromTsdbEqualsMemory(victoria, `${victoria.url}/api/v1/write`);
  },
});

Deno.test({
  name: "scraper's matrix and history read from Prometheus equal those drawn from memory",
  ignore: needs.ignore,
  async fn() {
    assertRequirement(needs);
    await using prometheus = await startPrometheus();
    await matrixFromTsdbEqualsMemory(prometheus, prometheus.writeUrl);
  },
});
