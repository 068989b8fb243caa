/**
 * A UDP socket on Linux libc through `Deno.dlopen`: TOS marking and reading, sized kernel
 * buffers, kernel receive timestamps, and `recvmmsg`/`sendmmsg` moving a whole batch per call.
 * Needs `--allow-ffi`; `nativeEngineStatus()` says whether it can be used.
 *
 * @module
 */
import { SocketError } from "./errors.ts";
import { formatAddress } from "./address.ts";
import {
  type BindOptions,
  DatagramBatch,
  type DatagramSocket,
  type SocketAddress,
} from "./socket.ts";

const AF_INET = 2;
const AF_INET6 = 10;
const SOCK_DGRAM = 2;
const SOL_SOCKET = 1;
const SO_SNDBUF = 7;
const SO_RCVBUF = 8;
const SO_SNDBUFFORCE = 32;
const SO_RCVBUFFORCE = 33;
const SO_TIMESTAMPNS = 35;
const IPPROTO_IP = 0;
const IP_TOS = 1;
const IP_RECVTOS = 13;
const IPPROTO_IPV6 = 41;
const IPV6_V6ONLY = 26;
const IPV6_RECVTCLASS = 66;
const IPV6_TCLASS = 67;
const MSG_TRUNC = 0x20;
const MSG_DONTWAIT = 0x40;
const MSG_WAITFORONE = 0x10000;
const POLLIN = 1;
const EAGAIN = 11;
const EINTR = 4;
const SHUT_RDWR = 2;
const CLOCK_REALTIME = 0;
// Kernel timestamps are CLOCK_REALTIME; they are mapped onto performance.now()'s scale by a
// calibration. Between calibrations the two clocks drift apart (NTP slews up to 500 ppm), so a
// probe whose send and receive straddle one is off by drift × period: 100 ms keeps that to a
// few microseconds at realistic rates, for two clock reads per 100 ms.
const CALIBRATE_EVERY_MS = 100;

const MMSGHDR_BYTES = 64; // struct mmsghdr on x86_64 and aarch64: msghdr (56) + msg_len + padding
const NAME_BYTES = 28; // sockaddr_in6, large enough for sockaddr_in
// Control messages per datagram: on receive a timespec (32), a TOS/TCLASS message (24) and, on a
// socket with transmit timestamps, an SCM_TIMESTAMPING message (64); on the error queue also an
// IP(V6)_RECVERR message (48, or 60 for IPv6): 256 leaves room for all of them.
const CONTROL_BYTES = 256;
const SO_TIMESTAMPING = 37;
// Software transmit timestamps, reported, keyed by a per-socket counter, without the payload.
const SOF_TIMESTAMPING_TX_SOFTWARE = 1 << 1;
const SOF_TIMESTAMPING_SOFTWARE = 1 << 4;
const SOF_TIMESTAMPING_OPT_ID = 1 << 7;
const SOF_TIMESTAMPING_OPT_TSONLY = 1 << 11;
const TRANSMIT_TIMESTAMPING = SOF_TIMESTAMPING_TX_SOFTWARE | SOF_TIMESTAMPING_SOFTWARE |
  SOF_TIMESTAMPING_OPT_ID | SOF_TIMESTAMPING_OPT_TSONLY;
const MSG_ERRQUEUE = 0x2000;
const IP_RECVERR = 11;
const IPV6_RECVERR = 25;
const SO_EE_ORIGIN_TIMESTAMPING = 4;
const SCM_TSTAMP_SND = 0;
/** Error-queue messages read per recvmmsg. */
const ERRQUEUE_BATCH = 64;

const ERRNO_NAMES: Record<number, string> = {
  1: "EPERM",
  4: "EINTR",
  9: "EBADF",
  11: "EAGAIN",
  13: "EACCES",
  22: "EINVAL",
  24: "EMFILE",
  90: "EMSGSIZE",
  92: "ENOPROTOOPT",
  97: "EAFNOSUPPORT",
  98: "EADDRINUSE",
  99: "EADDRNOTAVAIL",
  101: "ENETUNREACH",
  105: "ENOBUFS",
  111: "ECONNREFUSED",
  113: "EHOSTUNREACH",
};

