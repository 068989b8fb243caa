/**
 * The STAMP benchmark's shapes and its report: the tables for the terminal and bench/RESULTS.md.
 *
 * @module
 */
import type { ProbeblastResult } from "./_probeblast.ts";
import { markdownTable, textTable } from "./_tools.ts";
import type { Stampblast } from "./_stampblast.ts";
import {
  type LadderPlan,
  type LadderTrial,
  type RateSearch,
  REQUIRED_ANSWERED,
} from "./_rate_ladder.ts";

/** How thorough a run is. */
export interface Plan extends LadderPlan {
  /** Seconds of load for the RTT and CPU readings. */
  sampleSeconds: number;
  /** Runs of each RTT and CPU reading; the median is reported. */
  samples: number;
}

/** The ready line comes before startup work (module loading, first GCs) has settled. */
export const WARM_UP_MILLISECONDS = 1_000;
/** Packets per second of the CPU and memory reading. */
export const CPU_SAMPLE_RATE = 20_000;
/** Packets per second of the RTT reading. */
export const RTT_SAMPLE_RATE = 1_000;
/** stampblast's sockets: each source port is a STAMP session of its own. */
export const STAMP_SOURCE_PORTS = 4;

/** Each row of the report: one port of the reflector, one generator, one STAMP mode. */
export interface PortUnderTest {
  name: string;
  protocol: "llama" | "stamp";
  stampMode: "stateless" | "stateful";
  authenticated: boolean;
}

/** What the reflector on this checkout offers (the STAMP flags come with issue 18). */
export interface ReflectorFeatures {
  stampPort: boolean;
  stampKeyFile: boolean;
}

/** What a trial reads: probeblast's report, with STAMP's RTT less the dwell for stampblast. */
export type Report = ProbeblastResult & {
  netRoundTrip?: { p50: number | null; p99: number | null };
};
/** One generator run against a fresh reflector. */
export type Trial = LadderTrial<Report>;

/** `, lost forward / backward a / b` for a stateful STAMP run, or nothing. */
export function forwardBackward(result: Report): string {
  const { forwardLost, backwardLost } = result as { forwardLost?: number; backwardLost?: number };
  return forwardLost === undefined
    ? ""
    : `, lost forward / backward ${forwardLost} / ${backwardLost}`;
}

/** Repeated runs at one rate, and the medians of what they read. */
export interface Sample {
  trials: Trial[];
  p50: number | null;
  p99: number | null;
  netP50: number | null;
  netP99: number | null;
  cpuPercent: number | null;
  rssKilobytes: number | null;
}

/** Everything measured for one port. */
export interface PortResult {
  port: PortUnderTest;
  packetBytes: number;
  rttSample: Sample;
  cpuSample: Sample;
  search: RateSearch<Report>;
}

// ---- formatting --------------------------------------------------------------------------------

/** `20k` for 20,000. */
export function formatRate(rate: number): string {
  return rate >= 1000 ? `${rate / 1000}k` : `${rate}`;
}

/** A number with thousands separators, or `n/a`. */
export function formatNumber(value: number | null | undefined, digits = 0): string {
  return value === null || value === undefined || !Number.isFinite(value)
    ? "n/a"
    : value.toLocaleString("en-US", {
      minimumFractionDigits: digits,
      maximumFractionDigits: digits,
    });
}

/** A fraction as a percentage, with a third decimal near 99.9%. */
export function formatPercent(fraction: number): string {
  return `${(fraction * 100).toFixed(fraction >= 0.9999 || fraction < 0.99 ? 2 : 3)}%`;
}

function highestRateCell(search: RateSearch<Report>, plan: Plan): string {
  const { highest, endedBy, firstFailure } = search;
  if (endedBy === "ladder") return `≥ ${formatRate(highest)}/s (every rate tried passed)`;
  if (endedBy === "generator") return `≥ ${formatRate(highest)}/s (the generator's limit)`;
  const failed = `${formatRate(firstFailure!.rate)}/s failed`;
  return highest === 0
    ? `< ${formatRate(plan.rates[0])}/s (${failed})`
    : `${formatRate(highest)}/s (${failed})`;
}

function tableHeader(plan: Plan): string[] {
  const of = plan.samples > 1 ? `, median of ${plan.samples}` : "";
  return [
    "port (generator)",
    "packet",
    `highest rate with ≥ ${REQUIRED_ANSWERED * 100}% answered` +
    (plan.trialsPerRate > 1 ? ` (2 of ${plan.trialsPerRate} trials)` : ""),
    `RTT p50 / p99 at ${formatRate(RTT_SAMPLE_RATE)}/s (µs, t4 − t1${of})`,
    `STAMP RTT − dwell p50 / p99 (µs, t4 − t1 − (t3 − t2))`,
    `CPU at ${formatRate(CPU_SAMPLE_RATE)}/s${of}`,
    `RSS at ${formatRate(CPU_SAMPLE_RATE)}/s`,
  ];
}

