import { getLogger, type Logger } from "@logtape/logtape";
/**
 * A probing socket: stages probes into batches, sends them, and matches the answers it receives
 * against the probes it has in flight.
 *
 * @module
 */
import {
  DatagramBatch,
  type DatagramSocket,
  type IcmpErrorReport,
  type PeerAddress,
  ProbeAuthCheck,
  type ProbeAuthenticator,
  ProbeReader,
  ProbeWriter,
  reflectionDwellNs,
  ReflectionFlag,
  reflectionFlags,
  reflectionTos,
  SIGNATURE_BYTES,
  type SocketAddress,
  SocketError,
  type WallNanos,
} from "@llama/core";
import { ID_MASK, InFlightTable } from "./in_flight.ts";
import type { IntervalBook } from "./interval_book.ts";
import { ProbeBatches } from "./_probe_batches.ts";
import { TransmitKeys } from "./_transmit_keys.ts";
import type { TraceReceiver } from "./tracer.ts";
import type { ReverseHops } from "./reverse_hops.ts";

/** How one socket's probes look and behave. */
export interface ProbeSocketSettings {
  /** TOS byte written into its probes. */
  tos: number;
  /** Milliseconds after which a probe is lost. */
  timeoutMs: number;
  /** Identifies this collector's probes in signatures (bytes 8–9). */
  instanceTag: number;
  /** Tells when the prober drains the socket on its turns (see `drain`). */
  pace?: ReceivePace;
  /** Where trace probes' answers go and replies' TTLs are counted; absent: no tracing. */
  tracing?: ProbeSocketTracing;
  /** Signs probes and checks replies (authenticated probes); absent: unsigned, like the original. */
  auth?: ProbeAuthenticator;
}

/** What a probe socket hands on for tracing. */
export interface ProbeSocketTracing {
  /** Takes the answers to trace probes (replies and ICMP errors). */
  receiver: TraceReceiver | undefined;
  /** Counts each reply's TTL, by flow. */
  hops: ReverseHops;
}

/** Whether the prober is turning often enough to read every socket on its turns. */
export interface ReceivePace {
  /** True while the prober's turns come every few milliseconds and drain the sockets. */
  busy(): boolean;
  /** Resolves when the prober stops being busy (or stops). */
  whenIdle(): Promise<void>;
}

/** Counters of one socket, cumulative. */
export interface ProbeSocketCounters {
  /** Probes handed to the socket. */
  sent: number;
  /** Replies matched to a probe in flight. */
  answered: number;
  /** Replies after their timeout. */
  late: number;
  /** Replies received a second time. */
  duplicates: number;
  /** Datagrams that matched no probe (not a probe, or another sender's). */
  unmatched: number;
  /** Failed sends and receives. */
  errors: number;
  /**
   * Probes a send left out without failing (the send buffer stayed full through the socket's
   * retries): they stay in flight and end up lost.
   */
  unsent: number;
  /** Probes whose send time is the kernel's transmit timestamp. */
  kernelSendTimes: number;
  /** Kernel transmit times refused as implausible for the probe their key pointed to. */
  sendTimeMismatches: number;
  /** ICMP errors about this socket's regular probes (a target's port unreachable, say). */
  icmpErrors: number;
  /** Authenticated probes: replies whose tag names no key of ours or does not verify. */
  forged: number;
  /**
   * Authenticated probes: replies without a tag, or without a filled reflection block (an echo
   * by a reflector without keys, such as the original).
   */
  unsigned: number;
  /** Authenticated probes: replies that verify but whose probe was already answered, or unknown. */
  replayed: number;
}

/** Counters of a socket that has done nothing yet. */
export function zeroSocketCounters(): ProbeSocketCounters {
  return {
    sent: 0,
    answered: 0,
    late: 0,
    duplicates: 0,
    unmatched: 0,
    errors: 0,
    unsent: 0,
    kernelSendTimes: 0,
    sendTimeMismatches: 0,
    icmpErrors: 0,
    forged: 0,
    unsigned: 0,
    replayed: 0,
  };
}

/** What a flush returns once its datagrams are sent. */
const SENT: Promise<void> = Promise.resolve();

/**
 * One probing socket: stages probes into batch slots that hold copies of the probe template,
 * sends them, and matches the replies it receives against its in-flight table.
 */
