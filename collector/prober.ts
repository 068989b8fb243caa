import { getLogger } from "@logtape/logtape";
import { type Clock, formatAddress, type OpenSocket, PeerAddress, WallNanos } from "@llama/core";
import type { ResolvedConfig } from "./resolve.ts";
import type { SourceAddressLookup } from "./source_address.ts";
import { ProbeSocket, type ProbeSocketCounters, type ReceivePace } from "./probe_socket.ts";
import type { Summarizer } from "./summarizer.ts";
import { grown, trimmed } from "./_samples.ts";

/** What the prober needs from the world. */
export interface ProberDependencies {
  /** Opens UDP sockets. */
  openSocket: OpenSocket;
  /** Clocks. */
  clock: Clock;
  /** Learns the source address a wildcard-bound socket uses to reach each destination. */
  sourceAddresses: SourceAddressLookup;
}

/** The prober's own health, cumulative unless noted. */
export interface ProberHealth {
  /** Probes handed to sockets. */
  sent: number;
  /** Replies matched to a probe in flight. */
  answered: number;
  /** Replies after their timeout. */
  late: number;
  /** Replies received twice. */
  duplicates: number;
  /** Datagrams that matched no probe. */
  unmatched: number;
  /** Failed socket sends and receives. */
  socketErrors: number;
  /** Probes a send left out without failing (the send buffer stayed full through its retries). */
  unsent: number;
  /** Probes whose send time is the kernel's transmit timestamp (native engine). */
  kernelSendTimes: number;
  /** Kernel transmit times refused as implausible for their probe (kept the clock's time). */
  sendTimeMismatches: number;
  /** Probes not sent because the sender fell more than a second behind schedule. */
  skipped: number;
  /** Probes in flight now. */
  inFlight: number;
  /** Sockets open now. */
  sockets: number;
  /** The largest delay between a probe's scheduled and actual send time since the last call, ms. */
  maxLagMs: number;
}

interface ScheduledTest {
  sockets: ProbeSocket[];
  /** Each target's address. */
  addresses: PeerAddress[];
  /**
   * Flow id of target t on socket s at `t × sockets + s`: `firstFlow` plus that when the ids are
   * consecutive (a test's flows are added in that order, so they are unless a reload kept some),
   * else `flows` holds them.
   */
  firstFlow: number;
  flows: Uint32Array | undefined;
  /** Probes per cycle: sockets × targets. */
  perCycle: number;
  /** Milliseconds between consecutive probes of the test. */
  spacingMs: number;
  /** Monotonic time of probe 0. */
  origin: number;
  /** Index of the next probe. */
  next: number;
}

/** A sender this far behind skips ahead rather than bursting the backlog onto the network. */
const SKIP_AFTER_MS = 1000;
/**
 * While a test is behind schedule, each turn of the event loop sends at most twice what fell due
 * since the turn before (so it catches up at twice its rate however long a turn takes), but at
 * least this much of its schedule (and 64 probes) and at most four times this much: after a stall
 * the backlog is spread over several turns instead of landing on a reflector's receive buffer in
 * one burst.
 */
const CATCH_UP_MS = 4;
/**
 * A prober whose next turn is this close reads every socket on its turns, and the sockets' own
 * reads stand down: at 20k answers a second that is ~1,000 batched reads instead of ~20,000 reads
 * of one answer and a promise each. Answers wait in the kernel at most this long; their receive
 * times are the kernel's all the same (native engine, the only one that reads this way).
 */
const BUSY_WITHIN_MS = 5;

/**
 * Sends every test's probes on schedule: in each cycle every socket of the port group sends one
 * probe to every target, spread evenly over the cycle, and replies are matched as they come.
 * `apply()` switches to a new config while keeping sockets (and their probes in flight) that the
 * new config still uses.
 */
