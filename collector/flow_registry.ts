/**
 * The flow registry: which flows the collector probes (a source socket to a target each), their
 * paths, ports, TOS and tags, and the order a summary lists them in. The prober writes it at
 * every (re)load; the interval book and the summaries read it.
 *
 * @module
 */
import { compareAddresses, type TimestampSource } from "@llama/core";
import { grown, trimmed } from "./_samples.ts";
import type { FlowTable, PathAddresses } from "./_columns.ts";
import { PathRegistry } from "./_path_registry.ts";
import { TagSets } from "./_tag_sets.ts";
import type { FlowCatalog } from "./interval_book.ts";

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

/** Where an interval's receive and send times come from, as the prober's sockets say. */
export interface TimestampSources {
  /** Where receive times come from. */
  receive: TimestampSource;
  /** Where send times come from. */
  send: TimestampSource;
}

/**
 * Every flow by id, in typed arrays: a flow's path, ports and TOS never change once added, so a
 * published interval keeps the arrays as they were. Flows are only added, at a (re)load; a reload
 * may change a flow's tags.
 */
export class FlowRegistry implements FlowCatalog {
  #flowCount = 0;
  #flowPath = new Uint32Array(64);
  #srcPorts = new Uint16Array(64);
  #dstPorts = new Uint16Array(64);
  #flowTos = new Uint8Array(64);
  /** Each flow's tags, as a number in `#tagSets`. */
  #flowTagSet = new Uint32Array(64);
  readonly #tagSets = new TagSets();
  readonly #paths = new PathRegistry();
  /** The flows in the published order, or undefined after a change. */
  #table: FlowTable | undefined;
  #sourceTags: Record<string, string> = {};
  #sourceTagsVersion = 0;
  /** Where times come from, as the prober's sockets say. */
  timestamps: TimestampSources = { receive: "userspace", send: "userspace" };

  /** Registers a flow; returns its id. */
  addFlow(descriptor: FlowDescriptor): number {
    const id = this.#flowCount++;
    const length = this.#flowCount;
    this.#flowPath = grown(this.#flowPath, length, makeUint32);
    this.#srcPorts = grown(this.#srcPorts, length, makeUint16);
    this.#dstPorts = grown(this.#dstPorts, length, makeUint16);
    this.#flowTos = grown(this.#flowTos, length, makeUint8);
    this.#flowTagSet = grown(this.#flowTagSet, length, makeUint32);
    this.#flowPath[id] = this.#paths.pathOf(descriptor.srcIp, descriptor.dstIp);
    this.#srcPorts[id] = descriptor.srcPort;
    this.#dstPorts[id] = descriptor.dstPort;
    this.#flowTos[id] = descriptor.tos;
    this.#flowTagSet[id] = this.#tagSets.idOf(descriptor.tags);
    this.#table = undefined;
    return id;
  }

  /** Replaces the tags of a flow's target (a reload changed them). */
  setFlowTags(id: number, tags: Record<string, string>): void {
    this.#flowTagSet[id] = this.#tagSets.idOf(tags);
  }

  /** How many flows there are: their ids are 0 up to this. */
  get flowCount(): number {
    return this.#flowCount;
  }

  /** How many paths there are: their ids are 0 up to this. */
  get pathCount(): number {
    return this.#paths.count;
  }

  /** The TOS `flow`'s probes are sent with. */
  sentTos(flow: number): number {
    return this.#flowTos[flow];
  }

  /** The tags of `flow`'s target: one object for every flow of equal tags. */
  flowTags(flow: number): Record<string, string> {
    return this.#tagSets.get(this.#flowTagSet[flow]);
  }

  /** A flow's source address, destination address and destination port, separated by spaces. */
  flowAddresses(id: number): string {
    const path = this.#flowPath[id];
    return `${this.#paths.sourceOf(path)} ${this.#paths.destinationOf(path)} ${this.#dstPorts[id]}`;
  }

  /** Every path's addresses. */
  pathAddresses(): PathAddresses {
    return this.#paths.addresses();
  }

  /** The tags describing this collector. */
  get sourceTags(): Record<string, string> {
    return this.#sourceTags;
  }

  /** A number that changes whenever the source tags do. */
  get sourceTagsVersion(): number {
    return this.#sourceTagsVersion;
  }

  /** Sets the tags describing this collector. */
  setSourceTags(tags: Record<string, string>): void {
    this.#sourceTags = tags;
    this.#sourceTagsVersion++;
  }

  /**
   * Drops the room the arrays by flow id have grown for more flows, and the paths' index: a
   * collector adds flows only at a (re)load.
   */
  doneAddingFlows(): void {
    const flows = this.#flowCount;
    this.#flowPath = trimmed(this.#flowPath, flows);
    this.#srcPorts = trimmed(this.#srcPorts, flows);
    this.#dstPorts = trimmed(this.#dstPorts, flows);
    this.#flowTos = trimmed(this.#flowTos, flows);
    this.#flowTagSet = trimmed(this.#flowTagSet, flows);
    this.#paths.doneAdding();
    this.#tagSets.keepOnly(this.#flowTagSet, flows);
    // Ordering the flows makes megabytes of garbage at 10,000 targets: made now, with the rest of
    // a load's, rather than at the first interval's summary.
    this.#table = this.#table === undefined
      ? this.table()
      : { order: this.#table.order, ...this.#flowArrays() };
  }

  /**
   * The flows, ordered by path (addresses in numeric order), then source and destination port.
   * The same object until a flow is added.
   */
  table(): FlowTable {
    if (this.#table !== undefined) return this.#table;
    const pathCount = this.#paths.count;
    const paths = this.#paths;
    const byAddress = Array.from({ length: pathCount }, (_, path) => path)
      .sort((a, b) =>
        compareAddresses(paths.sourceOf(a), paths.sourceOf(b)) ||
        compareAddresses(paths.destinationOf(a), paths.destinationOf(b))
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

  /** The arrays by flow id that a `FlowTable` holds. */
  #flowArrays(): Omit<FlowTable, "order"> {
    return {
      path: this.#flowPath,
      srcPorts: this.#srcPorts,
      dstPorts: this.#dstPorts,
      tos: this.#flowTos,
    };
  }
}

// Made once, for `grown`.
const makeUint8 = (length: number) => new Uint8Array(length);
const makeUint16 = (length: number) => new Uint16Array(length);
const makeUint32 = (length: number) => new Uint32Array(length);