const SYMBOLS = {
  socket: { parameters: ["i32", "i32", "i32"], result: "i32" },
  bind: { parameters: ["i32", "buffer", "u32"], result: "i32" },
  setsockopt: { parameters: ["i32", "i32", "i32", "buffer", "u32"], result: "i32" },
  getsockopt: { parameters: ["i32", "i32", "i32", "buffer", "buffer"], result: "i32" },
  getsockname: { parameters: ["i32", "buffer", "buffer"], result: "i32" },
  recvmmsg: {
    parameters: ["i32", "buffer", "u32", "i32", "pointer"],
    result: "i32",
    nonblocking: true,
  },
  // The same call, blocking the calling thread: for a receive loop on a Worker of its own.
  recvmmsgBlocking: {
    name: "recvmmsg",
    parameters: ["i32", "buffer", "u32", "i32", "pointer"],
    result: "i32",
  },
  poll: { parameters: ["buffer", "u64", "i32"], result: "i32" },
  sendmmsg: { parameters: ["i32", "buffer", "u32", "i32"], result: "i32" },
  shutdown: { parameters: ["i32", "i32"], result: "i32" },
  close: { parameters: ["i32"], result: "i32" },
  clock_gettime: { parameters: ["i32", "buffer"], result: "i32" },
  __errno_location: { parameters: [], result: "pointer" },
} as const;

type Libc = Deno.DynamicLibrary<typeof SYMBOLS>["symbols"];
let library: Deno.DynamicLibrary<typeof SYMBOLS> | undefined;

/** Whether the native engine can run here, and if not, why. */
export type NativeEngineStatus = { available: true } | { available: false; reason: string };

/**
 * Says whether the native engine can be used: Linux, FFI permitted, libc loadable.
 *
 * @example
 * ```ts
 * import { nativeEngineStatus } from "@llama/core";
 * const status = nativeEngineStatus();
 * console.assert(status.available || status.reason.length > 0);
 * ```
 */
export function nativeEngineStatus(): NativeEngineStatus {
  if (Deno.build.os !== "linux") {
    return { available: false, reason: `it needs Linux, and this is ${Deno.build.os}` };
  }
  if (Deno.permissions.querySync({ name: "ffi" }).state !== "granted") {
    return { available: false, reason: "FFI is not permitted (run with --allow-ffi or -A)" };
  }
  try {
    libc();
  } catch (error) {
    return { available: false, reason: `libc.so.6 cannot be loaded: ${(error as Error).message}` };
  }
  return { available: true };
}

function libc(): Libc {
  library ??= Deno.dlopen("libc.so.6", SYMBOLS);
  return library.symbols;
}

/** The encoding of `address` for a socket of `family`, worked out at its first send. */
let peerEncoding: (address: PeerAddress, family: number) => number | Uint8Array;

/**
 * A peer address that keeps its own encoding for the native engine, worked out at the first send
 * to it: for addresses a program keeps and sends to again and again, like a prober's targets.
 * Any engine sends to it as to any `SocketAddress`; the native engine then needs no
 * `PeerAddressCache` entry for it (at 10,000 targets that entry and its number took ~40 bytes
 * a target, more than the address). Like every address sent to, it is not changed once made.
 *
 * @example
 * ```ts
 * import { PeerAddress } from "@llama/core";
 * const target = new PeerAddress("127.0.0.1", 8100);
 * console.assert(target.hostname === "127.0.0.1" && target.port === 8100);
 * ```
 */
export class PeerAddress implements SocketAddress {
  /** The IP address. */
  readonly hostname: string;
  /** The UDP port. */
  readonly port: number;
  /** IPv4 (also mapped): the address as a signed 32-bit number; IPv6: its sockaddr_in6. */
  #encoded: number | Uint8Array | undefined;

  /** A peer at `hostname` (an IP address) and `port`. */
  constructor(hostname: string, port: number) {
    this.hostname = hostname;
    this.port = port;
  }

  static {
    peerEncoding = (address, family) =>
      address.#encoded ??= compactName(encodeAddress(address, family));
  }
}

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

/** Per-batch C structures, built once: pointers into the batch's slots never change. */
interface BatchStructures {
  messages: Uint8Array;
  messageView: DataView;
  iovecView: DataView;
  names: Uint8Array;
  nameView: DataView;
  control: Uint8Array;
  controlView: DataView;
  iovecs: Uint8Array;
}

