/**
 * A probing socket: stages probes into batches, sends them, and matches the answers it receives
 * against the probes it has in flight.
 *
 * @module
 */
import {
  type DatagramBatch,
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
  type WallNanos,
} from "@llama/core";
import { ID_MASK } from "./in_flight.ts";
import type { IntervalBook } from "./interval_book.ts";
import { ProbeBatches } from "./_probe_batches.ts";
import { ProbingSocket } from "./_probing_socket.ts";
import type { BatchRing } from "./_batch_ring.ts";
import { TraceSlot } from "./_trace_slot.ts";
import type { ProbeSocketSettings } from "./_probe_socket_types.ts";

export {
  type ProbeSocketCounters,
  type ProbeSocketSettings,
  type ProbeSocketTracing,
  type ReceivePace,
  zeroSocketCounters,
} from "./_probe_socket_types.ts";

/**
 * One probing socket: stages probes into batch slots that hold copies of the probe template,
 * sends them, and matches the replies it receives against its in-flight table.
 */
export class ProbeSocket extends ProbingSocket<ProbeSocketSettings> {
  #batches: ProbeBatches;
  #auth: ProbeAuthenticator | undefined;
  readonly #reader = new ProbeReader();
  readonly #wall: WallNanos;
  /** Trace probes' slot, made at the first. */
  #trace: TraceSlot | undefined;

  constructor(
    socket: DatagramSocket,
    settings: ProbeSocketSettings,
    book: IntervalBook,
    wall: WallNanos,
  ) {
    super(socket, settings, book);
    this.#auth = settings.auth;
    this.#batches = new ProbeBatches(settings.tos, wall, settings.auth);
    this.#wall = wall;
    if (settings.tracing !== undefined && socket.readErrorQueue !== undefined) {
      this.icmpErrors = (report) => this.#icmpError(report);
    }
    this.startReceiving();
  }

  protected get ring(): BatchRing {
    return this.#batches;
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
    this.book.sent(flow, interval);
    this.counters.sent++;
    return undefined;
  }

  /**
   * Sends one trace probe to `target` with IP TTL (hop limit) `ttl`, its signature carrying `id`
   * (at or above 2^30: never a regular probe's) and `nonce`. Returns its send time, or NaN when it
   * was not sent (a socket that cannot set a TTL, or a failed send).
   */
  sendTrace(target: PeerAddress, ttl: number, id: number, nonce: number): number {
    if (this.closed || this.socket.sendNow === undefined) return NaN;
    const trace = this.#trace ??= this.#traceSlot();
    const batch = trace.stage(target, ttl, id, nonce, this.socket.now());
    try {
      return this.socket.sendNow(batch, 1) === 1 ? batch.sentAt[0] : NaN;
    } catch (error) {
      this.sendFailed(error);
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

  /** Matches the `count` answers in `batch` against the probes in flight. */
  protected handle(batch: DatagramBatch, count: number): void {
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
        this.book,
      );
      if (result === "answered") {
        this.counters.answered++;
        const ttl = batch.ttl[index];
        if (ttl > 0) this.settings.tracing?.hops.observe(this.table.lastFlow, ttl);
        if (tosAtReflector >= 0 || batch.tos[index] >= 0) {
          this.book.observeTos(
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
