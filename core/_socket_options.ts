/**
 * Integer socket options of one descriptor through setsockopt/getsockopt, with a failure as a
 * `SocketError` carrying its errno.
 *
 * @module
 */
import type { SocketError } from "./errors.ts";
import { formatAddress } from "./address.ts";
import type { BindOptions } from "./socket.ts";
import { errnoError, libc, readErrno } from "./_libc.ts";
import {
  AF_INET6,
  IP_TOS,
  IP_TTL,
  IPPROTO_IP,
  IPPROTO_IPV6,
  IPV6_TCLASS,
  IPV6_UNICAST_HOPS,
  SO_RCVTIMEO,
  SOL_SOCKET,
} from "./_linux.ts";

/**
 * The error of libc call `call` (`bind`, `setsockopt(IP_TOS)`) that just failed, naming the
 * address bound to when there is one, with errno as data.
 */
export function callError(call: string, options?: BindOptions): SocketError {
  const errno = readErrno();
  const where = options === undefined ? "" : ` ${formatAddress(options)}`;
  return errnoError(`${call}${where} failed`, call.split(/[ (]/)[0], errno);
}

/** Sets and reads the integer options of one socket, through one reused int. */
export class SocketOptions {
  readonly #fd: number;
  readonly #int = new Int32Array(1);
  readonly #intBytes = new Uint8Array(this.#int.buffer);
  readonly #length = new Uint32Array(1);
  readonly #lengthBytes = new Uint8Array(this.#length.buffer);
  /** A struct timeval (two 64-bit longs). */
  readonly #timeval = new Uint8Array(16);
  readonly #timevalView = new DataView(this.#timeval.buffer);

  /** Options of the socket `fd`. */
  constructor(fd: number) {
    this.#fd = fd;
  }

  /** Sets option `option` of `level` to `value`; returns whether the kernel took it. */
  trySet(level: number, option: number, value: number): boolean {
    this.#int[0] = value;
    return libc().setsockopt(this.#fd, level, option, this.#intBytes, 4) === 0;
  }

  /**
   * Sets option `option` of `level` to `value`; unless `optional`, a refusal throws a
   * `SocketError` naming `setsockopt(name)`.
   */
  set(level: number, option: number, value: number, name: string, optional = false): void {
    if (!this.trySet(level, option, value) && !optional) throw callError(`setsockopt(${name})`);
  }

  /**
   * Sizes a kernel buffer: with `force` (SO_*BUFFORCE, past net.core.[rw]mem_max, needs
   * CAP_NET_ADMIN) when allowed, else with `plain`.
   */
  setBuffer(force: number, plain: number, bytes: number, name: string): void {
    if (this.trySet(SOL_SOCKET, force, bytes)) return;
    this.set(SOL_SOCKET, plain, bytes, name);
  }

  /**
   * Sets the TOS of datagrams sent (a traffic class on IPv6, and IP_TOS too for the IPv4 peers
   * of a dual-stack socket).
   */
  setTos(family: number, tos: number): void {
    if (family === AF_INET6) {
      this.set(IPPROTO_IPV6, IPV6_TCLASS, tos, "IPV6_TCLASS");
      this.set(IPPROTO_IP, IP_TOS, tos, "IP_TOS", true);
    } else {
      this.set(IPPROTO_IP, IP_TOS, tos, "IP_TOS");
    }
  }

  /**
   * Sets the TTL (IPv4) or hop limit (IPv6, and the TTL too for the IPv4 peers of a dual-stack
   * socket) of datagrams sent; -1 restores the default.
   */
  setTtl(family: number, ttl: number): void {
    if (family === AF_INET6) {
      this.set(IPPROTO_IPV6, IPV6_UNICAST_HOPS, ttl, "IPV6_UNICAST_HOPS");
      this.set(IPPROTO_IP, IP_TTL, ttl, "IP_TTL", true);
    } else {
      this.set(IPPROTO_IP, IP_TTL, ttl, "IP_TTL");
    }
  }

  /** Sets how long a blocking receive waits (SO_RCVTIMEO), in milliseconds; 0 for ever. */
  setReceiveTimeout(milliseconds: number): void {
    const view = this.#timevalView;
    const whole = Math.max(0, Math.ceil(milliseconds));
    view.setUint32(0, Math.floor(whole / 1000), true);
    view.setUint32(4, 0, true);
    view.setUint32(8, (whole % 1000) * 1000, true);
    view.setUint32(12, 0, true);
    if (libc().setsockopt(this.#fd, SOL_SOCKET, SO_RCVTIMEO, this.#timeval, 16) !== 0) {
      throw callError("setsockopt(SO_RCVTIMEO)");
    }
  }

  /** The option `option` of `level` (SOL_SOCKET unless said), as the kernel reports it. */
  get(option: number, level: number = SOL_SOCKET): number {
    this.#length[0] = 4;
    this.#int[0] = 0;
    libc().getsockopt(this.#fd, level, option, this.#intBytes, this.#lengthBytes);
    return this.#int[0];
  }
}
