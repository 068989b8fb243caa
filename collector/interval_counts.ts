/**
 * The counters and RTT samples of one open interval, by flow id.
 *
 * @module
 */
import { grown } from "./_samples.ts";
import {
  COMMON,
  COUNTS,
  type FlowCounts,
  RARE,
  RARE_COUNTS,
  STAMP,
  STAMP_FIELDS,
  TOS_AS_SENT,
  TOS_OTHER,
} from "./_columns.ts";

/** How much the sample arrays grow when full. */
const SAMPLE_GROWTH = 1.25;

/** A counter of `COMMON`. */
export type CommonCounter = keyof typeof COMMON;
/** A counter of `RARE`. */
export type RareCounter = keyof typeof RARE;

/**
 * The outcomes of one interval, in columns indexed by flow id: counters, the last TOS seen, and
 * every RTT sample (float32, 7 significant digits: what a summary keeps anyway) with its flow, in
 * order of arrival. The counters are 8 bits until one of them needs 16, then 32; those a healthy
 * network leaves at 0, and TOS values other than the one sent, get their arrays when first
 * needed. Once the interval is closed its counters are published as they are; its sample arrays
 * go back to the interval book for a later interval, and so do its counters once the interval is
 * compacted and nobody reads them (`IntervalBook.reuse`).
 */
export class IntervalCounts implements FlowCounts {
  /** Start of the interval, in wall-clock milliseconds. */
  start: number;
  /** Flow ids below this have counters. */
  capacity: number;
  /** `COUNTS` counters per flow id. */
  counts: Uint8Array | Uint16Array | Uint32Array;
  /** `RARE_COUNTS` counters per flow id, once one is counted. */
  rare: Uint8Array | Uint16Array | Uint32Array | undefined;
  /** What is known of the TOS at the reflector and on return, per flow id. */
  tos: Uint8Array;
  /** The TOS values seen other than the one sent, 2 per flow id, once there is one. */
  tosValues: Uint8Array | undefined;
  /** `STAMP_FIELDS` values per flow id, once a STAMP answer is counted. */
  stamp: Float64Array | undefined;
  /** Each sample's flow, in order of arrival. */
  sampleFlows: Uint32Array<ArrayBuffer>;
  /** Each sample's RTT in milliseconds, in order of arrival. */
  sampleRtts: Float32Array<ArrayBuffer>;
  /** How many samples there are. */
  samples = 0;

  /**
   * Counts of the interval starting at `start`, with room for flow ids below `capacity`, its
   * samples kept in `samples` (arrays a closed interval handed back) when given.
   */
  constructor(
    start: number,
    capacity: number,
    samples?: { flows: Uint32Array<ArrayBuffer>; rtts: Float32Array<ArrayBuffer> },
  ) {
    this.start = start;
    this.capacity = capacity;
    this.counts = new Uint8Array(capacity * COUNTS);
    this.tos = new Uint8Array(capacity);
    this.sampleFlows = samples?.flows ?? new Uint32Array(64);
    this.sampleRtts = samples?.rtts ?? new Float32Array(64);
  }

  /**
   * Counts the interval starting at `start` from now on, all counters 0, with room for flow ids
   * below `capacity`: the counts of an interval nobody reads any more, counting again.
   */
  reset(
    start: number,
    capacity: number,
    samples?: { flows: Uint32Array<ArrayBuffer>; rtts: Float32Array<ArrayBuffer> },
  ): void {
    this.start = start;
    this.samples = 0;
    if (samples !== undefined) {
      this.sampleFlows = samples.flows;
      this.sampleRtts = samples.rtts;
    }
    if (capacity > this.capacity) {
      this.capacity = capacity;
      this.counts = sized(this.counts, capacity * COUNTS);
      if (this.rare !== undefined) this.rare = sized(this.rare, capacity * RARE_COUNTS);
      this.tos = new Uint8Array(capacity);
      if (this.tosValues !== undefined) this.tosValues = new Uint8Array(capacity * 2);
      if (this.stamp !== undefined) this.stamp = new Float64Array(capacity * STAMP_FIELDS);
    } else {
      this.stamp?.fill(0, 0, this.capacity * STAMP_FIELDS);
      this.counts.fill(0, 0, this.capacity * COUNTS);
      this.rare?.fill(0, 0, this.capacity * RARE_COUNTS);
      this.tos.fill(0, 0, this.capacity);
    }
  }

  /** Makes room for flow ids below `capacity` (flows added by a reload). */
  ensure(capacity: number): void {
    if (capacity <= this.capacity) return;
    this.counts = widened(this.counts, capacity * COUNTS);
    if (this.rare !== undefined) this.rare = widened(this.rare, capacity * RARE_COUNTS);
    this.tos = widened(this.tos, capacity) as Uint8Array;
    if (this.tosValues !== undefined) {
      this.tosValues = widened(this.tosValues, capacity * 2) as Uint8Array;
    }
    if (this.stamp !== undefined) {
      const stamp = new Float64Array(capacity * STAMP_FIELDS);
      stamp.set(this.stamp);
      this.stamp = stamp;
    }
    this.capacity = capacity;
  }

