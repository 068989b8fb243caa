/**
 * The prober's sockets: those the config uses, by key, and those a reload retired that wait for
 * their probes in flight before they close.
 *
 * @module
 */
import { getLogger } from "@logtape/logtape";
import { DatagramBatch, type OpenSocket, WallNanos } from "@llama/core";
import type { Clock } from "@llama/core";
import {
  ProbeSocket,
  type ProbeSocketCounters,
  type ProbeSocketTracing,
  type ReceivePace,
  zeroSocketCounters,
} from "./probe_socket.ts";
import type { IntervalBook } from "./interval_book.ts";
import { StampSocket } from "./stamp_socket.ts";
import type { Keyring } from "@llama/core";
import type { StampMode } from "./_stamp_config.ts";

/** A socket of the prober: LLAMA probes or STAMP test packets. */
export type ProberSocket = ProbeSocket | StampSocket;

/** A socket a config asks for. */
export interface SocketSpec {
  /** Address to bind. */
  ip: string;
  /** Port to bind (0: any). */
  port: number;
  /** TOS byte of its probes. */
  tos: number;
  /** How long its probes wait for an answer. */
  timeoutMs: number;
  /** Present: it sends STAMP test packets to reflectors of this mode, signed with `keyring`. */
  stamp?: { mode: StampMode; keyring: Keyring | undefined };
}

/**
 * Opens, keeps and retires probe sockets. A socket a reload no longer uses is retired: its probes
 * still in flight are answered or expire within its timeout, then it closes, and its counters
 * are kept in the totals.
 */
export class ProbeSockets {
  readonly #sockets = new Map<string, ProberSocket>();
  /** The values of `#sockets`, for the loops of every turn. */
  #list: ProberSocket[] = [];
  readonly #retired = new Set<ProberSocket>();
  readonly #retiredCounters: ProbeSocketCounters = zeroSocketCounters();
  readonly #book: IntervalBook;
  readonly #clock: Clock;
  readonly #wall: WallNanos;
  readonly #pace: ReceivePace;
  readonly #tracing: ProbeSocketTracing | undefined;
  readonly #instanceTag = crypto.getRandomValues(new Uint16Array(1))[0];
  readonly #log = getLogger(["llama", "collector"]);
  #warnedTos = false;
  /**
   * The batch every socket's `drain` reads into: a drain reads and handles its answers in one
   * synchronous call, so one batch serves them all (128 KiB, where one a socket took 128 KiB each).
   */
  #drainBatch: DatagramBatch | undefined;

  /**
   * Sockets that count their probes' outcomes in `book`, reading answers at `pace`; with
   * `tracing`, they read each reply's TTL and the ICMP errors trace probes bring back.
   */
  constructor(
    book: IntervalBook,
    clock: Clock,
    pace: ReceivePace,
    tracing?: ProbeSocketTracing,
  ) {
    this.#tracing = tracing;
    this.#book = book;
    this.#clock = clock;
    this.#wall = new WallNanos(clock);
    this.#pace = pace;
  }

  /** The sockets in use, for the loops of every turn (the same array until `use` changes it). */
  get list(): readonly ProberSocket[] {
    return this.#list;
  }

