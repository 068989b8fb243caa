/**
 * The collector benchmark: `deno task bench collector [--quick [--record]]`.
 *
 * It measures three things of one collector on loopback: the highest probe rate it sustains
 * against the C reference reflector `refl_c` (which answers far more than the collector sends, so
 * any loss is the collector's own); how far its median RTT sits above the kernel-timestamped
 * RTT `probeblast` measures against the same reflector instance; and its memory per path at
 * 10,000 paths, with the size and time of `/api/v1/summaries` there.
 *
 * @module
 */
import { formatUsage, parseFlags, type SocketAddress, UsageError } from "@llama/core";
import {
  type Benchmark,
  type BenchmarkContext,
  buildReferenceTools,
  delay,
  findFreeUdpPort,
  markdownTable,
  type ProbeblastResult,
  type ProcessUsage,
  readProcessUsage,
  readUdpSocketDrops,
  type ReadyProcess,
  type ReferenceTools,
  runProbeblast,
  spawnUntilReady,
  textTable,
} from "./_tools.ts";

const FLAGS = {
  quick: {
    type: "boolean",
    description: "Fewer rates, shorter intervals: a smoke test of the harness in about a minute",
  },
  record: {
    type: "boolean",
    description: "With --quick, still append the results to bench/RESULTS.md",
  },
} as const;

/** How thorough a run is. */
interface Plan {
  /** Total probe rates tried in order, stopping at the first that fails. */
  rates: number[];
  /** Whether to try once between the last rate that passed and the first that failed. */
  bisect: boolean;
  /** Summarization interval of the throughput runs, seconds. */
  throughputIntervalSeconds: number;
  /** Complete intervals measured per rate, after one complete interval of warm-up. */
  throughputIntervals: number;
  /** Seconds of `probeblast` at 1k probes/s for the kernel's view of the RTT. */
  probeblastSeconds: number;
  /** Summarization interval of the collector's RTT run, seconds. */
  rttIntervalSeconds: number;
  /** Complete intervals whose RTT p50 is averaged, after one complete interval of warm-up. */
  rttIntervals: number;
  /** Cycles per second of the memory runs; with `memoryIntervalSeconds` it covers every target. */
  memoryCps: number;
  /** Summarization interval of the memory runs, seconds. */
  memoryIntervalSeconds: number;
  /** Complete intervals published before memory is read. */
  memoryIntervals: number;
}

const FULL_PLAN: Plan = {
  rates: [2, 5, 10, 20, 30, 40, 60, 80, 100].map((thousands) => thousands * 1000),
  bisect: true,
  throughputIntervalSeconds: 2,
  throughputIntervals: 2,
  probeblastSeconds: 10,
  rttIntervalSeconds: 5,
  rttIntervals: 2,
  // A cycle (every socket to every target) of 10 s fits one 10-second interval exactly, so every
  // summary holds all 10,000 paths: at cps 0.1 a 5-second interval would hold only half of them.
  memoryCps: 0.1,
  memoryIntervalSeconds: 10,
  memoryIntervals: 2,
};

const QUICK_PLAN: Plan = {
  rates: [5_000, 20_000, 40_000, 80_000],
  bisect: false,
  throughputIntervalSeconds: 2,
  throughputIntervals: 1,
  probeblastSeconds: 3,
  rttIntervalSeconds: 2,
  rttIntervals: 2,
  memoryCps: 0.2,
  memoryIntervalSeconds: 5,
  memoryIntervals: 2,
};

/** Sockets in the port group of every run, as in the original's default config. */
const SOCKETS = 4;
/** The probe timeout of every run (the original's default), milliseconds. */
const PROBE_TIMEOUT_MILLISECONDS = 1000;
/** A rate passes with fewer probes lost than this fraction of those sent… */
const MAXIMUM_LOSS = 0.001;
/** …and at least this fraction of the probes its schedule asks for actually sent. */
const REQUIRED_SENT = 0.99;
const RTT_SAMPLE_RATE = 1_000;
const MEMORY_TARGETS = [10, 10_000] as const;
/** GETs of each summaries variant at 10,000 paths; the median time is reported. */
const SUMMARY_GETS = 3;
const REFLECTOR_WARM_UP_MILLISECONDS = 1_000;
/** How long after the measured intervals end the counters are read. */
const SETTLE_MILLISECONDS = 100;

const REFERENCE_NOTE = "References (shared/tools/README.md, not measured here): the original " +
  "LLAMA collector (Go) reports a mean RTT of 0.14–0.18 ms on a loopback path whose " +
  "kernel-timestamped RTT is ~0.02 ms. Product targets: RTT bias ≤ 10 µs (needs the kernel " +
  "timestamps of a native socket engine), memory ≤ 1 KB per path.";

// ---- the collector as a process ---------------------------------------------------------------

/** What one collector run probes. */
interface CollectorSetup {
  intervalSeconds: number;
  cps: number;
  /** Address the probe sockets bind. */
  bindIp: string;
  targets: readonly SocketAddress[];
  /**
   * Deny the collector `ip`: its source-address lookup then falls back to the bind address.
   * Needed above ~3,600 targets, where the lookup deadlocks (see `measureMemory`).
   */
  denyRun?: boolean;
}