class NativeSocket implements NativeDatagramSocket {
  readonly engine = "native";
  readonly localAddress: SocketAddress;
  readonly info: NativeSocketInfo;
  readonly #fd: number;
  /** Whether this object opened the descriptor (and so closes it). */
  readonly #owner: boolean;
  readonly transmitTimestamps: boolean = false;
  /** The key the kernel gives the next datagram sent (SOF_TIMESTAMPING_OPT_ID counts from 0). */
  #nextKey = 0;
  /** Datagrams the current #sendmmsg has sent so far (it may throw after sending some). */
  #sendProgress = 0;
  #errorQueue: BatchStructures | undefined;
  readonly #errorBatch = new DatagramBatch(ERRQUEUE_BATCH, 16);
  readonly #pollfd = new Int32Array(2);
  readonly #pollfdBytes = new Uint8Array(this.#pollfd.buffer);
  readonly #family: number;
  readonly #structures = new WeakMap<DatagramBatch, BatchStructures>();
  readonly #addresses = new Map<string | number, SocketAddress>();
  /**
   * Each peer's sockaddr, for peers that are not `PeerAddress`es: an IPv4 peer as its address, one
   * 32-bit number (the port is the address object's; a Uint8Array of its own took ~250 bytes), an
   * IPv6 one as its bytes.
   */
  readonly #encoded: WeakMap<SocketAddress, number | Uint8Array>;
  /** A struct timespec for clock_gettime, read as 32-bit halves: a BigInt a reading was garbage. */
  readonly #timespecBytes = new Uint8Array(16);
  readonly #timespecView = new DataView(this.#timespecBytes.buffer);
  readonly #int = new Int32Array(1);
  readonly #intBytes = new Uint8Array(this.#int.buffer);
  /** TOS of datagrams that do not ask for one. */
  readonly #baseTos: number;
  /** TOS the socket is set to now. */
  #tos = 0;
  #closed = false;
  // Calibration: a performance.now() reading and the CLOCK_REALTIME seconds and nanoseconds
  // read with it, so kernel times map onto the monotonic scale without losing precision.
  #calibratedAt = -Infinity;
  #baseMonotonic = 0;
  #baseSeconds = 0;
  #baseNanos = 0;

