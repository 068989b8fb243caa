/**
 * The prober: sends every test's probes on schedule from the config's sockets, and registers the
 * flows they make.
 *
 * @module
 */
import { getLogger } from "@logtape/logtape";
import { type Clock, formatAddress, type OpenSocket, PeerAddress } from "@llama/core";
import type { ResolvedConfig, ResolvedTarget } from "./resolve.ts";
import { stampGroupKey, stampSettings, targetPort } from "./_stamp_config.ts";
import type { SourceAddressLookup } from "./source_address.ts";
import { ProbeSocket, type ReceivePace } from "./probe_socket.ts";
import type { FlowRegistry } from "./flow_registry.ts";
import type { IntervalBook } from "./interval_book.ts";
import { FlowSlots } from "./flow_slots.ts";
import { type ProberSocket, ProbeSockets, type SocketSpec } from "./probe_sockets.ts";
import type { TraceableFlow, Tracer } from "./tracer.ts";
import type { ReverseHops } from "./reverse_hops.ts";

/** The tracer the prober hands its flows to, and where replies' TTLs are counted. */
export interface ProberTracing {
  /** Traces the flows of sockets that can; absent: tracing is off. */
  tracer: Tracer | undefined;
  /** Counts each reply's TTL, by flow. */
  hops: ReverseHops;
}

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
  sockets: ProberSocket[];
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
  /** Where the flows probed are registered. */
  readonly #flows: FlowRegistry;
  /** Where the outcomes of probes are counted. */
  readonly #book: IntervalBook;
  readonly #dependencies: ProberDependencies;
  readonly #slots: FlowSlots;
  readonly #sockets: ProbeSockets;
  readonly #pace = new Pace();
  readonly #tracer: Tracer | undefined;
  #tests: ScheduledTest[] = [];
  readonly #log = getLogger(["llama", "collector"]);
  #skipped = 0;
  #maxLagMs = 0;
  #closed = false;
  #wake: (() => void) | undefined;
  #loop: Promise<void> | undefined;

  /**
   * Creates a prober that registers the flows it probes in `pipeline.flows` and counts their
   * outcomes in `pipeline.book` (a `Summarizer` has both); with `tracing`, its flows are traced.
   */
  constructor(
    pipeline: { readonly flows: FlowRegistry; readonly book: IntervalBook },
    dependencies: ProberDependencies,
    tracing?: ProberTracing,
  ) {
    this.#flows = pipeline.flows;
    this.#book = pipeline.book;
    this.#dependencies = dependencies;
    this.#slots = new FlowSlots(pipeline.flows);
    this.#tracer = tracing?.tracer;
    this.#sockets = new ProbeSockets(
      pipeline.book,
      dependencies.clock,
      this.#pace,
      tracing === undefined
        ? undefined
        : { receiver: tracing.tracer?.receiver, hops: tracing.hops },
    );
  }

  /** Whether every socket can trace (the native engine): false before the first `apply`. */
  get traceable(): boolean {
    const list = this.#sockets.list;
    return list.length > 0 && list.every((socket) => socket.socket.traceable === true);
  }

  /** The longest timeout of any socket still open: how long after a boundary an interval settles. */
  get maxTimeoutMs(): number {
    return this.#sockets.maxTimeoutMs;
  }

  /**
   * Switches to `config`: opens the sockets it adds, keeps those it still uses, and retires the
   * rest once their probes have had time to come back. On failure nothing changes.
   */
  async apply(config: ResolvedConfig): Promise<void> {
    const { clock, openSocket } = this.#dependencies;
    const { wanted, plans } = plannedSockets(config);
    const opened = await this.#sockets.openMissing(wanted, openSocket);
    const sockets = this.#sockets.kept(wanted);
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
      await ProbeSockets.discard(opened);
      throw error;
    }

    this.#flows.setSourceTags(config.sourceTags);
    // The native engine stamps every answer in the kernel; Deno's can only read the clock.
    this.#flows.timestamps = {
      receive: [...sockets.values()].every((socket) => socket.socket.engine === "native")
        ? "kernel"
        : "userspace",
      send: [...sockets.values()].every((socket) => socket.socket.transmitTimestamps === true)
        ? "kernel"
        : "userspace",
    };
    const now = clock.monotonic();
    const flowOf = this.#slots.load();
    const traceable: TraceableFlow[] = [];
    const tests = plans.map(({ test, keys, targets, ports }): ScheduledTest => {
      const testSockets = keys.map((key) => sockets.get(key)!);
      const addresses = targets.map((target, index) => new PeerAddress(target.ip, ports[index]));
      const flows = new Uint32Array(targets.length * keys.length);
      targets.forEach((target, index) => {
        keys.forEach((key, socketIndex) => {
          const socket = testSockets[socketIndex];
          const bound = socket.localAddress.hostname;
          const wildcard = bound === "0.0.0.0" || bound === "::";
          const srcIp = wildcard ? sources.get(target.ip) ?? bound : bound;
          const flow = flowOf({
            socketKey: key,
            srcIp,
            srcPort: socket.localAddress.port,
            dstIp: target.ip,
            dstPort: ports[index],
            tags: target.tags,
            tos: socket.settings.tos,
          });
          flows[index * keys.length + socketIndex] = flow;
          // STAMP flows are not traced: that would take TTL-limited STAMP packets matched from
          // the ICMP errors' quotes.
          if (
            this.#tracer !== undefined && socket instanceof ProbeSocket &&
            socket.socket.traceable === true
          ) {
            traceable.push({
              flow,
              socket,
              address: addresses[index],
              source: srcIp,
              srcPort: socket.localAddress.port,
              target: target.ip,
              dstPort: ports[index],
              tos: socket.settings.tos,
            });
          }
        });
      });
      const perCycle = testSockets.length * targets.length;
      return {
        sockets: testSockets,
        addresses,
        ...compactFlows(flows),
        perCycle,
        spacingMs: 1000 / (config.rateLimits[test.rateLimit].cps * perCycle),
        origin: now,
        next: 0,
      };
    });
    this.#slots.doneLoading();
    this.#sockets.use(sockets);
    this.#tests = tests;
    this.#tracer?.setFlows(traceable);
    this.#log.info("Probing {targets} targets from {sockets} sockets ({rate} probes/s)", {
      targets: destinations.size,
      sockets: sockets.size,
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
    if (this.#pace.busy()) this.#sockets.drain();
    this.#sockets.expire(this.#dependencies.clock.monotonic());
  }

  /** Health counters; `maxLagMs` restarts from 0 after each call. */
  health(): ProberHealth {
    const { counters, inFlight } = this.#sockets.totals();
    const maxLagMs = this.#maxLagMs;
    this.#maxLagMs = 0;
    return {
      sent: counters.sent,
      answered: counters.answered,
      late: counters.late,
      duplicates: counters.duplicates,
      unmatched: counters.unmatched,
      socketErrors: counters.errors,
      unsent: counters.unsent,
      kernelSendTimes: counters.kernelSendTimes,
      sendTimeMismatches: counters.sendTimeMismatches,
      skipped: this.#skipped,
      inFlight,
      sockets: this.#sockets.size,
      maxLagMs,
    };
  }

  /** Stops sending and closes every socket. */
  async close(): Promise<void> {
    this.#closed = true;
    this.#wake?.();
    await this.#loop;
    this.#pace.set(false);
    await this.#sockets.close();
  }

  async #run(): Promise<void> {
    const { clock } = this.#dependencies;
    const book = this.#book;
    let behind = false;
    let lastTurn = clock.monotonic();
    while (!this.#closed) {
      const now = clock.monotonic();
      const sinceLastTurn = now - lastTurn;
      lastTurn = now;
      const interval = book.intervalOf(clock.origin + now);
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
            this.#slots.nextSequence(flow),
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
      this.#pace.set(delay <= BUSY_WITHIN_MS);
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

/** A test's targets that share a protocol (and STAMP settings), with the sockets they use. */
interface SocketPlan {
  test: ResolvedConfig["tests"][number];
  /** The keys of its sockets. */
  keys: string[];
  /** Its targets. */
  targets: ResolvedTarget[];
  /** Each target's port (a STAMP target without one: 862). */
  ports: number[];
}

/**
 * The sockets a config asks for, by key, and each test's plans: a test whose targets mix LLAMA
 * and STAMP (or STAMP settings) has one plan, and its own sockets, for each kind.
 */
function plannedSockets(config: ResolvedConfig): {
  wanted: Map<string, SocketSpec>;
  plans: SocketPlan[];
} {
  const wanted = new Map<string, SocketSpec>();
  const plans: SocketPlan[] = [];
  for (const test of config.tests) {
    const groups = new Map<string, SocketPlan & { spec: SocketSpec["stamp"] }>();
    for (const target of config.targets[test.targets]) {
      const stamp = stampSettings(test.stamp, target.stamp);
      const group = stampGroupKey(stamp);
      let plan = groups.get(group);
      if (plan === undefined) {
        const keyring = stamp?.keyFile === undefined
          ? undefined
          : config.stampKeyrings?.get(stamp.keyFile);
        if (stamp?.keyFile !== undefined && keyring === undefined) {
          throw new Error(`the STAMP key file ${stamp.keyFile} was not loaded with the config`);
        }
        plan = {
          test,
          keys: [],
          targets: [],
          ports: [],
          spec: stamp === undefined ? undefined : { mode: stamp.mode, keyring },
        };
        groups.set(group, plan);
      }
      plan.targets.push(target);
      plan.ports.push(targetPort(target, stamp));
    }
    for (const [group, plan] of groups) {
      for (const member of config.portGroups[test.portGroup]) {
        const port = config.ports[member.port];
        for (let index = 0; index < member.count; index++) {
          let key = `${test.targets}|${test.portGroup}|${test.rateLimit}|${member.port}#${index}|` +
            `${port.ip}|${port.port}|${port.tos}|${port.timeoutMs}` +
            (group === "llama" ? "" : `|${group}`);
          while (wanted.has(key)) key += "+";
          wanted.set(key, plan.spec === undefined ? port : { ...port, stamp: plan.spec });
          plan.keys.push(key);
        }
      }
      plans.push({ test, keys: plan.keys, targets: plan.targets, ports: plan.ports });
    }
  }
  return { wanted, plans };
}

/**
 * Whether the prober is turning often enough to read every socket on its turns (see
 * `ReceivePace`), as the prober sets it.
 */
class Pace implements ReceivePace {
  #busy = false;
  #idle: PromiseWithResolvers<void> | undefined;

  busy(): boolean {
    return this.#busy;
  }

  whenIdle(): Promise<void> {
    return (this.#idle ??= Promise.withResolvers<void>()).promise;
  }

  /** Says whether the prober is busy now; waiters are told when it stops being busy. */
  set(busy: boolean): void {
    if (busy === this.#busy) return;
    this.#busy = busy;
    if (!busy) {
      this.#idle?.resolve();
      this.#idle = undefined;
    }
  }
}
