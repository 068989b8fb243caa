/**
 * The book of open intervals: takes every probe outcome and counts it in the interval in which its
 * probe was sent, until that interval is closed.
 *
 * @module
 */
import { grown } from "./_samples.ts";
import { IntervalCounts } from "./interval_counts.ts";
import type { ProbeOutcomeSink } from "./in_flight.ts";
import type { FlowCounts } from "./_columns.ts";

/**
 * How far behind the highest sequence number answered an answer counts as reordered: more than a
 * flow can have in flight (100,000 cycles a second × a 600-second timeout, the config's limits).
 */
const REORDER_WINDOW = 2 ** 26;

/** What the book needs to know of the flows: how many there are, and the TOS each is sent with. */
export interface FlowCatalog {
  /** How many flows there are: their ids are 0 up to this. */
  readonly flowCount: number;
  /** The TOS `flow`'s probes are sent with. */
  sentTos(flow: number): number;
}

/** Takes an interval's RTT samples as it is closed, before the book reuses their arrays. */
export interface SampleSink {
  /** Takes `samples` samples: `flows[i]`'s RTT was `rtts[i]` ms, in order of arrival. */
  takeSamples(flows: Uint32Array, rtts: Float32Array, samples: number, flowCount: number): void;
}

/**
 * Collects probe outcomes into intervals aligned to wall-clock multiples of the summarization
 * interval. An outcome always counts in the interval in which its probe was sent, however late
 * its fate is known; once that interval is closed, its outcomes are ignored.
 */
export class IntervalBook implements ProbeOutcomeSink {
  /** Interval length in milliseconds. */
  readonly intervalMs: number;
  readonly #flows: FlowCatalog;
  readonly #open = new Map<number, IntervalCounts>();
  /** The interval the last outcome went to: nearly every outcome goes to the one before's. */
  #last: IntervalCounts | undefined;
  /**
   * Highest sequence number answered on each flow, for reordering: 32 bits, compared as serial
   * numbers (RFC 1982), like the prober's counters. A flow's first sequence number is 0, so 0
   * also stands for none yet.
   */
  #highestSequence = new Uint32Array(0);
  /** Start of the last interval closed: outcomes for it, or earlier, arrived too late. */
  #closedUpTo = -Infinity;
  /** Counters of compacted intervals nobody reads, for the next intervals to open (2 at most). */
  readonly #spare: IntervalCounts[] = [];
  /** Sample arrays of closed intervals, for the next intervals to open. */
  readonly #sampleArrays: { flows: Uint32Array<ArrayBuffer>; rtts: Float32Array<ArrayBuffer> }[] =
    [];

  /** A book of intervals of `intervalSeconds` over the flows of `flows`. */
  constructor(intervalSeconds: number, flows: FlowCatalog) {
    this.intervalMs = intervalSeconds * 1000;
    this.#flows = flows;
  }

  /** The start of the interval holding wall-clock time `wallMs`. */
  intervalOf(wallMs: number): number {
    return Math.floor(wallMs / this.intervalMs) * this.intervalMs;
  }

  /** Intervals that have outcomes and are not yet closed. */
  get openIntervals(): number {
    return this.#open.size;
  }

  /** Counts a probe sent on `flow` in the interval starting at `interval`. */
  sent(flow: number, interval: number): void {
    this.#counts(flow, interval).increment(flow, "sent");
  }

