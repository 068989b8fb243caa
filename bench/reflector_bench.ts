/**
 * The reflector benchmark: `deno task bench reflector [--quick [--record]]`.
 *
 * In one run it measures our reflector on each UDP engine (`--engine native`, libc through FFI,
 * and `--engine deno`, `Deno.listenDatagram`) and the C reference `refl_c`: the highest rate of
 * 1,028-byte probes answered at least 99.9% of the time on loopback, the round-trip time at 1k
 * probes/s, and CPU and memory at 20k probes/s, all measured by `probeblast`. A full run repeats
 * every reading three times, because one 10-second trial is noisy on a small shared machine.
 *
 * @module
 */
import { formatUsage } from "@llama/core";
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
  type ReadyProcess,
  type ReferenceTools,
  spawnUntilReady,
  textTable,
} from "./_tools.ts";
import { type ProbeblastResult, runProbeblast } from "./_probeblast.ts";
import {
  findHighestRate as climb,
  judge,
  type LadderTrial,
  type RateSearch as LadderSearch,
  REQUIRED_ANSWERED,
  type Rung as LadderRung,
  type Verdict,
} from "./_rate_ladder.ts";

const FLAGS = planFlags(
  "3-second single trials and fewer rates: a smoke test of the harness in a few minutes",
);

/** How thorough a run is. */
interface Plan {
  /** Rates tried in order, stopping at the first that fails. */
  rates: number[];
  /** Seconds of probes per trial of a rate. */
  trialSeconds: number;
  /** Trials per rate at most; a rate passes when a majority of them pass. */
  trialsPerRate: number;
  /** Seconds of probes for the RTT and CPU readings. */
  sampleSeconds: number;
  /** Runs of each RTT and CPU reading; the median is reported. */
  samples: number;
  /** Whether to try once between the last rate that passed and the first that failed. */
  bisect: boolean;
}

const FULL_PLAN: Plan = {
  rates: [10, 20, 30, 40, 50, 60, 80, 100, 120, 150, 200, 250].map((thousands) => thousands * 1000),
  trialSeconds: 10,
  trialsPerRate: 3,
  sampleSeconds: 5,
  samples: 3,
  bisect: true,
};

const QUICK_PLAN: Plan = {
  rates: [10_000, 20_000, 50_000, 100_000, 150_000, 200_000],
  trialSeconds: 3,
  trialsPerRate: 1,
  sampleSeconds: 2,
  samples: 1,
  bisect: false,
};

/** The ready line comes before startup work (module loading, first GCs) has settled. */
const WARM_UP_MILLISECONDS = 1_000;
const CPU_SAMPLE_RATE = 20_000;
const RTT_SAMPLE_RATE = 1_000;

/** The issue's targets for the native engine. */
const TARGET_RATE = 150_000;
const TARGET_CPU_PERCENT = 44;

const REFERENCE_NOTE = "Reference figures from shared/tools/README.md, not measured in this run " +
  "(2 cores, loopback, 1,028-byte probes, medians of 3): original LLAMA reflector (Go) 100k/s " +
  "and 44% CPU at 20k/s, naive `Deno.listenDatagram` loop 20k/s and 47% (refl_c 200k/s and 13% " +
  "there). Targets for our reflector on the native engine: ≥ 150k/s with < 0.1% loss, and CPU " +
  "at 20k/s ≤ 44% of a core (the Go reflector's).";

/** A reflector under test; `start` resolves once it answers, its port in the ready match. */
interface ReflectorUnderTest {
  name: string;
  /** The engine its ready line must name, for our reflector. */
  engine?: "native" | "deno";
  /** Whether the issue's targets apply to it. */
  hasTargets: boolean;
  start(tools: ReferenceTools, context: BenchmarkContext): Promise<ReadyProcess>;
}

