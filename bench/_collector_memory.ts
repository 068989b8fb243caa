/**
 * The collector benchmark's memory runs: RSS per path at 10,000 paths, and the summaries there.
 *
 * @module
 */
import type { SocketAddress } from "@llama/core";
import { delay, median, readProcessUsage } from "./_tools.ts";
import {
  type CollectorProcess,
  type Engine,
  ENGINES,
  type IntervalLine,
  type RunSetup,
  SOCKETS,
  startCollector,
  startReflectorC,
} from "./_collector_process.ts";
import { formatBytes, formatMebibytes, formatNumber } from "./_collector_format.ts";

/** How the memory runs probe. */
export interface MemoryPlan {
  /** Cycles per second of the memory runs; with `memoryIntervalSeconds` it covers every target. */
  memoryCps: number;
  /** Summarization interval of the memory runs, seconds. */
  memoryIntervalSeconds: number;
  /** Complete intervals published before memory is read. */
  memoryIntervals: number;
}

/** The two collectors' targets in each memory run: a baseline, and the paths measured. */
export const MEMORY_TARGETS = [10, 10_000] as const;
/** GETs of each summaries variant at 10,000 paths; the median time is reported. */
export const SUMMARY_GETS = 3;

/** One collector's memory, and its summaries' size and GET time. */
export interface MemoryReading {
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
export const RSS_SAMPLES = 21;
export const RSS_SAMPLE_MILLISECONDS = 500;

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
export const TASK_V8_FLAGS: readonly string[] = (JSON.parse(
  await Deno.readTextFile(new URL("../deno.json", import.meta.url)),
).tasks.collector as string).split(" ").filter((word) => word.startsWith("--v8-flags="));

async function measureMemory(
  engine: Engine,
  targets: number,
  setup: RunSetup & { plan: MemoryPlan; reflectorPort: number },
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
    if (index > 0) await delay(RSS_SAMPLE_MILLISECONDS);
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

/**
 * Runs collectors of each size side by side on each engine, and on the native engine again with
 * the V8 flags of `deno task collector`, against one refl_c.
 */
export async function measureMemoryPerPath(
  plan: MemoryPlan,
  run: RunSetup,
): Promise<MemoryReading[]> {
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