/** One `Interval …` log line. */
interface IntervalLine {
  start: string;
  paths: number;
  sent: number;
  lost: number;
}

/** What `/api/v1/summaries` returns, as far as this benchmark reads it. */
interface SummariesResponse {
  start: string | null;
  timestampSource: string | null;
  paths: {
    sent: number;
    lost: number;
    late: number;
    dwellCorrected: number;
    rtt: { min: number; p50: number; p99: number } | null;
  }[];
}

/** A running collector; disposing it stops it. */
interface CollectorProcess extends AsyncDisposable {
  pid: number;
  /** `http://host:port` of its API. */
  api: string;
  /** Waits for the next interval the collector publishes. */
  nextInterval(): Promise<IntervalLine>;
  /** GETs an API path; returns the body and how long the request took. */
  get(path: string): Promise<{ body: string; milliseconds: number }>;
}

/** What every measurement needs. */
interface RunSetup {
  tools: ReferenceTools;
  context: BenchmarkContext;
  /** A scratch folder for config files. */
  directory: string;
}

const INTERVAL_LINE =
  /Interval (?<start>\S+): (?<paths>\d+) paths, (?<sent>\d+) probes sent, (?<lost>\d+) lost/;
const POLL_MILLISECONDS = 50;
const REQUEST_TIMEOUT_MILLISECONDS = 30_000;

function collectorConfig(setup: CollectorSetup): string {
  return [
    `summarization: {interval: ${setup.intervalSeconds}, handlers: 2}`,
    `api: {bind: "127.0.0.1:0"}`,
    `ports: {p: {ip: "${setup.bindIp}", port: 0, tos: 0, timeout: ${PROBE_TIMEOUT_MILLISECONDS}}}`,
    `port_groups: {g: [{port: p, count: ${SOCKETS}}]}`,
    `rate_limits: {r: {cps: ${setup.cps}}}`,
    "tests: [{targets: t, port_group: g, rate_limit: r}]",
    "targets:",
    "  t:",
    ...setup.targets.map((target) =>
      `    - {ip: "${target.hostname}", port: ${target.port}, tags: {}}`
    ),
    "",
  ].join("\n");
}

/** Starts `collector/main.ts` on a config written for `setup`; resolves once its API serves. */
async function startCollector(setup: CollectorSetup, run: RunSetup): Promise<CollectorProcess> {
  const { context } = run;
  const file = await Deno.makeTempFile({ dir: run.directory, suffix: ".yaml" });
  await Deno.writeTextFile(file, collectorConfig(setup));
  const intervals: IntervalLine[] = [];
  const child: ReadyProcess = await spawnUntilReady(Deno.execPath(), {
    args: [
      ...["run", "-A", ...(setup.denyRun ? ["--deny-run"] : [])],
      ...["collector/main.ts", "--config", file],
    ],
    cwd: context.repositoryRoot,
    readyPattern: /Serving the API on (?<url>http:\/\/\S+)/,
    timeoutMilliseconds: 60_000,
    signal: context.signal,
    onLine: (line) => {
      const groups = INTERVAL_LINE.exec(line)?.groups;
      if (groups === undefined) return;
      intervals.push({
        start: groups.start,
        paths: Number(groups.paths),
        sent: Number(groups.sent),
        lost: Number(groups.lost),
      });
    },
  });
  const api = child.ready.groups!.url;
  // The first interval may wait for a whole interval, the publishing delay and a slow start.
  const intervalTimeout = 2 * setup.intervalSeconds * 1000 + PROBE_TIMEOUT_MILLISECONDS + 10_000;
  return {
    pid: child.pid,
    api,
    async nextInterval() {
      const deadline = performance.now() + intervalTimeout;
      while (intervals.length === 0) {
        if (performance.now() > deadline) {
          throw new Error(
            `The collector published no interval within ${intervalTimeout / 1000} s. ` +
              `Its last output:\n${child.recentOutput()}`,
          );
        }
        await delay(POLL_MILLISECONDS, context.signal);
      }
      return intervals.shift()!;
    },
    async get(path) {
      const started = performance.now();
      const response = await fetch(`${api}${path}`, {
        signal: AbortSignal.any([
          context.signal,
          AbortSignal.timeout(REQUEST_TIMEOUT_MILLISECONDS),
        ]),
      });
      const body = await response.text();
      const milliseconds = performance.now() - started;
      if (!response.ok) throw new Error(`GET ${api}${path}: ${response.status} ${body}`);
      return { body, milliseconds };
    },
    [Symbol.asyncDispose]: () => child[Symbol.asyncDispose](),
  };
}

/** The summary of the interval a log line announced, read before the next one replaces it. */
async function readSummaries(
  collector: CollectorProcess,
  line: IntervalLine,
): Promise<SummariesResponse> {
  const summaries = JSON.parse((await collector.get("/api/v1/summaries?flows=false")).body);
  if (summaries.start !== line.start) {
    throw new Error(
      `/api/v1/summaries holds the interval of ${summaries.start}, expected ${line.start}`,
    );
  }
  return summaries;
}

