/**
 * A UDP socket on Linux libc through `Deno.dlopen`: TOS marking and reading, sized kernel
 * buffers, kernel receive timestamps, and `recvmmsg`/`sendmmsg` moving a whole batch per call.
 * Needs `--allow-ffi`; `nativeEngineStatus()` says whether it can be used.
 *
 * @module
 */
import { SocketError } from "./errors.ts";
import type { BindOptions, DatagramBatch, DatagramSocket, SocketAddress } from "./socket.ts";
import { Errno, errnoError, libc, readErrno } from "./_libc.ts";
import { callError, type SocketOptions } from "./_socket_options.ts";
import { TransmitTimes } from "./_transmit_times.ts";
import { adoptDescriptor, openDescriptor } from "./_open_socket.ts";
import {
  AF_INET6,
  IPV4_NAME_BYTES,
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
  setSize,
} from "./_mmsghdr.ts";

export { PeerAddress } from "./_peer_address.ts";
export { type NativeEngineStatus, nativeEngineStatus } from "./_libc.ts";

/** sendmmsg calls per run before the datagrams still unsent are given up on (and counted). */
const SEND_ATTEMPTS = 100;

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
   * the queue counts against the receive buffer.
   */
  readTransmitTimes(sink: TransmitTimeSink): number;
  /**
   * Datagrams this socket gave up on since it opened because its send buffer stayed full
   * (`EAGAIN`) through every retry: a `send` or `sendNow` that returned fewer than it was asked
   * to send, without an error, left them out. Callers that compare the count returned with the
   * datagrams they asked for see the same datagrams.
   */
  readonly unsent: number;
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

/** The kernel's buffer sizes of a native socket, as it granted them. */
export interface NativeSocketInfo {
  /** SO_RCVBUF as read back (the kernel doubles what was asked, for its bookkeeping). */
  receiveBufferBytes: number;
  /** SO_SNDBUF as read back. */
  sendBufferBytes: number;
}

class NativeSocket implements NativeDatagramSocket {
  readonly engine = "native";
  readonly localAddress: SocketAddress;
  readonly info: NativeSocketInfo;
  readonly #fd: number;
  /** Whether this object opened the descriptor (and so closes it). */
  readonly #owner: boolean;
  readonly transmitTimestamps: boolean;
  /** The keys and times of transmit timestamps, when the kernel gives them. */
  readonly #transmitTimes: TransmitTimes | undefined;
  /** Datagrams the current #sendmmsg has sent so far (it may throw after sending some). */
  #sendProgress = 0;
  /** Datagrams given up on after the send buffer stayed full through every retry. */
  #unsent = 0;
  readonly #pollfd = new Int32Array(2);
  readonly #pollfdBytes = new Uint8Array(this.#pollfd.buffer);
  readonly #family: number;
  readonly #structures = new WeakMap<DatagramBatch, BatchStructures>();
  readonly #peers: PeerNames;
  readonly #clock = new RealtimeClock();
  readonly #options: SocketOptions;
  /** TOS of datagrams that do not ask for one. */
  readonly #baseTos: number;
  /** TOS the socket is set to now. */
  #tos = 0;
  #closed = false;

  constructor(options: NativeSocketOptions, adopted?: number) {
    const opened = adopted === undefined ? openDescriptor(options) : adoptDescriptor(adopted);
    this.#fd = opened.fd;
    this.#owner = adopted === undefined;
    this.#family = opened.family;
    this.#options = opened.options;
    this.localAddress = opened.localAddress;
    this.#peers = new PeerNames(this.#family, options.peerAddresses?.encoded ?? new WeakMap());
    this.#baseTos = options.tos ?? 0;
    // Set when the descriptor was opened (an adopted one's owner did it with the same TOS).
    this.#tos = this.#baseTos;
    this.info = {
      receiveBufferBytes: this.#options.get(SO_RCVBUF),
      sendBufferBytes: this.#options.get(SO_SNDBUF),
    };
    this.transmitTimestamps = opened.transmitTimestamps;
    if (this.transmitTimestamps) {
      this.#transmitTimes = new TransmitTimes(this.#fd, this.#clock, this.#options);
    }
  }

  async receive(batch: DatagramBatch): Promise<number> {
    const structures = this.#prepareReceive(batch);
    const count = await libc().recvmmsg(
      this.#fd,
      structures.messages,
      batch.capacity,
      MSG_WAITFORONE,
      null,
    );
    if (this.#closed) throw new SocketError("socket closed", { operation: "closed" });
    if (count < 0) {
      // errno is the worker thread's and cannot be read here.
      throw new SocketError("recvmmsg failed", { operation: "receive" });
    }
    return this.#received(batch, structures, count);
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
      flags |= MSG_DONTWAIT;
    }
    return this.#receiveOnThisThread(batch, flags);
  }

