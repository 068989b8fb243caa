/**
 * The localisation-accuracy benchmark: `deno task bench trace_accuracy [--runs N] [--settle SECONDS]`.
 *
 * It builds the multi-router test network (tests/_topology.ts: C, r1, two ECMP branches r2a and
 * r2b, a bridged core, r3, targets T1 and T2), runs a reflector in each target and a tracing
 * collector in C, and then, N times: clears every fault, waits until no flow is lossy, makes one
 * random link lose a random share (uniform in 0.5–100%) of what crosses it, waits `--settle`
 * seconds, and reads `/api/v1/suspects`. A run scores where the faulty link ranks: its
 * `(from, to)`, or `(from, null)` when nothing answers past its near side (a blackhole).
 * Needs root, ip, nft, sysctl and bridge (iproute2).
 *
 * @module
 */
import { parseFlags, type SuspectLink, UsageError } from "@llama/core";
import { LINK_NAMES, type LinkName } from "../tests/_topology_layout.ts";
import { startTraceNetwork, type TraceNetwork } from "../tests/_trace_network.ts";
import {
  type Benchmark,
  type BenchmarkContext,
  delay,
  markdownTable,
  PrerequisiteError,
  textTable,
} from "./_tools.ts";

const FLAGS = {
  runs: { type: "number", default: 20, description: "Faults injected, one after another" },
  settle: {
    type: "number",
    default: 12,
    description: "Seconds between injecting a fault and reading the suspects",
  },
  sockets: { type: "number", default: 12, description: "Probing sockets (flows per target)" },
  "min-loss": { type: "number", default: 0.5, description: "Lowest loss drawn, percent" },
  "max-loss": { type: "number", default: 100, description: "Highest loss drawn, percent" },
} as const;

/** One run's fault and what the collector said about it. */
interface RunResult {
  link: LinkName;
  lossPercent: number;
  /** Where the faulty link ranked (1: top), or null when it was not a suspect. */
  rank: number | null;
  /** The top suspect, `from>to`, or "none". */
  top: string;
  topScore: number | null;
  lossyFlows: number;
  cleanFlows: number;
}

function isFaultyLink(network: TraceNetwork, link: LinkName, suspect: SuspectLink): boolean {
  const { from, to } = network.topology.links[link];
  return suspect.from === from && (suspect.to === to || suspect.to === null);
}

async function runOnce(
  network: TraceNetwork,
  link: LinkName,
  lossPercent: number,
  settleMs: number,
  signal: AbortSignal,
): Promise<RunResult> {
  await network.topology.clearFaults();
  await network.waitFor(
    "no lossy flow after clearing the faults",
    () => network.suspects(),
    (response) => response.lossyFlows === 0,
  );
  await network.topology.dropOnLink(link, lossPercent);
  await delay(settleMs, signal);
  const response = await network.suspects();
  const index = response.suspects.findIndex((suspect) => isFaultyLink(network, link, suspect));
  const top = response.suspects[0];
  return {
    link,
    lossPercent,
    rank: index === -1 ? null : index + 1,
    top: top === undefined ? "none" : `${top.from}>${top.to ?? "?"}`,
    topScore: top?.score ?? null,
    lossyFlows: response.lossyFlows,
    cleanFlows: response.cleanFlows,
  };
}

function rows(results: RunResult[]): string[][] {
  return results.map((result, index) => [
    `${index + 1}`,
    result.link,
    result.lossPercent.toFixed(1),
    result.rank === null ? "absent" : `${result.rank}`,
    result.top,
    result.topScore === null ? "–" : result.topScore.toFixed(2),
    `${result.lossyFlows}/${result.cleanFlows}`,
  ]);
}

const HEADER = ["run", "faulty link", "loss %", "rank", "top suspect", "score", "lossy/clean"];
const BANDS: [string, number, number][] = [
  ["0.5–2%", 0.5, 2],
  ["2–10%", 2, 10],
  ["10–50%", 10, 50],
  ["50–100%", 50, 100.01],
];