function llamaReflector(engine: "native" | "deno"): ReflectorUnderTest {
  return {
    name: `llama reflector, --engine ${engine}`,
    engine,
    hasTargets: engine === "native",
    async start(_tools, context) {
      const process = await spawnUntilReady(Deno.execPath(), {
        // Port 0: the reflector picks a free port and names it in its ready line.
        args: [
          ...["run", "-A", "reflector/main.ts"],
          ...["--host", "127.0.0.1", "--port", "0", "--max-pps", "0", "--engine", engine],
        ],
        cwd: context.repositoryRoot,
        readyPattern:
          /Reflecting probes on udp:\/\/(?<host>\S+):(?<port>\d+) \((?<engine>\w+) engine/,
        signal: context.signal,
      });
      if (process.ready.groups?.engine !== engine) {
        await process[Symbol.asyncDispose]();
        throw new Error(
          `Asked for --engine ${engine}, but the reflector says it runs the ` +
            `${process.ready.groups?.engine} engine`,
        );
      }
      return process;
    },
  };
}

const REFLECTORS: readonly ReflectorUnderTest[] = [
  llamaReflector("native"),
  llamaReflector("deno"),
  {
    name: "refl_c (C reference)",
    hasTargets: false,
    start: (tools, context) =>
      spawnUntilReady(tools.reflectorC, {
        args: ["-p", `${findFreeUdpPort()}`],
        readyPattern: /refl_c: reflecting on \S+:(?<port>\d+)/,
        signal: context.signal,
      }),
  },
];

/** One probeblast run against a freshly started reflector. */
type Trial = LadderTrial<ProbeblastResult>;
type Rung = LadderRung<ProbeblastResult>;
type RateSearch = LadderSearch<ProbeblastResult>;

/** Repeated runs at one rate, and the medians of what they read. */
interface Sample {
  rate: number;
  trials: Trial[];
  p50: number | null;
  p99: number | null;
  cpuPercent: number | null;
  rssKilobytes: number | null;
}

interface ReflectorResult {
  reflector: ReflectorUnderTest;
  search: RateSearch;
  cpuSample: Sample;
  rttSample: Sample;
}

interface TrialSetup {
  tools: ReferenceTools;
  context: BenchmarkContext;
}

async function runTrial(
  reflector: ReflectorUnderTest,
  load: { rate: number; seconds: number },
  setup: TrialSetup,
): Promise<Trial> {
  const { signal } = setup.context;
  // A fresh process per trial: a failed trial may leave a backlog behind.
  await using process = await reflector.start(setup.tools, setup.context);
  await delay(WARM_UP_MILLISECONDS, signal);
  const result = await runProbeblast(setup.tools, {
    port: Number(process.ready.groups?.port),
    rate: load.rate,
    seconds: load.seconds,
    reflectorPid: process.pid,
    signal,
  });
  const { answered, verdict } = judge(result, load.rate);
  const trial: Trial = { ...load, result, answered, verdict };
  setup.context.progress(`  ${formatRate(load.rate)}/s for ${load.seconds} s: ${describe(trial)}`);
  return trial;
}

/** The ladder of bench/_rate_ladder.ts, each trial a fresh reflector under probeblast. */
function findHighestRate(
  reflector: ReflectorUnderTest,
  plan: Plan,
  setup: TrialSetup,
): Promise<RateSearch> {
  return climb(plan, (rate, seconds) => runTrial(reflector, { rate, seconds }, setup));
}

async function takeSample(
  reflector: ReflectorUnderTest,
  rate: number,
  plan: Plan,
  setup: TrialSetup,
): Promise<Sample> {
  const trials: Trial[] = [];
  for (let index = 0; index < plan.samples; index++) {
    trials.push(await runTrial(reflector, { rate, seconds: plan.sampleSeconds }, setup));
  }
  const medianOf = (read: (result: ProbeblastResult) => number | null) =>
    median(trials.map((trial) => read(trial.result)));
  return {
    rate,
    trials,
    p50: medianOf((result) => result.kernelRoundTrip.p50),
    p99: medianOf((result) => result.kernelRoundTrip.p99),
    cpuPercent: medianOf((result) => result.reflectorCpuPercent),
    rssKilobytes: medianOf((result) => result.reflectorRssKilobytes),
  };
}

async function measureReflector(
  reflector: ReflectorUnderTest,
  plan: Plan,
  setup: TrialSetup,
): Promise<ReflectorResult> {
  const { progress } = setup.context;
  progress(`${reflector.name}: RTT at ${formatRate(RTT_SAMPLE_RATE)}/s`);
  const rttSample = await takeSample(reflector, RTT_SAMPLE_RATE, plan, setup);
  progress(`${reflector.name}: CPU and memory at ${formatRate(CPU_SAMPLE_RATE)}/s`);
  const cpuSample = await takeSample(reflector, CPU_SAMPLE_RATE, plan, setup);
  progress(`${reflector.name}: highest rate with ≥ ${REQUIRED_ANSWERED * 100}% answered`);
  const search = await findHighestRate(reflector, plan, setup);
  return { reflector, search, cpuSample, rttSample };
}

// ---- formatting --------------------------------------------------------------------------------

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
  return `${(fraction * 100).toFixed(fraction >= 0.9999 || fraction < 0.99 ? 2 : 3)}%`;
}

