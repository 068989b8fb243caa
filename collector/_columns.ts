/**
 * The column layout of an interval: the typed arrays the counting side fills and a published
 * interval reads, with every counter and time named. Adding a counter is one entry in
 * `COMMON_COUNTERS` or `RARE_COUNTERS`, one field in `CounterValues`, the place that counts it, and
 * a line in each of `addCounters` and `clearCounters`.
 *
 * @module
 */

/** Counters every flow has, in their order in `FlowCounts.counts`. */
export const COMMON_COUNTERS = ["sent", "lost", "dwellCorrected"] as const;
/**
 * Counters a healthy network leaves at 0, in their order in `FlowCounts.rare`: their array is
 * made when one is first counted.
 */
export const RARE_COUNTERS = ["late", "duplicates", "reordered"] as const;
/** The name of a counter. */
export type CounterName = typeof COMMON_COUNTERS[number] | typeof RARE_COUNTERS[number];
/** Every counter's name, common ones first. */
export const COUNTER_NAMES: readonly CounterName[] = [...COMMON_COUNTERS, ...RARE_COUNTERS];

/** Counters per flow in `FlowCounts.counts`. */
export const COUNTS: number = COMMON_COUNTERS.length;
/** Counters per flow in `FlowCounts.rare`. */
export const RARE_COUNTS: number = RARE_COUNTERS.length;
/** Where each common counter is within a flow's `COUNTS`. */
export const COMMON = { sent: 0, lost: 1, dwellCorrected: 2 } as const;
/** Where each rare counter is within a flow's `RARE_COUNTS`. */
export const RARE = { late: 0, duplicates: 1, reordered: 2 } as const;

/**
 * What `FlowCounts.tos` says of a flow's TOS at the reflector (bits 0-1) and on return (bits
 * 2-3): unknown, the TOS it was sent with, or another (in `FlowCounts.tosValues`).
 */
export const TOS_UNKNOWN = 0, TOS_AS_SENT = 1, TOS_OTHER = 2;

/** Which way a TOS was seen: at the reflector, or on the answer's return. */
export const TOS_AT_REFLECTOR = 0, TOS_ON_RETURN = 1;

/** Where each time is among a flow's or path's `TIMES` (milliseconds; NaN: none). */
export const TIME = {
  min: 0,
  mean: 1,
  max: 2,
  stddev: 3,
  p50: 4,
  p90: 5,
  p99: 6,
  jitter: 7,
} as const;
/** Times per flow or path: the RTT statistics (`TIME.min` to `TIME.p99`), then jitter. */
export const TIMES = 8;

/**
 * An interval's counters by flow id: published as they were counted. What a healthy network
 * rarely does (late and duplicate answers, reordering, a TOS re-marked on the way) has arrays of
 * its own, made when it first happens.
 */
export interface FlowCounts {
  /** Flow ids below this have counters; others had nothing. */
  readonly capacity: number;
  /** `COUNTS` counters per flow id: 8 bits, or 16 or 32 where one of them needed it. */
  readonly counts: Uint8Array | Uint16Array | Uint32Array;
  /** `RARE_COUNTS` counters per flow id, the same way; undefined until one is counted. */
  readonly rare: Uint8Array | Uint16Array | Uint32Array | undefined;
  /** The TOS at the reflector and on return, per flow id: `TOS_UNKNOWN` and the rest. */
  readonly tos: Uint8Array;
  /**
   * The TOS at the reflector and on return, 2 per flow id, where `tos` says `TOS_OTHER`;
   * undefined until a flow says so.
   */
  readonly tosValues: Uint8Array | undefined;
  /**
   * `STAMP_FIELDS` values per flow id of STAMP answers (one-way delays, the loss split); undefined
   * until a STAMP answer is counted (never, for LLAMA flows).
   */
  readonly stamp?: Float64Array | undefined;
}

/** Where each STAMP value is among a flow's `STAMP_FIELDS` in `FlowCounts.stamp`. */
export const STAMP = {
  /** Answers with both reflector timestamps: the one-way delays' count. */
  delays: 0,
  forwardSum: 1,
  forwardMin: 2,
  forwardMax: 3,
  backwardSum: 4,
  backwardMin: 5,
  backwardMax: 6,
  /** Answers from a stateful reflector (its own sequence numbers). */
  stateful: 7,
  /** Replies a stateful reflector's sequence shows it sent and that never came. */
  lostBackward: 8,
} as const;
/** STAMP values per flow. */
export const STAMP_FIELDS = 9;

/**
 * The flows the registry knows, by flow id, and the order they are published in. A flow's
 * entries never change once it is added, so an interval keeps the arrays as they were when it
 * was published.
 */