  /** How many sockets are open, retired ones included. */
  get size(): number {
    return this.#sockets.size + this.#retired.size;
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
   * Opens a socket for every key of `wanted` not open yet, with `openSocket`; returns the new
   * ones by key. On failure it closes what it opened and throws.
   */
  async openMissing(
    wanted: ReadonlyMap<string, SocketSpec>,
    openSocket: OpenSocket,
  ): Promise<Map<string, ProberSocket>> {
    const opened = new Map<string, ProberSocket>();
    try {
      for (const [key, spec] of wanted) {
        if (this.#sockets.has(key)) continue;
        const socket = await openSocket({
          hostname: spec.ip,
          port: spec.port,
          tos: spec.tos,
          transmitTimestamps: true,
          receiveTtl: this.#tracing !== undefined,
          receiveIcmpErrors: this.#tracing?.receiver !== undefined,
        });
        if (socket.engine !== "native" && spec.tos !== 0 && !this.#warnedTos) {
          this.#warnedTos = true;
          this.#log.warn(
            "Probes carry tos {tos} in their tos field, but the Deno engine cannot mark the IP header; " +
              "use the native engine (--engine native, needs --allow-ffi) to mark it",
            { tos: spec.tos },
          );
        }
        const settings = {
          tos: spec.tos,
          timeoutMs: spec.timeoutMs,
          instanceTag: this.#instanceTag,
          pace: this.#pace,
          tracing: this.#tracing,
        };
        if (spec.stamp === undefined) {
          opened.set(key, new ProbeSocket(socket, settings, this.#book, this.#wall));
        } else {
          // One STAMP session per socket and target: a random SSID (never 0, TWAMP-Light's).
          const ssid = 1 + crypto.getRandomValues(new Uint16Array(1))[0] % 0xffff;
          opened.set(
            key,
            new StampSocket(
              socket,
              { ...settings, tracing: undefined, ...spec.stamp, ssid },
              this.#book,
              this.#clock.origin,
            ),
          );
        }
      }
    } catch (error) {
      await ProbeSockets.discard(opened);
      throw error;
    }
    return opened;
  }

  /** The sockets in use whose keys `wanted` has, in their order. */
  kept(wanted: ReadonlyMap<string, unknown>): Map<string, ProberSocket> {
    return new Map([...this.#sockets].filter(([key]) => wanted.has(key)));
  }

  /** Closes sockets `openMissing` opened that will not be used. */
  static async discard(opened: ReadonlyMap<string, ProberSocket>): Promise<void> {
    await Promise.all([...opened.values()].map((socket) => socket.close()));
  }

  /** Uses `sockets` from now on; retires those in use that it does not hold. */
  use(sockets: ReadonlyMap<string, ProberSocket>): void {
    for (const [key, socket] of this.#sockets) {
      if (!sockets.has(key)) this.#retire(socket);
    }
    this.#sockets.clear();
    for (const [key, socket] of sockets) this.#sockets.set(key, socket);
    this.#list = [...this.#sockets.values()];
  }

  /** Reads every socket's answers waiting in the kernel, retired ones too. */
  drain(): void {
    // Indexed loops, and the retired set only when it has any: this runs on every turn, and an
    // iterator a loop was a tenth of the prober's garbage.
    const sockets = this.#list;
    const batch = this.#drainBatch ??= new DatagramBatch(64, 2048);
    for (let index = 0; index < sockets.length; index++) sockets[index].drain(batch);
    if (this.#retired.size > 0) { for (const socket of this.#retired) socket.drain(batch); }
  }

  /** Declares lost every probe past its timeout at monotonic time `now`, on every socket. */
  expire(now: number): void {
    const sockets = this.#list;
    for (let index = 0; index < sockets.length; index++) sockets[index].expire(now);
    if (this.#retired.size > 0) { for (const socket of this.#retired) socket.expire(now); }
  }

  /** Every socket's counters, summed (closed ones included), and the probes in flight now. */
  totals(): { counters: ProbeSocketCounters; inFlight: number } {
    const counters = { ...this.#retiredCounters };
    let inFlight = 0;
    for (const socket of [...this.#sockets.values(), ...this.#retired]) {
      addCounters(counters, socket.counters);
      inFlight += socket.table.inFlight;
    }
    return { counters, inFlight };
  }

  /** Closes every socket, retired ones too. */
  async close(): Promise<void> {
    await Promise.all(
      [...this.#sockets.values(), ...this.#retired].map((socket) => socket.close()),
    );
  }

  #retire(socket: ProberSocket): void {
    socket.retiring = true;
    this.#retired.add(socket);
    // Its probes still in flight are answered or expire within the timeout; then it can go.
    setTimeout(async () => {
      socket.expire(this.#clock.monotonic() + socket.settings.timeoutMs);
      addCounters(this.#retiredCounters, socket.counters);
      this.#retired.delete(socket);
      await socket.close();
    }, socket.settings.timeoutMs + 100);
  }
}

function addCounters(into: ProbeSocketCounters, counters: ProbeSocketCounters): void {
  for (const [name, value] of Object.entries(counters)) {
    into[name as keyof ProbeSocketCounters] += value;
  }
}