function describe(trial: Trial): string {
  const { result } = trial;
  return `answered ${formatPercent(trial.answered)}, sent ${
    formatNumber(result.achievedRate)
  }/s, ` +
    `reflector socket drops ${formatNumber(result.reflectorSocketDrops)}, ` +
    `reflector CPU ${formatNumber(result.reflectorCpuPercent)}% → ${trial.verdict}`;
}

function highestRateCell(search: RateSearch, plan: Plan): string {
  const { highest, endedBy } = search;
  if (endedBy === "ladder") return `≥ ${formatRate(highest)}/s (every rate tried passed)`;
  if (endedBy === "generator") {
    return `≥ ${formatRate(highest)}/s (probeblast could not send faster)`;
  }
  const failure = search.firstFailure!;
  const count = votes(failure, "fail");
  const failed = `${formatRate(failure.rate)}/s failed${count === "" ? "" : ` ${count}`}`;
  return highest === 0
    ? `< ${formatRate(plan.rates[0])}/s (${failed})`
    : `${formatRate(highest)}/s (${failed})`;
}

/** `2 of 3` trials with this verdict, or nothing with single trials. */
function votes(rung: Rung, verdict: Verdict): string {
  if (rung.trials.length === 1) return "";
  const count = rung.trials.filter((trial) => trial.verdict === verdict).length;
  return `${count} of ${rung.trials.length}`;
}

function sampleLoss(sample: Sample): string {
  const worst = Math.min(...sample.trials.map((trial) => trial.answered));
  return worst < REQUIRED_ANSWERED ? ` (up to ${formatPercent(1 - worst)} unanswered)` : "";
}

function tableRows(results: readonly ReflectorResult[], plan: Plan): string[][] {
  return results.map(({ reflector, search, cpuSample, rttSample }) => {
    const rss = cpuSample.rssKilobytes;
    return [
      reflector.name,
      highestRateCell(search, plan),
      `${formatNumber(rttSample.p50, 1)} / ${formatNumber(rttSample.p99, 1)}${
        sampleLoss(rttSample)
      }`,
      `${formatNumber(cpuSample.cpuPercent)}%${sampleLoss(cpuSample)}`,
      rss === null ? "n/a" : `${formatNumber(rss / 1024, 1)} MiB`,
    ];
  });
}

function tableHeader(plan: Plan): string[] {
  const of = plan.samples > 1 ? `, median of ${plan.samples}` : "";
  return [
    "reflector",
    `highest rate with ≥ ${REQUIRED_ANSWERED * 100}% answered` +
    (plan.trialsPerRate > 1 ? ` (2 of ${plan.trialsPerRate} trials)` : ""),
    `RTT p50 / p99 at ${formatRate(RTT_SAMPLE_RATE)}/s (µs, kernel timestamps${of})`,
    `CPU % at ${formatRate(CPU_SAMPLE_RATE)}/s${of}`,
    `RSS at ${formatRate(CPU_SAMPLE_RATE)}/s`,
  ];
}