/** The value of one series in Prometheus text, such as `name` or `name{label="value"}`. */
function metricValue(text: string, series: string): number {
  const line = text.split("\n").find((line) => line.startsWith(`${series} `));
  if (line === undefined) throw new Error(`/metrics has no series ${series}`);
  return Number(line.slice(series.length + 1));
}

// ---- throughput -------------------------------------------------------------------------------

/** Counters read at the start and at the end of the measured intervals. */
interface Snapshot {
  at: number;
  usage: ProcessUsage;
  /** Kernel drops at the collector's sockets so far. */
  collectorDrops: number;
  /** Kernel drops at the reflector's socket so far. */
  reflectorDrops: number;
  /** `/metrics`; reading it restarts the send-lag maximum. */
  metrics: string;
}

async function takeSnapshot(collector: CollectorProcess, reflectorPid: number): Promise<Snapshot> {
  const metrics = (await collector.get("/metrics")).body;
  return {
    at: performance.now(),
    usage: await readProcessUsage(collector.pid),
    collectorDrops: await readUdpSocketDrops(collector.pid),
    reflectorDrops: await readUdpSocketDrops(reflectorPid),
    metrics,
  };
}

type RungVerdict = "pass" | "lossy" | "behind" | "lossy and behind";

/** One rate tried: a fresh collector, measured over complete intervals. */
interface Rung {
  rate: number;
  cps: number;
  /** Complete intervals measured. */
  intervals: number;
  /** Probes the schedule asks for in them. */
  scheduled: number;
  sent: number;
  lost: number;
  /** Largest delay of a probe behind its schedule, seconds. */
  lagSeconds: number;
  skipped: number;
  socketErrors: number;
  late: number;
  collectorDrops: number;
  reflectorDrops: number;
  cpuPercent: number;
  rssKilobytes: number;
  verdict: RungVerdict;
}

interface ThroughputSetup extends RunSetup {
  plan: Plan;
  reflectorPort: number;
  reflectorPid: number;
}

/** Resolves at wall-clock time `wallMilliseconds` (the collector aligns intervals to it). */
function sleepUntil(wallMilliseconds: number, signal: AbortSignal): Promise<void> {
  return delay(Math.max(0, wallMilliseconds - Date.now()), signal);
}

async function runRung(rate: number, setup: ThroughputSetup): Promise<Rung> {
  const { plan, context } = setup;
  const cps = rate / SOCKETS;
  await using collector = await startCollector({
    intervalSeconds: plan.throughputIntervalSeconds,
    cps,
    bindIp: "0.0.0.0",
    targets: [{ hostname: "127.0.0.1", port: setup.reflectorPort }],
  }, setup);
  // The first interval is partial: the collector started inside it. The one after it is
  // warm-up; the measured ones follow, and the counters are read at their exact boundaries so
  // that kernel drops, CPU and send lag cover the same time as the summaries.
  const partial = await collector.nextInterval();
  const intervalMilliseconds = plan.throughputIntervalSeconds * 1000;
  let measuredStart = Date.parse(partial.start) + 2 * intervalMilliseconds;
  while (measuredStart < Date.now() + 100) measuredStart += intervalMilliseconds;
  const measuredEnd = measuredStart + plan.throughputIntervals * intervalMilliseconds;
  await sleepUntil(measuredStart, context.signal);
  const before = await takeSnapshot(collector, setup.reflectorPid);
  // Replies to the last probes of the measured intervals come back within a millisecond or so.
  const afterSnapshot = sleepUntil(measuredEnd + SETTLE_MILLISECONDS, context.signal)
    .then(() => takeSnapshot(collector, setup.reflectorPid));
  let sent = 0, lost = 0, late = 0;
  for (let measured = 0; measured < plan.throughputIntervals;) {
    const line = await collector.nextInterval();
    if (Date.parse(line.start) < measuredStart) continue; // the warm-up interval
    const summaries = await readSummaries(collector, line);
    for (const path of summaries.paths) {
      sent += path.sent;
      lost += path.lost;
      late += path.late;
    }
    measured++;
  }
  const after = await afterSnapshot;
  const delta = (series: string) =>
    metricValue(after.metrics, series) - metricValue(before.metrics, series);
  const scheduled = rate * plan.throughputIntervalSeconds * plan.throughputIntervals;
  const lossy = sent === 0 || lost / sent >= MAXIMUM_LOSS;
  const behind = sent < REQUIRED_SENT * scheduled;
  const rung: Rung = {
    rate,
    cps,
    intervals: plan.throughputIntervals,
    scheduled,
    sent,
    lost,
    lagSeconds: metricValue(after.metrics, "llama_collector_send_lag_seconds"),
    skipped: delta("llama_collector_probes_skipped_total"),
    socketErrors: delta("llama_collector_socket_errors_total"),
    late,
    collectorDrops: after.collectorDrops - before.collectorDrops,
    reflectorDrops: after.reflectorDrops - before.reflectorDrops,
    cpuPercent: (after.usage.cpuSeconds - before.usage.cpuSeconds) /
      ((after.at - before.at) / 1000) * 100,
    rssKilobytes: after.usage.rssKilobytes,
    verdict: lossy && behind ? "lossy and behind" : lossy ? "lossy" : behind ? "behind" : "pass",
  };
  context.progress(`  ${formatRate(rate)}/s: ${describeRung(rung)}`);
  return rung;
}

