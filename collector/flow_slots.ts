/**
 * The prober's side of each flow: which socket it is sent from, so a reload finds the flow again,
 * and its next sequence number.
 *
 * @module
 */
import { grown, trimmed } from "./_samples.ts";
import type { FlowDescriptor, FlowRegistry } from "./flow_registry.ts";

/** A flow as a test of a config asks for it: where it goes, and the socket it is sent from. */
export interface FlowRequest extends FlowDescriptor {
  /** The key of the socket it is sent from. */
  socketKey: string;
}

/**
 * Finds or registers flows in a `FlowRegistry` as a config asks for them, and numbers each
 * flow's probes.
 */
export class FlowSlots {
  readonly #registry: FlowRegistry;
  /**
   * The slot of each flow's socket, by flow id. With the registry's addresses and port of the
   * flow it finds a flow again when a reload keeps it; the index for that is made for the reload
   * and dropped after (at 10,000 targets it is ~100 bytes a target).
   */
  #flowSlot = new Uint32Array(1024);
  /** A small number for each socket key, for `#flowSlot`. */
  readonly #socketSlots = new Map<string, number>();
  /**
   * Each flow's next sequence number: 32 bits, wrapping (after 49 days at 1,000 probes a second on
   * one flow); the interval book compares them as serial numbers.
   */
  #sequences = new Uint32Array(1024);

  /** Slots of the flows of `registry`. */
  constructor(registry: FlowRegistry) {
    this.#registry = registry;
  }

  /** The next sequence number of `flow`'s probes, counted as taken. */
  nextSequence(flow: number): number {
    return this.#sequences[flow]++;
  }

  /**
   * Starts a (re)load: returns a finder of flows the registry already has (they keep their ids,
   * sequence numbers and probes in flight) that registers the others.
   */
  load(): (flow: FlowRequest) => number {
    const known = new Map<string, number>();
    for (let id = 0; id < this.#registry.flowCount; id++) {
      known.set(`${this.#flowSlot[id]} ${this.#registry.flowAddresses(id)}`, id);
    }
    return (flow) => this.#flow(known, flow);
  }

  /** Ends a (re)load: the registry and these slots let go of the room they grew for more flows. */
  doneLoading(): void {
    this.#registry.doneAddingFlows();
    this.#sequences = trimmed(this.#sequences, this.#registry.flowCount);
    this.#flowSlot = trimmed(this.#flowSlot, this.#registry.flowCount);
  }

  #flow(known: Map<string, number>, flow: FlowRequest): number {
    let slot = this.#socketSlots.get(flow.socketKey);
    if (slot === undefined) {
      slot = this.#socketSlots.size;
      this.#socketSlots.set(flow.socketKey, slot);
    }
    const key = `${slot} ${flow.srcIp} ${flow.dstIp} ${flow.dstPort}`;
    let id = known.get(key);
    if (id === undefined) {
      id = this.#registry.addFlow(flow);
      this.#sequences = grown(this.#sequences, id + 1, makeUint32);
      this.#flowSlot = grown(this.#flowSlot, id + 1, makeUint32);
      this.#flowSlot[id] = slot;
      known.set(key, id);
    } else {
      this.#registry.setFlowTags(id, flow.tags);
    }
    return id;
  }
}

const makeUint32 = (length: number) => new Uint32Array(length);
