/**
 * The UDP socket interface the reflector and collector use, so that they never call a platform
 * API directly. It moves datagrams in batches, so an implementation built on `recvmmsg` /
 * `sendmmsg` moves many per call; the `Deno.listenDatagram` one moves one per receive.
 *
 * @module
 */

import type { SocketAddress } from "./_socket_address.ts";
import type { IcmpErrorSink } from "./_icmp_errors.ts";

export type { SocketAddress };

/** Where the receive times in a batch come from. */
export type TimestampSource = "kernel" | "userspace";

/**
 * Reusable storage for datagrams: `capacity` slots of `slotSize` bytes in one buffer, allocated
 * once, with each slot's length, peer address, receive time and TOS.
 *
 * @example
 * ```ts
 * import { DatagramBatch } from "@llama/core";
 * const batch = new DatagramBatch(4, 2048);
 * batch.slots[0].set([1, 2, 3]);
 * batch.lengths[0] = 3;
 * console.assert(batch.slots.length === 4 && batch.slots[0].length === 2048);
 * ```
 */
export class DatagramBatch {
  /** Number of slots. */
  readonly capacity: number;
  /** Bytes per slot: the longest datagram a slot holds. */
  readonly slotSize: number;
  /** One full-size view per slot. The datagram in slot i is its first `lengths[i]` bytes. */
  readonly slots: readonly Uint8Array[];
  /** Length of the datagram in each slot. On send, a slot of length 0 is skipped. */
  readonly lengths: Uint32Array;
  /** Peer of each slot: where it came from, or where to send it. */
  readonly addresses: SocketAddress[];
  /** Monotonic receive time of each slot, in milliseconds (`performance.now()` scale). */
  readonly receivedAt: Float64Array;
  /**
   * Monotonic send time of each slot, in milliseconds: `send` fills it for every slot it sends
   * before its promise is returned, so a reply can never be handled before its send time is known.
   */
  readonly sentAt: Float64Array;
  /** The TOS byte each datagram arrived with, or -1 when the socket cannot tell. */
  readonly tos: Int16Array;
  /**
   * On receive, the TTL (IPv4) or hop limit (IPv6) each datagram arrived with, or -1 when
   * unknown (a native socket opened with `receiveTtl` knows it). On send, the TTL or hop limit to
   * send each slot with, -1 for the socket's default (native engine; Deno's ignores it).
   */
  readonly ttl: Int16Array;
  /**
   * The key under which the kernel will report each sent slot's transmit time (a socket with
   * transmit timestamps fills it on `send`), or -1.
   */
  readonly transmitKeys: Float64Array;
  /** A view over every slot; slot i starts at byte `slots[i].byteOffset`. */
  readonly view: DataView;
  /** Where `receivedAt` came from for the last receive. */
  timestampSource: TimestampSource = "userspace";

  /** Allocates `capacity` slots of `slotSize` bytes. */
  constructor(capacity: number, slotSize: number) {
    if (!Number.isInteger(capacity) || capacity < 1) {
      throw new RangeError(
        `Cannot create batch: capacity must be a positive integer, got ${capacity}`,
      );
    }
    if (!Number.isInteger(slotSize) || slotSize < 1) {
      throw new RangeError(
        `Cannot create batch: slot size must be a positive integer, got ${slotSize}`,
      );
    }
    this.capacity = capacity;
    this.slotSize = slotSize;
    const buffer = new ArrayBuffer(capacity * slotSize);
    this.slots = Array.from(
      { length: capacity },
      (_, index) => new Uint8Array(buffer, index * slotSize, slotSize),
    );
    this.view = new DataView(buffer);
    this.lengths = new Uint32Array(capacity);
    this.addresses = Array.from({ length: capacity }, () => ({ hostname: "", port: 0 }));
    this.receivedAt = new Float64Array(capacity);
    this.sentAt = new Float64Array(capacity);
    this.tos = new Int16Array(capacity).fill(-1);
    this.ttl = new Int16Array(capacity).fill(-1);
    this.transmitKeys = new Float64Array(capacity).fill(-1);
  }
}

/**
 * A bound UDP socket. `receive` waits for at least one datagram and fills as many slots as are
 * ready; `send` sends slots `0..count-1` (skipping empty ones) to their addresses. Both return
 * a count. A batch must not be reused until the promise for it has settled.
 */