/** The outcome of the search for the highest sustained rate. */
interface RateSearch {
  /** The highest rate that passed, 0 if none did. */
  highest: number;
  /** The first rate that failed, if one did. */
  firstFailure?: Rung;
  rungs: Rung[];
}

async function findHighestRate(setup: ThroughputSetup): Promise<RateSearch> {
  const { plan } = setup;
  const rungs: Rung[] = [];
  let highest = 0;
  for (const rate of plan.rates) {
    const rung = await runRung(rate, setup);
    rungs.push(rung);
    if (rung.verdict !== "pass") {
      const middle = Math.round((highest + rate) / 2 / 1000) * 1000;
      if (plan.bisect && middle > highest && middle < rate) {
        const between = await runRung(middle, setup);
        rungs.push(between);
        if (between.verdict === "pass") highest = middle;
      }
      return { highest, firstFailure: rung, rungs };
    }
    highest = rate;
  }
  return { highest, rungs };
}

async function measureThroughput(plan: Plan, run: RunSetup): Promise<RateSearch> {
  const { context, tools } = run;
  context.progress(
    `Throughput: highest rate with < ${MAXIMUM_LOSS * 100}% loss and ≥ ${REQUIRED_SENT * 100}% ` +
      "of the schedule sent, against refl_c",
  );
  await using reflector = await startReflectorC(tools, context);
  return await findHighestRate({
    ...run,
    plan,
    reflectorPort: Number(reflector.ready.groups?.port),
    reflectorPid: reflector.pid,
  });
}

// ---- RTT bias ---------------------------------------------------------------------------------

/** A reflector, bound to every address; `start` resolves once it answers, its port in `ready`. */
interface ReflectorUnderTest {
  name: string;
  /** Whether it fills the reflection block, so the collector can subtract its dwell time. */
  reportsDwell: boolean;
  start(tools: ReferenceTools, context: BenchmarkContext): Promise<ReadyProcess>;
}

function startReflectorC(tools: ReferenceTools, context: BenchmarkContext): Promise<ReadyProcess> {
  return spawnUntilReady(tools.reflectorC, {
    args: ["-p", `${findFreeUdpPort()}`],
    readyPattern: /refl_c: reflecting on \S+:(?<port>\d+)/,
    signal: context.signal,
  });
}

const REFLECTORS: readonly ReflectorUnderTest[] = [
  {
    name: "llama reflector (Deno)",
    reportsDwell: true,
    start: (_tools, context) =>
      spawnUntilReady(Deno.execPath(), {
        args: [
          ...["run", "-A", "reflector/main.ts"],
          ...["--host", "0.0.0.0", "--port", "0", "--max-pps", "0"],
        ],
        cwd: context.repositoryRoot,
        readyPattern: /Reflecting probes on udp:\/\/(?<host>\S+):(?<port>\d+)/,
        signal: context.signal,
      }),
  },
  { name: "refl_c (C reference)", reportsDwell: false, start: startReflectorC },
];

/** The collector's RTT in one complete interval, in microseconds. */
interface RttInterval {
  p50: number;
  p99: number;
  min: number;
  answered: number;
  dwellCorrected: number;
  timestampSource: string;
}

interface RttComparison {
  reflector: ReflectorUnderTest;
  probeblast: ProbeblastResult;
  intervals: RttInterval[];
  /** Mean of the intervals' p50, µs. */
  collectorP50: number;
  /** Collector p50 minus probeblast's kernel-timestamped p50, µs. */
  bias: number;
}

async function compareRtt(
  reflector: ReflectorUnderTest,
  plan: Plan,
  run: RunSetup,
): Promise<RttComparison> {
  const { context, tools } = run;
  context.progress(`RTT at ${formatRate(RTT_SAMPLE_RATE)}/s through ${reflector.name}`);
  // One reflector instance for both tools, which take turns: neither disturbs the other.
  await using reflectorProcess = await reflector.start(tools, context);
  await delay(REFLECTOR_WARM_UP_MILLISECONDS, context.signal);
  const port = Number(reflectorProcess.ready.groups?.port);
  const probeblast = await runProbeblast(tools, {
    port,
    rate: RTT_SAMPLE_RATE,
    seconds: plan.probeblastSeconds,
    reflectorPid: reflectorProcess.pid,
    signal: context.signal,
  });
  context.progress(
    `  probeblast: kernel p50 ${formatNumber(probeblast.kernelRoundTrip.p50, 1)} µs`,
  );
  await using collector = await startCollector({
    intervalSeconds: plan.rttIntervalSeconds,
    cps: RTT_SAMPLE_RATE / SOCKETS,
    bindIp: "0.0.0.0",
    targets: [{ hostname: "127.0.0.1", port }],
  }, run);
  await collector.nextInterval(); // partial
  // The first complete interval reads higher (by up to ~25 µs) while the collector warms up.
  await collector.nextInterval();
  const intervals: RttInterval[] = [];
  for (let index = 0; index < plan.rttIntervals; index++) {
    const summaries = await readSummaries(collector, await collector.nextInterval());
    const path = summaries.paths[0];
    if (path?.rtt == null) throw new Error(`No RTT in the collector's interval ${summaries.start}`);
    intervals.push({
      p50: path.rtt.p50 * 1000,
      p99: path.rtt.p99 * 1000,
      min: path.rtt.min * 1000,
      answered: path.sent - path.lost,
      dwellCorrected: path.dwellCorrected,
      timestampSource: summaries.timestampSource ?? "unknown",
    });
    context.progress(`  collector: p50 ${formatNumber(path.rtt.p50 * 1000, 1)} µs`);
  }
  const collectorP50 = intervals.reduce((sum, interval) => sum + interval.p50, 0) /
    intervals.length;
  return {
    reflector,
    probeblast,
    intervals,
    collectorP50,
    bias: collectorP50 - (probeblast.kernelRoundTrip.p50 ?? NaN),
  };
}