/** The issue's targets against what this run measured, for the reflectors they apply to. */
function targetRows(results: readonly ReflectorResult[]): string[][] {
  return results.filter(({ reflector }) => reflector.hasTargets).flatMap(
    ({ reflector, search, cpuSample }) => {
      const rateMet = search.highest >= TARGET_RATE;
      const cpu = cpuSample.cpuPercent;
      return [
        [
          `${reflector.name}: highest rate with < 0.1% loss`,
          `≥ ${formatRate(TARGET_RATE)}/s`,
          `${formatRate(search.highest)}/s`,
          rateMet ? "met" : "not met",
        ],
        [
          `${reflector.name}: CPU at ${formatRate(CPU_SAMPLE_RATE)}/s`,
          `≤ ${TARGET_CPU_PERCENT}% of a core`,
          `${formatNumber(cpu)}%`,
          cpu !== null && cpu <= TARGET_CPU_PERCENT ? "met" : "not met",
        ],
      ];
    },
  );
}

const TARGET_HEADER = ["target", "asked", "this run", "verdict"];

/** Says where the probes of the first failing rate went, trial by trial. */
function explainLoss(name: string, rung: Rung): string {
  const failed = rung.trials.filter((trial) => trial.verdict === "fail");
  const trials = failed.map((trial, index) => {
    const { result } = trial;
    const lost = result.sent - result.received;
    const parts = [
      `lost ${formatNumber(lost)} of ${formatNumber(result.sent)}; the kernel dropped ` +
      `${
        formatNumber(result.reflectorSocketDrops)
      } at the reflector's socket (receive buffer full)`,
    ];
    if (result.generatorSocketDrops > 0) {
      parts.push(`${formatNumber(result.generatorSocketDrops)} at probeblast's socket`);
    }
    if (result.softnetDrops > 0) parts.push(`${formatNumber(result.softnetDrops)} in softnet`);
    const elsewhere = lost - result.reflectorSocketDrops - result.generatorSocketDrops -
      Math.max(0, result.softnetDrops);
    if (elsewhere > 0) {
      parts.push(
        `${formatNumber(elsewhere)} not counted by the kernel (late or lost in the reflector)`,
      );
    }
    const label = failed.length > 1 ? `trial ${index + 1} ` : "";
    return `${label}${parts.join(", ")}; reflector CPU ${
      formatNumber(result.reflectorCpuPercent)
    }%`;
  });
  return `${name} at ${formatRate(rung.rate)}/s: ${trials.join("; ")}.`;
}

function trialRows(results: readonly ReflectorResult[]): string[][] {
  return results.flatMap(({ reflector, search, cpuSample, rttSample }) =>
    [
      ...rttSample.trials.map((trial) => ["RTT", trial] as const),
      ...cpuSample.trials.map((trial) => ["CPU", trial] as const),
      ...search.rungs.flatMap((rung) =>
        rung.trials.map((trial) => [`ladder → ${rung.verdict}`, trial] as const)
      ),
    ].map(([purpose, trial]) => {
      const { result } = trial;
      const { p50, p99 } = result.kernelRoundTrip;
      return [
        reflector.name,
        purpose,
        formatRate(trial.rate),
        `${trial.seconds} s`,
        formatNumber(result.achievedRate),
        formatPercent(trial.answered),
        formatNumber(result.reflectorSocketDrops),
        formatNumber(result.reflectorCpuPercent),
        `${formatNumber(p50, 1)} / ${formatNumber(p99, 1)}`,
        trial.verdict,
      ];
    })
  );
}

const TRIAL_HEADER = [
  "reflector",
  "for",
  "rate asked (/s)",
  "length",
  "rate sent (/s)",
  "answered",
  "reflector socket drops",
  "reflector CPU %",
  "RTT p50 / p99 (µs)",
  "trial verdict",
];

