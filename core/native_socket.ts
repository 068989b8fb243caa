/**
 * A UDP socket on Linux libc through `Deno.dlopen`: TOS and TTL marking and reading, sized
 * kernel buffers, kernel receive timestamps, ICMP errors, and `recvmmsg`/`sendmmsg` moving a
 * whole batch per call.
 * Needs `--allow-ffi`; `nativeEngineStatus()` says whether it can be used.
 *
 * @module
 */
import { SocketError } from "./errors.ts";
import type { DatagramBatch, SocketAddress } from "./socket.ts";
import { Errno, errnoError, libc, readErrno } from "./_libc.ts";
import { callError, type SocketOptions } from "./_socket_options.ts";
import { TransmitTimes } from "./_transmit_times.ts";
import { ErrorQueue } from "./_error_queue.ts";
import { type IcmpErrorSink, isIcmpErrno } from "./_icmp_errors.ts";
import type {
  NativeDatagramSocket,
  NativeSocketInfo,
  NativeSocketOptions,
  TransmitTimeSink,
} from "./_native_interface.ts";
import { adoptDescriptor, openDescriptor } from "./_open_socket.ts";
import { BatchSender } from "./_batch_sender.ts";
import {
  MMSGHDR_BYTES,
  MSG_DONTWAIT,
  MSG_TRUNC,
  MSG_WAITFORONE,
  NAME_BYTES,
  POLLIN,
  SHUT_RDWR,
  SO_RCVBUF,
  SO_SNDBUF,
} from "./_linux.ts";
import { PeerNames } from "./_peer_names.ts";
import { RealtimeClock } from "./_realtime_clock.ts";
import { readReceiveControl } from "./_cmsg.ts";
import {
  type BatchStructures,
  buildStructures,
  CONTROL_BYTES,
  resetForReceive,
} from "./_mmsghdr.ts";

export { PeerAddress } from "./_peer_address.ts";
export { type NativeEngineStatus, nativeEngineStatus } from "./_libc.ts";
export type {
  NativeDatagramSocket,
  NativeSocketInfo,
  NativeSocketOptions,
  TransmitTimeSink,
} from "./_native_interface.ts";

/** Receive calls after ICMP errors (sk_err) before one gives up and returns nothing. */
const RECEIVE_ATTEMPTS = 4;

/**
 * Opens a UDP socket through libc. Throws `SocketError` naming the libc call and errno.
 *
 * @example
 * ```ts ignore
 * import { DatagramBatch, openNativeSocket } from "@llama/core";
 * await using socket = await openNativeSocket({ hostname: "127.0.0.1", port: 0, tos: 0xb8 });
 * ```
 */
export function openNativeSocket(options: NativeSocketOptions): Promise<NativeDatagramSocket> {
  try {
    return Promise.resolve(new NativeSocket(options));
  } catch (error) {
    return Promise.reject(error);
  }
}

/**
 * Wraps the file descriptor of a native socket opened elsewhere in this process (by the main
 * thread, for a Worker running the receive loop). The wrapper never closes the descriptor: its
 * owner does, once the Worker has stopped using it.
 *
 * @example
 * ```ts ignore
 * import { adoptNativeSocket } from "@llama/core";
 * self.onmessage = ({ data }) => {
 *   const socket = adoptNativeSocket(data.fd);
 *   // socket.receiveBlocking(...), socket.sendNow(...)
 * };
 * ```
 */
export function adoptNativeSocket(
  fd: number,
  options: { tos?: number } = {},
): NativeDatagramSocket {
  return new NativeSocket({ hostname: "", port: 0, tos: options.tos }, fd);
}

class NativeSocket implements NativeDatagramSocket {
  readonly engine = "native";
  readonly localAddress: SocketAddress;
  readonly info: NativeSocketInfo;
  readonly #fd: number;
  /** Whether this object opened the descriptor (and so closes it). */
  readonly #owner: boolean;
  readonly transmitTimestamps: boolean;
  /** The keys of transmit timestamps, when the kernel gives them. */
  readonly #transmitTimes: TransmitTimes | undefined;
  readonly traceable: boolean;
  /** Transmit times and ICMP errors, for a socket that has either. */
  readonly #errorQueue: ErrorQueue | undefined;
  #icmpErrorsOnCalls = 0;
  readonly #pollfd = new Int32Array(2);
  readonly #pollfdBytes = new Uint8Array(this.#pollfd.buffer);
  readonly #family: number;
  readonly #structures = new WeakMap<DatagramBatch, BatchStructures>();
  readonly #peers: PeerNames;
  readonly #clock = new RealtimeClock();
  readonly #options: SocketOptions;
  readonly #sender: BatchSender;
  #closed = false;

