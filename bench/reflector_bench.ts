/**
 * The reflector benchmark: `deno task bench reflector [--quick [--record]]`.
 *
 * For our reflector and the C reference `refl_c`, it finds the highest rate of 1,028-byte probes
 * answered at least 99.9% of the time on loopback, and records the round-trip time at 1k
 * probes/s and CPU and memory at 20k probes/s, all measured by `probeblast`.
 *
 * @module
 */
import { formatUsage, parseFlags, UsageError } from "@llama/core";
import {
  type Benchmark,
  type BenchmarkContext,
  buildReferenceTools,
  delay,
  findFreeUdpPort,
  type ProbeblastResult,
  type ReadyProcess,
  type ReferenceTools,
  runProbeblast,
  spawnUntilReady,
} from "./_tools.ts";

const FLAGS = {
  quick: {
    type: "boolean",
    description: "3-second trials and fewer rates: a smoke test of the harness in under a minute",
  },
  record: {
    type: "boolean",
    description: "With --quick, still append the results to bench/RESULTS.md",
  },
} as const;

/** How thorough a run is. */
interface Plan {
  /** Rates tried in order, stopping at the first that fails. */
  rates: number[];
  /** Seconds of probes per rate. */
  trialSeconds: number;
  /** Seconds of probes for the RTT and CPU readings. */
  sampleSeconds: number;
  /** Whether to try once between the last rate that passed and the first that failed. */
  bisect: boolean;
}

const FULL_PLAN: Plan = {
  rates: [10, 20, 30, 40, 50, 60, 80, 100, 150, 200, 250].map((thousands) => thousands * 1000),
  trialSeconds: 10,
  sampleSeconds: 5,
  bisect: true,
};

const QUICK_PLAN: Plan = {
  rates: [10_000, 20_000, 50_000, 100_000, 200_000],
  trialSeconds: 3,
  sampleSeconds: 2,
  bisect: false,
};

/** The fraction of probes that must come back for a rate to pass. */
const REQUIRED_ANSWERED = 0.999;
/** Below this fraction of the rate asked for, probeblast rather than the reflector was the limit. */
const REQUIRED_ACHIEVED = 0.97;
/** The ready line comes before startup work (module loading, first GCs) has settled. */
const WARM_UP_MILLISECONDS = 1_000;
const CPU_SAMPLE_RATE = 20_000;
const RTT_SAMPLE_RATE = 1_000;

const REFERENCE_NOTE = "Reference figures from shared/tools/README.md, not measured in this run " +
  "(2 cores, loopback, 1,028-byte probes, medians of 3): original LLAMA reflector (Go) 100k/s, " +
  "naive `Deno.listenDatagram` loop 20k/s (refl_c 200k/s there).";

/** A reflector under test; `start` resolves once it answers, its port in the ready match. */
interface ReflectorUnderTest {
  name: string;
  start(tools: ReferenceTools, context: BenchmarkContext): Promise<ReadyProcess>;
}

const REFLECTORS: readonly ReflectorUnderTest[] = [
  {
    name: "llama reflector (Deno)",
    start: (_tools, context) =>
      spawnUntilReady(Deno.execPath(), {
        // Port 0: the reflector picks a free port and names it in its ready line.
        args: [
          ...["run", "-A", "reflector/main.ts"],
          ...["--host", "127.0.0.1", "--port", "0", "--max-pps", "0"],
        ],
        cwd: context.repositoryRoot,
        readyPattern: /Reflecting probes on udp:\/\/(?<host>\S+):(?<port>\d+)/,
        signal: context.signal,
      }),
  },
  {
    name: "refl_c (C reference)",
    start: (tools, context) =>
      spawnUntilReady(tools.reflectorC, {
        args: ["-p", `${findFreeUdpPort()}`],
        readyPattern: /refl_c: reflecting on \S+:(?<port>\d+)/,
        signal: context.signal,
      }),
  },
];

/** One probeblast run against a freshly started reflector. */
interface Trial {
  rate: number;
  seconds: number;
  result: ProbeblastResult;
  /** Fraction of the probes sent that came back. */
  answered: number;
  verdict: "pass" | "fail" | "generator-limited";
}

