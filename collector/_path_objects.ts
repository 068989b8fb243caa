/**
 * The objects of an `IntervalSummary` (paths, flows, their statistics), made from an interval's
 * columns when somebody reads them.
 *
 * @module
 */
import type { FlowSummary, PathSummary, ProbeStatistics, TosSummary } from "@llama/core";
import {
  activeFlow,
  addCounters,
  clearCounters,
  type CounterValues,
  type IntervalColumns,
  type PathTable,
  readCounters,
  STAMP,
  STAMP_FIELDS,
  TIME,
  TIMES,
  TOS_AS_SENT,
  TOS_OTHER,
  TOS_UNKNOWN,
  zeroCounters,
} from "./_columns.ts";

/** What a path is: its addresses and tags. */
export interface PathIdentity {
  /** Source address. */
  readonly srcIp: string;
  /** Destination address. */
  readonly dstIp: string;
  /** The collector's source tags and the target's tags. */
  readonly tags: Record<string, string>;
}

/** The identity of row `row` of `table`. */
export function identityOf(table: PathTable, row: number): PathIdentity {
  const { sources, source, destinations } = table.addresses;
  const path = table.paths[row];
  return { srcIp: sources[source[path]], dstIp: destinations[path], tags: table.tags[row]! };
}

/** The table's rows that the interval has, in order. */
export function* presentRows(table: PathTable): Generator<number> {
  const { paths, present } = table;
  for (let row = 0; row < paths.length; row++) {
    if (present === undefined || present[row >> 3] & (1 << (row & 7))) yield row;
  }
}

/** One past the index in `order` of path row `row`'s last flow. */
export function pathEnd(columns: IntervalColumns, row: number): number {
  const { order, path } = columns.flows;
  const start = columns.times.pathStart[row];
  const own = path[order[start]];
  let end = start + 1;
  while (end < order.length && path[order[end]] === own) end++;
  return end;
}

/**
 * Reads paths of an interval's columns: counters go through two records of its own, so a reader
 * makes no objects but the ones it returns.
 */
export class PathReader {
  readonly #columns: IntervalColumns;
  readonly #flow: CounterValues = zeroCounters();
  readonly #path: CounterValues = zeroCounters();
  readonly #flowStamp = new Float64Array(STAMP_FIELDS);
  readonly #pathStamp = new Float64Array(STAMP_FIELDS);

  /** A reader of `columns`. */
  constructor(columns: IntervalColumns) {
    this.#columns = columns;
  }

