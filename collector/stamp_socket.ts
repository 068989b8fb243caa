/**
 * A STAMP probing socket (RFC 8762, RFC 8972): sends STAMP test packets instead of LLAMA probes
 * and matches the reflector's replies by the sender sequence number they echo, its own in-flight
 * id. From the four timestamps it counts the RTT without the reflector's dwell, the one-way
 * delays, and, from a stateful reflector, the replies lost on the way back.
 *
 * @module
 */
import { getLogger, type Logger } from "@logtape/logtape";
import {
  DatagramBatch,
  type DatagramSocket,
  type Keyring,
  type SocketAddress,
  SocketError,
  StampReplyReader,
  StampTestPacketWriter,
} from "@llama/core";
import { ID_MASK, InFlightTable } from "./in_flight.ts";
import type { IntervalBook } from "./interval_book.ts";
import type { ProbeSocketCounters, ProbeSocketSettings } from "./probe_socket.ts";
import { zeroSocketCounters } from "./probe_socket.ts";
import { TransmitKeys } from "./_transmit_keys.ts";
import { echoedFractionOffset, StampBatches } from "./_stamp_batches.ts";
import { grown } from "./_samples.ts";
import type { StampMode } from "./_stamp_config.ts";

/** What a STAMP socket adds to a probe socket's settings. */
export interface StampSocketSettings extends ProbeSocketSettings {
  /** The reflector's mode: `stateful` reads its sequence numbers for the loss split. */
  mode: StampMode;
  /** Authenticated mode's keys (the first signs), or undefined. */
  keyring: Keyring | undefined;
  /** This socket's Session Sender Identifier (RFC 8972 §3). */
  ssid: number;
}

/** A reflector sequence number this far below the one expected means the session started again. */
const RESTART_BEHIND = 1024;

/** What a flush returns once its datagrams are sent. */
const SENT: Promise<void> = Promise.resolve();

/** One STAMP Session-Sender socket: one session (SSID) to each of its targets. */
export class StampSocket {
  readonly socket: DatagramSocket;
  readonly settings: StampSocketSettings;
  readonly table: InFlightTable = new InFlightTable();
  readonly counters: ProbeSocketCounters = zeroSocketCounters();
  /** Set once the socket is no longer scheduled; it closes after its timeout. */
  retiring = false;
  readonly receiving: Promise<void>;
  readonly #batches: StampBatches;
  readonly #transmitKeys: TransmitKeys;
  readonly #book: IntervalBook;
  readonly #reader = new StampReplyReader();
  readonly #origin: number;
  readonly #echoedFraction: number;
  readonly #stateful: boolean;
  /** Per flow: the reflector sequence number expected next, plus one (0: none seen yet). */
  #nextReflectorSequence = new Float64Array(0);
  readonly #log: Logger;
  #closed = false;
  readonly #closing = Promise.withResolvers<void>();