// ---- memory -----------------------------------------------------------------------------------

interface MemoryReading {
  targets: number;
  /** Paths in the last summary. */
  paths: number;
  probesPerSecond: number;
  /** RSS once the required intervals were published, before any GET of the summaries. */
  rssKilobytes: number;
  /** RSS after the GETs of the summaries. */
  rssAfterGetsKilobytes: number;
  withFlows: { bytes: number; milliseconds: number };
  withoutFlows: { bytes: number; milliseconds: number };
}

/** 127.1.x.y, y from 1 to 250: distinct loopback addresses, one path each. */
function loopbackTarget(index: number, port: number): SocketAddress {
  return { hostname: `127.1.${Math.floor(index / 250)}.${(index % 250) + 1}`, port };
}

async function timedGets(
  collector: CollectorProcess,
  path: string,
): Promise<{ bytes: number; milliseconds: number }> {
  const times: number[] = [];
  let bytes = 0;
  for (let index = 0; index < SUMMARY_GETS; index++) {
    const { body, milliseconds } = await collector.get(path);
    bytes = new TextEncoder().encode(body).length;
    times.push(milliseconds);
  }
  times.sort((a, b) => a - b);
  return { bytes, milliseconds: times[Math.floor(times.length / 2)] };
}

async function measureMemory(
  targets: number,
  setup: RunSetup & { plan: Plan; reflectorPort: number },
): Promise<MemoryReading> {
  const { plan } = setup;
  // The collector asks `ip route get` for each target's source address by writing every query
  // to ip's stdin before reading its stdout: above ~3,600 targets both pipes fill and it hangs
  // before it serves. Denying it `ip` skips that lookup (a warning, then the bind address is the
  // source), and binding 127.0.0.1 makes the bind address the true source.
  await using collector = await startCollector({
    intervalSeconds: plan.memoryIntervalSeconds,
    cps: plan.memoryCps,
    bindIp: "127.0.0.1",
    targets: Array.from(
      { length: targets },
      (_, index) => loopbackTarget(index, setup.reflectorPort),
    ),
    denyRun: true,
  }, setup);
  await collector.nextInterval(); // partial
  let last: IntervalLine | undefined;
  for (let index = 0; index < plan.memoryIntervals; index++) {
    last = await collector.nextInterval();
  }
  const usage = await readProcessUsage(collector.pid);
  const withFlows = await timedGets(collector, "/api/v1/summaries");
  const withoutFlows = await timedGets(collector, "/api/v1/summaries?flows=false");
  const after = await readProcessUsage(collector.pid);
  const reading: MemoryReading = {
    targets,
    paths: last!.paths,
    probesPerSecond: plan.memoryCps * SOCKETS * targets,
    rssKilobytes: usage.rssKilobytes,
    rssAfterGetsKilobytes: after.rssKilobytes,
    withFlows,
    withoutFlows,
  };
  setup.context.progress(
    `  ${formatNumber(targets)} targets: ${formatNumber(last!.paths)} paths, RSS ` +
      `${formatMebibytes(reading.rssKilobytes)}, summaries ${formatBytes(withFlows.bytes)}`,
  );
  return reading;
}

async function measureMemoryPerPath(plan: Plan, run: RunSetup): Promise<MemoryReading[]> {
  const { context, tools } = run;
  context.progress(
    `Memory: ${MEMORY_TARGETS.map((count) => formatNumber(count)).join(" and ")} targets at ` +
      `cps ${plan.memoryCps}, ${plan.memoryIntervalSeconds}-second intervals`,
  );
  await using reflector = await startReflectorC(tools, context);
  const setup = { ...run, plan, reflectorPort: Number(reflector.ready.groups?.port) };
  // Side by side: the small collector sends 4 probes/s and only provides the baseline.
  return await Promise.all(MEMORY_TARGETS.map((targets) => measureMemory(targets, setup)));
}

// ---- formatting -------------------------------------------------------------------------------

function formatRate(rate: number): string {
  return rate >= 1000 ? `${rate / 1000}k` : `${rate}`;
}

function formatNumber(value: number | null, digits = 0): string {
  return value === null || !Number.isFinite(value) ? "n/a" : value.toLocaleString("en-US", {
    minimumFractionDigits: digits,
    maximumFractionDigits: digits,
  });
}

