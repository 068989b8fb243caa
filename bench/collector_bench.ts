/**
 * The collector benchmark: `deno task bench collector [--quick [--record]]`.
 *
 * It measures three things of the collector on loopback, on each UDP engine (`--engine native`,
 * libc through FFI with kernel receive timestamps, and `--engine deno`): the highest probe rate
 * it sustains against the C reference reflector `refl_c` (which answers far more than the
 * collector sends, so loss not dropped at refl_c's socket is the collector's own); how far its
 * median RTT sits from the kernel-timestamped RTT `probeblast` measures through the same
 * reflector instance (our native reflector, and refl_c); and its memory per path at 10,000
 * paths, with the size and time of `/api/v1/summaries` there.
 *
 * @module
 */
import { formatUsage, type SocketAddress } from "@llama/core";
import {
  type Benchmark,
  type BenchmarkContext,
  buildReferenceTools,
  choosePlan,
  delay,
  findFreeUdpPort,
  markdownTable,
  median,
  planFlags,
  type ProcessUsage,
  readProcessUsage,
  readUdpSocketDrops,
  type ReadyProcess,
  type ReferenceTools,
  spawnUntilReady,
  textTable,
} from "./_tools.ts";
import { type ProbeblastResult, runProbeblast } from "./_probeblast.ts";

const FLAGS = planFlags(
  "Fewer rates, single trials, shorter intervals: a smoke test of the harness in a few minutes",
);

/** How thorough a run is. */
interface Plan {
  /** Total probe rates tried in order, stopping at the first that fails. */
  rates: number[];
  /** Trials per rate at most; a rate passes when a majority of them pass. */
  trialsPerRate: number;
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
  /** Complete intervals whose RTT p50s give the median, after one complete interval of warm-up. */
  rttIntervals: number;
  /** Cycles per second of the memory runs; with `memoryIntervalSeconds` it covers every target. */
  memoryCps: number;
  /** Summarization interval of the memory runs, seconds. */
  memoryIntervalSeconds: number;
  /** Complete intervals published before memory is read. */
  memoryIntervals: number;
}

const FULL_PLAN: Plan = {
  rates: [2, 5, 10, 20, 30, 40, 60, 80, 100, 120, 150].map((thousands) => thousands * 1000),
  trialsPerRate: 3,
  bisect: true,
  throughputIntervalSeconds: 2,
  throughputIntervals: 2,
  probeblastSeconds: 10,
  rttIntervalSeconds: 5,
  rttIntervals: 3,
  // A cycle (every socket to every target) of 2 s fits one 2-second interval exactly, so every
  // summary holds all 10,000 paths; 31 intervals fill the collector's history of 30 (steady
  // state: a long-running collector holds that much), at 20k probes/s.
  memoryCps: 0.5,
  memoryIntervalSeconds: 2,
  memoryIntervals: 31,
};

const QUICK_PLAN: Plan = {
  rates: [5_000, 20_000, 40_000, 80_000, 100_000],
  trialsPerRate: 1,
  bisect: false,
  throughputIntervalSeconds: 2,
  throughputIntervals: 1,
  probeblastSeconds: 3,
  rttIntervalSeconds: 2,
  rttIntervals: 3,
  memoryCps: 0.5,
  memoryIntervalSeconds: 2,
  memoryIntervals: 6,
};

/** The collector's UDP engines, each measured in turn. */
const ENGINES = ["native", "deno"] as const;
type Engine = typeof ENGINES[number];

/** Sockets in the port group of every run, as in the original's default config. */
const SOCKETS = 4;
/** The probe timeout of every run (the original's default), milliseconds. */
const PROBE_TIMEOUT_MILLISECONDS = 1000;
/**
 * A trial passes with fewer probes lost by the collector itself (all lost, less those the kernel
 * dropped at refl_c's socket) than this fraction of those sent…
 */
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

/** The targets. */
const TARGET_RATE = 100_000;
const TARGET_BIAS_MICROSECONDS = 10;
const TARGET_BYTES_PER_PATH = 1024;

const REFERENCE_NOTE = "References (shared/tools/README.md, not measured here): the original " +
  "LLAMA collector (Go) reports a mean RTT of 0.14–0.18 ms on a loopback path whose " +
  "kernel-timestamped RTT is ~0.02 ms. Targets: ≥ 100k probes/s with < 0.1% self-caused loss, " +
  "RTT p50 bias ≤ 10 µs, memory ≤ 1 KB per path.";

// ---- the collector as a process ---------------------------------------------------------------

/** What one collector run probes. */
interface CollectorSetup {
  engine: Engine;
  /** Run it on these CPUs only (`taskset -c`). */
  cpus?: string;
  intervalSeconds: number;
  cps: number;
  /** Address the probe sockets bind. */
  bindIp: string;
  targets: readonly SocketAddress[];
  /** Deno flags before the script, such as `--v8-flags=…`. */
  denoFlags?: readonly string[];
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
      ...["run", "-A", ...setup.denoFlags ?? [], "collector/main.ts"],
      ...["--config", file, "--engine", setup.engine],
    ],
    cwd: context.repositoryRoot,
    readyPattern: /Serving the API on (?<url>http:\/\/\S+)/,
    timeoutMilliseconds: 60_000,
    cpus: setup.cpus,
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

type Verdict = "pass" | "lossy" | "behind" | "lossy and behind";

