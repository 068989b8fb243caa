import type { TimestampSource } from "@llama/core";
import type { ProbeOutcomeSink } from "./in_flight.ts";
import { grown, jitterSum, sortRange, trimmed, writeRttStatistics } from "./_samples.ts";
import {
  activeFlow,
  COUNTS,
  DUPLICATES,
  DWELL_CORRECTED,
  type FlowCounts,
  type FlowTable,
  type IntervalColumns,
  LATE,
  LOST,
  type PathAddresses,
  type PathTable,
  PublishedInterval,
  RARE_COUNTS,
  REORDERED,
  SENT,
  type TimeColumns,
  TIMES,
  TOS_AS_SENT,
  TOS_OTHER,
} from "./published_interval.ts";

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

export type { FlowSummary, IntervalSummary, PathSummary, TosSummary } from "@llama/core";

const YIELD_AFTER_MS = 4;
/**
 * How far behind the highest sequence number answered an answer counts as reordered: more than a
 * flow can have in flight (100,000 cycles a second × a 600-second timeout, the config's limits).
 */
const REORDER_WINDOW = 2 ** 26;
/** How much the sample arrays grow when full. */
const SAMPLE_GROWTH = 1.25;

/**
 * The outcomes of one interval, in columns indexed by flow id: counters, the last TOS seen, and
 * every RTT sample (float32, 7 significant digits: what a summary keeps anyway) with its flow, in
 * order of arrival. The counters are 8 bits until one of them needs 16, then 32; those a healthy
 * network leaves at 0, and TOS values other than the one sent, get their arrays when first
 * needed, and keep them. Once the interval is published they are its counters; when it is
 * compacted they count a later interval.
 */
class IntervalCounts implements FlowCounts {
  start = 0;
  capacity = 0;
  counts: Uint8Array | Uint16Array | Uint32Array = new Uint8Array(0);
  rare: Uint8Array | Uint16Array | Uint32Array | undefined;
  tos: Uint8Array = new Uint8Array(0);
  tosValues: Uint8Array | undefined;
  sampleFlows = new Uint32Array(64);
  sampleRtts = new Float32Array(64);
  samples = 0;

