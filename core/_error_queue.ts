/**
 * The error queue of a native socket (MSG_ERRQUEUE): one reader for both kinds of message the
 * kernel queues there, software transmit timestamps and ICMP errors, so neither is lost to a
 * reader that only wanted the other.
 *
 * @module
 */
import { DatagramBatch } from "./socket.ts";
import { libc } from "./_libc.ts";
import {
  MMSGHDR_BYTES,
  MSG_DONTWAIT,
  MSG_ERRQUEUE,
  NAME_BYTES,
  SO_EE_ORIGIN_ICMP,
  SO_EE_ORIGIN_ICMP6,
  SO_EE_ORIGIN_LOCAL,
  SO_EE_ORIGIN_TIMESTAMPING,
} from "./_linux.ts";
import { ErrorQueueEntry, readErrorControl } from "./_cmsg.ts";
import { buildStructures, CONTROL_BYTES, resetForReceive } from "./_mmsghdr.ts";
import {
  IcmpErrorReport,
  type IcmpErrorSink,
  OffenderNames,
  type WritableIcmpErrorReport,
} from "./_icmp_errors.ts";
import type { PeerNames } from "./_peer_names.ts";
import type { RealtimeClock } from "./_realtime_clock.ts";

/** Error-queue messages read per recvmmsg. */
const ERRQUEUE_BATCH = 64;
/**
 * Bytes kept of the payload an ICMP error quotes: LLAMA probes are well under 200 bytes. A socket
 * with transmit timestamps only gets no payload (SOF_TIMESTAMPING_OPT_TSONLY).
 */
export const QUOTED_PAYLOAD_BYTES = 512;
/** Slot size of a socket without ICMP errors. */
const TIMESTAMP_ONLY_BYTES = 16;

/** Receives a transmit time: the datagram's key and the time. */
type TimeSink = (key: number, sentAt: number) => void;

/** The error queue of one socket (see the module doc). */
export class ErrorQueue {
  readonly #fd: number;
  readonly #clock: RealtimeClock;
  readonly #peers: PeerNames;
  readonly #batch: DatagramBatch;
  readonly #structures;
  readonly #entry = new ErrorQueueEntry();
  readonly #report = new IcmpErrorReport();
  readonly #offenders = new OffenderNames();
  #dropped = 0;

  /**
   * The queue of socket `fd`, with times on the scale of `clock` and destinations named by
   * `peers`; `icmpErrors` sizes the slots for the payloads ICMP errors quote.
   */
  constructor(fd: number, clock: RealtimeClock, peers: PeerNames, icmpErrors: boolean) {
    this.#fd = fd;
    this.#clock = clock;
    this.#peers = peers;
    this.#batch = new DatagramBatch(
      ERRQUEUE_BATCH,
      icmpErrors ? QUOTED_PAYLOAD_BYTES : TIMESTAMP_ONLY_BYTES,
    );
    this.#structures = buildStructures(this.#batch);
  }

  /** ICMP errors read with no sink to give them to. */
  get dropped(): number {
    return this.#dropped;
  }

  /**
   * Gives each transmit time queued now to `times` and each ICMP error to `errors` (without
   * waiting); returns how many were given. Those without a sink are dropped (the ICMP errors
   * counted in `dropped`).
   */
  read(times: TimeSink | undefined, errors: IcmpErrorSink | undefined): number {
    const c = libc();
    const batch = this.#batch;
    const structures = this.#structures;
    const entry = this.#entry;
    const clock = this.#clock;
    let total = 0;
    for (;;) {
      resetForReceive(structures, batch);
      const count = c.recvmmsgBlocking(
        this.#fd,
        structures.messages,
        ERRQUEUE_BATCH,
        MSG_ERRQUEUE | MSG_DONTWAIT,
        null,
      );
      if (count <= 0) return total;
      clock.calibrateIfDue(performance.now());
      const { messageView, controlView } = structures;
      for (let index = 0; index < count; index++) {
        const controlLength = messageView.getUint32(index * MMSGHDR_BYTES + 40, true);
        readErrorControl(controlView, index * CONTROL_BYTES, controlLength, clock, entry);
        const origin = entry.origin;
        if (origin === SO_EE_ORIGIN_TIMESTAMPING) {
          if (times !== undefined && entry.key >= 0 && entry.time > 0) {
            times(entry.key, entry.time);
            total++;
          }
        } else if (
          origin === SO_EE_ORIGIN_ICMP || origin === SO_EE_ORIGIN_ICMP6 ||
          origin === SO_EE_ORIGIN_LOCAL
        ) {
          if (errors === undefined) this.#dropped++;
          else {
            errors(this.#fill(index));
            total++;
          }
        }
      }
      if (count < ERRQUEUE_BATCH) return total;
    }
  }

  /** The report of error-queue message `index`, whose control messages are in the entry. */
  #fill(index: number): IcmpErrorReport {
    const entry = this.#entry;
    const { messageView, controlView, nameView } = this.#structures;
    const report = this.#report as WritableIcmpErrorReport;
    const message = index * MMSGHDR_BYTES;
    report.origin = entry.origin;
    report.type = entry.type;
    report.code = entry.code;
    report.errno = entry.errno;
    report.offender = entry.offender < 0 ? "" : this.#offenders.name(controlView, entry.offender);
    report.destination = this.#peers.peer(nameView, index * NAME_BYTES);
    report.family = entry.origin === SO_EE_ORIGIN_ICMP6
      ? 6
      : entry.origin === SO_EE_ORIGIN_ICMP || report.destination.hostname.includes(".")
      ? 4
      : 6;
    report.receivedAt = entry.receivedAt > 0 ? entry.receivedAt : performance.now();
    const length = messageView.getUint32(message + 56, true);
    report.payload = this.#batch.slots[index].subarray(0, length);
    report.payloadLength = length;
    return report;
  }
}
