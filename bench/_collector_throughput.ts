/**
 * The collector benchmark's throughput search: trials at a rate, rungs, the highest rate sustained.
 *
 * @module
 */
import { delay, type ProcessUsage, readProcessUsage, readUdpSocketDrops } from "./_tools.ts";
import {
  type CollectorProcess,
  type Engine,
  ENGINES,
  metricValue,
  readSummaries,
  type RunSetup,
  SOCKETS,
  startCollector,
  startReflectorC,
} from "./_collector_process.ts";
import { formatNumber, formatPercent, formatRate, lossFraction } from "./_collector_format.ts";

/** How thorough the throughput search is. */
export interface ThroughputPlan {
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
}

/**
 * A trial passes with fewer probes lost by the collector itself (all lost, less those the kernel
 * dropped at refl_c's socket) than this fraction of those sent…
 */
export const MAXIMUM_LOSS = 0.001;
/** …and at least this fraction of the probes its schedule asks for actually sent. */
export const REQUIRED_SENT = 0.99;
/** How long after the measured intervals end the counters are read. */
export const SETTLE_MILLISECONDS = 100;

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

export type Verdict = "pass" | "lossy" | "behind" | "lossy and behind";

/** One try of a rate: a fresh collector, measured over complete intervals. */
export interface Trial {
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
export interface Rung {
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
export function highestWithTotalLoss(search: RateSearch): number {
  let highest = 0;
  for (const rung of [...search.rungs].sort((a, b) => a.rate - b.rate)) {
    const passes = rung.trials.filter(passesWithTotalLoss).length;
    if (passes * 2 <= rung.trials.length) break;
    highest = rung.rate;
  }
  return highest;
}

interface ThroughputSetup extends RunSetup {
  plan: ThroughputPlan;
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
export interface RateSearch {
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

/** Finds the highest rate each engine sustains, against a fresh refl_c per engine. */
export async function measureThroughput(
  plan: ThroughputPlan,
  run: RunSetup,
): Promise<RateSearch[]> {
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

/** The progress line of one trial. */
function describeTrial(trial: Trial): string {
  return `sent ${formatPercent(trial.sent / trial.scheduled)} of schedule, lost ` +
    `${formatPercent(lossFraction(trial.lost, trial.sent))}, self-caused ` +
    `${formatPercent(lossFraction(trial.selfLost, trial.sent))} (kernel drops at the ` +
    `collector's sockets ${formatNumber(trial.collectorDrops)}, at refl_c's ` +
    `${formatNumber(trial.reflectorDrops)}), lag ${formatNumber(trial.lagSeconds * 1000, 1)} ` +
    `ms, skipped ${formatNumber(trial.skipped)}, CPU ${formatNumber(trial.cpuPercent)}% → ` +
    trial.verdict;
}