function formatPercent(fraction: number): string {
  return `${(fraction * 100).toFixed(fraction === 0 || fraction >= 0.01 ? 2 : 3)}%`;
}

function formatMebibytes(kilobytes: number): string {
  return `${formatNumber(kilobytes / 1024, 1)} MiB`;
}

function formatBytes(bytes: number): string {
  return bytes >= 1024 * 1024
    ? `${formatNumber(bytes / 1024 / 1024, 1)} MiB`
    : `${formatNumber(bytes / 1024, 1)} KiB`;
}

function formatSigned(value: number, digits = 1): string {
  return `${value >= 0 ? "+" : "−"}${formatNumber(Math.abs(value), digits)}`;
}

function describeRung(rung: Rung): string {
  return `sent ${formatPercent(rung.sent / rung.scheduled)} of schedule, lost ` +
    `${formatPercent(rung.sent === 0 ? 1 : rung.lost / rung.sent)} (kernel drops at the ` +
    `collector's sockets ${formatNumber(rung.collectorDrops)}), lag ` +
    `${formatNumber(rung.lagSeconds * 1000, 1)} ms, skipped ${formatNumber(rung.skipped)}, ` +
    `CPU ${formatNumber(rung.cpuPercent)}% → ${rung.verdict}`;
}

/** Says why the first failing rate failed: self-inflicted loss, falling behind, or both. */
function explainFailure(search: RateSearch): string {
  const rung = search.firstFailure;
  if (rung === undefined) {
    return `Every rate tried passed, up to ${formatRate(search.highest)}/s.`;
  }
  const parts: string[] = [];
  if (rung.verdict === "lossy" || rung.verdict === "lossy and behind") {
    const unexplained = rung.lost - rung.collectorDrops - rung.reflectorDrops;
    const share = formatPercent(rung.lost / Math.max(1, rung.sent));
    parts.push(
      `lost ${formatNumber(rung.lost)} of ${formatNumber(rung.sent)} probes (${share}): the ` +
        `kernel dropped ${formatNumber(rung.collectorDrops)} replies at the collector's own ` +
        "sockets (receive buffers full: it did not read them fast enough) and " +
        `${formatNumber(rung.reflectorDrops)} probes at refl_c's socket` +
        (rung.reflectorDrops > 0
          ? " (refl_c holds 70k/s when paced, so these came in bursts: after a stall the " +
            "collector sends its backlog at once)"
          : "") +
        (unexplained > 0
          ? `; ${formatNumber(unexplained)} more were not counted by the kernel (answers after ` +
            `the ${PROBE_TIMEOUT_MILLISECONDS} ms timeout: ${formatNumber(rung.late)} late)`
          : ""),
    );
  }
  if (rung.verdict === "behind" || rung.verdict === "lossy and behind") {
    parts.push(
      `sent only ${formatNumber(rung.sent)} of the ${formatNumber(rung.scheduled)} probes ` +
        `scheduled (${formatPercent(rung.sent / rung.scheduled)}), ` +
        `${formatNumber(rung.skipped)} skipped`,
    );
  }
  const cause = rung.verdict === "lossy"
    ? "self-inflicted loss while keeping to its schedule"
    : rung.verdict === "behind"
    ? "falling behind its schedule"
    : "both self-inflicted loss and falling behind";
  return `At ${formatRate(rung.rate)}/s the collector ${parts.join("; and ")}. Largest send lag ` +
    `${formatNumber(rung.lagSeconds * 1000, 1)} ms, CPU ${formatNumber(rung.cpuPercent)}% of a ` +
    `core: it stops at ${cause}.`;
}

interface Results {
  plan: Plan;
  search: RateSearch;
  rtt: RttComparison[];
  memory: MemoryReading[];
}

function bytesPerPath(memory: readonly MemoryReading[]): number {
  const [small, large] = memory;
  return (large.rssKilobytes - small.rssKilobytes) * 1024 / (large.targets - small.targets);
}

function headlineRows(results: Results): string[][] {
  const { search, rtt, memory, plan } = results;
  const large = memory[memory.length - 1];
  const highest = search.highest === 0
    ? `< ${formatRate(plan.rates[0])}/s`
    : search.firstFailure === undefined
    ? `≥ ${formatRate(search.highest)}/s (every rate tried passed)`
    : `${formatRate(search.highest)}/s (${formatRate(search.firstFailure.rate)}/s: ` +
      `${search.firstFailure.verdict})`;
  return [
    [
      `highest rate sustained (loss < ${MAXIMUM_LOSS * 100}%, ≥ ${REQUIRED_SENT * 100}% of ` +
      "schedule sent)",
      highest,
      "—",
    ],
    ...rtt.map(({ reflector, bias, collectorP50, probeblast }) => [
      `RTT p50 bias at ${formatRate(RTT_SAMPLE_RATE)}/s, ${reflector.name}`,
      `${formatSigned(bias)} µs (collector ${formatNumber(collectorP50, 1)}, kernel ` +
      `${formatNumber(probeblast.kernelRoundTrip.p50, 1)}; ` +
      `${reflector.reportsDwell ? "dwell subtracted" : "dwell not subtracted"})`,
      "≤ 10 µs (Go original: ~120–160 µs)",
    ]),
    [
      `memory per path at ${formatNumber(large.targets)} paths`,
      `${formatNumber(bytesPerPath(memory))} bytes`,
      "≤ 1,024 bytes",
    ],
    [
      `/api/v1/summaries at ${formatNumber(large.paths)} paths`,
      `${formatBytes(large.withFlows.bytes)} in ${formatNumber(large.withFlows.milliseconds)} ms;` +
      ` ?flows=false ${formatBytes(large.withoutFlows.bytes)} in ` +
      `${formatNumber(large.withoutFlows.milliseconds)} ms`,
      "—",
    ],
  ];
}

