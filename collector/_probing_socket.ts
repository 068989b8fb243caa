/**
 * What every probing socket does the same way, whatever it sends (LLAMA probes or STAMP test
 * packets): flushing its ring of batches, reading its replies (on its own, or drained by the
 * prober's turns), expiring what timed out, and closing.
 *
 * @module
 */
import { getLogger, type Logger } from "@logtape/logtape";
import {
  DatagramBatch,
  type DatagramSocket,
  type IcmpErrorSink,
  type SocketAddress,
  SocketError,
} from "@llama/core";
import { InFlightTable } from "./in_flight.ts";
import type { IntervalBook } from "./interval_book.ts";
import type { BatchRing } from "./_batch_ring.ts";
import { TransmitKeys } from "./_transmit_keys.ts";
import {
  type ProbeSocketCounters,
  type ProbeSocketSettings,
  zeroSocketCounters,
} from "./_probe_socket_types.ts";

/** What a flush returns once its datagrams are sent. */
const SENT: Promise<void> = Promise.resolve();

/**
 * A probing socket: subclasses stage their probes into `ring` and match the replies `handle`
 * gets; they call `startReceiving()` once their constructor is done.
 */
export abstract class ProbingSocket<S extends ProbeSocketSettings> {
  readonly socket: DatagramSocket;
  readonly settings: S;
  readonly table: InFlightTable = new InFlightTable();
  readonly counters: ProbeSocketCounters = zeroSocketCounters();
  /** Set once the socket is no longer scheduled; it closes after its timeout. */
  retiring = false;
  /** Settles once the socket's own reads have stopped (after `close`). */
  receiving: Promise<void> = SENT;
  /** Where the outcomes of probes are counted. */
  protected readonly book: IntervalBook;
  /** The kernel transmit times still expected. */
  protected readonly transmitKeys: TransmitKeys;
  /** Takes the ICMP errors queued beside the transmit times; undefined: none are read. */
  protected icmpErrors: IcmpErrorSink | undefined;
  /** Whether `close` was called. */
  protected closed = false;
  readonly #closing = Promise.withResolvers<void>();
  /** Lines about this socket carry its address. */
  readonly #log: Logger;

  /** A socket on `socket` with `settings`, counting its probes' outcomes in `book`. */
  constructor(socket: DatagramSocket, settings: S, book: IntervalBook) {
    this.socket = socket;
    this.settings = settings;
    this.book = book;
    this.transmitKeys = new TransmitKeys(this.table, this.counters);
    this.#log = getLogger(["llama", "collector"]).with({
      address: `${socket.localAddress.hostname}:${socket.localAddress.port}`,
    });
  }

  /** The ring of batches probes are staged into now. */
  protected abstract get ring(): BatchRing;

  /** Matches the `count` replies in `batch` against the probes in flight. */
  protected abstract handle(batch: DatagramBatch, count: number): void;

  /** The bound address. */
  get localAddress(): SocketAddress {
    return this.socket.localAddress;
  }

  /** Sends the staged probes, and records when each one left. */
  flush(): Promise<void> {
    const batches = this.ring;
    const count = batches.staged;
    if (count === 0) return SENT;
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
        this.sendFailed(error);
      }
    }
    // The socket stamped each slot's send time before returning: give them to the table now,
    // before any reply can be handled.
    const ids = batches.ids(index);
    for (let slot = 0; slot < count; slot++) {
      this.table.setSentAt(ids[slot], batch.sentAt[slot]);
      const key = batch.transmitKeys[slot];
      // The kernel's own transmit time replaces it once it is read (readTransmitTimes).
      if (key >= 0) this.transmitKeys.expect(key, ids[slot]);
    }
    if (sending === undefined) return SENT;
    const done = sending.then(
      (sent) => {
        if (sent < count) this.counters.unsent += count - sent;
      },
      (error) => this.sendFailed(error),
    );
    batches.sending(index, done);
    return done;
  }

  /** Declares lost every probe older than the timeout. */
  expire(now: number): void {
    // Transmit times wait in the socket's error queue, which counts against its receive buffer:
    // read them here too, for targets that never answer.
    this.readTransmitTimes();
    this.table.expire(now - this.settings.timeoutMs, this.book);
  }

  /** Takes the kernel's transmit times queued so far as the send times of their probes. */
  readTransmitTimes(): void {
    if (!this.closed) this.transmitKeys.read(this.socket, this.icmpErrors);
  }

  /**
   * Reads and handles every reply queued now, without waiting (native engine; nothing
   * otherwise). The prober calls it on each of its turns while it is busy, so that at high rates
   * replies are read in batches on its turns instead of one promise each. `batch` is scratch
   * space: every socket's replies are read and handled before `drain` returns, so one batch
   * serves every socket.
   */
  drain(batch: DatagramBatch): void {
    if (this.closed || this.socket.receiveQueued === undefined) return;
    for (;;) {
      let count: number;
      try {
        count = this.socket.receiveQueued(batch);
      } catch (error) {
        this.receiveFailed(error);
        return;
      }
      if (count === 0) return;
      this.handle(batch, count);
      if (count < batch.capacity) return;
    }
  }

  /** Stops receiving and closes the socket. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.#closing.resolve();
    await this.ring.sent();
    this.socket.close();
    await this.receiving;
  }

  /** Starts the socket's own reads: the subclass calls it at the end of its constructor. */
  protected startReceiving(): void {
    this.receiving = this.#receive();
  }

  /** Counts a failed send, and logs the first ten and every thousandth. */
  protected sendFailed(error: unknown): void {
    this.#failed("Send from {address} failed ({count} so far): {error}", error);
  }

  /** Counts a failed receive, and logs the first ten and every thousandth. */
  protected receiveFailed(error: unknown): void {
    this.#failed("Receive on {address} failed ({count} so far): {error}", error);
  }

  #failed(message: string, error: unknown): void {
    if (this.closed) return;
    this.counters.errors++;
    if (this.counters.errors <= 10 || this.counters.errors % 1000 === 0) {
      this.#log.warn(message, { count: this.counters.errors, error });
    }
  }

  async #receive(): Promise<void> {
    // The native engine takes up to 64 replies per call; Deno's takes one, of any size.
    const batch = this.socket.engine === "native"
      ? new DatagramBatch(64, 2048)
      : new DatagramBatch(1, 65536);
    const pace = this.settings.pace;
    for (;;) {
      // While the prober turns every few milliseconds, it drains the socket on each turn: wait
      // for it to go quiet rather than keep a read (and a promise a reply) going.
      if (pace !== undefined && this.socket.receiveQueued !== undefined && pace.busy()) {
        // Closing wakes it too: a busy prober may never go quiet (a reload retires this socket).
        await Promise.race([pace.whenIdle(), this.#closing.promise]);
        if (this.closed) return;
      }
      let count: number;
      try {
        count = await this.socket.receive(batch);
      } catch (error) {
        if (this.closed || (error instanceof SocketError && error.operation === "closed")) return;
        this.receiveFailed(error);
        await new Promise((resolve) => setTimeout(resolve, 10));
        continue;
      }
      this.handle(batch, count);
    }
  }
}
