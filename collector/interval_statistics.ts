/**
 * An interval's statistics: its RTT samples grouped by flow, sorted, and turned into each flow's
 * and path's RTT statistics and jitter.
 *
 * @module
 */
import { jitterSum, sortRange, writeRttStatistics } from "./_samples.ts";
import {
  activeFlow,
  type FlowCounts,
  type FlowTable,
  TIME,
  type TimeColumns,
  TIMES,
} from "./_columns.ts";
import type { SampleSink } from "./interval_book.ts";

const YIELD_AFTER_MS = 4;

/** Told of each path of an interval, in order, as its times are written. */
export interface PathRows {
  /** Path `path` has the flows `order[from..to)`; `active` if anything happened on one. */
  row(path: number, active: boolean, from: number, to: number): void;
}

/**
 * Works out the statistics of one interval at a time, in three steps that `Summarizer.finish`
 * takes in order: `takeSamples` (the book closing the interval hands them over), `sort`, then
 * `writeTimes`. Its arrays are scratch space kept from one interval to the next: a collector of
 * tens of thousands of flows makes no arrays per interval but the times it publishes.
 */
export class IntervalStatistics implements SampleSink {
  /** Flow f's samples are `#grouped[#offsets[f]..#offsets[f + 1])`. */
  #offsets = new Uint32Array(0);
  #grouped = new Float32Array(0);
  /** Each flow's sum of RTT differences (see `jitterSum`). */
  #jitter = new Float32Array(0);
  /** A path's samples merged from its flows', and the room the merge works in. */
  #pathSamples = new Float32Array(0);
  #mergeScratch = new Float32Array(0);

