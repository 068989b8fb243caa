/**
 * The collector benchmark's RTT bias: its p50 against probeblast's kernel-timestamped p50.
 *
 * @module
 */
import {
  type BenchmarkContext,
  delay,
  median,
  type ReadyProcess,
  type ReferenceTools,
  spawnUntilReady,
} from "./_tools.ts";
import { type ProbeblastResult, runProbeblast } from "./_probeblast.ts";
import {
  type Engine,
  ENGINES,
  readSummaries,
  type RunSetup,
  SOCKETS,
  startCollector,
  startReflectorC,
} from "./_collector_process.ts";
import { formatNumber, formatRate } from "./_collector_format.ts";

/** How long the RTT runs are. */
export interface RttPlan {
  /** Seconds of `probeblast` at 1k probes/s for the kernel's view of the RTT. */
  probeblastSeconds: number;
  /** Summarization interval of the collector's RTT run, seconds. */
  rttIntervalSeconds: number;
  /** Complete intervals whose RTT p50s give the median, after one complete interval of warm-up. */
  rttIntervals: number;
}

/** Probes per second of every RTT run, probeblast's and the collectors'. */
export const RTT_SAMPLE_RATE = 1_000;
const REFLECTOR_WARM_UP_MILLISECONDS = 1_000;

/** A reflector, bound to every address; `start` resolves once it answers, its port in `ready`. */
export interface ReflectorUnderTest {
  name: string;
  /** Whether it fills the reflection block, so the collector can subtract its dwell time. */
  reportsDwell: boolean;
  start(tools: ReferenceTools, context: BenchmarkContext, cpus?: string): Promise<ReadyProcess>;
}

/**
 * Where the RTT runs put their processes. On loopback a reply's time includes waking the
 * reflector; how long that takes depends on which CPU the scheduler wakes it on (an idle virtual
 * CPU wakes slowly), and that depends on what the sender does next, which differs between
 * probeblast and a collector. Pinning every process to one CPU takes that difference out.
 */
export interface Placement {
  name: string;
  cpus: string | undefined;
}

/** Each reflector is measured once in each placement, with a fresh instance. */
export const PLACEMENTS: readonly Placement[] = [
  { name: "scheduler's choice", cpus: undefined },
  { name: "all on CPU 0", cpus: "0" },
];

/** The reflectors the RTT runs go through: ours, which reports its dwell, and refl_c. */
export const REFLECTORS: readonly ReflectorUnderTest[] = [
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
export interface RttInterval {
  p50: number;
  p99: number;
  min: number;
  answered: number;
  dwellCorrected: number;
  timestampSource: string;
}

/** One collector run through a reflector. */
export interface CollectorRtt {
  engine: Engine;
  intervals: RttInterval[];
  /** Median of the intervals' p50, µs. */
  p50: number;
  /** `p50` minus the mean of probeblast's kernel-timestamped p50 before and after, µs. */
  bias: number;
}

/** Every run through one reflector instance. */
export interface RttComparison {
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
  plan: RttPlan,
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
  plan: RttPlan,
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

/**
 * Measures probeblast, a collector on each engine, and probeblast again, in turn, through one
 * instance of `reflector` placed as `placement`.
 */
export async function compareRtt(
  reflector: ReflectorUnderTest,
  placement: Placement,
  plan: RttPlan,
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