function tableRows(results: readonly PortResult[], plan: Plan): string[][] {
  return results.map(({ port, packetBytes, rttSample, cpuSample, search }) => [
    port.name,
    `${packetBytes} B`,
    highestRateCell(search, plan),
    `${formatNumber(rttSample.p50, 1)} / ${formatNumber(rttSample.p99, 1)}`,
    port.protocol === "stamp"
      ? `${formatNumber(rttSample.netP50, 1)} / ${formatNumber(rttSample.netP99, 1)}`
      : "—",
    `${formatNumber(cpuSample.cpuPercent)}%`,
    cpuSample.rssKilobytes === null
      ? "n/a"
      : `${formatNumber(cpuSample.rssKilobytes / 1024, 1)} MiB`,
  ]);
}

const TRIAL_HEADER = [
  "port",
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

function trialRows(results: readonly PortResult[]): string[][] {
  return results.flatMap(({ port, rttSample, cpuSample, search }) =>
    [
      ...rttSample.trials.map((trial) => ["RTT", trial] as const),
      ...cpuSample.trials.map((trial) => ["CPU", trial] as const),
      ...search.rungs.flatMap((rung) =>
        rung.trials.map((trial) => [`ladder → ${rung.verdict}`, trial] as const)
      ),
    ].map(([purpose, trial]) => [
      port.name,
      purpose,
      formatRate(trial.rate),
      `${trial.seconds} s`,
      formatNumber(trial.result.achievedRate),
      formatPercent(trial.answered) + forwardBackward(trial.result),
      formatNumber(trial.result.reflectorSocketDrops),
      formatNumber(trial.result.reflectorCpuPercent),
      `${formatNumber(trial.result.kernelRoundTrip.p50, 1)} / ${
        formatNumber(trial.result.kernelRoundTrip.p99, 1)
      }`,
      trial.verdict,
    ])
  );
}

/** Sentences naming what this run could not measure, and why. */
export function notMeasured(features: ReflectorFeatures, stampblast: Stampblast): string[] {
  return [
    ...(features.stampPort ? [] : [
      "The STAMP port was not measured: this checkout's reflector has no --stamp-port " +
      "(issue 18); only its LLAMA port was.",
    ]),
    ...(features.stampPort && !stampblast.authenticated
      ? ["Authenticated STAMP was not measured: stampblast was built without libcrypto."]
      : []),
    ...(features.stampPort && !features.stampKeyFile
      ? ["Authenticated STAMP was not measured: the reflector has no --stamp-key-file."]
      : []),
  ];
}

function describeMethod(plan: Plan): string {
  return `Method: every trial starts a fresh reflector (\`deno run -A reflector/main.ts --host ` +
    "127.0.0.1 --port 0 --max-pps 0 --engine native --stamp-port P --stamp-mode MODE`, plus " +
    `\`--stamp-key-file\` for the authenticated row), waits ${WARM_UP_MILLISECONDS / 1000} s, ` +
    `then runs one generator on loopback: \`probeblast -r RATE -d ${plan.trialSeconds} -c PID ` +
    `-j\` on the LLAMA port, or \`stampblast -n ${STAMP_SOURCE_PORTS} -r RATE -d ` +
    `${plan.trialSeconds} -c PID [-S] [-K keys]\` on the STAMP port (the same pacing loop; ` +
    `${STAMP_SOURCE_PORTS} source ports, one STAMP session each). A packet not back 1 s after ` +
    `the last send is lost; a trial passes with at least ${REQUIRED_ANSWERED * 100}% answered. ` +
    `${
      plan.trialsPerRate > 1
        ? `A rate passes when 2 of ${plan.trialsPerRate} trials pass (the third only when the first two disagree). `
        : "Each rate is tried once (quick run). "
    }Rates tried: ${plan.rates.map(formatRate).join(", ")}, stopping at the first that fails${
      plan.bisect ? ", then one more halfway between the last pass and it" : ""
    }. RTT is from the generator's send time (t1, also in the STAMP packet) to the kernel's ` +
    "receive timestamp (t4); for STAMP, less the reflector's dwell from its own receive (t2) and " +
    "transmit (t3) timestamps. CPU is the reflector's user + system time while packets were " +
    "sent, read from /proc.";
}

/** The table and notes, for the terminal. */
export function formatSummary(
  results: readonly PortResult[],
  plan: Plan,
  notes: readonly string[],
): string {
  return [textTable(tableHeader(plan), tableRows(results, plan)), "", ...notes].join("\n");
}

/** The table, notes, method and every trial, for bench/RESULTS.md. */
export function formatRecord(
  results: readonly PortResult[],
  plan: Plan,
  notes: readonly string[],
): string {
  return [
    markdownTable(tableHeader(plan), tableRows(results, plan)),
    "",
    ...notes.flatMap((note) => [note, ""]),
    describeMethod(plan),
    "",
    "Every trial:",
    "",
    markdownTable(TRIAL_HEADER, trialRows(results)),
  ].join("\n");
}