  /**
   * Groups an interval's RTT samples by flow (in reverse order of arrival, which jitter does not
   * mind).
   */
  takeSamples(flows: Uint32Array, rtts: Float32Array, samples: number, flowCount: number): void {
    if (this.#offsets.length < flowCount + 1) this.#offsets = new Uint32Array(flowCount + 1);
    const offsets = this.#offsets;
    offsets.fill(0, 0, flowCount + 1);
    for (let sample = 0; sample < samples; sample++) offsets[flows[sample]]++;
    // Each flow's end, then, counting down as its samples are placed, its start.
    for (let flow = 1; flow < flowCount; flow++) offsets[flow] += offsets[flow - 1];
    offsets[flowCount] = samples;
    if (this.#grouped.length < samples) this.#grouped = new Float32Array(samples);
    for (let sample = 0; sample < samples; sample++) {
      this.#grouped[--offsets[flows[sample]]] = rtts[sample];
    }
    if (this.#jitter.length < flowCount) this.#jitter = new Float32Array(flowCount);
  }

  /**
   * Takes each active flow's jitter (in order of arrival) and sorts its samples, giving the event
   * loop a turn every few milliseconds: sorting every sample of a busy interval takes long
   * enough for replies to pile up in the sockets' buffers.
   */
  async sort(order: Uint32Array, counts: FlowCounts): Promise<void> {
    const grouped = this.#grouped, offsets = this.#offsets;
    let sliceStart = performance.now();
    for (let index = 0; index < order.length; index++) {
      // Every 64 flows, idle or not: idle flows can take every 64th place (ports a reload retired).
      if ((index & 63) === 63 && performance.now() - sliceStart > YIELD_AFTER_MS) {
        await new Promise((resolve) => setTimeout(resolve, 0));
        sliceStart = performance.now();
      }
      const flow = order[index];
      if (!activeFlow(counts, flow)) continue;
      const from = offsets[flow], to = offsets[flow + 1];
      this.#jitter[flow] = jitterSum(grouped, from, to);
      sortRange(grouped, from, to);
    }
  }

  /**
   * Writes every flow's and path's times of the sorted interval into `times` (or new columns when
   * it is undefined or too small for `flows` and `pathCount` paths), telling `rows` of each path.
   */
  writeTimes(
    counts: FlowCounts,
    flows: FlowTable,
    pathCount: number,
    rows: PathRows,
    reusable: TimeColumns | undefined,
  ): TimeColumns {
    const order = flows.order;
    const offsets = this.#offsets;
    // Room for every path and flow known, not only this interval's, whose number varies by a few.
    const times = reusable !== undefined && reusable.flows.length >= order.length * TIMES &&
        reusable.pathStart.length >= pathCount
      ? reusable
      : {
        flows: new Float32Array(order.length * TIMES),
        paths: new Float32Array(pathCount * TIMES),
        pathStart: new Uint32Array(pathCount),
      };
    let pathRow = 0;
    let index = 0;
    while (index < order.length) {
      const path = flows.path[order[index]];
      let end = index;
      while (end < order.length && flows.path[order[end]] === path) end++;
      let samples = 0, jitter = 0, jitterCount = 0, active = false;
      for (let at = index; at < end; at++) {
        const flow = order[at];
        if (!activeFlow(counts, flow)) continue;
        active = true;
        const from = offsets[flow], to = offsets[flow + 1];
        const flowJitter = this.#jitter[flow];
        const answers = to - from;
        writeTimesOf(times.flows, flow * TIMES, this.#grouped, from, to);
        times.flows[flow * TIMES + TIME.jitter] = answers > 1 ? flowJitter / (answers - 1) : NaN;
        if (answers > 1) {
          jitter += flowJitter;
          jitterCount += answers - 1;
        }
        samples += answers;
      }
      if (active) {
        times.pathStart[pathRow] = index;
        const pathSamples = this.#mergeSamples(order, index, end, counts, samples);
        writeTimesOf(times.paths, pathRow * TIMES, pathSamples, 0, samples);
        times.paths[pathRow * TIMES + TIME.jitter] = jitterCount > 0 ? jitter / jitterCount : NaN;
        pathRow++;
      }
      rows.row(path, active, index, end);
      index = end;
    }
    return times;
  }

  /**
   * The sorted samples of the active flows among `order[from..to)`, each sorted already: merged
   * one flow at a time, linear in the samples for the few flows (ports) a path has, where sorting
   * them again took milliseconds at 10,000 answers a flow and held up the event loop.
   */
  #mergeSamples(
    order: Uint32Array,
    from: number,
    to: number,
    counts: FlowCounts,
    samples: number,
  ): Float32Array {
    if (this.#pathSamples.length < samples) {
      this.#pathSamples = new Float32Array(samples * 2);
      this.#mergeScratch = new Float32Array(samples * 2);
    }
    const grouped = this.#grouped;
    let merged = this.#pathSamples;
    let other = this.#mergeScratch;
    let length = 0;
    for (let index = from; index < to; index++) {
      const flow = order[index];
      if (!activeFlow(counts, flow)) continue;
      const start = this.#offsets[flow], end = this.#offsets[flow + 1];
      if (start === end) continue;
      let left = 0, right = start, out = 0;
      while (left < length && right < end) {
        other[out++] = merged[left] <= grouped[right] ? merged[left++] : grouped[right++];
      }
      while (left < length) other[out++] = merged[left++];
      while (right < end) other[out++] = grouped[right++];
      length = out;
      const filled = other;
      other = merged;
      merged = filled;
    }
    return merged;
  }
}

/**
 * Writes RTT statistics of `sorted[from..to)` (NaN when empty) to `out[at..]`, all but the
 * jitter, which the caller writes: a fractional number passed to a call V8 does not inline is
 * boxed, a heap number a flow and a path each interval.
 */
function writeTimesOf(
  out: Float32Array,
  at: number,
  sorted: Float32Array,
  from: number,
  to: number,
): void {
  if (!writeRttStatistics(sorted, from, to, out, at)) out.fill(NaN, at, at + TIME.jitter);
}
