import type { TimestampSource } from "@llama/core";
import type { ProbeOutcomeSink } from "./in_flight.ts";
import { FlowAccumulator, type ProbeStatistics, summarizeFlows } from "./statistics.ts";

/** One flow: a source socket and a target. */
export interface FlowDescriptor {
  /** Source address the probes leave from (the real one where it can be learned). */
  srcIp: string;
  /** Source UDP port: the socket's. */
  srcPort: number;
  /** Target address. */
  dstIp: string;
  /** Target port. */
  dstPort: number;
  /** The target's tags; replaced when a reload changes them. */
  tags: Record<string, string>;
  /** The TOS byte the flow's probes are sent with. */
  tos: number;
}

/** The traffic class along a flow: a change between these shows DSCP re-marking on the way. */
export interface TosSummary {
  /** TOS the probes were sent with. */
  sent: number;
  /** TOS the reflector saw them arrive with (llama reflectors on the native engine), or null. */
  atReflector: number | null;
  /** TOS the answers came back with (native engine), or null. */
  onReturn: number | null;
}

/** One flow's statistics for an interval. */
export interface FlowSummary extends ProbeStatistics {
  /** The traffic class along the flow. */
  tos: TosSummary;
  /** Source address. */
  srcIp: string;
  /** Source port. */
  srcPort: number;
  /** Destination address. */
  dstIp: string;
  /** Destination port. */
  dstPort: number;
}

/** One path's statistics for an interval: every flow between a source and a destination address. */
export interface PathSummary extends ProbeStatistics {
  /** The traffic class along the path (of its first flow that reports one). */
  tos: TosSummary;
  /** Source address. */
  srcIp: string;
  /** Destination address. */
  dstIp: string;
  /** The collector's source tags and the target's tags (the target's win on a clash). */
  tags: Record<string, string>;
  /** The path's flows, by source port. */
  flows: FlowSummary[];
}

/** Everything one interval says. */
export interface IntervalSummary {
  /** Start of the interval (inclusive), RFC 3339. */
  start: string;
  /** End of the interval (exclusive), RFC 3339. */
  end: string;
  /** Length of the interval in seconds. */
  intervalSeconds: number;
  /** Where receive times came from: `kernel` timestamps or the `userspace` clock. */
  timestampSource: TimestampSource;
  /**
   * Where send times came from: `kernel` transmit timestamps, or the `userspace` clock read just
   * before the send (also for any probe whose transmit timestamp the kernel did not deliver).
   */
  sendTimestampSource: TimestampSource;
  /** One entry per (source address, destination address). */
  paths: PathSummary[];
}

const YIELD_AFTER_MS = 4;

interface OpenInterval {
  start: number;
  flows: (FlowAccumulator | undefined)[];
  kernelTimestamps: boolean;
}

/**
 * Collects probe outcomes into intervals aligned to wall-clock multiples of the summarization
 * interval, and turns a finished interval into an `IntervalSummary`. An outcome always counts in
 * the interval in which its probe was sent, however late its fate is known.
 */
export class Summarizer implements ProbeOutcomeSink {
  /** Interval length in milliseconds. */
  readonly intervalMs: number;
  readonly #flows: FlowDescriptor[] = [];
  readonly #open = new Map<number, OpenInterval>();
  #last: OpenInterval | undefined;
  #sourceTags: Record<string, string> = {};
  /** Where receive times come from, as the engine of the sockets says. */
  timestampSource: TimestampSource = "userspace";
  /** Where send times come from, as the sockets say. */
  sendTimestampSource: TimestampSource = "userspace";
  /** Start of the last interval published: outcomes for it, or earlier, arrived too late. */
  #finishedUpTo = -Infinity;

  /** Creates a summarizer for intervals of `intervalSeconds`. */
  constructor(intervalSeconds: number) {
    this.intervalMs = intervalSeconds * 1000;
  }

  /** Registers a flow; returns its id. */
  addFlow(descriptor: FlowDescriptor): number {
    this.#flows.push(descriptor);
    return this.#flows.length - 1;
  }

  /** The descriptor of a flow. */
  flow(id: number): FlowDescriptor {
    return this.#flows[id];
  }

  /** Intervals that have outcomes and are not yet published. */
  get openIntervals(): number {
    return this.#open.size;
  }

  /** Sets the tags describing this collector. */
  setSourceTags(tags: Record<string, string>): void {
    this.#sourceTags = tags;
  }

  /** The start of the interval holding wall-clock time `wallMs`. */
  intervalOf(wallMs: number): number {
    return Math.floor(wallMs / this.intervalMs) * this.intervalMs;
  }

  /** Counts a probe sent on `flow` in the interval starting at `interval`. */
  sent(flow: number, interval: number): void {
    this.#accumulator(flow, interval).sent++;
  }