  reset(start: number, capacity: number): void {
    this.start = start;
    this.samples = 0;
    if (capacity > this.capacity) {
      this.capacity = capacity;
      this.counts = sized(this.counts, capacity * COUNTS);
      if (this.rare !== undefined) this.rare = sized(this.rare, capacity * RARE_COUNTS);
      this.tos = new Uint8Array(capacity);
      if (this.tosValues !== undefined) this.tosValues = new Uint8Array(capacity * 2);
    } else {
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
    this.capacity = capacity;
  }

  /** Adds one to counter `at` of `counts`, widening the counters when it would pass their largest value. */
  increment(at: number): void {
    this.counts = incremented(this.counts, at);
  }

  /** Adds one to counter `at` of `rare`, making the array the first time. */
  incrementRare(at: number): void {
    this.rare = incremented(this.rare ?? new Uint8Array(this.capacity * RARE_COUNTS), at);
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
const makeUint8 = (length: number) => new Uint8Array(length);
const makeUint16 = (length: number) => new Uint16Array(length);
const makeUint32 = (length: number) => new Uint32Array(length);
const makeInt32 = (length: number) => new Int32Array(length);
const makeFloat32 = (length: number) => new Float32Array(length);

/**
 * Collects probe outcomes into intervals aligned to wall-clock multiples of the summarization
 * interval, and turns a finished interval into a `PublishedInterval`. An outcome always counts in
 * the interval in which its probe was sent, however late its fate is known. Everything per flow
 * and per path lives in typed arrays, reused from one interval to the next: a collector of tens
 * of thousands of flows makes no objects per interval beyond those it publishes.
 */
export class Summarizer implements ProbeOutcomeSink {
  /** Interval length in milliseconds. */
  readonly intervalMs: number;
  #flowCount = 0;
  #flowPath = new Uint32Array(64);
  #srcPorts = new Uint16Array(64);
  #dstPorts = new Uint16Array(64);
  #flowTos = new Uint8Array(64);
  /**
   * Highest sequence number answered on each flow, for reordering: 32 bits, compared as serial
   * numbers (RFC 1982), like the prober's counters. A flow's first sequence number is 0, so 0
   * also stands for none yet.
   */
  #highestSequence = new Uint32Array(64);
  /**
   * Each flow's tags, as a number in `#tagSets`: the targets' tag objects, one entry each however
   * many flows share it (a target's flows, and every target of a config's equal tags do).
   */
  #flowTagSet = new Uint32Array(64);
  #tagSets: Record<string, string>[] = [];
  /** Numbers of `#tagSets` by object, while flows are added (see `doneAddingFlows`). */
  #tagSetIds: Map<Record<string, string>, number> | undefined;
  /** The flows in the published order (by path, then ports), or undefined after a change. */
  #table: FlowTable | undefined;
  /**
   * Path index by source, then destination address, while flows are being added (see
   * `doneAddingFlows`): made again from the paths' sources and `#pathDst` when needed.
   */
  #pathIndex: Map<string, Map<string, number>> | undefined;
  /** Each path's source address, as a number in `#sources` (a collector has few). */
  #pathSource = new Uint32Array(64);
  readonly #sources: string[] = [];
  readonly #sourceIds = new Map<string, number>();
  readonly #pathDst: string[] = [];
  /** Each path's tags as last published, and what they were made from. */
  readonly #pathTags: (Record<string, string> | undefined)[] = [];
  /** The tag set (-1: several) and the source tags' version each path's identity was made from. */
  #pathTagsSource = new Int32Array(64);
  #pathTagsVersion = new Int32Array(64);
  /** The table the last interval was published with; its arrays are shared while they hold. */
  #lastTable: Omit<PathTable, "present" | "count"> | undefined;
  /** The addresses of the paths as they are now (see `PathAddresses`), made when needed. */
  #addresses: PathAddresses | undefined;
  readonly #open = new Map<number, IntervalCounts>();
  readonly #spare: IntervalCounts[] = [];
  #last: IntervalCounts | undefined;
  #sourceTags: Record<string, string> = {};
  #sourceTagsVersion = 0;
  // Scratch space of `finish`, kept for the next interval.
  #offsets = new Uint32Array(0);
  /** Sample arrays of published intervals, for the next intervals to open. */
  readonly #sampleArrays: { flows: Uint32Array<ArrayBuffer>; rtts: Float32Array<ArrayBuffer> }[] =
    [];
  #grouped = new Float32Array(0);
  #pathSamples = new Float32Array(0);
  #mergeScratch = new Float32Array(0);
  /** How many intervals `prepare` has sorted: a publish is for the last one only. */
  #preparations = 0;
  /** Each flow's sum of RTT differences in the interval being summarized (see `jitterSum`). */
  #jitter = new Float32Array(0);
  /** Times of an interval no longer published in full, to fill again. */
  #spareTimes: TimeColumns | undefined;
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
    const id = this.#flowCount++;
    const length = this.#flowCount;
    this.#flowPath = grown(this.#flowPath, length, makeUint32);
    this.#srcPorts = grown(this.#srcPorts, length, makeUint16);
    this.#dstPorts = grown(this.#dstPorts, length, makeUint16);
    this.#flowTos = grown(this.#flowTos, length, makeUint8);
    this.#highestSequence = grown(this.#highestSequence, length, makeUint32);
    this.#pathIndex ??= this.#indexPaths();
    let bySource = this.#pathIndex.get(descriptor.srcIp);
    if (bySource === undefined) {
      bySource = new Map();
      this.#pathIndex.set(descriptor.srcIp, bySource);
    }
    let path = bySource.get(descriptor.dstIp);
    if (path === undefined) {
      path = this.#pathDst.length;
      bySource.set(descriptor.dstIp, path);
      let source = this.#sourceIds.get(descriptor.srcIp);
      if (source === undefined) {
        source = this.#sources.push(descriptor.srcIp) - 1;
        this.#sourceIds.set(descriptor.srcIp, source);
      }
      this.#pathSource = grown(this.#pathSource, path + 1, makeUint32);
      this.#pathSource[path] = source;
      this.#pathDst.push(descriptor.dstIp);
      this.#pathTags.push(undefined);
      this.#addresses = undefined;
      this.#pathTagsSource = grown(this.#pathTagsSource, path + 1, makeInt32);
      this.#pathTagsVersion = grown(
        this.#pathTagsVersion,
        path + 1,
        makeInt32,
      );
      this.#pathTagsVersion[path] = -1;
    }
    this.#flowPath[id] = path;
    this.#srcPorts[id] = descriptor.srcPort;
    this.#dstPorts[id] = descriptor.dstPort;
    this.#flowTos[id] = descriptor.tos;
    this.#flowTagSet = grown(this.#flowTagSet, length, makeUint32);
    this.#flowTagSet[id] = this.#tagSet(descriptor.tags);
    this.#table = undefined;
    return id;
  }

  /** How many flows there are: their ids are 0 up to this. */
  get flowCount(): number {
    return this.#flowCount;
  }

  /** A flow's source address, destination address and destination port, separated by spaces. */
  flowAddresses(id: number): string {
    const path = this.#flowPath[id];
    return `${this.#sourceOf(path)} ${this.#pathDst[path]} ${this.#dstPorts[id]}`;
  }

  /**
   * Drops the index of paths that `addFlow` keeps, and the room its arrays by flow id have grown
   * for more flows: a collector adds flows only at a (re)load.
   */
  doneAddingFlows(): void {
    this.#pathIndex = undefined;
    const flows = this.#flowCount;
    this.#flowPath = trimmed(this.#flowPath, flows);
    this.#srcPorts = trimmed(this.#srcPorts, flows);
    this.#dstPorts = trimmed(this.#dstPorts, flows);
    this.#flowTos = trimmed(this.#flowTos, flows);
    this.#highestSequence = trimmed(this.#highestSequence, flows);
    this.#flowTagSet = trimmed(this.#flowTagSet, flows);
    const paths = this.#pathDst.length;
    this.#pathSource = trimmed(this.#pathSource, paths);
    this.#pathTagsSource = trimmed(this.#pathTagsSource, paths);
    this.#pathTagsVersion = trimmed(this.#pathTagsVersion, paths);
    this.#addresses = undefined;
    this.#dropUnusedTagSets();
    // Ordering the flows makes megabytes of garbage at 10,000 targets: made now, with the rest of
    // a load's, rather than at the first interval's summary.
    if (this.#table !== undefined) this.#table = { ...this.#table, ...this.#flowArrays() };
    else this.#flowTable();
  }

  /** The arrays by flow id that a `FlowTable` holds. */
  #flowArrays(): Omit<FlowTable, "order"> {
    return {
      path: this.#flowPath,
      srcPorts: this.#srcPorts,
      dstPorts: this.#dstPorts,
      tos: this.#flowTos,
    };
  }

  /** A path's source address. */
  #sourceOf(path: number): string {
    return this.#sources[this.#pathSource[path]];
  }

