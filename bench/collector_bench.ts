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
import { formatUsage } from "@llama/core";
import { type Benchmark, buildReferenceTools, choosePlan, planFlags } from "./_tools.ts";
import type { RunSetup } from "./_collector_process.ts";
import { measureThroughput, type ThroughputPlan } from "./_collector_throughput.ts";
import {
  compareRtt,
  PLACEMENTS,
  REFLECTORS,
  type RttComparison,
  type RttPlan,
} from "./_collector_rtt.ts";
import { measureMemoryPerPath, type MemoryPlan } from "./_collector_memory.ts";
import { formatRecord, formatSummary, type Results } from "./_collector_report.ts";

const FLAGS = planFlags(
  "Fewer rates, single trials, shorter intervals: a smoke test of the harness in a few minutes",
);

/** How thorough a run is. */
interface Plan extends ThroughputPlan, RttPlan, MemoryPlan {}

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
