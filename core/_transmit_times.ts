/**
 * Software transmit timestamps of one socket: the keys the kernel gives the datagrams it sends,
 * and the times it reports for them on the socket's error queue.
 *
 * @module
 */
import { DatagramBatch } from "./socket.ts";
import { libc } from "./_libc.ts";
import {
  MMSGHDR_BYTES,
  MSG_DONTWAIT,
  MSG_ERRQUEUE,
  SO_TIMESTAMPING,
  SOF_TIMESTAMPING_OPT_ID,
  SOF_TIMESTAMPING_OPT_TSONLY,
  SOF_TIMESTAMPING_SOFTWARE,
  SOF_TIMESTAMPING_TX_SOFTWARE,
  SOL_SOCKET,
} from "./_linux.ts";
import { readTransmitControl, TransmitReport } from "./_cmsg.ts";
import { buildStructures, CONTROL_BYTES, resetForReceive } from "./_mmsghdr.ts";
import type { RealtimeClock } from "./_realtime_clock.ts";
import type { SocketOptions } from "./_socket_options.ts";

/** Software transmit timestamps, reported, keyed by a per-socket counter, without the payload. */
const TRANSMIT_TIMESTAMPING = SOF_TIMESTAMPING_TX_SOFTWARE | SOF_TIMESTAMPING_SOFTWARE |
  SOF_TIMESTAMPING_OPT_ID | SOF_TIMESTAMPING_OPT_TSONLY;
/** Error-queue messages read per recvmmsg. */
const ERRQUEUE_BATCH = 64;

/** Asks the kernel for transmit timestamps on a socket; returns whether it agreed. */
export function enableTransmitTimestamps(options: SocketOptions): boolean {
  return options.trySet(SOL_SOCKET, SO_TIMESTAMPING, TRANSMIT_TIMESTAMPING);
}

/** The transmit timestamps of a socket that has them enabled. */
export class TransmitTimes {
  readonly #fd: number;
  readonly #clock: RealtimeClock;
  readonly #options: SocketOptions;
  /** The key the kernel gives the next datagram sent (SOF_TIMESTAMPING_OPT_ID counts from 0). */
  #nextKey = 0;
  readonly #batch = new DatagramBatch(ERRQUEUE_BATCH, 16);
  readonly #structures = buildStructures(this.#batch);
  readonly #report = new TransmitReport();

  /** Transmit times of socket `fd`, on the scale of `clock`. */
  constructor(fd: number, clock: RealtimeClock, options: SocketOptions) {
    this.#fd = fd;
    this.#clock = clock;
    this.#options = options;
  }

  /** Gives slots `[start, end)` of `batch`, accepted by the kernel in order, their keys. */
  number(batch: DatagramBatch, start: number, end: number): void {
    for (let index = start; index < end; index++) {
      batch.transmitKeys[index] = this.#nextKey;
      this.#nextKey = (this.#nextKey + 1) >>> 0;
    }
  }

  /**
   * Empties the error queue (its times can no longer be paired safely) and turns transmit
   * timestamps off and on again, which restarts the kernel's count at 0, like ours.
   */
  restart(): void {
    this.read(() => {});
    this.#options.trySet(SOL_SOCKET, SO_TIMESTAMPING, 0);
    this.#options.trySet(SOL_SOCKET, SO_TIMESTAMPING, TRANSMIT_TIMESTAMPING);
    this.#nextKey = 0;
  }

  /** Gives `sink` each transmit time queued now (without waiting); returns how many. */
  read(sink: (key: number, sentAt: number) => void): number {
    const c = libc();
    const batch = this.#batch;
    const structures = this.#structures;
    const report = this.#report;
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
        readTransmitControl(controlView, index * CONTROL_BYTES, controlLength, clock, report);
        if (report.key >= 0 && !Number.isNaN(report.time) && report.time > 0) {
          sink(report.key, report.time);
          total++;
        }
      }
      if (count < ERRQUEUE_BATCH) return total;
    }
  }
}
