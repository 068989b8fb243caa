/**
 * A published interval kept for the history in typed arrays: about 300 bytes per path of four
 * flows, where the objects of an `IntervalSummary` take about 2 KB. Unpacked on demand.
 *
 * @module
 */
import type { TimestampSource } from "@llama/core";
import type { ProbeStatistics } from "./statistics.ts";
import type { FlowSummary, IntervalSummary, PathSummary, TosSummary } from "./summarizer.ts";

/** Counters per row: sent, lost, late, duplicates, reordered, dwellCorrected. */
const COUNTS = 6;
/** Times per row (ms, float32): rtt min, mean, max, stddev, p50, p90, p99, then jitter. */
const TIMES = 8;
/** TOS per row: sent, at the reflector, on return (-1: unknown). */
const TOS = 3;

/** What a path is, shared by every interval that has it (tags compared by value). */
interface PathIdentity {
  srcIp: string;
  dstIp: string;
  tags: Record<string, string>;
}

/** Rows of statistics in typed arrays. */
class StatisticsRows {
  readonly counts: Uint32Array;
  readonly times: Float32Array;
  readonly tos: Int16Array;

  constructor(rows: number) {
    this.counts = new Uint32Array(rows * COUNTS);
    this.times = new Float32Array(rows * TIMES);
    this.tos = new Int16Array(rows * TOS);
  }

  write(row: number, statistics: ProbeStatistics, tos: TosSummary): void {
    const counts = row * COUNTS;
    this.counts[counts] = statistics.sent;
    this.counts[counts + 1] = statistics.lost;
    this.counts[counts + 2] = statistics.late;
    this.counts[counts + 3] = statistics.duplicates;
    this.counts[counts + 4] = statistics.reordered;
    this.counts[counts + 5] = statistics.dwellCorrected;
    const times = row * TIMES;
    const rtt = statistics.rtt;
    if (rtt === null) this.times.fill(NaN, times, times + 7);
    else {
      this.times[times] = rtt.min;
      this.times[times + 1] = rtt.mean;
      this.times[times + 2] = rtt.max;
      this.times[times + 3] = rtt.stddev;
      this.times[times + 4] = rtt.p50;
      this.times[times + 5] = rtt.p90;
      this.times[times + 6] = rtt.p99;
    }
    this.times[times + 7] = statistics.jitter ?? NaN;
    this.tos[row * TOS] = tos.sent;
    this.tos[row * TOS + 1] = tos.atReflector ?? -1;
    this.tos[row * TOS + 2] = tos.onReturn ?? -1;
  }

  statistics(row: number): ProbeStatistics {
    const counts = row * COUNTS;
    const sent = this.counts[counts];
    const lost = this.counts[counts + 1];
    const times = row * TIMES;
    const time = (offset: number) => milliseconds(this.times[times + offset]);
    return {
      sent,
      lost,
      lossPercent: sent === 0 ? 0 : (lost / sent) * 100,
      late: this.counts[counts + 2],
      duplicates: this.counts[counts + 3],
      reordered: this.counts[counts + 4],
      rtt: Number.isNaN(this.times[times]) ? null : {
        min: time(0),
        mean: time(1),
        max: time(2),
        stddev: time(3),
        p50: time(4),
        p90: time(5),
        p99: time(6),
      },
      jitter: Number.isNaN(this.times[times + 7]) ? null : time(7),
      dwellCorrected: this.counts[counts + 5],
    };
  }

  tosSummary(row: number): TosSummary {
    const at = this.tos[row * TOS + 1];
    const back = this.tos[row * TOS + 2];
    return {
      sent: this.tos[row * TOS],
      atReflector: at < 0 ? null : at,
      onReturn: back < 0 ? null : back,
    };
  }
}

/**
 * A float32 time in milliseconds, rounded to the nanosecond: float32 keeps ~7 significant digits,
 * so 0.05 comes back as 0.05, not 0.05000000074505806.
 */
function milliseconds(value: number): number {
  return Math.round(value * 1e6) / 1e6;
}

/**
 * Keeps path identities (addresses and tags) once for all the intervals of a history: a path
 * whose tags have not changed shares one object with every interval that has it.
 */
export class PathIdentities {
  readonly #paths = new Map<string, PathIdentity>();