  answered(
    flow: number,
    interval: number,
    sequence: number,
    rttMs: number,
    dwellCorrected: boolean,
  ): void {
    if (interval <= this.#finishedUpTo) return;
    this.#accumulator(flow, interval).answer(sequence, rttMs, dwellCorrected);
  }

  lost(flow: number, interval: number): void {
    if (interval <= this.#finishedUpTo) return;
    this.#accumulator(flow, interval).lost++;
  }

  /** Records the TOS an answered probe was seen with at the reflector and on its return (-1: unknown). */
  observeTos(flow: number, interval: number, atReflector: number, onReturn: number): void {
    if (interval <= this.#finishedUpTo) return;
    const accumulator = this.#accumulator(flow, interval);
    if (atReflector >= 0) accumulator.tosAtReflector = atReflector;
    if (onReturn >= 0) accumulator.tosOnReturn = onReturn;
  }

  stray(flow: number, interval: number, kind: "late" | "duplicate"): void {
    // A stray reply to an interval already published has nothing left to update.
    const open = this.#open.get(interval);
    if (open === undefined) return;
    const accumulator = this.#accumulator(flow, interval);
    if (kind === "late") accumulator.late++;
    else accumulator.duplicates++;
  }

  /**
   * Closes the interval starting at `start` and summarizes it. Call it once every probe sent
   * in it has been answered or has expired. An interval in which nothing was sent gives a summary
   * with no paths.
   */
  async finish(start: number): Promise<IntervalSummary> {
    const open = this.#open.get(start);
    this.#open.delete(start);
    this.#finishedUpTo = Math.max(this.#finishedUpTo, start);
    if (this.#last === open) this.#last = undefined;
    const groups = new Map<
      string,
      {
        srcIp: string;
        dstIp: string;
        tags: Record<string, string>;
        flows: [FlowDescriptor, FlowAccumulator][];
      }
    >();
    open?.flows.forEach((accumulator, id) => {
      if (accumulator === undefined) return;
      const flow = this.#flows[id];
      const key = `${flow.srcIp} ${flow.dstIp}`;
      let group = groups.get(key);
      if (group === undefined) {
        group = { srcIp: flow.srcIp, dstIp: flow.dstIp, tags: { ...this.#sourceTags }, flows: [] };
        groups.set(key, group);
      }
      Object.assign(group.tags, flow.tags);
      group.flows.push([flow, accumulator]);
    });
    // Summarizing sorts every sample of the interval: give the event loop a turn every few
    // milliseconds, or replies pile up in the sockets' buffers and overflow them.
    let sliceStart = performance.now();
    const paths: PathSummary[] = [];
    for (const group of groups.values()) {
      if (performance.now() - sliceStart > YIELD_AFTER_MS) {
        await new Promise((resolve) => setTimeout(resolve, 0));
        sliceStart = performance.now();
      }
      group.flows.sort(([a], [b]) => a.srcPort - b.srcPort || a.dstPort - b.dstPort);
      const flows = group.flows.map(([flow, accumulator]): FlowSummary => ({
        srcIp: flow.srcIp,
        srcPort: flow.srcPort,
        dstIp: flow.dstIp,
        dstPort: flow.dstPort,
        tos: tosOf(flow, accumulator),
        ...summarizeFlows([accumulator]),
      }));
      paths.push({
        srcIp: group.srcIp,
        dstIp: group.dstIp,
        tags: group.tags,
        tos: flows.find((flow) =>
          flow.tos.atReflector !== null || flow.tos.onReturn !== null
        )?.tos ?? flows[0].tos,
        ...summarizeFlows(group.flows.map(([, accumulator]) => accumulator)),
        flows,
      });
    }
    paths.sort((a, b) => compareAddresses(a.srcIp, b.srcIp) || compareAddresses(a.dstIp, b.dstIp));
    return {
      start: new Date(start).toISOString(),
      end: new Date(start + this.intervalMs).toISOString(),
      intervalSeconds: this.intervalMs / 1000,
      timestampSource: this.timestampSource,
      sendTimestampSource: this.sendTimestampSource,
      paths,
    };
  }

  #interval(start: number): OpenInterval {
    // Nearly every outcome lands in the interval of the one before it.
    if (this.#last !== undefined && this.#last.start === start) return this.#last;
    let open = this.#open.get(start);
    if (open === undefined) {
      open = { start, flows: [], kernelTimestamps: false };
      this.#open.set(start, open);
    }
    this.#last = open;
    return open;
  }

  #accumulator(flow: number, interval: number): FlowAccumulator {
    const open = this.#interval(interval);
    let accumulator = open.flows[flow];
    if (accumulator === undefined) {
      accumulator = new FlowAccumulator();
      open.flows[flow] = accumulator;
    }
    return accumulator;
  }
}

function tosOf(flow: FlowDescriptor, accumulator: FlowAccumulator): TosSummary {
  return {
    sent: flow.tos,
    atReflector: accumulator.tosAtReflector < 0 ? null : accumulator.tosAtReflector,
    onReturn: accumulator.tosOnReturn < 0 ? null : accumulator.tosOnReturn,
  };
}

/** Orders addresses numerically within a family, IPv4 before IPv6. */
function compareAddresses(a: string, b: string): number {
  const key = (address: string) =>
    address.includes(":")
      ? `6${address.split(":").map((part) => part.padStart(4, "0")).join(":")}`
      : `4${address.split(".").map((part) => part.padStart(3, "0")).join(".")}`;
  const left = key(a);
  const right = key(b);
  return left < right ? -1 : left > right ? 1 : 0;
}