  constructor(options: NativeSocketOptions, adopted?: number) {
    const opened = adopted === undefined ? openDescriptor(options) : adoptDescriptor(adopted);
    this.#fd = opened.fd;
    this.#owner = adopted === undefined;
    this.#family = opened.family;
    this.#options = opened.options;
    this.localAddress = opened.localAddress;
    this.#peers = new PeerNames(this.#family, options.peerAddresses?.encoded ?? new WeakMap());
    this.info = {
      receiveBufferBytes: this.#options.get(SO_RCVBUF),
      sendBufferBytes: this.#options.get(SO_SNDBUF),
    };
    this.transmitTimestamps = opened.transmitTimestamps;
    this.traceable = opened.receiveIcmpErrors;
    if (this.transmitTimestamps || this.traceable) {
      this.#errorQueue = new ErrorQueue(this.#fd, this.#clock, this.#peers, this.traceable);
    }
    if (this.transmitTimestamps) {
      this.#transmitTimes = new TransmitTimes(this.#options, this.#errorQueue!);
    }
    this.#sender = new BatchSender({
      fd: this.#fd,
      family: this.#family,
      options: this.#options,
      peers: this.#peers,
      clock: this.#clock,
      transmitTimes: this.#transmitTimes,
      traceable: this.traceable,
      baseTos: options.tos ?? 0,
    });
  }

  async receive(batch: DatagramBatch): Promise<number> {
    for (;;) {
      const structures = this.#prepareReceive(batch);
      const count = await libc().recvmmsg(
        this.#fd,
        structures.messages,
        batch.capacity,
        MSG_WAITFORONE,
        null,
      );
      if (this.#closed) throw new SocketError("socket closed", { operation: "closed" });
      if (count >= 0) return this.#received(batch, structures, count);
      // errno is the worker thread's and cannot be read here.
      if (!this.traceable) throw new SocketError("recvmmsg failed", { operation: "receive" });
      // Most likely an ICMP error reported on the call (sk_err, read once). Ask again on this
      // thread, without waiting, where errno can be read: a real failure throws there.
      this.#icmpErrorsOnCalls++;
      const queued = this.#receiveOnThisThread(batch, MSG_WAITFORONE | MSG_DONTWAIT);
      if (queued > 0) return queued;
    }
  }

  receiveQueued(batch: DatagramBatch): number {
    if (this.#closed) throw new SocketError("socket closed", { operation: "closed" });
    return this.#receiveOnThisThread(batch, MSG_WAITFORONE | MSG_DONTWAIT);
  }

  receiveBlocking(batch: DatagramBatch, timeoutMs: number): number {
    let flags = MSG_WAITFORONE;
    if (timeoutMs >= 0) {
      // recvmmsg's own timeout is only looked at after a datagram arrives: poll first.
      this.#pollfd[0] = this.#fd;
      this.#pollfd[1] = POLLIN;
      const ready = libc().poll(this.#pollfdBytes, 1n, Math.ceil(timeoutMs));
      if (ready === 0) return 0;
      if (ready < 0) {
        if (readErrno() === Errno.EINTR) return 0;
        throw callError("poll");
      }
      // Only POLLERR: the error queue holds something for its reader (maybe another thread),
      // and poll would say so at once again. Wait in recvmmsg, which only datagrams wake.
      if (((this.#pollfd[1] >>> 16) & POLLIN) === 0) return this.#receiveWaiting(batch, timeoutMs);
      flags |= MSG_DONTWAIT;
    }
    return this.#receiveOnThisThread(batch, flags);
  }

  /** A blocking receive bounded by SO_RCVTIMEO, for when poll cannot wait (see above). */
  #receiveWaiting(batch: DatagramBatch, timeoutMs: number): number {
    this.#options.setReceiveTimeout(Math.max(1, timeoutMs));
    try {
      return this.#receiveOnThisThread(batch, MSG_WAITFORONE);
    } finally {
      this.#options.setReceiveTimeout(0);
    }
  }

  /**
   * One synchronous `recvmmsg` with `flags`; 0 when nothing was queued (or a signal came). On a
   * traceable socket, the errno of an ICMP error reported on the call is counted and the call
   * made again (a few times), since the error is consumed.
   */
  #receiveOnThisThread(batch: DatagramBatch, flags: number): number {
    for (let attempt = 1;; attempt++) {
      const structures = this.#prepareReceive(batch);
      const count = libc().recvmmsgBlocking(
        this.#fd,
        structures.messages,
        batch.capacity,
        flags,
        null,
      );
      if (count >= 0) return this.#received(batch, structures, count);
      const errno = readErrno();
      if (errno === Errno.EAGAIN || errno === Errno.EINTR) return 0;
      if (this.traceable && isIcmpErrno(errno)) {
        this.#icmpErrorsOnCalls++;
        if (attempt < RECEIVE_ATTEMPTS) continue;
        return 0;
      }
      throw errnoError("recvmmsg failed", "receive", errno);
    }
  }

  /** The structures of `batch`, reset for a receive (a send may have shortened them). */
  #prepareReceive(batch: DatagramBatch): BatchStructures {
    const structures = this.#prepare(batch);
    resetForReceive(structures, batch);
    return structures;
  }

  /** Fills the batch's lengths, peers, TOS and receive times from what recvmmsg wrote. */
  #received(batch: DatagramBatch, structures: BatchStructures, count: number): number {
    const { messageView, controlView, nameView } = structures;
    const clock = this.#clock;
    const now = performance.now();
    clock.calibrateIfDue(now);
    let kernelTimes = 0;
    for (let index = 0; index < count; index++) {
      const message = index * MMSGHDR_BYTES;
      // A datagram longer than its slot arrives empty: cut short, it would be answered wrongly.
      const truncated = (messageView.getInt32(message + 48, true) & MSG_TRUNC) !== 0;
      batch.lengths[index] = truncated ? 0 : messageView.getUint32(message + 56, true);
      batch.addresses[index] = this.#peers.peer(nameView, index * NAME_BYTES);
      batch.tos[index] = -1;
      batch.ttl[index] = -1;
      batch.receivedAt[index] = now;
      const controlLength = messageView.getUint32(message + 40, true);
      if (
        readReceiveControl(controlView, index * CONTROL_BYTES, controlLength, clock, batch, index)
      ) {
        kernelTimes++;
      }
    }
    batch.timestampSource = kernelTimes === count && count > 0 ? "kernel" : "userspace";
    return count;
  }

  send(batch: DatagramBatch, count: number): Promise<number> {
    try {
      return Promise.resolve(this.sendNow(batch, count));
    } catch (error) {
      return Promise.reject(error);
    }
  }

  sendNow(batch: DatagramBatch, count: number): number {
    return this.#sender.send(batch, this.#prepare(batch), count);
  }

  now(): number {
    return this.#clock.now();
  }

  get fd(): number {
    return this.#fd;
  }

  get unsent(): number {
    return this.#sender.unsent;
  }

  get icmpErrorsOnCalls(): number {
    return this.#icmpErrorsOnCalls + this.#sender.icmpErrorsOnCalls;
  }

  get icmpErrorsDropped(): number {
    return this.#errorQueue?.dropped ?? 0;
  }

  readTransmitTimes(sink: TransmitTimeSink): number {
    return this.readErrorQueue(sink, undefined);
  }

  readErrorQueue(times: TransmitTimeSink | undefined, errors: IcmpErrorSink | undefined): number {
    if (this.#errorQueue === undefined || this.#closed) return 0;
    return this.#errorQueue.read(times, errors);
  }

  shutdown(): void {
    // Once closed, the number may already belong to another socket.
    if (this.#closed) return;
    libc().shutdown(this.#fd, SHUT_RDWR);
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    if (!this.#owner) return;
    const c = libc();
    // shutdown wakes a recvmmsg waiting on another thread; close alone would not.
    c.shutdown(this.#fd, SHUT_RDWR);
    c.close(this.#fd);
  }

  [Symbol.asyncDispose](): Promise<void> {
    this.close();
    return Promise.resolve();
  }

  #prepare(batch: DatagramBatch): BatchStructures {
    let structures = this.#structures.get(batch);
    if (structures === undefined) {
      structures = buildStructures(batch);
      this.#structures.set(batch, structures);
    }
    return structures;
  }
}