export class ProbeSocket {
  readonly socket: DatagramSocket;
  readonly settings: ProbeSocketSettings;
  readonly table: InFlightTable = new InFlightTable();
  readonly counters: ProbeSocketCounters = zeroSocketCounters();
  /** Set once the socket is no longer scheduled; it closes after its timeout. */
  retiring = false;
  #batches: ProbeBatches;
  #auth: ProbeAuthenticator | undefined;
  readonly #transmitKeys: TransmitKeys;
  readonly #book: IntervalBook;
  readonly #reader = new ProbeReader();
  readonly #wall: WallNanos;
  /** One slot for trace probes, made at the first. */
  #trace: { batch: DatagramBatch; writer: ProbeWriter } | undefined;
  /** Reads the ICMP errors of the error queue, when tracing. */
  readonly #onIcmpError: ((report: IcmpErrorReport) => void) | undefined;
  /** Lines about this socket carry its address. */
  readonly #log: Logger;
  readonly receiving: Promise<void>;
  #closed = false;
  readonly #closing = Promise.withResolvers<void>();

  constructor(
    socket: DatagramSocket,
    settings: ProbeSocketSettings,
    book: IntervalBook,
    wall: WallNanos,
  ) {
    this.socket = socket;
    this.#log = getLogger(["llama", "collector"]).with({
      address: `${socket.localAddress.hostname}:${socket.localAddress.port}`,
    });
    this.settings = settings;
    this.#book = book;
    this.#auth = settings.auth;
    this.#batches = new ProbeBatches(settings.tos, wall, settings.auth);
    this.#wall = wall;
    this.#transmitKeys = new TransmitKeys(this.table, this.counters);
    if (settings.tracing !== undefined && socket.readErrorQueue !== undefined) {
      this.#onIcmpError = (report) => this.#icmpError(report);
    }
    this.receiving = this.#receive();
  }

  /**
   * Signs with `auth` from now on (undefined: no more signing): the probes staged so far leave
   * first, signed as they were. Replies are checked with the new keys from now on too.
   */
  authenticate(auth: ProbeAuthenticator | undefined): void {
    if (auth === this.#auth) return;
    this.flush();
    this.#auth = auth;
    // Batches the old one is still sending stay its own until their promises settle.
    this.#batches = new ProbeBatches(this.settings.tos, this.#wall, auth);
    this.#trace = undefined;
  }

  /** The bound address. */
  get localAddress(): SocketAddress {
    return this.socket.localAddress;
  }

  /**
   * Stages one probe to `target` on `flow`; it leaves with the next `flush()`. Returns nothing,
   * or, when the socket is still sending the batch it would reuse, a promise that settles once the
   * probe is staged: backpressure.
   */
  stage(
    flow: number,
    interval: number,
    sequence: number,
    target: SocketAddress,
    now: number,
  ): Promise<void> | undefined {
    const batches = this.#batches;
    if (batches.full) this.flush();
    const busy = batches.busy();
    if (busy !== undefined) {
      return busy.then(() => {
        this.stage(flow, interval, sequence, target, now);
      });
    }
    const nonce = batches.nonce();
    const id = this.table.insert(flow, interval, sequence, nonce, now);
    batches.stage(id, this.settings.instanceTag, sequence, target, now);
    this.#book.sent(flow, interval);
    this.counters.sent++;
    return undefined;
  }

  /** Sends the staged probes, and records when each one left. */
  flush(): Promise<void> {
    const batches = this.#batches;
    const count = batches.staged;
    if (count === 0) return Promise.resolve();
    const index = batches.take();
    const batch = batches.batch(index);
    // The native engine sends at once: no promise a flush (four sockets flush every turn of the
    // prober, ~1,000 turns a second at 20k probes/s).
    let sending: Promise<number> | undefined;
    if (this.socket.sendNow === undefined) sending = this.socket.send(batch, count);
    else {
      try {
        const sent = this.socket.sendNow(batch, count);
        if (sent < count) this.counters.unsent += count - sent;
      } catch (error) {
        this.#sendFailed(error);
      }
    }
    // The socket stamped each slot's send time before returning: give them to the table now,
    // before any reply can be handled.
    const ids = batches.ids(index);
    for (let slot = 0; slot < count; slot++) {
      this.table.setSentAt(ids[slot], batch.sentAt[slot]);
      const key = batch.transmitKeys[slot];
      // The kernel's own transmit time replaces it once it is read (readTransmitTimes).
      if (key >= 0) this.#transmitKeys.expect(key, ids[slot]);
    }
    if (sending === undefined) return SENT;
    const done = sending.then(
      (sent) => {
        if (sent < count) this.counters.unsent += count - sent;
      },
      (error) => this.#sendFailed(error),
    );
    batches.sending(index, done);
    return done;
  }

  #sendFailed(error: unknown): void {
    if (this.#closed) return;
    this.counters.errors++;
    if (this.counters.errors <= 10 || this.counters.errors % 1000 === 0) {
      this.#log.warn("Send from {address} failed ({count} so far): {error}", {
        count: this.counters.errors,
        error,
      });
    }
  }

  /** Declares lost every probe older than the timeout. */
  expire(now: number): void {
    // Transmit times wait in the socket's error queue, which counts against its receive buffer:
    // read them here too, for targets that never answer.
    this.readTransmitTimes();
    this.table.expire(now - this.settings.timeoutMs, this.#book);
  }

  /** Takes the kernel's transmit times queued so far as the send times of their probes. */
  readTransmitTimes(): void {
    if (!this.#closed) this.#transmitKeys.read(this.socket, this.#onIcmpError);
  }

  /**
   * Sends one trace probe to `target` with IP TTL (hop limit) `ttl`, its signature carrying `id`
   * (at or above 2^30: never a regular probe's) and `nonce`. Returns its send time, or NaN when it
   * was not sent (a socket that cannot set a TTL, or a failed send).
   */
  sendTrace(target: PeerAddress, ttl: number, id: number, nonce: number): number {
    if (this.#closed || this.socket.sendNow === undefined) return NaN;
    const trace = this.#trace ??= this.#traceSlot();
    const { batch, writer } = trace;
    const view = batch.view;
    const signature = writer.signatureOffset;
    view.setUint32(signature, id, true);
    view.setUint32(signature + 4, nonce, true);
    view.setUint16(signature + 8, this.settings.instanceTag, true);
    const now = this.socket.now();
    this.#wall.convert(now);
    writer.stamp(batch.slots[0], view, this.#wall.high, this.#wall.low, 0);
    const length = writer.bytes.length;
    batch.lengths[0] = length;
    this.#auth?.sign(batch.slots[0], length, writer.authOffset, length);
    batch.addresses[0] = target;
    batch.ttl[0] = ttl;
    try {
      return this.socket.sendNow(batch, 1) === 1 ? batch.sentAt[0] : NaN;
    } catch (error) {
      this.#sendFailed(error);
      return NaN;
    }
  }

  #traceSlot(): { batch: DatagramBatch; writer: ProbeWriter } {
    const auth = this.#auth;
    const writer = new ProbeWriter({ tos: this.settings.tos, authLength: auth?.authLength ?? 0 });
    auth?.writeKeyId(writer.bytes, writer.authOffset);
    const batch = new DatagramBatch(1, writer.bytes.length);
    batch.slots[0].set(writer.bytes);
    return { batch, writer };
  }

  /**
   * An ICMP error from the error queue: one about a trace probe goes to the tracer. A router
   * quotes only the start of a probe (576 bytes of the whole packet at most for ICMP, often
   * less), never all of its padding: the signature is read where this socket's probes carry it.
   */
  #icmpError(report: IcmpErrorReport): void {
    const { writer } = this.#trace ??= this.#traceSlot();
    const signature = writer.signatureOffset;
    const bytes = report.payload;
    if (report.payloadLength < signature + SIGNATURE_BYTES) {
      this.counters.icmpErrors++;
      return;
    }
    for (let index = 0; index < signature; index++) {
      if (bytes[index] !== writer.bytes[index]) {
        this.counters.icmpErrors++;
        return;
      }
    }
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const id = view.getUint32(signature, true);
    if (view.getUint16(signature + 8, true) !== this.settings.instanceTag || id <= ID_MASK) {
      this.counters.icmpErrors++;
      return;
    }
    this.settings.tracing?.receiver?.icmpError(
      id,
      view.getUint32(signature + 4, true),
      report.timeExceeded ? "time-exceeded" : "unreachable",
      report.offender,
      report.receivedAt,
    );
  }

  /** Stops receiving and closes the socket. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#closing.resolve();
    await this.#batches.sent();
    this.socket.close();
    await this.receiving;
  }

  /**
   * Reads and handles every answer queued now, without waiting (native engine; nothing
   * otherwise). The prober calls it on each of its turns while it is busy, so that at high rates
   * answers are read in batches on its turns instead of one promise each. `batch` is scratch
   * space: every socket's answers are read and handled before `drain` returns, so one batch
   * serves every socket.
   */
  drain(batch: DatagramBatch): void {
    if (this.#closed || this.socket.receiveQueued === undefined) return;
    for (;;) {
      let count: number;
      try {
        count = this.socket.receiveQueued(batch);
      } catch (error) {
        this.#receiveFailed(error);
        return;
      }
      if (count === 0) return;
      this.#handle(batch, count);
      if (count < batch.capacity) return;
    }
  }

  async #receive(): Promise<void> {
    // The native engine takes up to 64 answers per call; Deno's takes one, of any size.
    const batch = this.socket.engine === "native"
      ? new DatagramBatch(64, 2048)
      : new DatagramBatch(1, 65536);
    const pace = this.settings.pace;
    for (;;) {
      // While the prober turns every few milliseconds, it drains the socket on each turn: wait
      // for it to go quiet rather than keep a read (and a promise an answer) going.
      if (pace !== undefined && this.socket.receiveQueued !== undefined && pace.busy()) {
        // Closing wakes it too: a busy prober may never go quiet (a reload retires this socket).
        await Promise.race([pace.whenIdle(), this.#closing.promise]);
        if (this.#closed) return;
      }
      let count: number;
      try {
        count = await this.socket.receive(batch);
      } catch (error) {
        if (this.#closed || (error instanceof SocketError && error.operation === "closed")) return;
        this.#receiveFailed(error);
        await new Promise((resolve) => setTimeout(resolve, 10));
        continue;
      }
      this.#handle(batch, count);
    }
  }

  #receiveFailed(error: unknown): void {
    this.counters.errors++;
    this.#log.warn("Receive on {address} failed: {error}", { error });
  }

  /** Matches the `count` answers in `batch` against the probes in flight. */
  #handle(batch: DatagramBatch, count: number): void {
    const reader = this.#reader;
    // The kernel queued each probe's transmit time before its reply could arrive: take them
    // first, so every RTT below runs from the kernel's send time to its receive time.
    this.readTransmitTimes();
    for (let index = 0; index < count; index++) {
      const bytes = batch.slots[index];
      if (
        !reader.read(bytes, batch.lengths[index]) ||
        reader.signatureEnd - reader.signatureStart !== SIGNATURE_BYTES
      ) {
        this.counters.unmatched++;
        continue;
      }
      const view = batch.view;
      const signature = bytes.byteOffset + reader.signatureStart;
      if (view.getUint16(signature + 8, true) !== this.settings.instanceTag) {
        this.counters.unmatched++;
        continue;
      }
      let dwellMs = -1;
      let tosAtReflector = -1;
      let filled = false;
      if (reader.reflectionOffset >= 0) {
        const reflection = bytes.byteOffset + reader.reflectionOffset;
        if (reflectionFlags(view, reflection) & ReflectionFlag.filled) {
          filled = true;
          tosAtReflector = reflectionTos(view, reflection);
          dwellMs = reflectionDwellNs(view, reflection) / 1e6;
          // A negative or absurd dwell means a broken reflector clock: trust the RTT as it is.
          if (!(dwellMs >= 0 && dwellMs < this.settings.timeoutMs)) dwellMs = -1;
        }
      }
      const id = view.getUint32(signature, true);
      if (this.#auth !== undefined) {
        if (!this.#authentic(bytes, batch.lengths[index], filled)) continue;
        // A verified copy of a reply already counted (or of one whose probe is gone) is a
        // replay: it reaches no statistics, not even a path's duplicates.
        if (id <= ID_MASK) {
          const found = this.table.peek(id, view.getUint32(signature + 4, true));
          if (found === "duplicate" || found === "unknown") {
            this.counters.replayed++;
            continue;
          }
        }
      }
      if (id > ID_MASK) {
        // A trace probe's: the tracer's, never the flow's statistics.
        this.settings.tracing?.receiver?.reply(
          id,
          view.getUint32(signature + 4, true),
          batch.receivedAt[index],
        );
        continue;
      }
      const result = this.table.match(
        id,
        view.getUint32(signature + 4, true),
        batch.receivedAt[index],
        dwellMs,
        this.#book,
      );
      if (result === "answered") {
        this.counters.answered++;
        const ttl = batch.ttl[index];
        if (ttl > 0) this.settings.tracing?.hops.observe(this.table.lastFlow, ttl);
        if (tosAtReflector >= 0 || batch.tos[index] >= 0) {
          this.#book.observeTos(
            this.table.lastFlow,
            this.table.lastInterval,
            tosAtReflector,
            batch.tos[index],
          );
        }
      } else if (result === "late") this.counters.late++;
      else if (result === "duplicate") this.counters.duplicates++;
      else this.counters.unmatched++;
    }
  }

  /**
   * Whether a reply read by `#reader` is signed with one of our keys and is an answer (its
   * reflection block filled by a reflector: an echo of our own signed probe is not); counts it
   * as forged or unsigned when not.
   */
  #authentic(bytes: Uint8Array, length: number, filled: boolean): boolean {
    const reader = this.#reader;
    const check = this.#auth!.check(bytes, length, reader.authStart, reader.authEnd);
    if (check === ProbeAuthCheck.unsigned || (check >= 0 && !filled)) {
      this.counters.unsigned++;
      return false;
    }
    if (check < 0) {
      this.counters.forged++;
      return false;
    }
    return true;
  }
}