  /** The number of `tags` in `#tagSets`, added if new. */
  #tagSet(tags: Record<string, string>): number {
    if (this.#tagSetIds === undefined) {
      this.#tagSetIds = new Map(this.#tagSets.map((tags, id) => [tags, id]));
    }
    let id = this.#tagSetIds.get(tags);
    if (id === undefined) {
      id = this.#tagSets.push(tags) - 1;
      this.#tagSetIds.set(tags, id);
    }
    return id;
  }

  /**
   * Keeps in `#tagSets` only what flows use: a reload gives every flow its target's new tag
   * objects, and the old ones would stay there for as long as the collector runs.
   */
  #dropUnusedTagSets(): void {
    const flows = this.#flowCount;
    const renumbered = new Int32Array(this.#tagSets.length).fill(-1);
    const kept: Record<string, string>[] = [];
    for (let flow = 0; flow < flows; flow++) {
      const id = this.#flowTagSet[flow];
      if (renumbered[id] < 0) renumbered[id] = kept.push(this.#tagSets[id]) - 1;
      this.#flowTagSet[flow] = renumbered[id];
    }
    for (let path = 0; path < this.#pathDst.length; path++) {
      const id = this.#pathTagsSource[path];
      // A set no flow uses any more cannot match a flow's again: the identity is made anew.
      if (id >= 0) this.#pathTagsSource[path] = renumbered[id] >= 0 ? renumbered[id] : -1;
    }
    this.#tagSets = kept;
    this.#tagSetIds = undefined;
  }

  #indexPaths(): Map<string, Map<string, number>> {
    const index = new Map<string, Map<string, number>>();
    for (let path = 0; path < this.#pathDst.length; path++) {
      let bySource = index.get(this.#sourceOf(path));
      if (bySource === undefined) {
        bySource = new Map();
        index.set(this.#sourceOf(path), bySource);
      }
      bySource.set(this.#pathDst[path], path);
    }
    return index;
  }

  /** Replaces the tags of a flow's target (a reload changed them). */
  setFlowTags(id: number, tags: Record<string, string>): void {
    this.#flowTagSet[id] = this.#tagSet(tags);
  }

  /** Hands back the columns of a compacted interval (see `PublishedInterval.compact`) for reuse. */
  recycle(columns: IntervalColumns | undefined): void {
    if (columns === undefined) return;
    this.#spareTimes = columns.times;
    if (columns.counts instanceof IntervalCounts && this.#spare.length < 2) {
      this.#spare.push(columns.counts);
    }
  }

  /** Intervals that have outcomes and are not yet published. */
  get openIntervals(): number {
    return this.#open.size;
  }

  /** Sets the tags describing this collector. */
  setSourceTags(tags: Record<string, string>): void {
    this.#sourceTags = tags;
    this.#sourceTagsVersion++;
  }

  /** The start of the interval holding wall-clock time `wallMs`. */
  intervalOf(wallMs: number): number {
    return Math.floor(wallMs / this.intervalMs) * this.intervalMs;
  }

  /** Counts a probe sent on `flow` in the interval starting at `interval`. */
  sent(flow: number, interval: number): void {
    this.#counts(flow, interval).increment(flow * COUNTS + SENT);
  }

  answered(
    flow: number,
    interval: number,
    sequence: number,
    rttMs: number,
    dwellCorrected: boolean,
  ): void {
    if (interval <= this.#finishedUpTo) return;
    const open = this.#counts(flow, interval);
    // Below the highest seen, modulo 2^32: the difference as a 32-bit signed number. Further behind
    // than a flow can have probes in flight is no reordering but a flow answered again after a
    // silence of over 2^31 probes: it starts again from there.
    const behind = (sequence - this.#highestSequence[flow]) | 0;
    if (behind < 0 && behind >= -REORDER_WINDOW) {
      open.incrementRare(flow * RARE_COUNTS + REORDERED);
    } else this.#highestSequence[flow] = sequence;
    if (dwellCorrected) open.increment(flow * COUNTS + DWELL_CORRECTED);
    open.addSample(flow, rttMs);
  }

  lost(flow: number, interval: number): void {
    if (interval <= this.#finishedUpTo) return;
    this.#counts(flow, interval).increment(flow * COUNTS + LOST);
  }

  /** Records the TOS an answered probe was seen with at the reflector and on its return (-1: unknown). */
  observeTos(flow: number, interval: number, atReflector: number, onReturn: number): void {
    if (interval <= this.#finishedUpTo) return;
    const open = this.#counts(flow, interval);
    open.observeTos(flow, 0, atReflector, this.#flowTos[flow]);
    open.observeTos(flow, 1, onReturn, this.#flowTos[flow]);
  }

  stray(flow: number, interval: number, kind: "late" | "duplicate"): void {
    // A stray reply to an interval already published has nothing left to update.
    if (!this.#open.has(interval)) return;
    this.#counts(flow, interval).incrementRare(
      flow * RARE_COUNTS + (kind === "late" ? LATE : DUPLICATES),
    );
  }

  /**
   * Closes the interval starting at `start` and summarizes it: `prepare`, then what it gives at
   * once. `previous` is the interval published before, which this one replaces.
   */
  async finish(start: number, previous?: PublishedInterval): Promise<PublishedInterval> {
    return (await this.prepare(start))(previous);
  }

  /**
   * Closes the interval starting at `start` and does the slow part of summarizing it, sorting
   * every sample, in turns with the event loop. Call it once every probe sent in it has been
   * answered or has expired. An interval in which nothing was sent gives a summary with no paths.
   *
   * It resolves to a function that publishes the interval in one synchronous pass, replacing
   * `previous` (the interval published before): that one is compacted (see
   * `PublishedInterval.compact`) and its columns are written over unless a reader still holds
   * them, so the latest interval's statistics are kept once, not twice. Call it, and put what it
   * returns where readers find the latest interval, in the same synchronous step: in between,
   * there is no latest interval. Call it once, before the next `prepare`: it works from the
   * summarizer's scratch space, which the next `prepare` fills again (it throws otherwise).
   */
  async prepare(start: number): Promise<(previous?: PublishedInterval) => PublishedInterval> {
    const open = this.#open.get(start);
    this.#open.delete(start);
    this.#finishedUpTo = Math.max(this.#finishedUpTo, start);
    if (this.#last === open) this.#last = undefined;
    const header = {
      start: new Date(start).toISOString(),
      end: new Date(start + this.intervalMs).toISOString(),
      intervalSeconds: this.intervalMs / 1000,
      timestampSource: this.timestampSource,
      sendTimestampSource: this.sendTimestampSource,
    };
    if (open === undefined) {
      return (previous) => {
        if (previous !== undefined) this.recycle(previous.compact());
        return new PublishedInterval(header, emptyColumns());
      };
    }
    // The flows and paths as they are now: a reload during the sorting adds flows after them.
    const flows = this.#flowTable();
    const known = this.#pathDst.length;
    const preparation = ++this.#preparations;
    const grouped = await this.#sortSamples(open, flows.order);
    let published = false;
    return (previous) => {
      if (published || preparation !== this.#preparations) {
        throw new Error(
          `interval ${header.start}: publish it once, before the next interval is prepared`,
        );
      }
      published = true;
      if (previous !== undefined) this.recycle(previous.compact());
      // The interval's counters are published as they are: `recycle` hands them back.
      return new PublishedInterval(header, this.#summarize(open, flows, known, grouped));
    };
  }

  /**
   * Groups the interval's RTT samples by flow, takes each flow's jitter (in order of arrival) and
   * sorts each flow's samples, giving the event loop a turn every few milliseconds: sorting every
   * sample of a busy interval takes long enough for replies to pile up in the sockets' buffers.
   */
  async #sortSamples(open: IntervalCounts, order: Uint32Array): Promise<Float32Array> {
    const grouped = this.#groupSamples(open);
    const offsets = this.#offsets;
    if (this.#jitter.length < this.#flowCount) this.#jitter = new Float32Array(this.#flowCount);
    let sliceStart = performance.now();
    for (let index = 0; index < order.length; index++) {
      // Every 64 flows, idle or not: idle flows can take every 64th place (ports a reload retired).
      if ((index & 63) === 63 && performance.now() - sliceStart > YIELD_AFTER_MS) {
        await new Promise((resolve) => setTimeout(resolve, 0));
        sliceStart = performance.now();
      }
      const flow = order[index];
      if (!activeFlow(open, flow)) continue;
      const from = offsets[flow], to = offsets[flow + 1];
      this.#jitter[flow] = jitterSum(grouped, from, to);
      sortRange(grouped, from, to);
    }
    return grouped;
  }

  /**
   * The columns of the interval of `open`, from its samples sorted by `#sortSamples`: one
   * synchronous pass, which writes the times over those of the interval published before once it
   * is compacted and nobody reads them.
   */
  #summarize(
    open: IntervalCounts,
    flows: FlowTable,
    known: number,
    grouped: Float32Array,
  ): IntervalColumns {
    const order = flows.order;
    const offsets = this.#offsets;
    const flowCount = order.length;
    let times = this.#spareTimes;
    this.#spareTimes = undefined;
    // Room for every path and flow known, not only this interval's, whose number varies by a few.
    if (
      times === undefined || times.flows.length < flowCount * TIMES ||
      times.pathStart.length < known
    ) {
      times = {
        flows: new Float32Array(flowCount * TIMES),
        paths: new Float32Array(known * TIMES),
        pathStart: new Uint32Array(known),
      };
    }
    // Intervals share the table's arrays while they stay the same: new ones are made only from the
    // first path that differs from the table before (a path added, tags changed). A bit a path
    // says which paths this interval has.
    const last = this.#lastTable;
    const lastPaths = last?.paths ?? new Uint32Array(0);
    const lastTags = last?.tags ?? [];
    let rowPaths: Uint32Array | undefined;
    let rowTags: (Record<string, string> | undefined)[] | undefined;
    const present = new Uint8Array(Math.ceil(known / 8));
    let tableRow = 0;
    let pathRow = 0;
    let index = 0;
    while (index < order.length) {
      const path = flows.path[order[index]];
      let end = index;
      while (end < order.length && flows.path[order[end]] === path) end++;
      let samples = 0, jitter = 0, jitterCount = 0, active = false;
      for (let at = index; at < end; at++) {
        const flow = order[at];
        if (!activeFlow(open, flow)) continue;
        active = true;
        const from = offsets[flow], to = offsets[flow + 1];
        const flowJitter = this.#jitter[flow];
        writeTimes(
          times.flows,
          flow * TIMES,
          grouped,
          from,
          to,
          to - from > 1 ? flowJitter / (to - from - 1) : NaN,
        );
        if (to - from > 1) {
          jitter += flowJitter;
          jitterCount += to - from - 1;
        }
        samples += to - from;
      }
      if (active) {
        times.pathStart[pathRow] = index;
        const pathSamples = this.#mergeSamples(grouped, order, index, end, open, samples);
        writeTimes(
          times.paths,
          pathRow * TIMES,
          pathSamples,
          0,
          samples,
          jitterCount > 0 ? jitter / jitterCount : NaN,
        );
        present[tableRow >> 3] |= 1 << (tableRow & 7);
        pathRow++;
      }
      // An absent path keeps the tags it was last published with.
      const tags = active
        ? this.#identityTags(path, order, index, end, open)
        : this.#pathTags[path];
      // A copy starts at the first row that differs, or where the table before runs out (undefined
      // tags past its end are not the same row).
      if (
        rowPaths === undefined && (tableRow >= lastPaths.length || lastPaths[tableRow] !== path)
      ) {
        rowPaths = new Uint32Array(known);
        rowPaths.set(lastPaths.subarray(0, tableRow));
      }
      if (rowPaths !== undefined) rowPaths[tableRow] = path;
      if (rowTags === undefined && (tableRow >= lastTags.length || lastTags[tableRow] !== tags)) {
        rowTags = lastTags.slice(0, tableRow);
      }
      rowTags?.push(tags);
      tableRow++;
      index = end;
    }
    const table = {
      paths: rowPaths?.subarray(0, tableRow) ??
        (lastPaths.length === tableRow ? lastPaths : lastPaths.subarray(0, tableRow)),
      tags: rowTags ?? (lastTags.length === tableRow ? lastTags : lastTags.slice(0, tableRow)),
      addresses: this.#addresses ??= {
        sources: this.#sources,
        source: this.#pathSource,
        destinations: this.#pathDst,
      },
    };
    this.#lastTable = table;
    return {
      identities: {
        ...table,
        present: pathRow === tableRow ? undefined : present,
        count: pathRow,
      },
      flows,
      counts: open,
      times,
    };
  }

  /**
   * The interval's RTT samples grouped by flow (in reverse order of arrival, which jitter does
   * not mind): flow f has [offsets[f], offsets[f + 1]). Hands the interval's sample arrays on to
   * the next interval to open.
   */
  #groupSamples(open: IntervalCounts): Float32Array {
    const flows = this.#flowCount;
    if (this.#offsets.length < flows + 1) this.#offsets = new Uint32Array(flows + 1);
    const offsets = this.#offsets;
    offsets.fill(0, 0, flows + 1);
    for (let sample = 0; sample < open.samples; sample++) offsets[open.sampleFlows[sample]]++;
    // Each flow's end, then, counting down as its samples are placed, its start.
    for (let flow = 1; flow < flows; flow++) offsets[flow] += offsets[flow - 1];
    offsets[flows] = open.samples;
    if (this.#grouped.length < open.samples) this.#grouped = new Float32Array(open.samples);
    for (let sample = 0; sample < open.samples; sample++) {
      this.#grouped[--offsets[open.sampleFlows[sample]]] = open.sampleRtts[sample];
    }
    this.#sampleArrays.push({ flows: open.sampleFlows, rtts: open.sampleRtts });
    open.sampleFlows = new Uint32Array(0);
    open.sampleRtts = new Float32Array(0);
    open.samples = 0;
    return this.#grouped;
  }

  /**
   * The sorted samples of the active flows among `order[from..to)`, each sorted already: merged
   * one flow at a time, linear in the samples for the few flows (ports) a path has, where sorting
   * them again took milliseconds at 10,000 answers a flow and held up the event loop.
   */
  #mergeSamples(
    grouped: Float32Array,
    order: Uint32Array,
    from: number,
    to: number,
    open: IntervalCounts,
    samples: number,
  ): Float32Array {
    if (this.#pathSamples.length < samples) {
      this.#pathSamples = new Float32Array(samples * 2);
      this.#mergeScratch = new Float32Array(samples * 2);
    }
    let merged = this.#pathSamples;
    let other = this.#mergeScratch;
    let length = 0;
    for (let index = from; index < to; index++) {
      const flow = order[index];
      if (!activeFlow(open, flow)) continue;
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

  /**
   * The tags of a path: those published before unless they changed. They are the collector's
   * source tags and its active flows' target tags (the target's win on a clash).
   */
  #identityTags(
    path: number,
    order: Uint32Array,
    from: number,
    to: number,
    open: IntervalCounts,
  ): Record<string, string> {
    let shared = -1;
    let mixed = false;
    for (let index = from; index < to; index++) {
      if (!activeFlow(open, order[index])) continue;
      const tags = this.#flowTagSet[order[index]];
      if (shared < 0) shared = tags;
      else if (tags !== shared) mixed = true;
    }
    const cached = this.#pathTags[path];
    if (
      cached !== undefined && !mixed && this.#pathTagsSource[path] === shared &&
      this.#pathTagsVersion[path] === this.#sourceTagsVersion
    ) return cached;
    let tags: Record<string, string>;
    if (!mixed && shared >= 0 && isEmpty(this.#sourceTags)) {
      // The target's own tags, not a copy: one object fewer a path.
      tags = this.#tagSets[shared];
    } else {
      tags = { ...this.#sourceTags };
      for (let index = from; index < to; index++) {
        if (activeFlow(open, order[index])) {
          Object.assign(tags, this.#tagSets[this.#flowTagSet[order[index]]]);
        }
      }
    }
    const kept = cached !== undefined && sameTags(cached, tags) ? cached : tags;
    this.#pathTags[path] = kept;
    this.#pathTagsSource[path] = mixed ? -1 : shared;
    this.#pathTagsVersion[path] = this.#sourceTagsVersion;
    return kept;
  }

  /**
   * The flows, ordered by path (addresses in numeric order), then source and destination port.
   * The arrays by flow id are the summarizer's own: a flow's entries in them never change.
   */
  #flowTable(): FlowTable {
    if (this.#table !== undefined) return this.#table;
    const pathCount = this.#pathDst.length;
    const sources = this.#sources.map(addressKey);
    const destinations = this.#pathDst.map(addressKey);
    const compare = (a: string, b: string) => a < b ? -1 : a > b ? 1 : 0;
    const byAddress = Array.from({ length: pathCount }, (_, path) => path)
      .sort((a, b) =>
        compare(sources[this.#pathSource[a]], sources[this.#pathSource[b]]) ||
        compare(destinations[a], destinations[b])
      );
    const rank = new Uint32Array(pathCount);
    byAddress.forEach((path, position) => rank[path] = position);
    const order = new Uint32Array(this.#flowCount);
    for (let flow = 0; flow < order.length; flow++) order[flow] = flow;
    order.sort((a, b) =>
      rank[this.#flowPath[a]] - rank[this.#flowPath[b]] ||
      this.#srcPorts[a] - this.#srcPorts[b] || this.#dstPorts[a] - this.#dstPorts[b]
    );
    this.#table = { order, ...this.#flowArrays() };
    return this.#table;
  }

  #interval(start: number): IntervalCounts {
    // Nearly every outcome lands in the interval of the one before it.
    if (this.#last !== undefined && this.#last.start === start) return this.#last;
    let open = this.#open.get(start);
    if (open === undefined) {
      open = this.#spare.pop() ?? new IntervalCounts();
      open.reset(start, this.#flowCount);
      const samples = this.#sampleArrays.pop();
      if (samples !== undefined) {
        open.sampleFlows = samples.flows;
        open.sampleRtts = samples.rtts;
      }
      this.#open.set(start, open);
    }
    this.#last = open;
    return open;
  }

  #counts(flow: number, interval: number): IntervalCounts {
    const open = this.#interval(interval);
    if (flow >= open.capacity) open.ensure(this.#flowCount);
    return open;
  }
}

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

/** Writes RTT statistics of `sorted[from..to)` (NaN when empty) and the jitter to `out[at..]`. */
function writeTimes(
  out: Float32Array,
  at: number,
  sorted: Float32Array,
  from: number,
  to: number,
  jitter: number,
): void {
  if (!writeRttStatistics(sorted, from, to, out, at)) out.fill(NaN, at, at + 7);
  out[at + 7] = jitter;
}

function emptyColumns(): IntervalColumns {
  return {
    identities: {
      paths: new Uint32Array(0),
      tags: [],
      addresses: { sources: [], source: new Uint32Array(0), destinations: [] },
      present: undefined,
      count: 0,
    },
    flows: {
      order: new Uint32Array(0),
      path: new Uint32Array(0),
      srcPorts: new Uint16Array(0),
      dstPorts: new Uint16Array(0),
      tos: new Uint8Array(0),
    },
    counts: new IntervalCounts(),
    times: {
      flows: new Float32Array(0),
      paths: new Float32Array(0),
      pathStart: new Uint32Array(0),
    },
  };
}

function isEmpty(tags: Record<string, string>): boolean {
  for (const _ in tags) return false;
  return true;
}

function sameTags(a: Record<string, string>, b: Record<string, string>): boolean {
  const keys = Object.keys(a);
  if (keys.length !== Object.keys(b).length) return false;
  return keys.every((key) => a[key] === b[key]);
}

/** A key that orders addresses numerically within a family, IPv4 before IPv6. */
function addressKey(address: string): string {
  return address.includes(":")
    ? `6${address.split(":").map((part) => part.padStart(4, "0")).join(":")}`
    : `4${address.split(".").map((part) => part.padStart(3, "0")).join(".")}`;
}
