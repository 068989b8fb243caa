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
import { AF_INET6, IP_TOS, IPPROTO_IP, IPPROTO_IPV6, IPV6_TCLASS, SOL_SOCKET } from "./_linux.ts";

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

  /** The SOL_SOCKET option `option`, as the kernel reports it. */
  get(option: number): number {
    this.#length[0] = 4;
    libc().getsockopt(this.#fd, SOL_SOCKET, option, this.#intBytes, this.#lengthBytes);
    return this.#int[0];
  }
}
