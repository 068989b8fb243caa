/**
 * ICMP and ICMPv6 errors about datagrams a native socket sent, as its error queue reports them
 * (IP_RECVERR / IPV6_RECVERR): the report handed to a sink, the offender address names, and the
 * errno values such an error also leaves on the socket's next call.
 *
 * @module
 */
import { formatIpv6 } from "./address.ts";
import type { SocketAddress } from "./_socket_address.ts";
import { Errno } from "./_libc.ts";
import { AF_INET, AF_INET6, SO_EE_ORIGIN_ICMP, SO_EE_ORIGIN_ICMP6 } from "./_linux.ts";

/** ICMP type of a time exceeded (TTL ran out on the way). */
const ICMP_TIME_EXCEEDED = 11;
/** ICMP type of a destination unreachable. */
const ICMP_UNREACHABLE = 3;
/** ICMPv6 type of a time exceeded (hop limit ran out). */
const ICMP6_TIME_EXCEEDED = 3;
/** ICMPv6 type of a destination unreachable. */
const ICMP6_UNREACHABLE = 1;
/** Offender names kept before the cache starts again. */
const CACHED_OFFENDERS = 4096;

/**
 * One ICMP or ICMPv6 error (or a local error) about a datagram the socket sent, read from its
 * error queue by `DatagramSocket.readErrorQueue`. The socket reuses one object for every report:
 * it is valid only during the sink call; copy what is kept.
 *
 * @example
 * ```ts
 * import { IcmpErrorReport } from "@llama/core";
 * const report = new IcmpErrorReport();
 * console.assert(!report.timeExceeded && !report.unreachable && report.offender === "");
 * ```
 */
export class IcmpErrorReport {
  /** 4 for an ICMP error (or a local one about an IPv4 datagram), 6 for ICMPv6. */
  readonly family: 4 | 6 = 4;
  /** Where it comes from: SO_EE_ORIGIN_LOCAL (1), SO_EE_ORIGIN_ICMP (2) or SO_EE_ORIGIN_ICMP6 (3). */
  readonly origin: number = 0;
  /** ICMP or ICMPv6 type (sock_extended_err ee_type); 0 for a local error. */
  readonly type: number = 0;
  /** ICMP or ICMPv6 code (ee_code). */
  readonly code: number = 0;
  /** The errno the kernel made of it (ee_errno): `ECONNREFUSED` (111) for a port unreachable. */
  readonly errno: number = 0;
  /** The address of the router or host that sent the error (SO_EE_OFFENDER), "" when none. */
  readonly offender: string = "";
  /**
   * Where the datagram the error is about was sent to, in the form the socket's receive gives
   * its peers (`::ffff:a.b.c.d` for an IPv4 peer of a dual-stack socket), from a cache: the same
   * object for the same peer.
   */
  readonly destination: SocketAddress = { hostname: "", port: 0 };
  /** When the error arrived, on the `performance.now()` scale of the socket (a kernel time when it has one). */
  readonly receivedAt: number = 0;
  /** The UDP payload of the datagram as the error quoted it (often all of it, maybe a prefix). */
  readonly payload: Uint8Array = new Uint8Array(0);
  /** `payload.length`. */
  readonly payloadLength: number = 0;

  /** Whether it is a time exceeded: the TTL or hop limit ran out at `offender`. */
  get timeExceeded(): boolean {
    return (this.origin === SO_EE_ORIGIN_ICMP && this.type === ICMP_TIME_EXCEEDED) ||
      (this.origin === SO_EE_ORIGIN_ICMP6 && this.type === ICMP6_TIME_EXCEEDED);
  }

  /** Whether it is a destination unreachable (of any code: port, host, network, prohibited…). */
  get unreachable(): boolean {
    return (this.origin === SO_EE_ORIGIN_ICMP && this.type === ICMP_UNREACHABLE) ||
      (this.origin === SO_EE_ORIGIN_ICMP6 && this.type === ICMP6_UNREACHABLE);
  }
}

/** Receives each ICMP error `readErrorQueue` reads; the report is valid only during the call. */
export type IcmpErrorSink = (report: IcmpErrorReport) => void;

/** `IcmpErrorReport` with its fields writable: for the reader that fills it. */
export type WritableIcmpErrorReport = {
  -readonly [K in keyof IcmpErrorReport]: IcmpErrorReport[K];
};

/** The errno values an ICMP error leaves in sk_err, failing the socket's next call once. */
const ICMP_ERRNOS: ReadonlySet<number> = new Set([
  Errno.ECONNREFUSED,
  Errno.EHOSTUNREACH,
  Errno.ENETUNREACH,
  Errno.EHOSTDOWN,
  Errno.ENONET,
  Errno.EPROTO,
  Errno.ENOPROTOOPT,
  Errno.EOPNOTSUPP,
  Errno.EMSGSIZE,
  Errno.EACCES,
  Errno.ETIMEDOUT,
]);

/**
 * Whether `errno`, from a call on a socket with IP_RECVERR, may be an ICMP error reported on the
 * call (the kernel sets sk_err for each one) rather than a failure of the call itself.
 */
export function isIcmpErrno(errno: number): boolean {
  return ICMP_ERRNOS.has(errno);
}

/** The text of offender addresses (SO_EE_OFFENDER sockaddrs), cached per address. */
export class OffenderNames {
  readonly #names = new Map<number | string, string>();

  /**
   * The address in the sockaddr at `offset` of `view`: a dotted quad for IPv4, also mapped into
   * IPv6; RFC 5952 text for IPv6; "" for AF_UNSPEC (no offender).
   */
  name(view: DataView, offset: number): string {
    const family = view.getUint16(offset, true);
    let key: number | string;
    let ipv4 = -1;
    if (family === AF_INET) ipv4 = view.getUint32(offset + 4, false);
    else if (family !== AF_INET6) return "";
    else if (
      view.getUint32(offset + 8, false) === 0 && view.getUint32(offset + 12, false) === 0 &&
      view.getUint32(offset + 16, false) === 0xffff
    ) {
      ipv4 = view.getUint32(offset + 20, false);
    }
    if (ipv4 >= 0) key = ipv4;
    else {
      key = "";
      for (let index = 8; index < 24; index += 4) {
        key += view.getUint32(offset + index, false).toString(16) + ",";
      }
    }
    let name = this.#names.get(key);
    if (name === undefined) {
      if (this.#names.size >= CACHED_OFFENDERS) this.#names.clear();
      name = ipv4 >= 0
        ? `${ipv4 >>> 24}.${(ipv4 >>> 16) & 0xff}.${(ipv4 >>> 8) & 0xff}.${ipv4 & 0xff}`
        : formatIpv6(Array.from({ length: 8 }, (_, i) => view.getUint16(offset + 8 + i * 2)));
      this.#names.set(key, name);
    }
    return name;
  }
}
