/**
 * Parsing of the control messages (cmsghdr) recvmmsg leaves beside each datagram: kernel receive
 * timestamps, TOS/TCLASS, and the transmit timestamps of the error queue.
 *
 * @module
 */
import type { DatagramBatch } from "./socket.ts";
import type { RealtimeClock } from "./_realtime_clock.ts";
import {
  IP_RECVERR,
  IP_TOS,
  IPPROTO_IP,
  IPPROTO_IPV6,
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
 * `view`) into `batch`: its TOS (left as it is when none came) and its kernel receive time on the
 * `clock`'s scale. Returns whether a kernel time came. Allocates nothing.
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
    }
    if (length < CMSG_HEADER_BYTES) break;
    offset += (length + 7) & ~7;
  }
  return kernelTime;
}

/** What `readTransmitControl` found in one error-queue message; reused, never kept. */
export class TransmitReport {
  /** The kernel's transmit time on the clock's scale; NaN when none came. */
  time = NaN;
  /** The datagram's key (SOF_TIMESTAMPING_OPT_ID); -1 when none came. */
  key = -1;
}

/**
 * Reads the control messages of one error-queue message (`controlLength` bytes at `base` of
 * `view`) into `report`: a software transmit timestamp (SCM_TIMESTAMPING) and the key of the
 * datagram it is for (IP(V6)_RECVERR from the timestamping origin). Allocates nothing.
 */
export function readTransmitControl(
  view: DataView,
  base: number,
  controlLength: number,
  clock: RealtimeClock,
  report: TransmitReport,
): void {
  report.time = NaN;
  report.key = -1;
  for (let offset = 0; offset + CMSG_HEADER_BYTES <= controlLength;) {
    const length = view.getUint32(base + offset, true);
    const level = view.getInt32(base + offset + 8, true);
    const type = view.getInt32(base + offset + 12, true);
    const data = base + offset + CMSG_HEADER_BYTES;
    if (level === SOL_SOCKET && type === SO_TIMESTAMPING) {
      // struct scm_timestamping: ts[0] is the software timestamp.
      report.time = clock.timespecAt(view, data);
    } else if (
      (level === IPPROTO_IP && type === IP_RECVERR) ||
      (level === IPPROTO_IPV6 && type === IPV6_RECVERR)
    ) {
      // struct sock_extended_err: errno, origin, type, code, pad, info, data (the key).
      if (
        view.getUint8(data + 4) === SO_EE_ORIGIN_TIMESTAMPING &&
        view.getUint32(data + 8, true) === SCM_TSTAMP_SND
      ) {
        report.key = view.getUint32(data + 12, true);
      }
    }
    if (length < CMSG_HEADER_BYTES) break;
    offset += (length + 7) & ~7;
  }
}