/** One try of a rate: a fresh collector, measured over complete intervals. */
interface Trial {
  engine: Engine;
  rate: number;
  cps: number;
  /** Complete intervals measured. */
  intervals: number;
  /** Probes the schedule asks for in them. */
  scheduled: number;
  sent: number;
  lost: number;
  /** Lost, less those the kernel dropped at refl_c's socket: the collector's own loss. */
  selfLost: number;
  /** Largest delay of a probe behind its schedule, seconds. */
  lagSeconds: number;
  skipped: number;
  socketErrors: number;
  late: number;
  collectorDrops: number;
  reflectorDrops: number;
  cpuPercent: number;
  rssKilobytes: number;
  timestampSource: string;
  verdict: Verdict;
}

/** One rate, tried until a majority of its trials agree on passing or failing. */
interface Rung {
  rate: number;
  trials: Trial[];
  passed: boolean;
}

/** Whether a trial also kept the total loss, refl_c's drops included, under the limit. */
function passesWithTotalLoss(trial: Trial): boolean {
  return trial.verdict === "pass" && trial.lost / trial.sent < MAXIMUM_LOSS;
}

/**
 * The highest rate whose trials, and those of every lower rate tried, passed by a majority with
 * the total loss counted; 0 if none.
 */
function highestWithTotalLoss(search: RateSearch): number {
  let highest = 0;
  for (const rung of [...search.rungs].sort((a, b) => a.rate - b.rate)) {
    const passes = rung.trials.filter(passesWithTotalLoss).length;
    if (passes * 2 <= rung.trials.length) break;
    highest = rung.rate;
  }
  return highest;
}

interface ThroughputSetup extends RunSetup {
  plan: Plan;
  engine: Engine;
  reflectorPort: number;
  reflectorPid: number;
}

/** Resolves at wall-clock time `wallMilliseconds` (the collector aligns intervals to it). */
function sleepUntil(wallMilliseconds: number, signal: AbortSignal): Promise<void> {
  return delay(Math.max(0, wallMilliseconds - Date.now()), signal);
}