export interface FlowTable {
  /** Flow ids by path (in the summary's order), then source and destination port. */
  readonly order: Uint32Array;
  /** Each flow's path. */
  readonly path: Uint32Array;
  /** Each flow's source port. */
  readonly srcPorts: Uint16Array;
  /** Each flow's destination port. */
  readonly dstPorts: Uint16Array;
  /** The TOS each flow's probes are sent with. */
  readonly tos: Uint8Array;
}

/** An interval's RTT statistics and jitter in milliseconds, in float32. */
export interface TimeColumns {
  /** `TIMES` per flow id. */
  readonly flows: Float32Array;
  /** `TIMES` per path row. */
  readonly paths: Float32Array;
  /** Each path row's first flow, as an index into the flow table's `order`. */
  readonly pathStart: Uint32Array;
}

/**
 * The addresses of every path the registry knows, by path id. A path's addresses never change,
 * and paths are only added: a table keeps the arrays it was made with.
 */
export interface PathAddresses {
  /** The source addresses. */
  readonly sources: readonly string[];
  /** Each path's source address, as an index into `sources`. */
  readonly source: Uint32Array;
  /** Each path's destination address. */
  readonly destinations: readonly string[];
}

/**
 * The paths of an interval: every path the registry knows, in the summary's order, and which of
 * them the interval has. Intervals share the table's arrays while no path is added and no tags
 * change, so an interval that misses a few paths costs a bit a path, not a pointer; a path costs
 * a row (4 bytes and a pointer to tags shared with its target), no object.
 */
export interface PathTable {
  /** Each row's path id, in order. */
  readonly paths: Uint32Array;
  /** Each row's tags, as last published (undefined: never published). */
  readonly tags: readonly (Record<string, string> | undefined)[];
  /** The addresses of the paths. */
  readonly addresses: PathAddresses;
  /** Bit `i` set: the interval has row `i`; undefined: it has every row. */
  readonly present: Uint8Array | undefined;
  /** How many paths the interval has. */
  readonly count: number;
}

/**
 * The columns of a published interval: its counters as they were counted, by flow id, and the
 * statistics worked out of them. A path's counters are its flows'.
 */
export interface IntervalColumns {
  /** The interval's paths: path row `r` is the `r`-th present path of the table. */
  readonly identities: PathTable;
  /** The flows, and the order they are published in. */
  readonly flows: FlowTable;
  /** The counters of each flow. */
  readonly counts: FlowCounts;
  /** RTT statistics of each flow and path row. */
  readonly times: TimeColumns;
}

/** A flow's or a path's counters, by name. */
export type CounterValues = Record<CounterName, number>;

/** A `CounterValues` of zeros, for a reader to fill again and again. */
export function zeroCounters(): CounterValues {
  return { sent: 0, lost: 0, dwellCorrected: 0, late: 0, duplicates: 0, reordered: 0 };
}

/** Whether anything happened on `flow` in the interval of `counts`. */
export function activeFlow(counts: FlowCounts, flow: number): boolean {
  if (flow >= counts.capacity) return false;
  const at = flow * COUNTS;
  const values = counts.counts;
  if ((values[at + COMMON.sent] | values[at + COMMON.lost]) !== 0) return true;
  const rare = counts.rare;
  return rare !== undefined &&
    (rare[flow * RARE_COUNTS + RARE.late] | rare[flow * RARE_COUNTS + RARE.duplicates]) !== 0;
}

/**
 * Reads `flow`'s counters into `into` (all 0 for a flow the counts have no room for). Written out
 * counter by counter, like `addCounters` and `clearCounters`: a loop over the names took twice as
 * long to compact an interval of 100,000 flows (a test checks that every name is here).
 */
export function readCounters(counts: FlowCounts, flow: number, into: CounterValues): void {
  clearCounters(into);
  addCounters(counts, flow, into);
}

/** Adds `flow`'s counters to `into`. */
export function addCounters(counts: FlowCounts, flow: number, into: CounterValues): void {
  if (flow >= counts.capacity) return;
  const at = flow * COUNTS;
  const values = counts.counts;
  into.sent += values[at + COMMON.sent];
  into.lost += values[at + COMMON.lost];
  into.dwellCorrected += values[at + COMMON.dwellCorrected];
  const rare = counts.rare;
  if (rare === undefined) return;
  const from = flow * RARE_COUNTS;
  into.late += rare[from + RARE.late];
  into.duplicates += rare[from + RARE.duplicates];
  into.reordered += rare[from + RARE.reordered];
}

/** Sets every counter of `values` to 0. */
export function clearCounters(values: CounterValues): void {
  values.sent = 0;
  values.lost = 0;
  values.dwellCorrected = 0;
  values.late = 0;
  values.duplicates = 0;
  values.reordered = 0;
}