  /**
   * A STAMP socket on `socket` that counts outcomes in `book`; `origin` is the wall-clock time
   * of monotonic 0 (`Clock.origin`), for the timestamps the packets carry.
   */
  constructor(
    socket: DatagramSocket,
    settings: StampSocketSettings,
    book: IntervalBook,
    origin: number,
  ) {
    this.socket = socket;
    this.settings = settings;
    this.#book = book;
    this.#origin = origin;
    this.#stateful = settings.mode === "stateful";
    const writer = new StampTestPacketWriter({ ssid: settings.ssid, keyring: settings.keyring });
    this.#batches = new StampBatches(writer);
    this.#echoedFraction = echoedFractionOffset(writer.authenticated);
    this.#transmitKeys = new TransmitKeys(this.table, this.counters);
    this.#log = getLogger(["llama", "collector"]).with({
      address: `${socket.localAddress.hostname}:${socket.localAddress.port}`,
    });
    this.receiving = this.#receive();
  }

  /** The bound address. */
  get localAddress(): SocketAddress {
    return this.socket.localAddress;
  }

  /** Stages one STAMP packet to `target` on `flow` (see `ProbeSocket.stage`). */
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
    const id = this.table.insert(flow, interval, sequence, 0, now);
    this.table.setNonce(id, batches.stage(id, this.#origin + now, target));
    this.#book.sent(flow, interval);
    this.counters.sent++;
    return undefined;
  }

  /** Sends the staged packets, and records when each one left. */
  flush(): Promise<void> {
    const batches = this.#batches;
    const count = batches.staged;
    if (count === 0) return SENT;
    const index = batches.take();
    const batch = batches.batch(index);
    let sending: Promise<number> | undefined;
    if (this.socket.sendNow === undefined) sending = this.socket.send(batch, count);
    else {
      try {
        const sent = this.socket.sendNow(batch, count);
        if (sent < count) this.counters.unsent += count - sent;
      } catch (error) {
        this.#failed("Send from {address} failed ({count} so far): {error}", error);
      }
    }
    const ids = batches.ids(index);
    for (let slot = 0; slot < count; slot++) {
      this.table.setSentAt(ids[slot], batch.sentAt[slot]);
      const key = batch.transmitKeys[slot];
      if (key >= 0) this.#transmitKeys.expect(key, ids[slot]);
    }
    if (sending === undefined) return SENT;
    const done = sending.then(
      (sent) => {
        if (sent < count) this.counters.unsent += count - sent;
      },
      (error) => this.#failed("Send from {address} failed ({count} so far): {error}", error),
    );
    batches.sending(index, done);
    return done;
  }

  /** Declares lost every probe older than the timeout. */
  expire(now: number): void {
    this.readTransmitTimes();
    this.table.expire(now - this.settings.timeoutMs, this.#book);
  }

  /** Takes the kernel's transmit times queued so far as the send times of their probes. */
  readTransmitTimes(): void {
    if (!this.#closed) this.#transmitKeys.read(this.socket, undefined);
  }

  /** Reads and handles every reply queued now, without waiting (native engine). */
  drain(batch: DatagramBatch): void {
    if (this.#closed || this.socket.receiveQueued === undefined) return;
    for (;;) {
      let count: number;
      try {
        count = this.socket.receiveQueued(batch);
      } catch (error) {
        this.#failed("Receive on {address} failed: {error}", error);
        return;
      }
      if (count === 0) return;
      this.#handle(batch, count);
      if (count < batch.capacity) return;
    }
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

  async #receive(): Promise<void> {
    const batch = this.socket.engine === "native"
      ? new DatagramBatch(64, 2048)
      : new DatagramBatch(1, 65536);
    const pace = this.settings.pace;
    for (;;) {
      if (pace !== undefined && this.socket.receiveQueued !== undefined && pace.busy()) {
        await Promise.race([pace.whenIdle(), this.#closing.promise]);
        if (this.#closed) return;
      }
      let count: number;
      try {
        count = await this.socket.receive(batch);
      } catch (error) {
        if (this.#closed || (error instanceof SocketError && error.operation === "closed")) return;
        this.#failed("Receive on {address} failed: {error}", error);
        await new Promise((resolve) => setTimeout(resolve, 10));
        continue;
      }
      this.#handle(batch, count);
    }
  }

  #failed(message: string, error: unknown): void {
    if (this.#closed) return;
    this.counters.errors++;
    if (this.counters.errors <= 10 || this.counters.errors % 1000 === 0) {
      this.#log.warn(message, { count: this.counters.errors, error });
    }
  }

  /** Matches the `count` replies in `batch` against the packets in flight. */
  #handle(batch: DatagramBatch, count: number): void {
    const reader = this.#reader;
    const keyring = this.settings.keyring;
    const ssid = this.settings.ssid;
    this.readTransmitTimes();
    for (let index = 0; index < count; index++) {
      const bytes = batch.slots[index];
      // A reply from a TWAMP-Light reflector, which knows no SSID, carries 0.
      if (
        !reader.read(bytes, batch.lengths[index], keyring) ||
        (reader.ssid !== ssid && reader.ssid !== 0) || reader.senderSequence > ID_MASK
      ) {
        this.counters.unmatched++;
        continue;
      }
      const at = bytes.byteOffset + this.#echoedFraction;
      const nonce = batch.view.getUint32(at, false);
      const { t1, t2, t3 } = reader;
      const timed = t2 > 0 && t3 > 0;
      let dwellMs = timed ? t3 - t2 : -1;
      // A negative or absurd dwell means a broken reflector clock: trust the RTT as it is.
      if (!(dwellMs >= 0 && dwellMs < this.settings.timeoutMs)) dwellMs = -1;
      const receivedAt = batch.receivedAt[index];
      const result = this.table.match(
        reader.senderSequence,
        nonce,
        receivedAt,
        dwellMs,
        this.#book,
      );
      if (result === "answered") {
        this.counters.answered++;
        const flow = this.table.lastFlow;
        const interval = this.table.lastInterval;
        const forward = timed && t1 > 0 ? t2 - t1 : NaN;
        const backward = timed ? this.#origin + receivedAt - t3 : NaN;
        const lostBackward = this.#stateful ? this.#backwardGap(flow, reader.sequence) : -1;
        this.#book.stampAnswered(flow, interval, forward, backward, lostBackward);
        if (batch.tos[index] >= 0) this.#book.observeTos(flow, interval, -1, batch.tos[index]);
      } else if (result === "late") this.counters.late++;
      else if (result === "duplicate") this.counters.duplicates++;
      else this.counters.unmatched++;
    }
  }

  /**
   * How many of a stateful reflector's replies on `flow` never came, from the gap before its
   * sequence number `sequence`. A sequence number lower than expected is a reordered reply (not
   * taken back from the gap it was counted in) or a reflector that forgot the session and started
   * again from 0: counted as no loss.
   */
  #backwardGap(flow: number, sequence: number): number {
    if (flow >= this.#nextReflectorSequence.length) {
      this.#nextReflectorSequence = grown(
        this.#nextReflectorSequence,
        flow + 1,
        (length) => new Float64Array(length),
        2,
      );
    }
    // Kept plus one, so that 0 means none seen yet: a session starts at 0 (RFC 8762 §4.3.1).
    const stored = this.#nextReflectorSequence[flow];
    const expected = stored === 0 ? 0 : stored - 1;
    if (sequence >= expected) {
      this.#nextReflectorSequence[flow] = sequence + 2;
      return sequence - expected;
    }
    // Far behind: the reflector started the session again (a bounded table may forget it).
    if (expected - sequence > RESTART_BEHIND) this.#nextReflectorSequence[flow] = sequence + 2;
    return 0;
  }
}