  answered(
    flow: number,
    interval: number,
    sequence: number,
    rttMs: number,
    dwellCorrected: boolean,
  ): void {
    if (interval <= this.#closedUpTo) return;
    const open = this.#counts(flow, interval);
    // Below the highest seen, modulo 2^32: the difference as a 32-bit signed number. Further behind
    // than a flow can have probes in flight is no reordering but a flow answered again after a
    // silence of over 2^31 probes: it starts again from there.
    const behind = (sequence - this.#highestSequence[flow]) | 0;
    if (behind < 0 && behind >= -REORDER_WINDOW) open.incrementRare(flow, "reordered");
    else this.#highestSequence[flow] = sequence;
    if (dwellCorrected) open.increment(flow, "dwellCorrected");
    open.addSample(flow, rttMs);
  }

  lost(flow: number, interval: number): void {
    if (interval <= this.#closedUpTo) return;
    this.#counts(flow, interval).increment(flow, "lost");
  }

  /**
   * Records what a STAMP answer adds to its RTT (counted by `answered`): one-way delays in ms
   * (NaN: unknown) and, from a stateful reflector, the replies its sequence shows were lost
   * (-1: stateless).
   */
  stampAnswered(
    flow: number,
    interval: number,
    forwardMs: number,
    backwardMs: number,
    lostBackward: number,
  ): void {
    if (interval <= this.#closedUpTo) return;
    this.#counts(flow, interval).addStamp(flow, forwardMs, backwardMs, lostBackward);
  }

  /** Records the TOS an answered probe was seen with at the reflector and on its return (-1: unknown). */
  observeTos(flow: number, interval: number, atReflector: number, onReturn: number): void {
    if (interval <= this.#closedUpTo) return;
    const open = this.#counts(flow, interval);
    const sent = this.#flows.sentTos(flow);
    open.observeTos(flow, 0, atReflector, sent);
    open.observeTos(flow, 1, onReturn, sent);
  }

  stray(flow: number, interval: number, kind: "late" | "duplicate"): void {
    // A stray reply to an interval already closed has nothing left to update.
    if (!this.#open.has(interval)) return;
    this.#counts(flow, interval).incrementRare(flow, kind === "late" ? "late" : "duplicates");
  }

  /**
   * Closes the interval starting at `start`: nothing counts in it from now on. Hands its RTT
   * samples to `samples`, then keeps their arrays for a later interval; returns its counters
   * (undefined when nothing happened in it), which are never written again.
   */
  close(start: number, samples: SampleSink): IntervalCounts | undefined {
    const open = this.#open.get(start);
    this.#open.delete(start);
    this.#closedUpTo = Math.max(this.#closedUpTo, start);
    if (this.#last === open) this.#last = undefined;
    if (open === undefined) return undefined;
    samples.takeSamples(open.sampleFlows, open.sampleRtts, open.samples, this.#flows.flowCount);
    this.#sampleArrays.push({ flows: open.sampleFlows, rtts: open.sampleRtts });
    open.sampleFlows = new Uint32Array(0);
    open.sampleRtts = new Float32Array(0);
    open.samples = 0;
    return open;
  }

  /**
   * Takes back the counters of a closed interval that is no longer read (its published interval
   * was compacted and no reader holds it), to count a later interval in.
   */
  reuse(counts: FlowCounts): void {
    // Only the book's own counts, and not ones it has already taken back.
    if (!(counts instanceof IntervalCounts) || this.#spare.includes(counts)) return;
    if (this.#spare.length < 2) this.#spare.push(counts);
  }

  /**
   * The counts of the interval starting at `start`. Kept this small on purpose: every outcome
   * comes through here, and V8 inlines a callee into its caller only while their bytecode stays
   * under a limit; with the opening of an interval in it, `answered` was no longer inlined into
   * the probe socket's reply loop, and every answer boxed its interval start and RTT (twice the
   * young garbage, ~2 MiB more RSS at 10,000 paths: bench/RESULTS.md).
   */
  #interval(start: number): IntervalCounts {
    const last = this.#last;
    if (last !== undefined && last.start === start) return last;
    return this.#switchTo(start);
  }

  /** Makes the interval starting at `start` the last one outcomes went to, opening it if new. */
  #switchTo(start: number): IntervalCounts {
    const open = this.#open.get(start) ?? this.#opened(start);
    this.#last = open;
    return open;
  }

  /** Opens the interval starting at `start`, with the arrays a closed one handed back if any. */
  #opened(start: number): IntervalCounts {
    const flows = this.#flows.flowCount;
    const samples = this.#sampleArrays.pop();
    const spare = this.#spare.pop();
    let open: IntervalCounts;
    if (spare === undefined) open = new IntervalCounts(start, flows, samples);
    else {
      spare.reset(start, flows, samples);
      open = spare;
    }
    this.#ensureSequences(flows);
    this.#open.set(start, open);
    return open;
  }

  #counts(flow: number, interval: number): IntervalCounts {
    const open = this.#interval(interval);
    if (flow >= open.capacity) {
      open.ensure(this.#flows.flowCount);
      this.#ensureSequences(this.#flows.flowCount);
    }
    return open;
  }

  /** Room for the sequence numbers of `flows` flows: flows are added only at a (re)load. */
  #ensureSequences(flows: number): void {
    this.#highestSequence = grown(this.#highestSequence, flows, makeUint32, 1);
  }
}

const makeUint32 = (length: number) => new Uint32Array(length);
