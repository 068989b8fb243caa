/**
 * The collector benchmark's report: headline against the targets, every trial, RTT and memory.
 *
 * @module
 */
import { markdownTable, textTable } from "./_tools.ts";
import { ENGINES, PROBE_TIMEOUT_MILLISECONDS, SOCKETS } from "./_collector_process.ts";
import {
  highestWithTotalLoss,
  MAXIMUM_LOSS,
  type RateSearch,
  REQUIRED_SENT,
  SETTLE_MILLISECONDS,
  type ThroughputPlan,
} from "./_collector_throughput.ts";
import { RTT_SAMPLE_RATE, type RttComparison, type RttPlan } from "./_collector_rtt.ts";
import {
  MEMORY_TARGETS,
  type MemoryPlan,
  type MemoryReading,
  RSS_SAMPLE_MILLISECONDS,
  RSS_SAMPLES,
  SUMMARY_GETS,
  TASK_V8_FLAGS,
} from "./_collector_memory.ts";
import {
  formatBytes,
  formatMebibytes,
  formatNumber,
  formatPercent,
  formatRate,
  formatSigned,
  lossFraction,
} from "./_collector_format.ts";

/** The targets. */
const TARGET_RATE = 100_000;
const TARGET_BIAS_MICROSECONDS = 10;
const TARGET_BYTES_PER_PATH = 1024;

const REFERENCE_NOTE = "References (shared/tools/README.md, not measured here): the original " +
  "LLAMA collector (Go) reports a mean RTT of 0.14–0.18 ms on a loopback path whose " +
  "kernel-timestamped RTT is ~0.02 ms. Targets: ≥ 100k probes/s with < 0.1% self-caused loss, " +
  "RTT p50 bias ≤ 10 µs, memory ≤ 1 KB per path.";

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

/** Everything a run measured, and the plan it followed. */
export interface Results {
  plan: ThroughputPlan & RttPlan & MemoryPlan;
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

function highestCell(search: RateSearch, plan: ThroughputPlan): string {
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

function describeMethod(plan: Results["plan"]): string {
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

/** The summary printed on the terminal: plain-text tables. */
export function formatSummary(results: Results): string {
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

/** The section for RESULTS.md: Markdown tables, the notes and the method. */
export function formatRecord(results: Results): string {
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