const HEADLINE_HEADER = ["measure", "this run", "target / reference"];

function rungRows(search: RateSearch): string[][] {
  return search.rungs.map((rung) => [
    formatRate(rung.rate),
    `${formatNumber(rung.cps)} × ${SOCKETS}`,
    `${formatNumber(rung.sent)} (${formatPercent(rung.sent / rung.scheduled)})`,
    `${formatNumber(rung.lost)} (${formatPercent(rung.sent === 0 ? 1 : rung.lost / rung.sent)})`,
    formatNumber(rung.collectorDrops),
    formatNumber(rung.reflectorDrops),
    formatNumber(rung.lagSeconds * 1000, 1),
    formatNumber(rung.skipped),
    formatNumber(rung.socketErrors),
    formatNumber(rung.cpuPercent),
    formatMebibytes(rung.rssKilobytes),
    rung.verdict,
  ]);
}

const RUNG_HEADER = [
  "rate (/s)",
  "cps × sockets",
  "sent (of schedule)",
  "lost",
  "kernel drops, collector sockets",
  "kernel drops, refl_c",
  "max send lag (ms)",
  "skipped",
  "socket errors",
  "collector CPU %",
  "collector RSS",
  "verdict",
];

function rttRows(rtt: readonly RttComparison[]): string[][] {
  return rtt.map(({ reflector, probeblast, intervals, collectorP50, bias }) => [
    reflector.name,
    `${formatNumber(probeblast.kernelRoundTrip.p50, 1)} / ` +
    formatNumber(probeblast.kernelRoundTrip.p99, 1),
    formatNumber(probeblast.userRoundTrip.p50, 1),
    intervals.map((interval) => formatNumber(interval.p50, 1)).join(", "),
    formatNumber(collectorP50, 1),
    intervals.map((interval) => formatNumber(interval.p99, 1)).join(", "),
    intervals.map((interval) => formatNumber(interval.min, 1)).join(", "),
    `${formatNumber(intervals.reduce((sum, interval) => sum + interval.dwellCorrected, 0))} of ` +
    formatNumber(intervals.reduce((sum, interval) => sum + interval.answered, 0)),
    intervals[0]?.timestampSource ?? "n/a",
    formatSigned(bias),
  ]);
}

const RTT_HEADER = [
  "reflector",
  "probeblast kernel p50 / p99 (µs)",
  "probeblast user-space p50 (µs)",
  "collector p50 per interval (µs)",
  "collector p50 mean (µs)",
  "collector p99 per interval (µs)",
  "collector min per interval (µs)",
  "answers dwell-corrected",
  "collector timestamps",
  "bias (µs)",
];

function memoryRows(memory: readonly MemoryReading[]): string[][] {
  return memory.map((reading) => [
    formatNumber(reading.targets),
    formatNumber(reading.paths),
    formatNumber(reading.probesPerSecond),
    formatMebibytes(reading.rssKilobytes),
    formatMebibytes(reading.rssAfterGetsKilobytes),
    `${formatBytes(reading.withFlows.bytes)} / ${formatNumber(reading.withFlows.milliseconds)} ms`,
    `${formatBytes(reading.withoutFlows.bytes)} / ` +
    `${formatNumber(reading.withoutFlows.milliseconds)} ms`,
  ]);
}

const MEMORY_HEADER = [
  "targets",
  "paths in a summary",
  "probes/s",
  "RSS",
  "RSS after the GETs",
  "summaries: size / GET time",
  "?flows=false: size / GET time",
];

function rttNotes(rtt: readonly RttComparison[]): string {
  return rtt.map(({ reflector }) =>
    reflector.reportsDwell
      ? `With the ${reflector.name} the collector subtracts the reflector's dwell time ` +
        "(its reflection block is filled), so the bias is the collector's own."
      : `${reflector.name} does not fill the reflection block, so the collector cannot ` +
        "subtract its dwell time (a few µs): that bias includes it."
  ).join(" ");
}