async function runTrial(rate: number, setup: ThroughputSetup): Promise<Trial> {
  const { plan, context } = setup;
  const cps = rate / SOCKETS;
  await using collector = await startCollector({
    engine: setup.engine,
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
  let timestampSource = "unknown";
  for (let measured = 0; measured < plan.throughputIntervals;) {
    const line = await collector.nextInterval();
    if (Date.parse(line.start) < measuredStart) continue; // the warm-up interval
    const summaries = await readSummaries(collector, line);
    timestampSource = summaries.timestampSource ?? "unknown";
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
  const reflectorDrops = after.reflectorDrops - before.reflectorDrops;
  const selfLost = Math.max(0, lost - reflectorDrops);
  const lossy = sent === 0 || selfLost / sent >= MAXIMUM_LOSS;
  const behind = sent < REQUIRED_SENT * scheduled;
  const trial: Trial = {
    engine: setup.engine,
    rate,
    cps,
    intervals: plan.throughputIntervals,
    scheduled,
    sent,
    lost,
    selfLost,
    lagSeconds: metricValue(after.metrics, "llama_collector_send_lag_seconds"),
    skipped: delta("llama_collector_probes_skipped_total"),
    socketErrors: delta("llama_collector_socket_errors_total"),
    late,
    collectorDrops: after.collectorDrops - before.collectorDrops,
    reflectorDrops,
    cpuPercent: (after.usage.cpuSeconds - before.usage.cpuSeconds) /
      ((after.at - before.at) / 1000) * 100,
    rssKilobytes: after.usage.rssKilobytes,
    timestampSource,
    verdict: lossy && behind ? "lossy and behind" : lossy ? "lossy" : behind ? "behind" : "pass",
  };
  context.progress(`  ${formatRate(rate)}/s: ${describeTrial(trial)}`);
  return trial;
}

/**
 * Tries a rate until a majority of `plan.trialsPerRate` trials pass or fail (2 of 3: a third
 * trial runs only when the first two disagree).
 */
async function runRung(rate: number, setup: ThroughputSetup): Promise<Rung> {
  const { trialsPerRate } = setup.plan;
  const majority = Math.floor(trialsPerRate / 2) + 1;
  const trials: Trial[] = [];
  for (;;) {
    trials.push(await runTrial(rate, setup));
    const passes = trials.filter((trial) => trial.verdict === "pass").length;
    if (passes >= majority) return { rate, trials, passed: true };
    if (trials.length - passes >= majority || trials.length >= trialsPerRate) {
      return { rate, trials, passed: false };
    }
  }
}

/** The outcome of the search for the highest sustained rate, for one engine. */
interface RateSearch {
  engine: Engine;
  /** The highest rate that passed, 0 if none did. */
  highest: number;
  /** The first rate that failed, if one did. */
  firstFailure?: Rung;
  rungs: Rung[];
}

async function findHighestRate(setup: ThroughputSetup): Promise<RateSearch> {
  const { plan, engine } = setup;
  const rungs: Rung[] = [];
  let highest = 0;
  for (const rate of plan.rates) {
    const rung = await runRung(rate, setup);
    rungs.push(rung);
    if (!rung.passed) {
      const middle = Math.round((highest + rate) / 2 / 1000) * 1000;
      if (plan.bisect && middle > highest && middle < rate) {
        const between = await runRung(middle, setup);
        rungs.push(between);
        if (between.passed) highest = middle;
      }
      return { engine, highest, firstFailure: rung, rungs };
    }
    highest = rate;
  }
  return { engine, highest, rungs };
}

async function measureThroughput(plan: Plan, run: RunSetup): Promise<RateSearch[]> {
  const { context, tools } = run;
  const searches: RateSearch[] = [];
  for (const engine of ENGINES) {
    context.progress(
      `Throughput, --engine ${engine}: highest rate with < ${MAXIMUM_LOSS * 100}% self-caused ` +
        `loss and ≥ ${REQUIRED_SENT * 100}% of the schedule sent, against refl_c`,
    );
    // A fresh refl_c per engine: its socket's drop counter and state start clean.
    await using reflector = await startReflectorC(tools, context);
    searches.push(
      await findHighestRate({
        ...run,
        plan,
        engine,
        reflectorPort: Number(reflector.ready.groups?.port),
        reflectorPid: reflector.pid,
      }),
    );
  }
  return searches;
}

// ---- RTT bias ---------------------------------------------------------------------------------

/** A reflector, bound to every address; `start` resolves once it answers, its port in `ready`. */
interface ReflectorUnderTest {
  name: string;
  /** Whether it fills the reflection block, so the collector can subtract its dwell time. */
  reportsDwell: boolean;
  start(tools: ReferenceTools, context: BenchmarkContext, cpus?: string): Promise<ReadyProcess>;
}

function startReflectorC(
  tools: ReferenceTools,
  context: BenchmarkContext,
  cpus?: string,
): Promise<ReadyProcess> {
  return spawnUntilReady(tools.reflectorC, {
    args: ["-p", `${findFreeUdpPort()}`],
    readyPattern: /refl_c: reflecting on \S+:(?<port>\d+)/,
    signal: context.signal,
    cpus,
  });
}

/**
 * Where the RTT runs put their processes. On loopback a reply's time includes waking the
 * reflector; how long that takes depends on which CPU the scheduler wakes it on (an idle virtual
 * CPU wakes slowly), and that depends on what the sender does next, which differs between
 * probeblast and a collector. Pinning every process to one CPU takes that difference out.
 */
interface Placement {
  name: string;
  cpus: string | undefined;
}

const PLACEMENTS: readonly Placement[] = [
  { name: "scheduler's choice", cpus: undefined },
  { name: "all on CPU 0", cpus: "0" },
];

const REFLECTORS: readonly ReflectorUnderTest[] = [
  {
    name: "llama reflector, --engine native",
    reportsDwell: true,
    async start(_tools, context, cpus) {
      const process = await spawnUntilReady(Deno.execPath(), {
        args: [
          ...["run", "-A", "reflector/main.ts"],
          ...["--host", "0.0.0.0", "--port", "0", "--max-pps", "0", "--engine", "native"],
        ],
        cwd: context.repositoryRoot,
        readyPattern:
          /Reflecting probes on udp:\/\/(?<host>\S+):(?<port>\d+) \((?<engine>\w+) engine/,
        signal: context.signal,
        cpus,
      });
      if (process.ready.groups?.engine !== "native") {
        await process[Symbol.asyncDispose]();
        throw new Error(`The reflector runs the ${process.ready.groups?.engine} engine`);
      }
      return process;
    },
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

/** One collector run through a reflector. */
interface CollectorRtt {
  engine: Engine;
  intervals: RttInterval[];
  /** Median of the intervals' p50, µs. */
  p50: number;
  /** `p50` minus the mean of probeblast's kernel-timestamped p50 before and after, µs. */
  bias: number;
}

/** Every run through one reflector instance. */
interface RttComparison {
  reflector: ReflectorUnderTest;
  placement: Placement;
  /** probeblast before the collectors ran, and after. */
  probeblast: [ProbeblastResult, ProbeblastResult];
  /** Mean of the two probeblast kernel-timestamped p50s, µs. */
  referenceP50: number;
  collectors: CollectorRtt[];
}

async function probeblastAt(
  reflector: { port: number; pid: number; cpus: string | undefined },
  plan: Plan,
  run: RunSetup,
): Promise<ProbeblastResult> {
  const result = await runProbeblast(run.tools, {
    port: reflector.port,
    rate: RTT_SAMPLE_RATE,
    seconds: plan.probeblastSeconds,
    reflectorPid: reflector.pid,
    cpus: reflector.cpus,
    signal: run.context.signal,
  });
  run.context.progress(
    `  probeblast: kernel p50 ${formatNumber(result.kernelRoundTrip.p50, 1)} µs`,
  );
  return result;
}

async function collectorRtt(
  engine: Engine,
  reflector: { port: number; cpus: string | undefined },
  plan: Plan,
  run: RunSetup,
): Promise<Omit<CollectorRtt, "bias">> {
  const { context } = run;
  const { port } = reflector;
  await using collector = await startCollector({
    engine,
    cpus: reflector.cpus,
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
    context.progress(
      `  collector --engine ${engine}: p50 ${formatNumber(path.rtt.p50 * 1000, 1)} µs ` +
        `(${summaries.timestampSource} timestamps)`,
    );
  }
  return { engine, intervals, p50: median(intervals.map((interval) => interval.p50)) ?? NaN };
}

async function compareRtt(
  reflector: ReflectorUnderTest,
  placement: Placement,
  plan: Plan,
  run: RunSetup,
): Promise<RttComparison> {
  const { context, tools } = run;
  context.progress(
    `RTT at ${formatRate(RTT_SAMPLE_RATE)}/s through ${reflector.name}, ${placement.name}`,
  );
  // One reflector instance for every tool, which take turns: none disturbs another. probeblast
  // runs before and after the collectors, so a drift in the machine's load shows.
  await using reflectorProcess = await reflector.start(tools, context, placement.cpus);
  await delay(REFLECTOR_WARM_UP_MILLISECONDS, context.signal);
  const target = {
    port: Number(reflectorProcess.ready.groups?.port),
    pid: reflectorProcess.pid,
    cpus: placement.cpus,
  };
  const before = await probeblastAt(target, plan, run);
  const runs: Omit<CollectorRtt, "bias">[] = [];
  for (const engine of ENGINES) runs.push(await collectorRtt(engine, target, plan, run));
  const after = await probeblastAt(target, plan, run);
  const referenceP50 = ((before.kernelRoundTrip.p50 ?? NaN) + (after.kernelRoundTrip.p50 ?? NaN)) /
    2;
  return {
    reflector,
    placement,
    probeblast: [before, after],
    referenceP50,
    collectors: runs.map((collector) => ({ ...collector, bias: collector.p50 - referenceP50 })),
  };
}

// ---- memory -----------------------------------------------------------------------------------

interface MemoryReading {
  /** The engine, and any Deno flags the collector ran with. */
  variant: string;
  engine: Engine;
  targets: number;
  /** Paths in the last summary. */
  paths: number;
  probesPerSecond: number;
  /**
   * RSS once the required intervals were published, before any GET of the summaries: the median
   * of `RSS_SAMPLES` readings `RSS_SAMPLE_MILLISECONDS` apart.
   */
  rssKilobytes: number;
  /** The largest of those readings. */
  rssMaxKilobytes: number;
  /** RSS after the GETs of the summaries. */
  rssAfterGetsKilobytes: number;
  withFlows: { bytes: number; milliseconds: number };
  withoutFlows: { bytes: number; milliseconds: number };
}

/** 127.1.x.y, y from 1 to 250: distinct loopback addresses, one path each. */
function loopbackTarget(index: number, port: number): SocketAddress {
  return { hostname: `127.1.${Math.floor(index / 250)}.${(index % 250) + 1}`, port };
}

/**
 * RSS readings a memory run takes, this far apart: one reading moved by up to ±200 bytes a path
 * between runs, as V8 collects its garbage (and glibc frees) on its own schedule.
 */
const RSS_SAMPLES = 21;
const RSS_SAMPLE_MILLISECONDS = 500;

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
  return { bytes, milliseconds: median(times)! };
}

/**
 * The V8 flags `deno task collector` runs the collector with (read from the workspace's
 * deno.json): a memory run also tries them.
 */
const TASK_V8_FLAGS: readonly string[] = (JSON.parse(
  await Deno.readTextFile(new URL("../deno.json", import.meta.url)),
).tasks.collector as string).split(" ").filter((word) => word.startsWith("--v8-flags="));

async function measureMemory(
  engine: Engine,
  targets: number,
  setup: RunSetup & { plan: Plan; reflectorPort: number },
  denoFlags: readonly string[] = [],
): Promise<MemoryReading> {
  const { plan } = setup;
  // Sockets bound to the wildcard address, as deployed: the collector asks the routing table
  // for every target's source address (127.0.0.1 here).
  await using collector = await startCollector({
    engine,
    intervalSeconds: plan.memoryIntervalSeconds,
    cps: plan.memoryCps,
    bindIp: "0.0.0.0",
    targets: Array.from(
      { length: targets },
      (_, index) => loopbackTarget(index, setup.reflectorPort),
    ),
    denoFlags,
  }, setup);
  await collector.nextInterval(); // partial
  let last: IntervalLine | undefined;
  for (let index = 0; index < plan.memoryIntervals; index++) {
    last = await collector.nextInterval();
  }
  const readings: number[] = [];
  for (let index = 0; index < RSS_SAMPLES; index++) {
    if (index > 0) await new Promise((resolve) => setTimeout(resolve, RSS_SAMPLE_MILLISECONDS));
    readings.push((await readProcessUsage(collector.pid)).rssKilobytes);
  }
  const withFlows = await timedGets(collector, "/api/v1/summaries");
  const withoutFlows = await timedGets(collector, "/api/v1/summaries?flows=false");
  const after = await readProcessUsage(collector.pid);
  const reading: MemoryReading = {
    variant: denoFlags.length === 0 ? engine : `${engine}, deno run ${denoFlags.join(" ")}`,
    engine,
    targets,
    paths: last!.paths,
    probesPerSecond: plan.memoryCps * SOCKETS * targets,
    rssKilobytes: median(readings) ?? NaN,
    rssMaxKilobytes: Math.max(...readings),
    rssAfterGetsKilobytes: after.rssKilobytes,
    withFlows,
    withoutFlows,
  };
  setup.context.progress(
    `  --engine ${reading.variant}, ${formatNumber(targets)} targets: ${
      formatNumber(last!.paths)
    } ` +
      `paths, RSS ${formatMebibytes(reading.rssKilobytes)}, summaries ` +
      formatBytes(withFlows.bytes),
  );
  return reading;
}

async function measureMemoryPerPath(plan: Plan, run: RunSetup): Promise<MemoryReading[]> {
  const { context, tools } = run;
  const readings: MemoryReading[] = [];
  await using reflector = await startReflectorC(tools, context);
  const setup = { ...run, plan, reflectorPort: Number(reflector.ready.groups?.port) };
  for (const engine of ENGINES) {
    context.progress(
      `Memory, --engine ${engine}: ${
        MEMORY_TARGETS.map((count) => formatNumber(count)).join(" and ")
      } targets at cps ${plan.memoryCps}, ${plan.memoryIntervalSeconds}-second intervals`,
    );
    // Side by side: the small collector sends 4 probes/s and only provides the baseline.
    readings.push(
      ...await Promise.all(MEMORY_TARGETS.map((targets) => measureMemory(engine, targets, setup))),
    );
  }
  context.progress(`Memory, --engine native ${TASK_V8_FLAGS.join(" ")}`);
  readings.push(
    ...await Promise.all(
      MEMORY_TARGETS.map((targets) => measureMemory("native", targets, setup, TASK_V8_FLAGS)),
    ),
  );
  return readings;
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

function lossFraction(lost: number, sent: number): number {
  return sent === 0 ? 1 : lost / sent;
}

function describeTrial(trial: Trial): string {
  return `sent ${formatPercent(trial.sent / trial.scheduled)} of schedule, lost ` +
    `${formatPercent(lossFraction(trial.lost, trial.sent))}, self-caused ` +
    `${formatPercent(lossFraction(trial.selfLost, trial.sent))} (kernel drops at the ` +
    `collector's sockets ${formatNumber(trial.collectorDrops)}, at refl_c's ` +
    `${formatNumber(trial.reflectorDrops)}), lag ${formatNumber(trial.lagSeconds * 1000, 1)} ` +
    `ms, skipped ${formatNumber(trial.skipped)}, CPU ${formatNumber(trial.cpuPercent)}% → ` +
    trial.verdict;
}

/** Says why the failed trials of the first failing rate failed. */
function explainFailure(search: RateSearch): string {
  const rung = search.firstFailure;
  const engine = `--engine ${search.engine}`;
  if (rung === undefined) {
    return `${engine}: every rate tried passed, up to ${formatRate(search.highest)}/s.`;
  }
  const failedTrials = rung.trials.filter((trial) => trial.verdict !== "pass");
  const explanations = failedTrials.map((trial, index) => {
    const parts: string[] = [];
    if (trial.verdict === "lossy" || trial.verdict === "lossy and behind") {
      const unexplained = trial.lost - trial.collectorDrops - trial.reflectorDrops;
      parts.push(
        `lost ${formatNumber(trial.lost)} of ${formatNumber(trial.sent)} probes ` +
          `(${formatPercent(lossFraction(trial.lost, trial.sent))}; self-caused ` +
          `${formatPercent(lossFraction(trial.selfLost, trial.sent))}): the kernel dropped ` +
          `${formatNumber(trial.collectorDrops)} replies at the collector's own sockets ` +
          "(receive buffers full: it did not read them fast enough) and " +
          `${formatNumber(trial.reflectorDrops)} probes at refl_c's socket` +
          (unexplained > 0
            ? `; ${formatNumber(unexplained)} more were not counted by the kernel (answers ` +
              `after the ${PROBE_TIMEOUT_MILLISECONDS} ms timeout: ${formatNumber(trial.late)} ` +
              "late)"
            : ""),
      );
    }
    if (trial.verdict === "behind" || trial.verdict === "lossy and behind") {
      parts.push(
        `sent only ${formatNumber(trial.sent)} of the ${formatNumber(trial.scheduled)} probes ` +
          `scheduled (${formatPercent(trial.sent / trial.scheduled)}), ` +
          `${formatNumber(trial.skipped)} skipped`,
      );
    }
    const label = failedTrials.length > 1 ? `trial ${index + 1} ` : "";
    return `${label}${parts.join("; and ")}; largest send lag ${
      formatNumber(trial.lagSeconds * 1000, 1)
    } ms, CPU ${formatNumber(trial.cpuPercent)}% of a core`;
  });
  const failed = rung.trials.length - rung.trials.filter((trial) => trial.verdict === "pass")
    .length;
  return `${engine} at ${formatRate(rung.rate)}/s failed ${failed} of ${rung.trials.length} ` +
    `trial(s): ${explanations.join("; ")}.`;
}

/**
 * Says from which rate refl_c's socket dropped probes: refl_c answers 200k/s of evenly paced
 * probes, so its drops mean the collector sent in bursts (after a stall it sends its backlog).
 */
function reflectorDropsNote(search: RateSearch): string | undefined {
  const trials = search.rungs.flatMap((rung) => rung.trials)
    .filter((trial) => trial.reflectorDrops / trial.sent >= MAXIMUM_LOSS)
    .sort((a, b) => a.rate - b.rate);
  if (trials.length === 0) return undefined;
  const first = trials[0];
  return `--engine ${search.engine}: from ${formatRate(first.rate)}/s the kernel dropped ` +
    `≥ ${MAXIMUM_LOSS * 100}% of the probes at refl_c's socket (${
      formatNumber(first.reflectorDrops)
    } ` +
    `of ${formatNumber(first.sent)} there, largest send lag ${
      formatNumber(first.lagSeconds * 1000, 1)
    } ms). refl_c's 1 MiB receive buffer holds only a few hundred 1,028-byte datagrams, and ` +
    "probeblast's evenly paced 200k/s cause no drops there, so these drops are bursts from the " +
    "collector: after each stall of its send loop it sends the probes it owes at once.";
}

interface Results {
  plan: Plan;
  searches: RateSearch[];
  rtt: RttComparison[];
  memory: MemoryReading[];
}

function bytesPerPath(memory: readonly MemoryReading[], variant: string): number {
  const readings = memory.filter((reading) => reading.variant === variant);
  const small = readings[0];
  const large = readings[readings.length - 1];
  return (large.rssKilobytes - small.rssKilobytes) * 1024 / (large.targets - small.targets);
}

function highestCell(search: RateSearch, plan: Plan): string {
  if (search.highest === 0) return `< ${formatRate(plan.rates[0])}/s`;
  if (search.firstFailure === undefined) {
    return `≥ ${formatRate(search.highest)}/s (every rate tried passed)`;
  }
  const failure = search.firstFailure;
  const verdicts = [...new Set(failure.trials.map((trial) => trial.verdict))]
    .filter((verdict) => verdict !== "pass");
  return `${formatRate(search.highest)}/s (${formatRate(failure.rate)}/s: ${verdicts.join(", ")})`;
}

function verdict(met: boolean): string {
  return met ? "met" : "not met";
}

function headlineRows(results: Results): string[][] {
  const { searches, rtt, memory, plan } = results;
  return [
    ...searches.map((search) => [
      `--engine ${search.engine}: highest rate sustained (self-caused loss < ` +
      `${MAXIMUM_LOSS * 100}%, ≥ ${REQUIRED_SENT * 100}% of schedule sent)`,
      highestCell(search, plan),
      `≥ ${formatRate(TARGET_RATE)}/s`,
      verdict(search.highest >= TARGET_RATE),
    ]),
    ...searches.map((search) => {
      const highest = highestWithTotalLoss(search);
      return [
        `--engine ${search.engine}: highest rate with total loss < ${MAXIMUM_LOSS * 100}% ` +
        "(refl_c's drops included)",
        highest === 0 ? `< ${formatRate(plan.rates[0])}/s` : `${formatRate(highest)}/s`,
        "—",
        "—",
      ];
    }),
    ...rtt.flatMap(({ reflector, placement, collectors, referenceP50 }) =>
      collectors.map((collector) => [
        `--engine ${collector.engine}: RTT p50 bias at ${
          formatRate(RTT_SAMPLE_RATE)
        }/s through ${reflector.name}, ${placement.name}`,
        `${formatSigned(collector.bias)} µs (collector ${formatNumber(collector.p50, 1)}, ` +
        `probeblast kernel ${formatNumber(referenceP50, 1)}; ` +
        `${
          reflector.reportsDwell
            ? "dwell subtracted by the collector, not by probeblast"
            : "no dwell subtracted"
        })`,
        ...(reflector.reportsDwell
          // The collector subtracts the reflector's dwell and probeblast cannot: not comparable.
          ? ["— (dwell subtracted on one side only)", "n/a"]
          : [
            `≤ ${TARGET_BIAS_MICROSECONDS} µs (Go original: ~120–160 µs)`,
            verdict(Math.abs(collector.bias) <= TARGET_BIAS_MICROSECONDS),
          ]),
      ])
    ),
    ...[...new Set(memory.map((reading) => reading.variant))].map((variant) => {
      const perPath = bytesPerPath(memory, variant);
      const large = memory.filter((reading) => reading.variant === variant).at(-1)!;
      return [
        `--engine ${variant}: memory per path at ${formatNumber(large.targets)} paths`,
        `${formatNumber(perPath)} bytes`,
        `≤ ${formatNumber(TARGET_BYTES_PER_PATH)} bytes`,
        verdict(perPath <= TARGET_BYTES_PER_PATH),
      ];
    }),
    ...ENGINES.map((engine) => {
      const large = memory.filter((reading) => reading.variant === engine).at(-1)!;
      return [
        `--engine ${engine}: /api/v1/summaries at ${formatNumber(large.paths)} paths`,
        `${formatBytes(large.withFlows.bytes)} in ${
          formatNumber(large.withFlows.milliseconds)
        } ms;` +
        ` ?flows=false ${formatBytes(large.withoutFlows.bytes)} in ` +
        `${formatNumber(large.withoutFlows.milliseconds)} ms`,
        "—",
        "—",
      ];
    }),
  ];
}

const HEADLINE_HEADER = ["measure", "this run", "target / reference", "verdict"];

function trialRows(searches: readonly RateSearch[]): string[][] {
  return searches.flatMap((search) =>
    search.rungs.flatMap((rung) =>
      rung.trials.map((trial) => [
        trial.engine,
        formatRate(trial.rate),
        `${formatNumber(trial.cps)} × ${SOCKETS}`,
        `${formatNumber(trial.sent)} (${formatPercent(trial.sent / trial.scheduled)})`,
        `${formatNumber(trial.lost)} (${formatPercent(lossFraction(trial.lost, trial.sent))})`,
        formatPercent(lossFraction(trial.selfLost, trial.sent)),
        formatNumber(trial.collectorDrops),
        formatNumber(trial.reflectorDrops),
        formatNumber(trial.lagSeconds * 1000, 1),
        formatNumber(trial.skipped),
        formatNumber(trial.socketErrors),
        formatNumber(trial.cpuPercent),
        formatMebibytes(trial.rssKilobytes),
        trial.timestampSource,
        trial.verdict,
        rung.passed ? "pass" : "fail",
      ])
    )
  );
}

const TRIAL_HEADER = [
  "engine",
  "rate (/s)",
  "cps × sockets",
  "sent (of schedule)",
  "lost",
  "self-caused loss",
  "kernel drops, collector sockets",
  "kernel drops, refl_c",
  "max send lag (ms)",
  "skipped",
  "socket errors",
  "collector CPU %",
  "collector RSS",
  "timestamps",
  "trial",
  "rate",
];

function rttRows(rtt: readonly RttComparison[]): string[][] {
  return rtt.flatMap(({ reflector, placement, probeblast, collectors }) =>
    collectors.map(({ engine, intervals, p50, bias }) => [
      reflector.name,
      placement.name,
      probeblast.map((result) =>
        `${formatNumber(result.kernelRoundTrip.p50, 1)} / ` +
        formatNumber(result.kernelRoundTrip.p99, 1)
      ).join("; "),
      probeblast.map((result) => formatNumber(result.userRoundTrip.p50, 1)).join("; "),
      engine,
      intervals.map((interval) => formatNumber(interval.p50, 1)).join(", "),
      formatNumber(p50, 1),
      intervals.map((interval) => formatNumber(interval.p99, 1)).join(", "),
      intervals.map((interval) => formatNumber(interval.min, 1)).join(", "),
      `${formatNumber(intervals.reduce((sum, interval) => sum + interval.dwellCorrected, 0))} of ` +
      formatNumber(intervals.reduce((sum, interval) => sum + interval.answered, 0)),
      intervals[0]?.timestampSource ?? "n/a",
      formatSigned(bias),
    ])
  );
}

const RTT_HEADER = [
  "reflector",
  "processes on",
  "probeblast kernel p50 / p99 (µs), before; after",
  "probeblast user-space p50 (µs), before; after",
  "collector engine",
  "collector p50 per interval (µs)",
  "collector p50 median (µs)",
  "collector p99 per interval (µs)",
  "collector min per interval (µs)",
  "answers dwell-corrected",
  "collector timestamps",
  "bias (µs)",
];

function memoryRows(memory: readonly MemoryReading[]): string[][] {
  return memory.map((reading) => [
    reading.variant,
    formatNumber(reading.targets),
    formatNumber(reading.paths),
    formatNumber(reading.probesPerSecond),
    formatMebibytes(reading.rssKilobytes),
    formatMebibytes(reading.rssMaxKilobytes),
    formatMebibytes(reading.rssAfterGetsKilobytes),
    `${formatBytes(reading.withFlows.bytes)} / ${formatNumber(reading.withFlows.milliseconds)} ms`,
    `${formatBytes(reading.withoutFlows.bytes)} / ` +
    `${formatNumber(reading.withoutFlows.milliseconds)} ms`,
  ]);
}

const MEMORY_HEADER = [
  "engine (and Deno flags)",
  "targets",
  "paths in a summary",
  "probes/s",
  "RSS (median)",
  "RSS (max)",
  "RSS after the GETs",
  "summaries: size / GET time",
  "?flows=false: size / GET time",
];

function rttNotes(rtt: readonly RttComparison[]): string {
  const reflectors = [...new Set(rtt.map(({ reflector }) => reflector))];
  return reflectors.map((reflector) =>
    reflector.reportsDwell
      ? `Through the ${reflector.name} the collector subtracts the reflector's dwell time (the ` +
        "reflection block is filled) and probeblast does not, so that bias is the collector's " +
        "own overhead minus the reflector's dwell: it reads low, and may be negative."
      : `${reflector.name} does not fill the reflection block: neither tool subtracts a dwell ` +
        "time, so that bias is the like-for-like comparison."
  ).join(" ");
}

function describeMethod(plan: Plan): string {
  const memoryTargets = MEMORY_TARGETS.map((count) => formatNumber(count)).join(" and ");
  const repeats = plan.trialsPerRate > 1
    ? `Each rate is tried up to ${plan.trialsPerRate} times, a fresh collector each time, and ` +
      `passes when 2 of ${plan.trialsPerRate} trials pass (a third runs only when the first two ` +
      "disagree). "
    : "Each rate is tried once (quick run). ";
  return [
    `Method. Throughput, for each engine in turn: a collector probes one target, refl_c on ` +
    `127.0.0.1, from ${SOCKETS} sockets bound to 0.0.0.0 at cps = rate / ${SOCKETS}, with ` +
    `${plan.throughputIntervalSeconds}-second intervals and a ${PROBE_TIMEOUT_MILLISECONDS} ms ` +
    `timeout. The partial first interval and one complete interval of warm-up are skipped; ` +
    `then ${plan.throughputIntervals} complete interval(s) are read from ` +
    "`/api/v1/summaries` as each `Interval` log line appears, and `/metrics`, /proc/PID/stat " +
    "(CPU), /proc/PID/status (RSS) and /proc/PID/net/udp (kernel drops) are read at their " +
    `start and ${SETTLE_MILLISECONDS} ms after their end. A trial passes when the ` +
    "self-caused loss (probes lost, less those the kernel dropped at refl_c's socket) is under " +
    `${MAXIMUM_LOSS * 100}% and at least ${REQUIRED_SENT * 100}% of rate × interval was sent. ` +
    `${repeats}Rates tried: ${plan.rates.map(formatRate).join(", ")}, stopping at the first ` +
    `failure${plan.bisect ? ", then one more halfway between the last pass and it" : ""}. ` +
    "Intervals are this short for speed: the collector's work at each publish grows with the " +
    "probes per interval, so longer intervals may sustain less.",
    `RTT: one reflector instance (bound to 0.0.0.0) serves, in turn, \`probeblast -r ` +
    `${RTT_SAMPLE_RATE} -d ${plan.probeblastSeconds} -j\` (RTT from the kernel's receive ` +
    `timestamp), a collector on each engine at cps ${RTT_SAMPLE_RATE / SOCKETS} × ${SOCKETS} ` +
    `sockets, one target, ${plan.rttIntervalSeconds}-second intervals, and probeblast again. ` +
    `A collector's p50 is the median of the p50s of ${plan.rttIntervals} complete intervals ` +
    "after one of warm-up; the bias is it minus the mean of the two probeblast p50s. Each " +
    "reflector is measured twice, with a fresh instance: once with every process where the " +
    "scheduler puts it, once with the reflector, probeblast and the collector all pinned to " +
    "CPU 0 (`taskset -c 0`). On loopback the time of an answer includes waking the reflector: " +
    "on this 2-vCPU VM ~5 µs when it wakes on the sender's CPU, ~60 µs on the other, idle one " +
    "(measured with probeblast and refl_c pinned apart). A collector (many threads, work after " +
    "each send) leads the scheduler to pick differently from probeblast (which sleeps right " +
    "after sending), so only the pinned comparison isolates the collector's own timestamping: " +
    "with the scheduler's choice the bias also holds that difference in wake-up time.",
    `Memory, for each engine (the native one also run with ${TASK_V8_FLAGS.join(" ")}): ` +
    `collectors probing ${memoryTargets} targets on distinct ` +
    `addresses 127.1.x.y (refl_c on 0.0.0.0) from sockets bound to 0.0.0.0 (source addresses ` +
    `from the routing table), cps ${plan.memoryCps} × ${SOCKETS} sockets, ` +
    `${plan.memoryIntervalSeconds}-second intervals (one cycle per interval, so nearly every path ` +
    `is in every summary: a few probes of a cycle may fall in the next), side by side; RSS is the median of ${RSS_SAMPLES} readings ` +
    `${RSS_SAMPLE_MILLISECONDS} ms apart, from when ${plan.memoryIntervals} complete ` +
    `intervals have been published (${
      plan.memoryIntervals > 30
        ? "the history of 30 intervals is full: a long-running collector's steady state"
        : "the history of 30 intervals is not full yet: a long-running collector holds more"
    }); per path = (median RSS at ${formatNumber(MEMORY_TARGETS[1])} − ` +
    `median RSS at ${formatNumber(MEMORY_TARGETS[0])}) / ` +
    `${formatNumber(MEMORY_TARGETS[1] - MEMORY_TARGETS[0])}. GET times are the median of ` +
    `${SUMMARY_GETS}. RSS counts heap pages V8 has not yet returned to the system, such as ` +
    "those used while parsing the config.",
  ].join(" ");
}

function formatSummary(results: Results): string {
  return [
    textTable(HEADLINE_HEADER, headlineRows(results)),
    "",
    ...results.searches.map(explainFailure),
    ...results.searches.flatMap((search) => reflectorDropsNote(search) ?? []),
    "",
    textTable(TRIAL_HEADER, trialRows(results.searches)),
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
    ...results.searches.flatMap((search) => [`- ${explainFailure(search)}`]),
    ...results.searches.flatMap((search) => {
      const note = reflectorDropsNote(search);
      return note === undefined ? [] : [`- ${note}`];
    }),
    "",
    `${rttNotes(results.rtt)} ${REFERENCE_NOTE}`,
    "",
    "Every trial (refl_c as the reflector):",
    "",
    markdownTable(TRIAL_HEADER, trialRows(results.searches)),
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
  description: "Collector throughput against refl_c, RTT bias against probeblast, memory per " +
    "path, on each UDP engine",
  usage: formatUsage("deno task bench collector", FLAGS),
  async run(context) {
    const { plan, record } = choosePlan(context, FLAGS, { full: FULL_PLAN, quick: QUICK_PLAN });
    context.progress(`Building the reference tools from ${context.toolsDirectory}`);
    await using tools = await buildReferenceTools(context.toolsDirectory, {
      signal: context.signal,
    });
    const directory = await Deno.makeTempDir({ prefix: "llama-bench-collector-" });
    await using _directory = {
      [Symbol.asyncDispose]: () => Deno.remove(directory, { recursive: true }).catch(() => {}),
    };
    const run: RunSetup = { tools, context, directory };
    const searches = await measureThroughput(plan, run);
    const rtt: RttComparison[] = [];
    for (const reflector of REFLECTORS) {
      for (const placement of PLACEMENTS) {
        rtt.push(await compareRtt(reflector, placement, plan, run));
      }
    }
    const memory = await measureMemoryPerPath(plan, run);
    const results: Results = { plan, searches, rtt, memory };
    return {
      summary: formatSummary(results),
      record: record ? formatRecord(results) : undefined,
    };
  },
};

export default collectorBenchmark;