function summaryRows(results: RunResult[]): string[][] {
  return [...BANDS, ["all", 0, 101] as [string, number, number]].map(([label, low, high]) => {
    const band = results.filter((result) => result.lossPercent >= low && result.lossPercent < high);
    const first = band.filter((result) => result.rank === 1).length;
    const absent = band.filter((result) => result.rank === null).length;
    return [label, `${band.length}`, `${first}`, `${band.length - first - absent}`, `${absent}`];
  });
}

const SUMMARY_HEADER = ["loss", "runs", "ranked first", "ranked lower", "absent"];

const benchmark: Benchmark = {
  description: "How often the collector's top suspect link is the link that loses probes",
  usage: `deno task bench trace_accuracy [--runs N] [--settle SECONDS] [--sockets N]

Injects N faults (a random link of the test network, a random loss in 0.5–100%) one at a time
and records where /api/v1/suspects ranks the faulty link. Needs root, ip, nft, sysctl, bridge.`,
  async run(context: BenchmarkContext) {
    const { values, positionals } = parseFlags(context.args, FLAGS);
    if (positionals.length > 0) throw new UsageError(`Unexpected argument "${positionals[0]}"`);
    if (!(values.runs >= 1) || !Number.isInteger(values.runs)) {
      throw new UsageError(`--runs takes a whole number of runs, got ${values.runs}`);
    }
    if (!(values.settle > 0)) throw new UsageError(`--settle takes seconds, got ${values.settle}`);
    const minLoss = values["min-loss"], maxLoss = values["max-loss"];
    if (!(minLoss > 0 && maxLoss <= 100 && minLoss <= maxLoss)) {
      throw new UsageError(
        `--min-loss and --max-loss take 0 < min <= max <= 100, got ${minLoss}, ${maxLoss}`,
      );
    }
    if (Deno.uid() !== 0) throw new PrerequisiteError("the trace benchmark needs root");
    context.progress("Building the test network and starting the collector…");
    let network: TraceNetwork;
    try {
      network = await startTraceNetwork({ sockets: values.sockets });
    } catch (error) {
      throw new PrerequisiteError(
        `Cannot build the test network (needs ip, nft, sysctl, bridge): ${
          (error as Error).message
        }`,
        { cause: error },
      );
    }
    const results: RunResult[] = [];
    try {
      await network.waitFor(
        "the first traces",
        () => network.traces(),
        (response) => response.traces.length === values.sockets * 2,
      );
      for (let run = 0; run < values.runs; run++) {
        const link = LINK_NAMES[Math.floor(Math.random() * LINK_NAMES.length)];
        const lossPercent = Math.round((minLoss + Math.random() * (maxLoss - minLoss)) * 100) / 100;
        const result = await runOnce(
          network,
          link,
          lossPercent,
          values.settle * 1000,
          context.signal,
        );
        results.push(result);
        context.progress(
          `run ${run + 1}/${values.runs}: ${link} at ${lossPercent}% ranked ` +
            `${result.rank ?? "absent"} (top: ${result.top})`,
        );
      }
    } finally {
      await network[Symbol.asyncDispose]();
    }
    const first = results.filter((result) => result.rank === 1).length;
    const method = `${values.runs} runs on the test network of tests/_topology.ts (flows from ` +
      `${values.sockets} sockets to each of T1 and T2, 25 probes/s each, 2-second intervals, ` +
      `tracing budget 2000 probes/s, 10 probes per hop, re-traced every 2 s). Each run clears ` +
      `the faults, waits until no flow is lossy, drops a random share (uniform ${minLoss}–${maxLoss}%) of what ` +
      `crosses one random link (nftables, forward direction only), waits ${values.settle} s and ` +
      `reads /api/v1/suspects. A suspect matches the faulty link when its (from, to) is the ` +
      `link's, or (from, null) where nothing answers past the near side.`;
    return {
      summary:
        `${textTable(HEADER, rows(results))}\n\n${
          textTable(SUMMARY_HEADER, summaryRows(results))
        }\n` +
        `Faulty link ranked first in ${first} of ${results.length} runs.`,
      record: `${method}\n\n${markdownTable(SUMMARY_HEADER, summaryRows(results))}\n\n` +
        `<details><summary>Every run</summary>\n\n${
          markdownTable(HEADER, rows(results))
        }\n\n</details>\n`,
    };
  },
};

export default benchmark;