/** The outcome of the search for the highest rate. */
interface RateSearch {
  /** The highest rate that passed, 0 if none did. */
  highest: number;
  /** What ended the search: a failing rate, probeblast's own limit, or the top of the ladder. */
  endedBy: "reflector" | "generator" | "ladder";
  /** The first rate that failed, if one did. */
  firstFailure?: Trial;
  trials: Trial[];
}

interface ReflectorResult {
  name: string;
  search: RateSearch;
  cpuSample: Trial;
  rttSample: Trial;
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
  const answered = result.sent === 0 ? 0 : result.received / result.sent;
  const verdict = answered < REQUIRED_ANSWERED
    ? "fail"
    : result.achievedRate < REQUIRED_ACHIEVED * load.rate
    ? "generator-limited"
    : "pass";
  const trial: Trial = { ...load, result, answered, verdict };
  setup.context.progress(`  ${formatRate(load.rate)}/s for ${load.seconds} s: ${describe(trial)}`);
  return trial;
}

async function findHighestRate(
  reflector: ReflectorUnderTest,
  plan: Plan,
  setup: TrialSetup,
): Promise<RateSearch> {
  const trials: Trial[] = [];
  let highest = 0;
  for (const rate of plan.rates) {
    const trial = await runTrial(reflector, { rate, seconds: plan.trialSeconds }, setup);
    trials.push(trial);
    if (trial.verdict === "generator-limited") return { highest, endedBy: "generator", trials };
    if (trial.verdict === "fail") {
      const middle = Math.round((highest + rate) / 2 / 1000) * 1000;
      if (plan.bisect && middle > highest && middle < rate) {
        const between = await runTrial(
          reflector,
          { rate: middle, seconds: plan.trialSeconds },
          setup,
        );
        trials.push(between);
        if (between.verdict === "pass") highest = middle;
      }
      return { highest, endedBy: "reflector", firstFailure: trial, trials };
    }
    highest = rate;
  }
  return { highest, endedBy: "ladder", trials };
}

async function measureReflector(
  reflector: ReflectorUnderTest,
  plan: Plan,
  setup: TrialSetup,
): Promise<ReflectorResult> {
  const { progress } = setup.context;
  progress(`${reflector.name}: RTT at ${formatRate(RTT_SAMPLE_RATE)}/s`);
  const rttSample = await runTrial(
    reflector,
    { rate: RTT_SAMPLE_RATE, seconds: plan.sampleSeconds },
    setup,
  );
  progress(`${reflector.name}: CPU and memory at ${formatRate(CPU_SAMPLE_RATE)}/s`);
  const cpuSample = await runTrial(
    reflector,
    { rate: CPU_SAMPLE_RATE, seconds: plan.sampleSeconds },
    setup,
  );
  progress(`${reflector.name}: highest rate with ≥ ${REQUIRED_ANSWERED * 100}% answered`);
  const search = await findHighestRate(reflector, plan, setup);
  return { name: reflector.name, search, cpuSample, rttSample };
}

// ---- formatting --------------------------------------------------------------------------------

function formatRate(rate: number): string {
  return rate >= 1000 ? `${rate / 1000}k` : `${rate}`;
}