function describeMethod(plan: Plan): string {
  const memoryTargets = MEMORY_TARGETS.map((count) => formatNumber(count)).join(" and ");
  return [
    `Method. Throughput: for each rate a fresh collector probes one target, refl_c on ` +
    `127.0.0.1, from ${SOCKETS} sockets bound to 0.0.0.0 at cps = rate / ${SOCKETS}, with ` +
    `${plan.throughputIntervalSeconds}-second intervals and a ${PROBE_TIMEOUT_MILLISECONDS} ms ` +
    `timeout. The partial first interval and one complete interval of warm-up are skipped; ` +
    `then ${plan.throughputIntervals} complete interval(s) are read from ` +
    "`/api/v1/summaries` as each `Interval` log line appears, and `/metrics`, /proc/PID/stat " +
    "(CPU), /proc/PID/status (RSS) and /proc/PID/net/udp (kernel drops) are read at their " +
    `start and ${SETTLE_MILLISECONDS} ms after their end. A rate passes with loss under ` +
    `${MAXIMUM_LOSS * 100}% and at least ${REQUIRED_SENT * 100}% of rate × interval sent. ` +
    `Rates tried: ${plan.rates.map(formatRate).join(", ")}, stopping at the first failure` +
    `${plan.bisect ? ", then one more halfway between the last pass and it" : ""}. ` +
    "Intervals are this short for speed: the collector's work at each publish grows with the " +
    "probes per interval, so longer intervals may sustain less.",
    `RTT: one reflector instance (bound to 0.0.0.0) serves, in turn, \`probeblast -r ` +
    `${RTT_SAMPLE_RATE} -d ${plan.probeblastSeconds} -j\` (RTT from the kernel's receive ` +
    `timestamp) and a collector at cps ${RTT_SAMPLE_RATE / SOCKETS} × ${SOCKETS} sockets, one ` +
    `target, ${plan.rttIntervalSeconds}-second intervals, whose p50 is averaged over ` +
    `${plan.rttIntervals} complete intervals after one of warm-up.`,
    `Memory: collectors probing ${memoryTargets} targets on distinct addresses 127.1.x.y ` +
    `(refl_c on 0.0.0.0), cps ${plan.memoryCps} × ` +
    `${SOCKETS} sockets, ${plan.memoryIntervalSeconds}-second intervals (one cycle per ` +
    `interval, so every path is in every summary), side by side; RSS is read once ` +
    `${plan.memoryIntervals} complete intervals have been published; per path = (RSS at ` +
    `${formatNumber(MEMORY_TARGETS[1])} − RSS at ${formatNumber(MEMORY_TARGETS[0])}) / ` +
    `${formatNumber(MEMORY_TARGETS[1] - MEMORY_TARGETS[0])}. GET times are the median of ` +
    `${SUMMARY_GETS}. RSS counts heap pages V8 has not yet returned to the system, such as ` +
    "those used while parsing the config. These collectors run with `--deny-run` and sockets " +
    "bound to 127.0.0.1: with `ip` allowed, the collector's source-address lookup hangs above " +
    "~3,600 targets.",
  ].join(" ");
}

function formatSummary(results: Results): string {
  return [
    textTable(HEADLINE_HEADER, headlineRows(results)),
    "",
    explainFailure(results.search),
    "",
    textTable(RUNG_HEADER, rungRows(results.search)),
    "",
    textTable(RTT_HEADER, rttRows(results.rtt)),
    "",
    textTable(MEMORY_HEADER, memoryRows(results.memory)),
  ].join("\n");
}

function formatRecord(results: Results): string {
  return [
    markdownTable(HEADLINE_HEADER, headlineRows(results)),
    "",
    explainFailure(results.search),
    "",
    `${rttNotes(results.rtt)} ${REFERENCE_NOTE}`,
    "",
    "Every rate tried (refl_c as the reflector):",
    "",
    markdownTable(RUNG_HEADER, rungRows(results.search)),
    "",
    "RTT:",
    "",
    markdownTable(RTT_HEADER, rttRows(results.rtt)),
    "",
    "Memory:",
    "",
    markdownTable(MEMORY_HEADER, memoryRows(results.memory)),
    "",
    describeMethod(results.plan),
  ].join("\n");
}

/** The collector benchmark. */
const collectorBenchmark: Benchmark = {
  description: "Collector throughput against refl_c, RTT bias against probeblast, memory per path",
  usage: formatUsage("deno task bench collector", FLAGS),
  async run(context) {
    const { values, positionals } = parseFlags(context.args, FLAGS);
    if (positionals.length > 0) throw new UsageError(`Unexpected argument "${positionals[0]}"`);
    const plan = values.quick ? QUICK_PLAN : FULL_PLAN;
    context.progress(`Building the reference tools from ${context.toolsDirectory}`);
    await using tools = await buildReferenceTools(context.toolsDirectory, {
      signal: context.signal,
    });
    const directory = await Deno.makeTempDir({ prefix: "llama-bench-collector-" });
    await using _directory = {
      [Symbol.asyncDispose]: () => Deno.remove(directory, { recursive: true }).catch(() => {}),
    };
    const run: RunSetup = { tools, context, directory };
    const search = await measureThroughput(plan, run);
    const rtt: RttComparison[] = [];
    for (const reflector of REFLECTORS) rtt.push(await compareRtt(reflector, plan, run));
    const memory = await measureMemoryPerPath(plan, run);
    const results: Results = { plan, search, rtt, memory };
    return {
      summary: formatSummary(results),
      record: values.quick && !values.record ? undefined : formatRecord(results),
    };
  },
};

export default collectorBenchmark;