export interface DatagramSocket extends AsyncDisposable {
  /** The address the socket is bound to (the real port when bound to port 0). */
  readonly localAddress: SocketAddress;
  /** Name of the implementation, for logs: `deno` or `native`. */
  readonly engine: string;
  /** Receives into `batch`; resolves to the number of slots filled (at least 1). */
  receive(batch: DatagramBatch): Promise<number>;
  /**
   * Fills `batch` with the datagrams queued now, without waiting; 0 when there are none (native
   * engine: one system call, no promise).
   */
  receiveQueued?(batch: DatagramBatch): number;
  /**
   * Sends the first `count` slots of `batch` before returning; returns the number sent (native
   * engine: no promise).
   */
  sendNow?(batch: DatagramBatch, count: number): number;
  /** Sends the first `count` slots of `batch`; resolves to the number sent. */
  send(batch: DatagramBatch, count: number): Promise<number>;
  /**
   * Now, on the scale of this socket's `receivedAt` and `sentAt`: stamp with it what is compared
   * with them (a reflector's send time against its kernel receive time).
   */
  now(): number;
  /** Closes the socket; a pending `receive` rejects with a `SocketError` whose operation is `closed`. */
  close(): void;
  /**
   * Whether the kernel reports when each datagram left (asked for with
   * `BindOptions.transmitTimestamps`; native engine). Absent or false: send times are the clock
   * read just before the send.
   */
  readonly transmitTimestamps?: boolean;
  /**
   * Gives `sink` each transmit time the kernel has queued since the last call, under the key
   * `send` wrote to `DatagramBatch.transmitKeys`, on the `receivedAt` scale; returns how many.
   */
  readTransmitTimes?(sink: (key: number, sentAt: number) => void): number;
  /**
   * Whether the kernel reports the ICMP errors about this socket's datagrams (a native socket
   * opened with `BindOptions.receiveIcmpErrors`): then datagrams sent with a small
   * `DatagramBatch.ttl` trace their path, and `readErrorQueue` reads the routers' answers.
   */
  readonly traceable?: boolean;
  /**
   * Reads everything the kernel has queued on the socket's error queue now, without waiting:
   * transmit times go to `times` (as `readTransmitTimes` gives them), ICMP errors to `errors`
   * (dropped, and counted in `icmpErrorsDropped`, when it is undefined). Returns how many were
   * given to a sink. Call it regularly on a traceable socket: the queue counts against its
   * receive buffer, and `readTransmitTimes` drops the ICMP errors it finds.
   */
  readErrorQueue?(
    times: ((key: number, sentAt: number) => void) | undefined,
    errors: IcmpErrorSink | undefined,
  ): number;
  /**
   * Calls that met an ICMP error the kernel reported on them (sk_err), retried rather than
   * failed, since the socket opened (traceable sockets).
   */
  readonly icmpErrorsOnCalls?: number;
  /** ICMP errors read from the error queue with no sink to give them to, since the socket opened. */
  readonly icmpErrorsDropped?: number;
}

/** What to bind, and how the socket behaves. */
export interface BindOptions {
  /** Local address; `::` is dual-stack where the host has IPv6. */
  hostname: string;
  /** Local port; 0 lets the kernel choose. */
  port: number;
  /** TOS of datagrams sent without their own (native engine only; Deno's cannot mark TOS). */
  tos?: number;
  /** Kernel receive buffer in bytes (native engine only). */
  receiveBufferBytes?: number;
  /** Kernel send buffer in bytes (native engine only). */
  sendBufferBytes?: number;
  /**
   * Ask the kernel for software transmit timestamps (native engine only; see
   * `NativeDatagramSocket.readTransmitTimes`). Default false.
   */
  transmitTimestamps?: boolean;
  /**
   * Read the TTL / hop limit of each datagram received into `DatagramBatch.ttl` (native engine
   * only; IP_RECVTTL and IPV6_RECVHOPLIMIT). Default false.
   */
  receiveTtl?: boolean;
  /**
   * Have the kernel report ICMP errors about the datagrams sent (native engine only; IP_RECVERR
   * and IPV6_RECVERR): the socket is then `traceable`, see `DatagramSocket.readErrorQueue`.
   * Default false.
   */
  receiveIcmpErrors?: boolean;
  /**
   * Where the native engine keeps each peer's encoded address: sockets that send to the same
   * address objects can share one (a collector's sockets all send to the same targets). Default:
   * one per socket.
   */
  peerAddresses?: PeerAddressCache;
}

/**
 * Encoded peer addresses, keyed weakly by the `SocketAddress` objects sent to, for sockets to
 * share (native engine).
 *
 * @example
 * ```ts
 * import { PeerAddressCache } from "@llama/core";
 * const peerAddresses = new PeerAddressCache();
 * // openSocket({ hostname: "0.0.0.0", port: 0, peerAddresses }) for each socket of a prober
 * console.assert(peerAddresses.encoded instanceof WeakMap);
 * ```
 */
export class PeerAddressCache {
  /**
   * Each address as one number (IPv4, also mapped: the address as a signed 32-bit number; the
   * port is the object's) or its sockaddr bytes (IPv6).
   */
  readonly encoded: WeakMap<SocketAddress, number | Uint8Array> = new WeakMap();
}

/** Opens a socket: the one thing the programs need from a socket implementation. */
export type OpenSocket = (options: BindOptions) => Promise<DatagramSocket>;