function formatNumber(value: number | null, digits = 0): string {
  return value === null ? "n/a" : value.toLocaleString("en-US", {
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
  return highest === 0 ? `< ${formatRate(plan.rates[0])}/s` : `${formatRate(highest)}/s`;
}

function lossNote(trial: Trial): string {
  return trial.verdict === "fail" ? ` (${formatPercent(1 - trial.answered)} unanswered)` : "";
}

function tableRows(results: readonly ReflectorResult[], plan: Plan): string[][] {
  return results.map(({ name, search, cpuSample, rttSample }) => {
    const { p50, p99 } = rttSample.result.kernelRoundTrip;
    const rss = cpuSample.result.reflectorRssKilobytes;
    return [
      name,
      highestRateCell(search, plan),
      `${formatNumber(p50, 1)} / ${formatNumber(p99, 1)}${lossNote(rttSample)}`,
      `${formatNumber(cpuSample.result.reflectorCpuPercent)}%${lossNote(cpuSample)}`,
      rss === null ? "n/a" : `${formatNumber(rss / 1024, 1)} MiB`,
    ];
  });
}

const TABLE_HEADER = [
  "reflector",
  `highest rate with ≥ ${REQUIRED_ANSWERED * 100}% answered`,
  `RTT p50 / p99 at ${formatRate(RTT_SAMPLE_RATE)}/s (µs, kernel timestamps)`,
  `CPU % at ${formatRate(CPU_SAMPLE_RATE)}/s`,
  `RSS at ${formatRate(CPU_SAMPLE_RATE)}/s`,
];

function markdownTable(header: readonly string[], rows: readonly string[][]): string {
  const line = (cells: readonly string[]) => `| ${cells.join(" | ")} |`;
  return [line(header), line(header.map(() => "---")), ...rows.map(line)].join("\n");
}

function textTable(header: readonly string[], rows: readonly string[][]): string {
  const widths = header.map((_, column) =>
    Math.max(...[header, ...rows].map((row) => row[column].length))
  );
  const line = (cells: readonly string[]) =>
    cells.map((cell, column) => cell.padEnd(widths[column])).join("  ").trimEnd();
  return [line(header), widths.map((width) => "-".repeat(width)).join("  "), ...rows.map(line)]
    .join("\n");
}

/** Says where the probes of the first failing rate went. */
function explainLoss(name: string, trial: Trial): string {
  const { result } = trial;
  const lost = result.sent - result.received;
  const parts = [
    `${name} at ${formatRate(trial.rate)}/s lost ${formatNumber(lost)} of ` +
    `${formatNumber(result.sent)} probes; the kernel dropped ` +
    `${formatNumber(result.reflectorSocketDrops)} at the reflector's socket (receive buffer full)`,
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
  return `${parts.join(", ")}; reflector CPU ${formatNumber(result.reflectorCpuPercent)}% ` +
    "of a core.";
}

function trialRows(results: readonly ReflectorResult[]): string[][] {
  return results.flatMap(({ name, search, cpuSample, rttSample }) =>
    [rttSample, cpuSample, ...search.trials].map((trial) => {
      const { result } = trial;
      const { p50, p99 } = result.kernelRoundTrip;
      return [
        name,
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
  "rate asked (/s)",
  "length",
  "rate sent (/s)",
  "answered",
  "reflector socket drops",
  "reflector CPU %",
  "RTT p50 / p99 (µs)",
  "verdict",
];

function describeMethod(plan: Plan): string {
  return `Method: every trial starts a fresh reflector, waits ${WARM_UP_MILLISECONDS / 1000} s, ` +
    `then \`probeblast -r RATE -d ${plan.trialSeconds} -c PID -j\` sends 1,028-byte probes on ` +
    `loopback; a probe not back 1 s after the last send counts as lost. Rates tried: ` +
    `${plan.rates.map(formatRate).join(", ")}, stopping at the first with fewer than ` +
    `${REQUIRED_ANSWERED * 100}% answered${
      plan.bisect ? ", then one more halfway between the last pass and that failure" : ""
    }. RTT and CPU/RSS readings are separate ${plan.sampleSeconds}-second runs. ` +
    "Our reflector runs as `deno run -A reflector/main.ts --host 127.0.0.1 --port 0 " +
    "--max-pps 0`; refl_c with its defaults (batches of 64, protobuf check).";
}

function lossExplanations(results: readonly ReflectorResult[]): string[] {
  return results.flatMap(({ name, search }) =>
    search.firstFailure === undefined ? [] : [explainLoss(name, search.firstFailure)]
  );
}

function formatSummary(results: readonly ReflectorResult[], plan: Plan): string {
  return [
    textTable(TABLE_HEADER, tableRows(results, plan)),
    "",
    ...lossExplanations(results),
    "",
    REFERENCE_NOTE,
  ].join("\n");
}

function formatRecord(results: readonly ReflectorResult[], plan: Plan): string {
  return [
    markdownTable(TABLE_HEADER, tableRows(results, plan)),
    "",
    ...lossExplanations(results).flatMap((line) => [line, ""]),
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
  description: "Highest probe rate answered, RTT, CPU and memory: our reflector against refl_c",
  usage: formatUsage("deno task bench reflector", FLAGS),
  async run(context) {
    const { values, positionals } = parseFlags(context.args, FLAGS);
    if (positionals.length > 0) throw new UsageError(`Unexpected argument "${positionals[0]}"`);
    const plan = values.quick ? QUICK_PLAN : FULL_PLAN;
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
      record: values.quick && !values.record ? undefined : formatRecord(results, plan),
    };
  },
};

export default reflectorBenchmark;