export class Prober {
  readonly #summarizer: Summarizer;
  readonly #dependencies: ProberDependencies;
  readonly #wall: WallNanos;
  readonly #sockets = new Map<string, ProbeSocket>();
  /** The values of `#sockets`, for the loops of every turn. */
  #socketList: ProbeSocket[] = [];
  readonly #retired = new Set<ProbeSocket>();
  /**
   * The slot of each flow's socket, by flow id. With the summarizer's addresses and port of the
   * flow it finds a flow again when a reload keeps it; the index for that is made for the reload
   * and dropped after (at 10,000 targets it is ~100 bytes a target).
   */
  #flowSlot = new Uint32Array(1024);
  /** A small number for each socket key, for `#flowSlot`. */
  readonly #socketSlots = new Map<string, number>();
  /**
   * Each flow's next sequence number: 32 bits, wrapping (after 49 days at 1,000 probes a second on
   * one flow); the summarizer compares them as serial numbers.
   */
  #sequences = new Uint32Array(1024);
  #tests: ScheduledTest[] = [];
  readonly #instanceTag = crypto.getRandomValues(new Uint16Array(1))[0];
  readonly #log = getLogger(["llama", "collector"]);
  #skipped = 0;
  #warnedTos = false;
  #maxLagMs = 0;
  #closed = false;
  #wake: (() => void) | undefined;
  #loop: Promise<void> | undefined;
  #busy = false;
  #idle: PromiseWithResolvers<void> | undefined;
  readonly #pace: ReceivePace = {
    busy: () => this.#busy,
    whenIdle: () => (this.#idle ??= Promise.withResolvers<void>()).promise,
  };
  readonly #retiredCounters: ProbeSocketCounters = {
    sent: 0,
    answered: 0,
    late: 0,
    duplicates: 0,
    unmatched: 0,
    errors: 0,
    unsent: 0,
    kernelSendTimes: 0,
    sendTimeMismatches: 0,
  };

  /** Creates a prober that reports outcomes to `summarizer`. */
  constructor(summarizer: Summarizer, dependencies: ProberDependencies) {
    this.#summarizer = summarizer;
    this.#dependencies = dependencies;
    this.#wall = new WallNanos(dependencies.clock);
  }

  /** The longest timeout of any socket still open: how long after a boundary an interval settles. */
  get maxTimeoutMs(): number {
    let timeout = 0;
    for (const socket of [...this.#sockets.values(), ...this.#retired]) {
      timeout = Math.max(timeout, socket.settings.timeoutMs);
    }
    return timeout;
  }

  /**
   * Switches to `config`: opens the sockets it adds, keeps those it still uses, and retires the
   * rest once their probes have had time to come back. On failure nothing changes.
   */
  async apply(config: ResolvedConfig): Promise<void> {
    const { clock, openSocket } = this.#dependencies;
    const wanted = new Map<string, { ip: string; port: number; tos: number; timeoutMs: number }>();
    const plans = config.tests.map((test) => {
      const keys: string[] = [];
      for (const member of config.portGroups[test.portGroup]) {
        const port = config.ports[member.port];
        for (let index = 0; index < member.count; index++) {
          let key = `${test.targets}|${test.portGroup}|${test.rateLimit}|${member.port}#${index}|` +
            `${port.ip}|${port.port}|${port.tos}|${port.timeoutMs}`;
          while (wanted.has(key)) key += "+";
          wanted.set(key, port);
          keys.push(key);
        }
      }
      return { test, keys };
    });

    const opened = new Map<string, ProbeSocket>();
    try {
      for (const [key, port] of wanted) {
        if (this.#sockets.has(key)) continue;
        const socket = await openSocket({
          hostname: port.ip,
          port: port.port,
          tos: port.tos,
          transmitTimestamps: true,
        });
        if (socket.engine !== "native" && port.tos !== 0 && !this.#warnedTos) {
          this.#warnedTos = true;
          this.#log.warn(
            "Probes carry tos {tos} in their tos field, but the Deno engine cannot mark the IP header; " +
              "use the native engine (--engine native, needs --allow-ffi) to mark it",
            { tos: port.tos },
          );
        }
        opened.set(
          key,
          new ProbeSocket(
            socket,
            {
              tos: port.tos,
              timeoutMs: port.timeoutMs,
              instanceTag: this.#instanceTag,
              pace: this.#pace,
            },
            this.#summarizer,
            this.#wall,
          ),
        );
      }
    } catch (error) {
      await Promise.all([...opened.values()].map((socket) => socket.close()));
      throw error;
    }
    const sockets = new Map([...this.#sockets].filter(([key]) => wanted.has(key)));
    for (const [key, socket] of opened) sockets.set(key, socket);

    // A socket bound to a wildcard address sends from whatever address the route to the target
    // chooses: ask the routing table, so each path reports its real source address.
    const destinations = new Set<string>();
    for (const list of Object.values(config.targets)) {
      for (const target of list) destinations.add(target.ip);
    }
    let sources: Map<string, string>;
    try {
      sources = await this.#dependencies.sourceAddresses([...destinations]);
    } catch (error) {
      await Promise.all([...opened.values()].map((socket) => socket.close()));
      throw error;
    }

    this.#summarizer.setSourceTags(config.sourceTags);
    // The native engine stamps every answer in the kernel; Deno's can only read the clock.
    this.#summarizer.timestampSource =
      [...sockets.values()].every((socket) => socket.socket.engine === "native")
        ? "kernel"
        : "userspace";
    this.#summarizer.sendTimestampSource =
      [...sockets.values()].every((socket) => socket.socket.transmitTimestamps === true)
        ? "kernel"
        : "userspace";
    const now = clock.monotonic();
    const flowIds = this.#flowIndex();
    const tests = plans.map(({ test, keys }): ScheduledTest => {
      const testSockets = keys.map((key) => sockets.get(key)!);
      const targets = config.targets[test.targets];
      const flows = new Uint32Array(targets.length * keys.length);
      targets.forEach((target, index) => {
        keys.forEach((key, socketIndex) => {
          const socket = testSockets[socketIndex];
          const bound = socket.localAddress.hostname;
          const wildcard = bound === "0.0.0.0" || bound === "::";
          const srcIp = wildcard ? sources.get(target.ip) ?? bound : bound;
          flows[index * keys.length + socketIndex] = this.#flow(
            flowIds,
            key,
            socket,
            srcIp,
            target.ip,
            target.port,
            target.tags,
          );
        });
      });
      const perCycle = testSockets.length * targets.length;
      return {
        sockets: testSockets,
        addresses: targets.map((target) => new PeerAddress(target.ip, target.port)),
        ...compactFlows(flows),
        perCycle,
        spacingMs: 1000 / (config.rateLimits[test.rateLimit].cps * perCycle),
        origin: now,
        next: 0,
      };
    });
    this.#summarizer.doneAddingFlows();
    this.#sequences = trimmed(this.#sequences, this.#summarizer.flowCount);
    this.#flowSlot = trimmed(this.#flowSlot, this.#summarizer.flowCount);

    for (const [key, socket] of this.#sockets) {
      if (!sockets.has(key)) this.#retire(socket);
    }
    this.#sockets.clear();
    for (const [key, socket] of sockets) this.#sockets.set(key, socket);
    this.#socketList = [...this.#sockets.values()];
    this.#tests = tests;
    this.#log.info("Probing {targets} targets from {sockets} sockets ({rate} probes/s)", {
      targets: destinations.size,
      sockets: this.#sockets.size,
      rate: Math.round(tests.reduce((sum, test) => sum + 1000 / test.spacingMs, 0)),
    });
    for (const socket of opened.values()) {
      this.#log.debug("Opened probe socket udp://{address} (tos {tos}, timeout {timeout} ms)", {
        address: formatAddress(socket.localAddress),
        tos: socket.settings.tos,
        timeout: socket.settings.timeoutMs,
      });
    }
    this.#wake?.();
  }

  /** Starts sending. */
  start(): void {
    this.#loop ??= this.#run();
  }

  /** Declares lost every probe past its timeout, on every socket. */
  expire(): void {
    // Answers first: one that came back in time is matched before its probe can expire. (When
    // the prober is not busy, the sockets read their answers as they come.)
    // Indexed loops, and the retired set only when it has any: this runs on every turn, and an
    // iterator a loop was a tenth of the prober's garbage.
    const sockets = this.#socketList;
    const retired = this.#retired.size > 0;
    if (this.#busy) {
      for (let index = 0; index < sockets.length; index++) sockets[index].drain();
      if (retired) { for (const socket of this.#retired) socket.drain(); }
    }
    const now = this.#dependencies.clock.monotonic();
    for (let index = 0; index < sockets.length; index++) sockets[index].expire(now);
    if (retired) { for (const socket of this.#retired) socket.expire(now); }
  }

  /** Health counters; `maxLagMs` restarts from 0 after each call. */
  health(): ProberHealth {
    const totals = { ...this.#retiredCounters };
    let inFlight = 0;
    for (const socket of [...this.#sockets.values(), ...this.#retired]) {
      for (const [name, value] of Object.entries(socket.counters)) {
        totals[name as keyof ProbeSocketCounters] += value;
      }
      inFlight += socket.table.inFlight;
    }
    const maxLagMs = this.#maxLagMs;
    this.#maxLagMs = 0;
    return {
      sent: totals.sent,
      answered: totals.answered,
      late: totals.late,
      duplicates: totals.duplicates,
      unmatched: totals.unmatched,
      socketErrors: totals.errors,
      unsent: totals.unsent,
      kernelSendTimes: totals.kernelSendTimes,
      sendTimeMismatches: totals.sendTimeMismatches,
      skipped: this.#skipped,
      inFlight,
      sockets: this.#sockets.size + this.#retired.size,
      maxLagMs,
    };
  }

  /** Stops sending and closes every socket. */
  async close(): Promise<void> {
    this.#closed = true;
    this.#wake?.();
    await this.#loop;
    this.#setBusy(false);
    await Promise.all(
      [...this.#sockets.values(), ...this.#retired].map((socket) => socket.close()),
    );
  }

  /** Every flow's id by its socket's slot, source and destination address and port. */
  #flowIndex(): Map<string, number> {
    const index = new Map<string, number>();
    for (let id = 0; id < this.#summarizer.flowCount; id++) {
      index.set(`${this.#flowSlot[id]} ${this.#summarizer.flowAddresses(id)}`, id);
    }
    return index;
  }

  #flow(
    flowIds: Map<string, number>,
    key: string,
    socket: ProbeSocket,
    srcIp: string,
    dstIp: string,
    dstPort: number,
    tags: Record<string, string>,
  ): number {
    let slot = this.#socketSlots.get(key);
    if (slot === undefined) {
      slot = this.#socketSlots.size;
      this.#socketSlots.set(key, slot);
    }
    const flowKey = `${slot} ${srcIp} ${dstIp} ${dstPort}`;
    let id = flowIds.get(flowKey);
    if (id === undefined) {
      id = this.#summarizer.addFlow({
        srcIp,
        srcPort: socket.localAddress.port,
        dstIp,
        dstPort,
        tags,
        tos: socket.settings.tos,
      });
      this.#sequences = grown(this.#sequences, id + 1, (length) => new Uint32Array(length));
      this.#flowSlot = grown(this.#flowSlot, id + 1, (length) => new Uint32Array(length));
      this.#flowSlot[id] = slot;
      flowIds.set(flowKey, id);
    } else {
      this.#summarizer.setFlowTags(id, tags);
    }
    return id;
  }

  #setBusy(busy: boolean): void {
    if (busy === this.#busy) return;
    this.#busy = busy;
    if (!busy) {
      this.#idle?.resolve();
      this.#idle = undefined;
    }
  }

  #retire(socket: ProbeSocket): void {
    socket.retiring = true;
    this.#retired.add(socket);
    // Its probes still in flight are answered or expire within the timeout; then it can go.
    setTimeout(async () => {
      socket.expire(this.#dependencies.clock.monotonic() + socket.settings.timeoutMs);
      const retired = this.#retiredCounters;
      for (const [name, value] of Object.entries(socket.counters)) {
        retired[name as keyof ProbeSocketCounters] += value;
      }
      this.#retired.delete(socket);
      await socket.close();
    }, socket.settings.timeoutMs + 100);
  }

  async #run(): Promise<void> {
    const { clock } = this.#dependencies;
    const summarizer = this.#summarizer;
    let behind = false;
    let lastTurn = clock.monotonic();
    while (!this.#closed) {
      const now = clock.monotonic();
      const sinceLastTurn = now - lastTurn;
      lastTurn = now;
      const interval = summarizer.intervalOf(clock.origin + now);
      let nextDue = Infinity;
      for (const test of this.#tests) {
        if (test.perCycle === 0) continue;
        let due = test.origin + test.next * test.spacingMs;
        if (now - due > SKIP_AFTER_MS) {
          const skip = Math.floor((now - due) / test.spacingMs);
          test.next += skip;
          this.#skipped += skip;
          due = test.origin + test.next * test.spacingMs;
        }
        const sockets = test.sockets.length;
        const allowanceMs = behind
          ? Math.min(4 * CATCH_UP_MS, Math.max(CATCH_UP_MS, 2 * sinceLastTurn))
          : CATCH_UP_MS;
        let burst = Math.max(64, Math.ceil(allowanceMs / test.spacingMs));
        while (due <= now && burst-- > 0) {
          const within = test.next % test.perCycle;
          const target = Math.floor(within / sockets);
          const socketIndex = within % sockets;
          const flow = test.flows === undefined ? test.firstFlow + within : test.flows[within];
          const backpressure = test.sockets[socketIndex].stage(
            flow,
            interval,
            this.#sequences[flow]++,
            test.addresses[target],
            now,
          );
          if (backpressure !== undefined) await backpressure;
          if (now - due > this.#maxLagMs) this.#maxLagMs = now - due;
          test.next++;
          due = test.origin + test.next * test.spacingMs;
        }
        for (const socket of test.sockets) socket.flush();
        if (due < nextDue) nextDue = due;
      }
      this.expire();
      const delay = nextDue === Infinity ? 1000 : nextDue - clock.monotonic();
      this.#setBusy(delay <= BUSY_WITHIN_MS);
      // Still behind (a burst was cut short): let replies and timers run, then go on at once.
      behind = delay <= 0;
      if (behind) await new Promise((resolve) => setTimeout(resolve, 0));
      else {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(() => {
            this.#wake = undefined;
            resolve();
          }, delay);
          this.#wake = () => {
            clearTimeout(timer);
            this.#wake = undefined;
            resolve();
          };
        });
      }
    }
  }
}

/** A test's flow ids as `firstFlow` when they are consecutive (4 bytes a flow fewer), else as they are. */
function compactFlows(flows: Uint32Array): Pick<ScheduledTest, "firstFlow" | "flows"> {
  for (let index = 1; index < flows.length; index++) {
    if (flows[index] !== flows[0] + index) return { firstFlow: -1, flows };
  }
  return { firstFlow: flows.length === 0 ? -1 : flows[0], flows: undefined };
}
