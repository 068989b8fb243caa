/**
 * Parsing of the control messages (cmsghdr) recvmmsg leaves beside each datagram: kernel receive
 * timestamps, TOS/TCLASS, TTL/hop limit, and the transmit timestamps and ICMP errors of the error
 * queue.
 *
 * @module
 */
import type { DatagramBatch } from "./socket.ts";
import type { RealtimeClock } from "./_realtime_clock.ts";
import {
  EXTENDED_ERROR_BYTES,
  IP_RECVERR,
  IP_TOS,
  IP_TTL,
  IPPROTO_IP,
  IPPROTO_IPV6,
  IPV6_HOPLIMIT,
  IPV6_RECVERR,
  IPV6_TCLASS,
  SCM_TSTAMP_SND,
  SO_EE_ORIGIN_TIMESTAMPING,
  SO_TIMESTAMPING,
  SO_TIMESTAMPNS,
  SOL_SOCKET,
} from "./_linux.ts";

/** A cmsghdr: cmsg_len (size_t), cmsg_level, cmsg_type; the data follows, 8-byte aligned. */
const CMSG_HEADER_BYTES = 16;

/**
 * Reads the control messages of received datagram `index` (`controlLength` bytes at `base` of
 * `view`) into `batch`: its TOS and TTL (each left as it is when none came) and its kernel
 * receive time on the `clock`'s scale. Returns whether a kernel time came. Allocates nothing.
 */
export function readReceiveControl(
  view: DataView,
  base: number,
  controlLength: number,
  clock: RealtimeClock,
  batch: DatagramBatch,
  index: number,
): boolean {
  let kernelTime = false;
  for (let offset = 0; offset + CMSG_HEADER_BYTES <= controlLength;) {
    const length = view.getUint32(base + offset, true);
    const level = view.getInt32(base + offset + 8, true);
    const type = view.getInt32(base + offset + 12, true);
    const data = base + offset + CMSG_HEADER_BYTES;
    if (level === SOL_SOCKET && type === SO_TIMESTAMPNS) {
      batch.receivedAt[index] = clock.timespecAt(view, data);
      kernelTime = true;
    } else if (level === IPPROTO_IP && type === IP_TOS) {
      batch.tos[index] = view.getUint8(data);
    } else if (level === IPPROTO_IPV6 && type === IPV6_TCLASS) {
      batch.tos[index] = view.getInt32(data, true) & 0xff;
    } else if (
      (level === IPPROTO_IP && type === IP_TTL) ||
      (level === IPPROTO_IPV6 && type === IPV6_HOPLIMIT)
    ) {
      batch.ttl[index] = view.getInt32(data, true);
    }
    if (length < CMSG_HEADER_BYTES) break;
    offset += (length + 7) & ~7;
  }
  return kernelTime;
}

/** What `readErrorControl` found in one error-queue message; reused, never kept. */
export class ErrorQueueEntry {
  /** sock_extended_err ee_origin (SO_EE_ORIGIN_*); 0 when none came. */
  origin = 0;
  /** The kernel's transmit time on the clock's scale (SCM_TIMESTAMPING); NaN when none came. */
  time = NaN;
  /** The datagram's key (SOF_TIMESTAMPING_OPT_ID) of a transmit timestamp; -1 when none came. */
  key = -1;
  /** ee_errno. */
  errno = 0;
  /** ee_type: the ICMP or ICMPv6 type. */
  type = 0;
  /** ee_code: the ICMP or ICMPv6 code. */
  code = 0;
  /** Where in the view the SO_EE_OFFENDER sockaddr starts; -1 when none came. */
  offender = -1;
  /** The kernel's receive time of the message (SO_TIMESTAMPNS) on the clock's scale; NaN when none. */
  receivedAt = NaN;
}

/**
 * Reads the control messages of one error-queue message (`controlLength` bytes at `base` of
 * `view`) into `entry`: its sock_extended_err (IP(V6)_RECVERR) and, for a transmit timestamp,
 * the software time (SCM_TIMESTAMPING) and the key of the datagram it is for; for an ICMP error,
 * where its offender address is and when it arrived (SO_TIMESTAMPNS). Allocates nothing.
 */
export function readErrorControl(
  view: DataView,
  base: number,
  controlLength: number,
  clock: RealtimeClock,
  entry: ErrorQueueEntry,
): void {
  entry.origin = 0;
  entry.time = NaN;
  entry.key = -1;
  entry.offender = -1;
  entry.receivedAt = NaN;
  for (let offset = 0; offset + CMSG_HEADER_BYTES <= controlLength;) {
    const length = view.getUint32(base + offset, true);
    const level = view.getInt32(base + offset + 8, true);
    const type = view.getInt32(base + offset + 12, true);
    const data = base + offset + CMSG_HEADER_BYTES;
    if (level === SOL_SOCKET && type === SO_TIMESTAMPING) {
      // struct scm_timestamping: ts[0] is the software timestamp.
      entry.time = clock.timespecAt(view, data);
    } else if (level === SOL_SOCKET && type === SO_TIMESTAMPNS) {
      entry.receivedAt = clock.timespecAt(view, data);
    } else if (
      (level === IPPROTO_IP && type === IP_RECVERR) ||
      (level === IPPROTO_IPV6 && type === IPV6_RECVERR)
    ) {
      // struct sock_extended_err: errno, origin, type, code, pad, info, data; the offender's
      // sockaddr follows (SO_EE_OFFENDER), AF_UNSPEC when there is none.
      entry.errno = view.getUint32(data, true);
      entry.origin = view.getUint8(data + 4);
      entry.type = view.getUint8(data + 5);
      entry.code = view.getUint8(data + 6);
      if (
        entry.origin === SO_EE_ORIGIN_TIMESTAMPING &&
        view.getUint32(data + 8, true) === SCM_TSTAMP_SND
      ) {
        entry.key = view.getUint32(data + 12, true);
      }
      // At least a sockaddr_in (16 bytes) after the extended error.
      if (length >= CMSG_HEADER_BYTES + EXTENDED_ERROR_BYTES + 16) {
        entry.offender = data + EXTENDED_ERROR_BYTES;
      }
    }
    if (length < CMSG_HEADER_BYTES) break;
    offset += (length + 7) & ~7;
  }
}