  constructor(options: NativeSocketOptions, adopted?: number) {
    this.#encoded = options.peerAddresses?.encoded ?? new WeakMap();
    const c = libc();
    if (adopted !== undefined) {
      this.#fd = adopted;
      this.#owner = false;
      const local = new Uint8Array(NAME_BYTES);
      const length = new Uint32Array([NAME_BYTES]);
      if (c.getsockname(adopted, local, new Uint8Array(length.buffer)) !== 0) {
        throw this.#error("getsockname");
      }
      this.localAddress = decodeAddress(new DataView(local.buffer), 0);
      this.#family = new DataView(local.buffer).getUint16(0, true);
      this.#baseTos = options.tos ?? 0;
      this.#tos = this.#baseTos; // the owner set it when it opened the socket
      this.info = {
        receiveBufferBytes: this.#getInt(SO_RCVBUF),
        sendBufferBytes: this.#getInt(SO_SNDBUF),
      };
      return;
    }
    this.#owner = true;
    const v6 = options.hostname.includes(":");
    this.#family = v6 ? AF_INET6 : AF_INET;
    const fd = c.socket(this.#family, SOCK_DGRAM, 0);
    if (fd < 0) throw this.#error("socket", options);
    this.#fd = fd;
    try {
      if (v6) this.#setInt(IPPROTO_IPV6, IPV6_V6ONLY, 0, "IPV6_V6ONLY", true);
      const name = encodeAddress({ hostname: options.hostname, port: options.port }, this.#family);
      if (c.bind(fd, name, v6 ? 28 : 16) !== 0) throw this.#error("bind", options);
      this.#setInt(SOL_SOCKET, SO_TIMESTAMPNS, 1, "SO_TIMESTAMPNS");
      this.#setInt(IPPROTO_IP, IP_RECVTOS, 1, "IP_RECVTOS", v6);
      if (v6) this.#setInt(IPPROTO_IPV6, IPV6_RECVTCLASS, 1, "IPV6_RECVTCLASS");
      this.#baseTos = options.tos ?? 0;
      if (this.#baseTos !== 0) this.#applyTos(this.#baseTos);
      this.#setBuffer(
        SO_RCVBUFFORCE,
        SO_RCVBUF,
        options.receiveBufferBytes ?? 2 * 1024 * 1024,
        "SO_RCVBUF",
      );
      this.#setBuffer(
        SO_SNDBUFFORCE,
        SO_SNDBUF,
        options.sendBufferBytes ?? 2 * 1024 * 1024,
        "SO_SNDBUF",
      );
      this.info = {
        receiveBufferBytes: this.#getInt(SO_RCVBUF),
        sendBufferBytes: this.#getInt(SO_SNDBUF),
      };
      if (options.transmitTimestamps === true) {
        // Optional: a kernel without them leaves the send times to the clock read before sendmmsg.
        this.#int[0] = TRANSMIT_TIMESTAMPING;
        this.transmitTimestamps =
          c.setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPING, this.#intBytes, 4) === 0;
      }
      const local = new Uint8Array(NAME_BYTES);
      const length = new Uint32Array([NAME_BYTES]);
      if (c.getsockname(fd, local, new Uint8Array(length.buffer)) !== 0) {
        throw this.#error("getsockname");
      }
      this.localAddress = decodeAddress(new DataView(local.buffer), 0);
    } catch (error) {
      c.close(fd);
      throw error;
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
        if (this.#errno() === EINTR) return 0;
        throw this.#error("poll");
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
      const errno = this.#errno();
      if (errno === EAGAIN || errno === EINTR) return 0;
      throw new SocketError(`recvmmsg failed: ${errnoName(errno)}`, { operation: "receive" });
    }
    return this.#received(batch, structures, count);
  }

  /** Resets the receive structures of `batch` (a send may have shortened them). */
  #prepareReceive(batch: DatagramBatch): BatchStructures {
    const structures = this.#prepare(batch);
    const { messageView, iovecView } = structures;
    const slotBytes = batch.slotSize;
    for (let index = 0; index < batch.capacity; index++) {
      const message = index * MMSGHDR_BYTES;
      messageView.setUint32(message + 8, NAME_BYTES, true); // msg_namelen
      setSize(messageView, message + 40, CONTROL_BYTES); // msg_controllen
      messageView.setUint32(message + 48, 0, true); // msg_flags
      setSize(iovecView, index * 16 + 8, slotBytes); // a send may have shortened iov_len
    }
    return structures;
  }

  /** Fills the batch's lengths, peers, TOS and receive times from what recvmmsg wrote. */
  #received(batch: DatagramBatch, structures: BatchStructures, count: number): number {
    const { messageView } = structures;
    const now = performance.now();
    if (now - this.#calibratedAt > CALIBRATE_EVERY_MS) this.#calibrate();
    let kernelTimes = 0;
    for (let index = 0; index < count; index++) {
      const message = index * MMSGHDR_BYTES;
      // A datagram longer than its slot arrives empty: cut short, it would be answered wrongly.
      const truncated = (messageView.getInt32(message + 48, true) & MSG_TRUNC) !== 0;
      batch.lengths[index] = truncated ? 0 : messageView.getUint32(message + 56, true);
      batch.addresses[index] = this.#peer(structures.nameView, index * NAME_BYTES);
      batch.tos[index] = -1;
      batch.receivedAt[index] = now;
      const controlLength = messageView.getUint32(message + 40, true);
      const view = structures.controlView;
      const base = index * CONTROL_BYTES;
      for (let offset = 0; offset + 16 <= controlLength;) {
        const length = view.getUint32(base + offset, true);
        const level = view.getInt32(base + offset + 8, true);
        const type = view.getInt32(base + offset + 12, true);
        if (level === SOL_SOCKET && type === SO_TIMESTAMPNS) {
          batch.receivedAt[index] = this.#timespecAt(view, base + offset + 16);
          kernelTimes++;
        } else if (level === IPPROTO_IP && type === IP_TOS) {
          batch.tos[index] = view.getUint8(base + offset + 16);
        } else if (level === IPPROTO_IPV6 && type === IPV6_TCLASS) {
          batch.tos[index] = view.getInt32(base + offset + 16, true) & 0xff;
        }
        if (length < 16) break;
        offset += (length + 7) & ~7;
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
    const { messageView, iovecView } = structures;
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
          this.#writeName(structures, index * NAME_BYTES, batch.addresses[index]);
          messageView.setUint32(message + 8, this.#family === AF_INET6 ? 28 : 16, true);
          setSize(iovecView, index * 16 + 8, batch.lengths[index]);
          setSize(messageView, message + 40, 0); // no control data on send
          index++;
        }
        sent += this.#sendRun(structures, batch, runStart, index - runStart, runTos);
      }
    } catch (error) {
      // A datagram the kernel refused (a firewall's EPERM, say) may still have used up a key:
      // start the count again rather than pair later times with the wrong probes.
      if (this.transmitTimestamps) this.#restartTransmitKeys();
      throw error;
    }
    return sent;
  }

  now(): number {
    return this.#realtimeMonotonic();
  }

  get fd(): number {
    return this.#fd;
  }

  /**
   * Empties the error queue (its times can no longer be paired safely) and turns transmit
   * timestamps off and on again, which restarts the kernel's count at 0, like ours.
   */
  #restartTransmitKeys(): void {
    this.readTransmitTimes(() => {});
    for (const value of [0, TRANSMIT_TIMESTAMPING]) {
      this.#int[0] = value;
      libc().setsockopt(this.#fd, SOL_SOCKET, SO_TIMESTAMPING, this.#intBytes, 4);
    }
    this.#nextKey = 0;
  }

  readTransmitTimes(sink: TransmitTimeSink): number {
    if (!this.transmitTimestamps || this.#closed) return 0;
    const c = libc();
    const batch = this.#errorBatch;
    const structures = this.#errorQueue ??= this.#prepare(batch);
    let total = 0;
    for (;;) {
      this.#prepareReceive(batch);
      const count = c.recvmmsgBlocking(
        this.#fd,
        structures.messages,
        ERRQUEUE_BATCH,
        MSG_ERRQUEUE | MSG_DONTWAIT,
        null,
      );
      if (count <= 0) return total;
      if (performance.now() - this.#calibratedAt > CALIBRATE_EVERY_MS) this.#calibrate();
      const { messageView, controlView: view } = structures;
      for (let index = 0; index < count; index++) {
        const controlLength = messageView.getUint32(index * MMSGHDR_BYTES + 40, true);
        const base = index * CONTROL_BYTES;
        let time = NaN;
        let key = -1;
        for (let offset = 0; offset + 16 <= controlLength;) {
          const length = view.getUint32(base + offset, true);
          const level = view.getInt32(base + offset + 8, true);
          const type = view.getInt32(base + offset + 12, true);
          const data = base + offset + 16;
          if (level === SOL_SOCKET && type === SO_TIMESTAMPING) {
            // struct scm_timestamping: ts[0] is the software timestamp.
            time = this.#timespecAt(view, data);
          } else if (
            (level === IPPROTO_IP && type === IP_RECVERR) ||
            (level === IPPROTO_IPV6 && type === IPV6_RECVERR)
          ) {
            // struct sock_extended_err: errno, origin, type, code, pad, info, data (the key).
            if (
              view.getUint8(data + 4) === SO_EE_ORIGIN_TIMESTAMPING &&
              view.getUint32(data + 8, true) === SCM_TSTAMP_SND
            ) {
              key = view.getUint32(data + 12, true);
            }
          }
          if (length < 16) break;
          offset += (length + 7) & ~7;
        }
        if (key >= 0 && !Number.isNaN(time) && time > 0) {
          sink(key, time);
          total++;
        }
      }
      if (count < ERRQUEUE_BATCH) return total;
    }
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
    const now = this.#realtimeMonotonic();
    for (let index = start; index < start + count; index++) batch.sentAt[index] = now;
    this.#sendProgress = 0;
    try {
      return this.#sendmmsg(structures, start, count);
    } finally {
      if (this.transmitTimestamps) {
        // The kernel numbers every datagram it accepts, in order, also before a failure.
        for (let index = start; index < start + this.#sendProgress; index++) {
          batch.transmitKeys[index] = this.#nextKey;
          this.#nextKey = (this.#nextKey + 1) >>> 0;
        }
      }
    }
  }

  #sendmmsg(structures: BatchStructures, start: number, count: number): number {
    const c = libc();
    let done = 0;
    for (let attempt = 0; done < count && attempt < 100; attempt++) {
      const from = (start + done) * MMSGHDR_BYTES;
      // No view made for the common case, a batch sent whole from its first slot.
      const messages = from === 0 ? structures.messages : structures.messages.subarray(from);
      const result = c.sendmmsg(this.#fd, messages, count - done, MSG_DONTWAIT);
      if (result > 0) {
        done += result;
        this.#sendProgress = done;
        continue;
      }
      const errno = this.#errno();
      // A full send buffer clears within microseconds: try again; anything else fails the rest.
      if (result < 0 && errno === 11) continue;
      throw new SocketError(`sendmmsg failed: ${errnoName(errno)}`, { operation: "send" });
    }
    return done;
  }

  #prepare(batch: DatagramBatch): BatchStructures {
    let structures = this.#structures.get(batch);
    if (structures !== undefined) return structures;
    const messages = new Uint8Array(batch.capacity * MMSGHDR_BYTES);
    const names = new Uint8Array(batch.capacity * NAME_BYTES);
    const control = new Uint8Array(batch.capacity * CONTROL_BYTES);
    const iovecs = new Uint8Array(batch.capacity * 16);
    const messageView = new DataView(messages.buffer);
    const iovecView = new DataView(iovecs.buffer);
    const address = (bytes: Uint8Array, offset: number) =>
      BigInt(Deno.UnsafePointer.value(Deno.UnsafePointer.of(bytes))) + BigInt(offset);
    for (let index = 0; index < batch.capacity; index++) {
      const slot = batch.slots[index];
      iovecView.setBigUint64(index * 16, address(slot, 0), true);
      iovecView.setBigUint64(index * 16 + 8, BigInt(slot.length), true);
      const message = index * MMSGHDR_BYTES;
      messageView.setBigUint64(message, address(names, index * NAME_BYTES), true); // msg_name
      messageView.setUint32(message + 8, NAME_BYTES, true); // msg_namelen
      messageView.setBigUint64(message + 16, address(iovecs, index * 16), true); // msg_iov
      messageView.setBigUint64(message + 24, 1n, true); // msg_iovlen
      messageView.setBigUint64(message + 32, address(control, index * CONTROL_BYTES), true); // msg_control
      messageView.setBigUint64(message + 40, BigInt(CONTROL_BYTES), true); // msg_controllen
    }
    structures = {
      messages,
      messageView,
      iovecView,
      names,
      nameView: new DataView(names.buffer),
      control,
      controlView: new DataView(control.buffer),
      iovecs,
    };
    // Receiving overwrites iov_len only through msg_len; the slot sizes set above stay.
    this.#structures.set(batch, structures);
    return structures;
  }

  /** The peer of a received datagram, from a small cache so that a busy peer costs nothing. */
  #peer(view: DataView, offset: number): SocketAddress {
    const family = view.getUint16(offset, true);
    const port = view.getUint16(offset + 2, false);
    let key: string | number;
    if (family === AF_INET) key = view.getUint32(offset + 4, false) * 65536 + port;
    else {
      let text = "";
      for (let index = 8; index < 24; index += 4) {
        text += view.getUint32(offset + index, false).toString(16) + ",";
      }
      key = text + port;
    }
    let address = this.#addresses.get(key);
    if (address === undefined) {
      if (this.#addresses.size >= 4096) this.#addresses.clear();
      address = decodeAddress(view, offset);
      this.#addresses.set(key, address);
      const encoded = new Uint8Array(NAME_BYTES);
      encoded.set(new Uint8Array(view.buffer, view.byteOffset + offset, NAME_BYTES));
      this.#encoded.set(address, compactName(encoded));
    }
    return address;
  }

  /** Writes the sockaddr of `address` at `offset` of the batch's names. */
  #writeName(structures: BatchStructures, offset: number, address: SocketAddress): void {
    let encoded;
    if (address instanceof PeerAddress) encoded = peerEncoding(address, this.#family);
    else {
      encoded = this.#encoded.get(address);
      if (encoded === undefined) {
        encoded = compactName(encodeAddress(address, this.#family));
        this.#encoded.set(address, encoded);
      }
    }
    if (typeof encoded !== "number") {
      structures.names.set(encoded, offset);
      return;
    }
    const view = structures.nameView;
    const ipv4 = encoded >>> 0;
    structures.names.fill(0, offset, offset + NAME_BYTES);
    view.setUint16(offset, this.#family, true);
    view.setUint16(offset + 2, address.port, false);
    if (this.#family === AF_INET) view.setUint32(offset + 4, ipv4, false);
    else {
      // An IPv4 peer of a dual-stack socket: ::ffff:a.b.c.d.
      view.setUint16(offset + 18, 0xffff, false);
      view.setUint32(offset + 20, ipv4, false);
    }
  }

  #applyTos(tos: number): void {
    if (this.#family === AF_INET6) {
      this.#setInt(IPPROTO_IPV6, IPV6_TCLASS, tos, "IPV6_TCLASS");
      // A dual-stack socket sends to IPv4 peers with IP_TOS.
      this.#setInt(IPPROTO_IP, IP_TOS, tos, "IP_TOS", true);
    } else {
      this.#setInt(IPPROTO_IP, IP_TOS, tos, "IP_TOS");
    }
    this.#tos = tos;
  }

  #setBuffer(force: number, plain: number, bytes: number, name: string): void {
    // SO_*BUFFORCE passes the system limit (net.core.rmem_max) but needs CAP_NET_ADMIN.
    this.#int[0] = bytes;
    if (libc().setsockopt(this.#fd, SOL_SOCKET, force, this.#intBytes, 4) === 0) return;
    this.#setInt(SOL_SOCKET, plain, bytes, name);
  }

  #setInt(level: number, option: number, value: number, name: string, optional = false): void {
    this.#int[0] = value;
    if (libc().setsockopt(this.#fd, level, option, this.#intBytes, 4) !== 0 && !optional) {
      throw this.#error(`setsockopt(${name})`);
    }
  }

  #getInt(option: number): number {
    const length = new Uint32Array([4]);
    libc().getsockopt(this.#fd, SOL_SOCKET, option, this.#intBytes, new Uint8Array(length.buffer));
    return this.#int[0];
  }

  #calibrate(): void {
    // The clock read is bracketed by two performance.now() readings; of three tries the
    // tightest bracket wins, so a preemption between the readings cannot skew the mapping.
    const c = libc();
    let best = Infinity;
    for (let attempt = 0; attempt < 3; attempt++) {
      const before = performance.now();
      c.clock_gettime(CLOCK_REALTIME, this.#timespecBytes);
      const after = performance.now();
      if (after - before >= best) continue;
      best = after - before;
      this.#baseMonotonic = (before + after) / 2;
      this.#baseSeconds = timespecSeconds(this.#timespecView, 0);
      this.#baseNanos = this.#timespecView.getUint32(8, true);
    }
    this.#calibratedAt = this.#baseMonotonic;
  }

  /**
   * Maps the struct timespec at `offset` (64-bit seconds and nanoseconds, read as 32-bit halves:
   * no BigInt) onto the performance.now() scale.
   */
  #timespecAt(view: DataView, offset: number): number {
    return this.#toMonotonic(timespecSeconds(view, offset), view.getUint32(offset + 8, true));
  }

  /** Maps a CLOCK_REALTIME reading onto the performance.now() scale. */
  #toMonotonic(seconds: number, nanos: number): number {
    return this.#baseMonotonic + (seconds - this.#baseSeconds) * 1000 +
      (nanos - this.#baseNanos) / 1e6;
  }

  /** CLOCK_REALTIME now, on the performance.now() scale: the same clock as kernel timestamps. */
  #realtimeMonotonic(): number {
    if (performance.now() - this.#calibratedAt > CALIBRATE_EVERY_MS) this.#calibrate();
    libc().clock_gettime(CLOCK_REALTIME, this.#timespecBytes);
    return this.#timespecAt(this.#timespecView, 0);
  }

  #errno(): number {
    return new Deno.UnsafePointerView(libc().__errno_location()!).getInt32();
  }

  #error(call: string, options?: BindOptions): SocketError {
    const errno = this.#errno();
    const where = options === undefined ? "" : ` ${formatAddress(options)}`;
    return new SocketError(`${call}${where} failed: ${errnoName(errno)}`, {
      operation: call.split(/[ (]/)[0],
    });
  }
}

/** Writes a size_t (below 2^32) without a BigInt. */
function setSize(view: DataView, offset: number, value: number): void {
  view.setUint32(offset, value, true);
  view.setUint32(offset + 4, 0, true);
}

function errnoName(errno: number): string {
  return `${ERRNO_NAMES[errno] ?? "errno"} (${errno})`;
}

/**
 * A sockaddr as one number when it holds an IPv4 address (plain or mapped into IPv6): the address
 * as a signed 32-bit number (a small integer to V8, where address × 65536 + port needed a heap
 * number), the port being the address object's; otherwise the bytes as they are.
 */
function compactName(bytes: Uint8Array): number | Uint8Array {
  const view = new DataView(bytes.buffer, bytes.byteOffset, NAME_BYTES);
  if (view.getUint16(0, true) === AF_INET) return view.getInt32(4, false);
  const mapped = view.getUint32(8, false) === 0 && view.getUint32(12, false) === 0 &&
    view.getUint32(16, false) === 0xffff && view.getUint32(4, false) === 0 &&
    view.getUint32(24, false) === 0;
  return mapped ? view.getInt32(20, false) : bytes;
}

/** Encodes an address as a sockaddr for a socket of `family` (IPv4 peers of IPv6 sockets are mapped). */
function encodeAddress(address: SocketAddress, family: number): Uint8Array {
  const bytes = new Uint8Array(NAME_BYTES);
  const view = new DataView(bytes.buffer);
  let hostname = address.hostname;
  if (family === AF_INET) {
    if (hostname.startsWith("::ffff:")) hostname = hostname.slice(7);
    const parts = hostname.split(".").map(Number);
    if (parts.length !== 4 || parts.some((part) => !(part >= 0 && part <= 255))) {
      throw new SocketError(`not an IPv4 address: ${hostname}`, { operation: "address" });
    }
    view.setUint16(0, AF_INET, true);
    view.setUint16(2, address.port, false);
    bytes.set(parts, 4);
    return bytes;
  }
  view.setUint16(0, AF_INET6, true);
  view.setUint16(2, address.port, false);
  if (/^\d+\.\d+\.\d+\.\d+$/.test(hostname)) hostname = `::ffff:${hostname}`;
  const groups = expandIpv6(hostname);
  if (groups === undefined) {
    throw new SocketError(`not an IP address: ${address.hostname}`, { operation: "address" });
  }
  groups.forEach((group, index) => view.setUint16(8 + index * 2, group, false));
  return bytes;
}

function expandIpv6(text: string): number[] | undefined {
  let tail: number[] = [];
  const mapped = /^(.*:)(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (mapped !== null) {
    const parts = mapped[2].split(".").map(Number);
    tail = [(parts[0] << 8) | parts[1], (parts[2] << 8) | parts[3]];
    text = mapped[1].endsWith("::") ? mapped[1] : mapped[1].slice(0, -1);
  }
  const [head, rest] = text.includes("::") ? text.split("::") : [text, undefined];
  const parse = (part: string) =>
    part === "" ? [] : part.split(":").map((group) => parseInt(group, 16));
  const left = parse(head);
  const right = rest === undefined ? [] : parse(rest);
  const fill = 8 - tail.length - left.length - right.length;
  if (fill < 0 || (rest === undefined && fill !== 0)) return undefined;
  const groups = [...left, ...Array(fill).fill(0), ...right, ...tail];
  return groups.length === 8 && groups.every((group) => group >= 0 && group <= 0xffff)
    ? groups
    : undefined;
}

function decodeAddress(view: DataView, offset: number): SocketAddress {
  const family = view.getUint16(offset, true);
  const port = view.getUint16(offset + 2, false);
  if (family === AF_INET) {
    return { hostname: [4, 5, 6, 7].map((index) => view.getUint8(offset + index)).join("."), port };
  }
  const groups: number[] = [];
  for (let index = 0; index < 8; index++) {
    groups.push(view.getUint16(offset + 8 + index * 2, false));
  }
  if (groups.slice(0, 5).every((group) => group === 0) && groups[5] === 0xffff) {
    return {
      hostname: `::ffff:${groups[6] >> 8}.${groups[6] & 0xff}.${groups[7] >> 8}.${
        groups[7] & 0xff
      }`,
      port,
    };
  }
  return { hostname: formatIpv6(groups), port };
}

/** RFC 5952 text: lowercase hex, the longest run of two or more zero groups as "::". */
function formatIpv6(groups: number[]): string {
  let bestStart = -1, bestLength = 1;
  for (let start = 0; start < 8;) {
    if (groups[start] !== 0) {
      start++;
      continue;
    }
    let end = start;
    while (end < 8 && groups[end] === 0) end++;
    if (end - start > bestLength) {
      bestStart = start;
      bestLength = end - start;
    }
    start = end;
  }
  const hex = groups.map((group) => group.toString(16));
  if (bestStart < 0) return hex.join(":");
  return `${hex.slice(0, bestStart).join(":")}::${hex.slice(bestStart + bestLength).join(":")}`;
}

/** The seconds of the struct timespec at `offset`: a 64-bit integer, read as two 32-bit halves. */
function timespecSeconds(view: DataView, offset: number): number {
  return view.getUint32(offset, true) + view.getInt32(offset + 4, true) * 4294967296;
}
