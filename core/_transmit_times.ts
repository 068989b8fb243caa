/**
 * Software transmit timestamps of one socket: the keys the kernel gives the datagrams it sends
 * (the times come on the socket's error queue, read by `ErrorQueue`).
 *
 * @module
 */
import type { DatagramBatch } from "./socket.ts";
import {
  SO_TIMESTAMPING,
  SOF_TIMESTAMPING_OPT_ID,
  SOF_TIMESTAMPING_OPT_TSONLY,
  SOF_TIMESTAMPING_SOFTWARE,
  SOF_TIMESTAMPING_TX_SOFTWARE,
  SOL_SOCKET,
} from "./_linux.ts";
import type { ErrorQueue } from "./_error_queue.ts";
import type { SocketOptions } from "./_socket_options.ts";

/** Software transmit timestamps, reported, keyed by a per-socket counter, without the payload. */
const TRANSMIT_TIMESTAMPING = SOF_TIMESTAMPING_TX_SOFTWARE | SOF_TIMESTAMPING_SOFTWARE |
  SOF_TIMESTAMPING_OPT_ID | SOF_TIMESTAMPING_OPT_TSONLY;

/** Asks the kernel for transmit timestamps on a socket; returns whether it agreed. */
export function enableTransmitTimestamps(options: SocketOptions): boolean {
  return options.trySet(SOL_SOCKET, SO_TIMESTAMPING, TRANSMIT_TIMESTAMPING);
}

/** The transmit timestamp keys of a socket that has them enabled. */
export class TransmitTimes {
  readonly #options: SocketOptions;
  readonly #queue: ErrorQueue;
  /** The key the kernel gives the next datagram sent (SOF_TIMESTAMPING_OPT_ID counts from 0). */
  #nextKey = 0;

  /** Keys of the socket whose options are `options` and whose error queue is `queue`. */
  constructor(options: SocketOptions, queue: ErrorQueue) {
    this.#options = options;
    this.#queue = queue;
  }

  /** Gives slots `[start, end)` of `batch`, accepted by the kernel in order, their keys. */
  number(batch: DatagramBatch, start: number, end: number): void {
    for (let index = start; index < end; index++) {
      batch.transmitKeys[index] = this.#nextKey;
      this.#nextKey = (this.#nextKey + 1) >>> 0;
    }
  }

  /**
   * Empties the error queue (its times can no longer be paired safely; ICMP errors in it are
   * dropped and counted) and turns transmit timestamps off and on again, which restarts the
   * kernel's count at 0, like ours.
   */
  restart(): void {
    this.#queue.read(undefined, undefined);
    this.#options.trySet(SOL_SOCKET, SO_TIMESTAMPING, 0);
    this.#options.trySet(SOL_SOCKET, SO_TIMESTAMPING, TRANSMIT_TIMESTAMPING);
    this.#nextKey = 0;
  }
}