function describeMethod(plan: Plan): string {
  const repeats = plan.trialsPerRate > 1
    ? `Each rate is tried up to ${plan.trialsPerRate} times and passes when 2 of ` +
      `${plan.trialsPerRate} trials pass (a third trial runs only when the first two disagree), ` +
      "because a single 10-second trial is noisy on this small shared machine. "
    : "Each rate is tried once (quick run). ";
  const samples = plan.samples > 1
    ? `RTT and CPU/RSS readings are the median of ${plan.samples} separate ` +
      `${plan.sampleSeconds}-second runs, each against a fresh reflector. `
    : `RTT and CPU/RSS readings are single ${plan.sampleSeconds}-second runs. `;
  return `Method: every trial starts a fresh reflector, waits ${WARM_UP_MILLISECONDS / 1000} s, ` +
    `then \`probeblast -r RATE -d ${plan.trialSeconds} -c PID -j\` sends 1,028-byte probes on ` +
    "loopback; a probe not back 1 s after the last send counts as lost, and a trial passes with " +
    `at least ${REQUIRED_ANSWERED * 100}% answered. ${repeats}Rates tried: ` +
    `${plan.rates.map(formatRate).join(", ")}, stopping at the first that fails${
      plan.bisect ? ", then one more halfway between the last pass and that failure" : ""
    }. ${samples}` +
    "Our reflector runs as `deno run -A reflector/main.ts --host 127.0.0.1 --port 0 " +
    "--max-pps 0 --engine native|deno` (the engine its ready line names is checked); refl_c with " +
    "its defaults (batches of 64, protobuf check, 1 MiB receive buffer). CPU is the reflector's " +
    "user + system time while probes were sent, as probeblast reads it from /proc.";
}

function lossExplanations(results: readonly ReflectorResult[]): string[] {
  return results.flatMap(({ reflector, search }) =>
    search.firstFailure === undefined ? [] : [explainLoss(reflector.name, search.firstFailure)]
  );
}

function formatSummary(results: readonly ReflectorResult[], plan: Plan): string {
  return [
    textTable(tableHeader(plan), tableRows(results, plan)),
    "",
    textTable(TARGET_HEADER, targetRows(results)),
    "",
    ...lossExplanations(results),
    "",
    REFERENCE_NOTE,
  ].join("\n");
}

function formatRecord(results: readonly ReflectorResult[], plan: Plan): string {
  return [
    markdownTable(tableHeader(plan), tableRows(results, plan)),
    "",
    "Against the issue's targets:",
    "",
    markdownTable(TARGET_HEADER, targetRows(results)),
    "",
    ...(lossExplanations(results).length === 0 ? [] : [
      "Where the probes of each first failing rate went (failed trials only):",
      "",
      ...lossExplanations(results).map((line) => `- ${line}`),
      "",
    ]),
    REFERENCE_NOTE,
    "",
    describeMethod(plan),
    "",
    "Every trial:",
    "",
    markdownTable(TRIAL_HEADER, trialRows(results)),
  ].join("\n");
}

/** The reflector benchmark. */
const reflectorBenchmark: Benchmark = {
  description: "Highest probe rate answered, RTT, CPU and memory: our reflector on each engine " +
    "against refl_c",
  usage: formatUsage("deno task bench reflector", FLAGS),
  async run(context) {
    const { plan, record } = choosePlan(context, FLAGS, { full: FULL_PLAN, quick: QUICK_PLAN });
    context.progress(`Building the reference tools from ${context.toolsDirectory}`);
    await using tools = await buildReferenceTools(context.toolsDirectory, {
      signal: context.signal,
    });
    const results: ReflectorResult[] = [];
    for (const reflector of REFLECTORS) {
      results.push(await measureReflector(reflector, plan, { tools, context }));
    }
    return {
      summary: formatSummary(results, plan),
      record: record ? formatRecord(results, plan) : undefined,
    };
  },
};

export default reflectorBenchmark;
