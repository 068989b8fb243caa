/**
 * The types of the native socket: its options, the interface it implements beyond
 * `DatagramSocket`, and what it reports.
 *
 * @module
 */
import type { BindOptions, DatagramBatch, DatagramSocket } from "./socket.ts";
import type { IcmpErrorSink } from "./_icmp_errors.ts";

/** Options of the native socket, beyond the address. */
export interface NativeSocketOptions extends BindOptions {
  /** Kernel receive buffer in bytes. Default 2 MiB (the original's). */
  receiveBufferBytes?: number;
  /** Kernel send buffer in bytes. Default 2 MiB. */
  sendBufferBytes?: number;
  /** TOS (IPv4) / traffic class (IPv6) of datagrams sent without their own. Default 0. */
  tos?: number;
}

/** Receives the kernel's transmit time of a datagram: its key (see `DatagramBatch.transmitKeys`) and the time. */
export type TransmitTimeSink = (key: number, sentAt: number) => void;

/**
 * A native socket, with what a receive loop on a thread of its own needs: its file descriptor,
 * a receive that blocks the calling thread, and a send that returns at once.
 */
export interface NativeDatagramSocket extends DatagramSocket {
  /** The kernel's buffer sizes, as granted. */
  readonly info: NativeSocketInfo;
  /** The file descriptor: hand it to `adoptNativeSocket` on a Worker. */
  readonly fd: number;
  /**
   * Receives into `batch`, blocking the calling thread until a datagram comes, for at most
   * `timeoutMs` (< 0: no limit). Returns the slots filled, 0 when the time ran out; once the
   * socket is shut down, it returns at once with one empty datagram. Only for a thread that has
   * nothing else to do: it stops the event loop.
   */
  receiveBlocking(batch: DatagramBatch, timeoutMs: number): number;
  /** Sends the first `count` slots of `batch` now; returns the number sent. */
  sendNow(batch: DatagramBatch, count: number): number;
  /** Wakes a `receiveBlocking` on any thread; receives and sends fail or come back empty from then on. */
  shutdown(): void;
  /**
   * Whether the kernel reports when each datagram left (software transmit timestamps, asked for
   * with `transmitTimestamps`); then `send` fills `transmitKeys` and `readTransmitTimes` gives
   * the times.
   */
  readonly transmitTimestamps: boolean;
  /**
   * Reads the transmit times the kernel has queued since the last call (without waiting) and
   * gives each to `sink`; returns how many. Call it before handling replies, and regularly, since
   * the queue counts against the receive buffer. The same as `readErrorQueue(sink, undefined)`:
   * on a traceable socket, the ICMP errors it meets are dropped (and counted).
   */
  readTransmitTimes(sink: TransmitTimeSink): number;
  /** Whether the socket was opened with `receiveIcmpErrors` (or adopted from one that was). */
  readonly traceable: boolean;
  /**
   * Reads the transmit times and ICMP errors queued now (without waiting), giving each to its
   * sink; returns how many were given. See `DatagramSocket.readErrorQueue`.
   */
  readErrorQueue(times: TransmitTimeSink | undefined, errors: IcmpErrorSink | undefined): number;
  /**
   * Receives and sends that met an ICMP error the kernel reported on the call (sk_err, set for
   * every ICMP error on a traceable socket) and were retried instead of failing.
   */
  readonly icmpErrorsOnCalls: number;
  /** ICMP errors read from the error queue with no sink for them (`readTransmitTimes`, a restart). */
  readonly icmpErrorsDropped: number;
  /**
   * Datagrams this socket gave up on since it opened because its send buffer stayed full
   * (`EAGAIN`) through every retry: a `send` or `sendNow` that returned fewer than it was asked
   * to send, without an error, left them out. Callers that compare the count returned with the
   * datagrams they asked for see the same datagrams.
   */
  readonly unsent: number;
}

/** The kernel's buffer sizes of a native socket, as it granted them. */
export interface NativeSocketInfo {
  /** SO_RCVBUF as read back (the kernel doubles what was asked, for its bookkeeping). */
  receiveBufferBytes: number;
  /** SO_SNDBUF as read back. */
  sendBufferBytes: number;
}
