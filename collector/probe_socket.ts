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
import { TraceSlot } from "./_trace_slot.ts";
import {
  type ProbeSocketCounters,
  type ProbeSocketSettings,
  zeroSocketCounters,
} from "./_probe_socket_types.ts";

export {
  type ProbeSocketCounters,
  type ProbeSocketSettings,
  type ProbeSocketTracing,
  type ReceivePace,
  zeroSocketCounters,
} from "./_probe_socket_types.ts";

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
  /** Trace probes' slot, made at the first. */
  #trace: TraceSlot | undefined;
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
    const batch = trace.stage(target, ttl, id, nonce, this.socket.now());
    try {
      return this.socket.sendNow(batch, 1) === 1 ? batch.sentAt[0] : NaN;
    } catch (error) {
      this.#sendFailed(error);
      return NaN;
    }
  }

  #traceSlot(): TraceSlot {
    return new TraceSlot(this.settings, this.#wall, this.#auth);
  }

  /** An ICMP error from the error queue: one about a trace probe goes to the tracer. */
  #icmpError(report: IcmpErrorReport): void {
    const trace = this.#trace ??= this.#traceSlot();
    if (!trace.readQuote(report)) {
      this.counters.icmpErrors++;
      return;
    }
    this.settings.tracing?.receiver?.icmpError(
      trace.quotedId,
      trace.quotedNonce,
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