  /** Adds one to `flow`'s `counter`, widening the counters when it would pass their largest value. */
  increment(flow: number, counter: CommonCounter): void {
    this.counts = incremented(this.counts, flow * COUNTS + COMMON[counter]);
  }

  /** Adds one to `flow`'s rare `counter`, making their array the first time. */
  incrementRare(flow: number, counter: RareCounter): void {
    this.rare = incremented(
      this.rare ?? new Uint8Array(this.capacity * RARE_COUNTS),
      flow * RARE_COUNTS + RARE[counter],
    );
  }

  /**
   * Records the TOS `value` (-1: unknown) seen at the reflector (`which` 0) or on return (1) on a
   * flow whose probes were sent with `sent`.
   */
  observeTos(flow: number, which: 0 | 1, value: number, sent: number): void {
    if (value < 0) return;
    let state = TOS_AS_SENT;
    if (value !== sent) {
      this.tosValues ??= new Uint8Array(this.capacity * 2);
      this.tosValues[flow * 2 + which] = value;
      state = TOS_OTHER;
    }
    const shift = which * 2;
    this.tos[flow] = (this.tos[flow] & ~(3 << shift)) | (state << shift);
  }

  /**
   * Counts a STAMP answer of `flow`: its forward and backward one-way delays in ms (NaN: the
   * reflector gave no timestamps), and, from a stateful reflector, how many replies its sequence
   * shows went missing before this one (-1: a stateless reflector).
   */
  addStamp(flow: number, forwardMs: number, backwardMs: number, lostBackward: number): void {
    const stamp = this.stamp ??= new Float64Array(this.capacity * STAMP_FIELDS);
    const at = flow * STAMP_FIELDS;
    if (lostBackward >= 0) {
      stamp[at + STAMP.stateful]++;
      stamp[at + STAMP.lostBackward] += lostBackward;
    }
    if (Number.isNaN(forwardMs) || Number.isNaN(backwardMs)) return;
    const first = stamp[at + STAMP.delays]++ === 0;
    stamp[at + STAMP.forwardSum] += forwardMs;
    stamp[at + STAMP.backwardSum] += backwardMs;
    if (first || forwardMs < stamp[at + STAMP.forwardMin]) stamp[at + STAMP.forwardMin] = forwardMs;
    if (first || forwardMs > stamp[at + STAMP.forwardMax]) stamp[at + STAMP.forwardMax] = forwardMs;
    if (first || backwardMs < stamp[at + STAMP.backwardMin]) {
      stamp[at + STAMP.backwardMin] = backwardMs;
    }
    if (first || backwardMs > stamp[at + STAMP.backwardMax]) {
      stamp[at + STAMP.backwardMax] = backwardMs;
    }
  }

  /** Keeps one RTT sample of `flow`. */
  addSample(flow: number, rttMs: number): void {
    // A test, not `grown` with a function made each call: this runs for every answer.
    if (this.samples >= this.sampleFlows.length || this.samples >= this.sampleRtts.length) {
      this.#growSamples();
    }
    this.sampleFlows[this.samples] = flow;
    this.sampleRtts[this.samples++] = rttMs;
  }

  #growSamples(): void {
    // Grown by a quarter: the arrays are kept for later intervals, so the room they have beyond
    // the busiest interval's samples stays taken (it was up to half of them, doubling).
    this.sampleFlows = grown(this.sampleFlows, this.samples + 1, makeUint32, SAMPLE_GROWTH);
    this.sampleRtts = grown(this.sampleRtts, this.samples + 1, makeFloat32, SAMPLE_GROWTH);
  }
}

// Made once, for `grown`.
const makeUint32 = (length: number) => new Uint32Array(length);
const makeFloat32 = (length: number) => new Float32Array(length);

/** Counters of `length` as wide as `like`'s. */
function sized(
  like: Uint8Array | Uint16Array | Uint32Array,
  length: number,
): Uint8Array | Uint16Array | Uint32Array {
  return like instanceof Uint8Array
    ? new Uint8Array(length)
    : like instanceof Uint16Array
    ? new Uint16Array(length)
    : new Uint32Array(length);
}

/** A copy of `counts` `length` long, of the same width (the rest 0). */
function widened(
  counts: Uint8Array | Uint16Array | Uint32Array,
  length: number,
): Uint8Array | Uint16Array | Uint32Array {
  const copy = sized(counts, length);
  copy.set(counts);
  return copy;
}

/**
 * Adds one to `counts[at]`; returns `counts`, or a wider copy when the sum would pass their
 * largest value.
 */
function incremented(
  counts: Uint8Array | Uint16Array | Uint32Array,
  at: number,
): Uint8Array | Uint16Array | Uint32Array {
  const value = counts[at] + 1;
  if (value > 0xff && counts.BYTES_PER_ELEMENT < 4) {
    if (value > 0xffff) counts = Uint32Array.from(counts);
    else if (counts.BYTES_PER_ELEMENT === 1) counts = Uint16Array.from(counts);
  }
  counts[at] = value;
  return counts;
}
