/**
 * A STAMP probing socket (RFC 8762, RFC 8972): sends STAMP test packets instead of LLAMA probes
 * and matches the reflector's replies by the sender sequence number they echo, its own in-flight
 * id. From the four timestamps it counts the RTT without the reflector's dwell, the one-way
 * delays, and, from a stateful reflector, the replies lost on the way back.
 *
 * @module
 */
import {
  type DatagramBatch,
  type DatagramSocket,
  type Keyring,
  type SocketAddress,
  StampReplyReader,
  StampTestPacketWriter,
} from "@llama/core";
import { ID_MASK } from "./in_flight.ts";
import type { IntervalBook } from "./interval_book.ts";
import type { ProbeSocketSettings } from "./_probe_socket_types.ts";
import { ProbingSocket } from "./_probing_socket.ts";
import type { BatchRing } from "./_batch_ring.ts";
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

/** One STAMP Session-Sender socket: one session (SSID) to each of its targets. */
export class StampSocket extends ProbingSocket<StampSocketSettings> {
  readonly #batches: StampBatches;
  readonly #reader = new StampReplyReader();
  readonly #origin: number;
  readonly #echoedFraction: number;
  readonly #stateful: boolean;
  /** Per flow: the reflector sequence number expected next, plus one (0: none seen yet). */
  #nextReflectorSequence = new Float64Array(0);

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
    super(socket, settings, book);
    this.#origin = origin;
    this.#stateful = settings.mode === "stateful";
    const writer = new StampTestPacketWriter({ ssid: settings.ssid, keyring: settings.keyring });
    this.#batches = new StampBatches(writer);
    this.#echoedFraction = echoedFractionOffset(writer.authenticated);
    this.startReceiving();
  }

  protected get ring(): BatchRing {
    return this.#batches;
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
    this.book.sent(flow, interval);
    this.counters.sent++;
    return undefined;
  }

  /** Matches the `count` replies in `batch` against the packets in flight. */
  protected handle(batch: DatagramBatch, count: number): void {
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
        this.book,
      );
      if (result === "answered") {
        this.counters.answered++;
        const flow = this.table.lastFlow;
        const interval = this.table.lastInterval;
        const forward = timed && t1 > 0 ? t2 - t1 : NaN;
        const backward = timed ? this.#origin + receivedAt - t3 : NaN;
        const lostBackward = this.#stateful ? this.#backwardGap(flow, reader.sequence) : -1;
        this.book.stampAnswered(flow, interval, forward, backward, lostBackward);
        if (batch.tos[index] >= 0) this.book.observeTos(flow, interval, -1, batch.tos[index]);
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