  /** The summed counters of path row `row`'s flows: valid until the next call. */
  pathCounters(row: number, end: number = pathEnd(this.#columns, row)): Readonly<CounterValues> {
    const { counts, flows } = this.#columns;
    clearCounters(this.#path);
    for (let index = this.#columns.times.pathStart[row]; index < end; index++) {
      addCounters(counts, flows.order[index], this.#path);
    }
    return this.#path;
  }

  /** Path row `row`, whose identity is `identity`, with its flows. */
  path(identity: PathIdentity, row: number): PathSummary {
    const columns = this.#columns;
    const { order, srcPorts, dstPorts } = columns.flows;
    const flows: FlowSummary[] = [];
    const end = pathEnd(columns, row);
    let tosFlow = -1, tosReported = false;
    const stamp = columns.counts.stamp;
    const pathStamp = this.#pathStamp;
    pathStamp.fill(0);
    for (let index = columns.times.pathStart[row]; index < end; index++) {
      const flow = order[index];
      if (!activeFlow(columns.counts, flow)) continue;
      readCounters(columns.counts, flow, this.#flow);
      let flowStamp: Float64Array | undefined;
      if (stamp !== undefined && flow < columns.counts.capacity) {
        flowStamp = this.#flowStamp;
        flowStamp.set(stamp.subarray(flow * STAMP_FIELDS, (flow + 1) * STAMP_FIELDS));
        addStamp(pathStamp, flowStamp);
      }
      flows.push({
        srcIp: identity.srcIp,
        srcPort: srcPorts[flow],
        dstIp: identity.dstIp,
        dstPort: dstPorts[flow],
        tos: this.#tos(flow),
        ...statistics(this.#flow, columns.times.flows, flow * TIMES, flowStamp),
      });
      // The path's TOS is that of its first flow that reports one, else of its first flow.
      if (!tosReported) {
        const reported = columns.counts.tos[flow] !== TOS_UNKNOWN;
        if (tosFlow < 0 || reported) tosFlow = flow;
        tosReported = reported;
      }
    }
    return {
      srcIp: identity.srcIp,
      dstIp: identity.dstIp,
      tags: identity.tags,
      tos: tosFlow < 0 ? { sent: 0, atReflector: null, onReturn: null } : this.#tos(tosFlow),
      ...statistics(
        this.pathCounters(row, end),
        columns.times.paths,
        row * TIMES,
        stamp === undefined ? undefined : pathStamp,
      ),
      flows,
    };
  }

  /** The TOS summary of a flow. */
  #tos(flow: number): TosSummary {
    const { flows, counts } = this.#columns;
    const sent = flows.tos[flow];
    const state = counts.tos[flow];
    return {
      sent,
      atReflector: observedTos(state & 3, sent, counts.tosValues, flow * 2),
      onReturn: observedTos(state >> 2, sent, counts.tosValues, flow * 2 + 1),
    };
  }
}

/** Adds a flow's STAMP values to a path's: sums and counts add, extremes are kept. */
function addStamp(into: Float64Array, values: Float64Array): void {
  const delays = values[STAMP.delays];
  if (delays > 0) {
    const first = into[STAMP.delays] === 0;
    for (
      const [min, max] of [[STAMP.forwardMin, STAMP.forwardMax], [
        STAMP.backwardMin,
        STAMP.backwardMax,
      ]]
    ) {
      if (first || values[min] < into[min]) into[min] = values[min];
      if (first || values[max] > into[max]) into[max] = values[max];
    }
    into[STAMP.delays] += delays;
    into[STAMP.forwardSum] += values[STAMP.forwardSum];
    into[STAMP.backwardSum] += values[STAMP.backwardSum];
  }
  into[STAMP.stateful] += values[STAMP.stateful];
  into[STAMP.lostBackward] += values[STAMP.lostBackward];
}

/**
 * The STAMP fields of a flow or path: one-way delays when an answer had the reflector's
 * timestamps, the loss split when a stateful reflector answered. Backward losses are counted in
 * the interval of the reply that showed the gap, so they are capped at the interval's losses.
 */
function stampStatistics(
  stamp: Float64Array,
  lost: number,
): Pick<ProbeStatistics, "oneWayDelay" | "lostForward" | "lostBackward"> {
  const result: Pick<ProbeStatistics, "oneWayDelay" | "lostForward" | "lostBackward"> = {};
  const delays = stamp[STAMP.delays];
  if (delays > 0) {
    result.oneWayDelay = {
      forward: {
        min: rounded(stamp[STAMP.forwardMin]),
        mean: rounded(stamp[STAMP.forwardSum] / delays),
        max: rounded(stamp[STAMP.forwardMax]),
      },
      backward: {
        min: rounded(stamp[STAMP.backwardMin]),
        mean: rounded(stamp[STAMP.backwardSum] / delays),
        max: rounded(stamp[STAMP.backwardMax]),
      },
      clockSynchronized: false,
    };
  }
  if (stamp[STAMP.stateful] > 0) {
    const backward = Math.min(lost, stamp[STAMP.lostBackward]);
    result.lostForward = lost - backward;
    result.lostBackward = backward;
  }
  return result;
}

/** A time in milliseconds rounded to the nanosecond. */
function rounded(value: number): number {
  return Math.round(value * 1e6) / 1e6;
}

/** The statistics of `counters` and of the times at `times[at..]`, as objects. */
function statistics(
  counters: Readonly<CounterValues>,
  times: Float32Array,
  at: number,
  stamp?: Float64Array,
): ProbeStatistics {
  const { sent, lost } = counters;
  const stampFields = stamp === undefined ? undefined : stampStatistics(stamp, lost);
  return {
    sent,
    lost,
    lossPercent: sent === 0 ? 0 : (lost / sent) * 100,
    late: counters.late,
    duplicates: counters.duplicates,
    reordered: counters.reordered,
    rtt: Number.isNaN(times[at + TIME.min]) ? null : {
      min: milliseconds(times[at + TIME.min]),
      mean: milliseconds(times[at + TIME.mean]),
      max: milliseconds(times[at + TIME.max]),
      stddev: milliseconds(times[at + TIME.stddev]),
      p50: milliseconds(times[at + TIME.p50]),
      p90: milliseconds(times[at + TIME.p90]),
      p99: milliseconds(times[at + TIME.p99]),
    },
    jitter: Number.isNaN(times[at + TIME.jitter]) ? null : milliseconds(times[at + TIME.jitter]),
    dwellCorrected: counters.dwellCorrected,
    ...stampFields,
  };
}

/** A TOS that `FlowCounts.tos` says is `state`, or null when it is unknown. */
function observedTos(
  state: number,
  sent: number,
  values: Uint8Array | undefined,
  at: number,
): number | null {
  return state === TOS_AS_SENT ? sent : state === TOS_OTHER ? values![at] : null;
}

/**
 * A float32 time in milliseconds, rounded to the nanosecond: float32 keeps ~7 significant digits,
 * so 0.05 comes back as 0.05, not 0.05000000074505806.
 */
function milliseconds(value: number): number {
  return Math.round(value * 1e6) / 1e6;
}