  /** One synchronous `recvmmsg` with `flags`; 0 when nothing was queued (or a signal came). */
  #receiveOnThisThread(batch: DatagramBatch, flags: number): number {
    const structures = this.#prepareReceive(batch);
    const count = libc().recvmmsgBlocking(
      this.#fd,
      structures.messages,
      batch.capacity,
      flags,
      null,
    );
    if (count < 0) {
      const errno = readErrno();
      if (errno === Errno.EAGAIN || errno === Errno.EINTR) return 0;
      throw errnoError("recvmmsg failed", "receive", errno);
    }
    return this.#received(batch, structures, count);
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
    const structures = this.#prepare(batch);
    const { messageView, iovecView, names, nameView } = structures;
    const peers = this.#peers;
    const nameLength = this.#family === AF_INET6 ? NAME_BYTES : IPV4_NAME_BYTES;
    let sent = 0;
    batch.transmitKeys.fill(-1, 0, count);
    try {
      // Runs of datagrams with the same TOS, each one sendmmsg; an empty slot is skipped.
      let index = 0;
      while (index < count) {
        if (batch.lengths[index] === 0) {
          index++;
          continue;
        }
        const runStart = index;
        const runTos = batch.tos[index];
        while (index < count && batch.lengths[index] !== 0 && batch.tos[index] === runTos) {
          const message = index * MMSGHDR_BYTES;
          peers.write(names, nameView, index * NAME_BYTES, batch.addresses[index]);
          messageView.setUint32(message + 8, nameLength, true);
          setSize(iovecView, index * 16 + 8, batch.lengths[index]);
          setSize(messageView, message + 40, 0); // no control data on send
          index++;
        }
        sent += this.#sendRun(structures, batch, runStart, index - runStart, runTos);
      }
    } catch (error) {
      // A datagram the kernel refused (a firewall's EPERM, say) may still have used up a key:
      // start the count again rather than pair later times with the wrong probes.
      this.#transmitTimes?.restart();
      throw error;
    }
    return sent;
  }

  now(): number {
    return this.#clock.now();
  }

  get fd(): number {
    return this.#fd;
  }

  get unsent(): number {
    return this.#unsent;
  }

  readTransmitTimes(sink: TransmitTimeSink): number {
    if (this.#transmitTimes === undefined || this.#closed) return 0;
    return this.#transmitTimes.read(sink);
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

  /** Sends `batch[start, start + count)`, whose structures are written, with TOS `runTos`. */
  #sendRun(
    structures: BatchStructures,
    batch: DatagramBatch,
    start: number,
    count: number,
    runTos: number,
  ): number {
    const tos = runTos >= 0 ? runTos : this.#baseTos;
    if (tos !== this.#tos) this.#applyTos(tos);
    const now = this.#clock.now();
    for (let index = start; index < start + count; index++) batch.sentAt[index] = now;
    this.#sendProgress = 0;
    try {
      return this.#sendmmsg(structures, start, count);
    } finally {
      // The kernel numbers every datagram it accepts, in order, also before a failure.
      this.#transmitTimes?.number(batch, start, start + this.#sendProgress);
    }
  }

  /**
   * Sends `count` datagrams from slot `start`, retrying while the send buffer is full; returns
   * how many went. Those still unsent after `SEND_ATTEMPTS` calls are counted in `unsent`.
   */
  #sendmmsg(structures: BatchStructures, start: number, count: number): number {
    const c = libc();
    let done = 0;
    for (let attempt = 0; done < count && attempt < SEND_ATTEMPTS; attempt++) {
      const from = (start + done) * MMSGHDR_BYTES;
      // No view made for the common case, a batch sent whole from its first slot.
      const messages = from === 0 ? structures.messages : structures.messages.subarray(from);
      const result = c.sendmmsg(this.#fd, messages, count - done, MSG_DONTWAIT);
      if (result > 0) {
        done += result;
        this.#sendProgress = done;
        continue;
      }
      const errno = readErrno();
      // A full send buffer clears within microseconds: try again; anything else fails the rest.
      if (result < 0 && errno === Errno.EAGAIN) continue;
      throw errnoError("sendmmsg failed", "send", errno);
    }
    if (done < count) this.#unsent += count - done;
    return done;
  }

  #prepare(batch: DatagramBatch): BatchStructures {
    let structures = this.#structures.get(batch);
    if (structures === undefined) {
      structures = buildStructures(batch);
      this.#structures.set(batch, structures);
    }
    return structures;
  }

  #applyTos(tos: number): void {
    this.#options.setTos(this.#family, tos);
    this.#tos = tos;
  }
}