  /** The shared identity of `path`, replaced when its tags change. */
  of(path: PathSummary): PathIdentity {
    const key = `${path.srcIp} ${path.dstIp}`;
    const known = this.#paths.get(key);
    if (known !== undefined && sameTags(known.tags, path.tags)) return known;
    const identity = { srcIp: path.srcIp, dstIp: path.dstIp, tags: path.tags };
    this.#paths.set(key, identity);
    return identity;
  }

  /** Forgets identities no interval of `kept` uses any more. */
  prune(kept: readonly PackedInterval[]): void {
    const used = new Set<PathIdentity>();
    for (const interval of kept) for (const identity of interval.identities) used.add(identity);
    for (const [key, identity] of this.#paths) {
      if (!used.has(identity)) this.#paths.delete(key);
    }
  }
}

function sameTags(a: Record<string, string>, b: Record<string, string>): boolean {
  const keys = Object.keys(a);
  if (keys.length !== Object.keys(b).length) return false;
  return keys.every((key) => a[key] === b[key]);
}

/** An `IntervalSummary` packed into typed arrays. `unpack()` gives it back, times to ~7 digits. */
export class PackedInterval {
  readonly start: string;
  readonly end: string;
  readonly intervalSeconds: number;
  readonly timestampSource: TimestampSource;
  readonly sendTimestampSource: TimestampSource;
  /** Each path's identity, in the summary's order. */
  readonly identities: readonly PathIdentity[];
  readonly #paths: StatisticsRows;
  /** Index of each path's first flow; one more entry than there are paths. */
  #flowStart: Uint32Array;
  /** Source and destination port of each flow. */
  #ports: Uint16Array;
  #flows: StatisticsRows;

  /** Packs `summary`, sharing path identities through `identities`. */
  constructor(summary: IntervalSummary, identities: PathIdentities) {
    this.start = summary.start;
    this.end = summary.end;
    this.intervalSeconds = summary.intervalSeconds;
    this.timestampSource = summary.timestampSource;
    this.sendTimestampSource = summary.sendTimestampSource;
    const paths = summary.paths;
    let flowCount = 0;
    for (const path of paths) flowCount += path.flows.length;
    this.identities = paths.map((path) => identities.of(path));
    this.#paths = new StatisticsRows(paths.length);
    this.#flows = new StatisticsRows(flowCount);
    this.#flowStart = new Uint32Array(paths.length + 1);
    this.#ports = new Uint16Array(flowCount * 2);
    let flow = 0;
    paths.forEach((path, index) => {
      this.#paths.write(index, path, path.tos);
      this.#flowStart[index] = flow;
      for (const summary of path.flows) {
        this.#flows.write(flow, summary, summary.tos);
        this.#ports[flow * 2] = summary.srcPort;
        this.#ports[flow * 2 + 1] = summary.dstPort;
        flow++;
      }
    });
    this.#flowStart[paths.length] = flow;
  }

  /** Whether per-flow detail is still kept (see `dropFlows`). */
  get hasFlows(): boolean {
    return this.#flowStart.length > 0;
  }

  /** Lets go of the per-flow detail (four fifths of the size with four flows a path): paths unpack with `flows: []`. */
  dropFlows(): void {
    this.#flowStart = new Uint32Array(0);
    this.#ports = new Uint16Array(0);
    this.#flows = new StatisticsRows(0);
  }

  /** The interval as the summarizer published it (times rounded to float32 precision). */
  unpack(): IntervalSummary {
    const paths = this.identities.map((identity, index): PathSummary => {
      const flows: FlowSummary[] = [];
      const first = this.hasFlows ? this.#flowStart[index] : 0;
      const end = this.hasFlows ? this.#flowStart[index + 1] : 0;
      for (let flow = first; flow < end; flow++) {
        flows.push({
          srcIp: identity.srcIp,
          srcPort: this.#ports[flow * 2],
          dstIp: identity.dstIp,
          dstPort: this.#ports[flow * 2 + 1],
          tos: this.#flows.tosSummary(flow),
          ...this.#flows.statistics(flow),
        });
      }
      return {
        srcIp: identity.srcIp,
        dstIp: identity.dstIp,
        tags: identity.tags,
        tos: this.#paths.tosSummary(index),
        ...this.#paths.statistics(index),
        flows,
      };
    });
    return {
      start: this.start,
      end: this.end,
      intervalSeconds: this.intervalSeconds,
      timestampSource: this.timestampSource,
      sendTimestampSource: this.sendTimestampSource,
      paths,
    };
  }
}
