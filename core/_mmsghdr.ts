/**
 * The C structures `recvmmsg` and `sendmmsg` read and write for a `DatagramBatch`: an mmsghdr,
 * an iovec, a sockaddr and a control buffer per slot, built once per batch and pointing into its
 * slots.
 *
 * @module
 */
import type { DatagramBatch } from "./socket.ts";
import { IOVEC_BYTES, MMSGHDR_BYTES, NAME_BYTES } from "./_linux.ts";

/**
 * Control bytes per datagram: on receive a timespec (32), a TOS/TCLASS message (24) and, on a
 * socket with transmit timestamps, an SCM_TIMESTAMPING message (64); on the error queue also an
 * IP(V6)_RECVERR message (48, or 60 for IPv6): 256 leaves room for all of them.
 */
export const CONTROL_BYTES = 256;

/** Per-batch C structures, built once: pointers into the batch's slots never change. */
export interface BatchStructures {
  /** The mmsghdr array, one per slot. */
  messages: Uint8Array;
  /** A view of `messages`. */
  messageView: DataView;
  /** The iovec array, one per slot, each pointing at its slot. */
  iovecs: Uint8Array;
  /** A view of `iovecs`. */
  iovecView: DataView;
  /** The sockaddr of each slot, `NAME_BYTES` apart. */
  names: Uint8Array;
  /** A view of `names`. */
  nameView: DataView;
  /** The control buffer of each slot, `CONTROL_BYTES` apart. */
  control: Uint8Array;
  /** A view of `control`. */
  controlView: DataView;
}

/** Writes a size_t (below 2^32) without a BigInt. */
export function setSize(view: DataView, offset: number, value: number): void {
  view.setUint32(offset, value, true);
  view.setUint32(offset + 4, 0, true);
}

/** Builds the structures of `batch`, every pointer set. */
export function buildStructures(batch: DatagramBatch): BatchStructures {
  const messages = new Uint8Array(batch.capacity * MMSGHDR_BYTES);
  const names = new Uint8Array(batch.capacity * NAME_BYTES);
  const control = new Uint8Array(batch.capacity * CONTROL_BYTES);
  const iovecs = new Uint8Array(batch.capacity * IOVEC_BYTES);
  const messageView = new DataView(messages.buffer);
  const iovecView = new DataView(iovecs.buffer);
  const address = (bytes: Uint8Array, offset: number) =>
    BigInt(Deno.UnsafePointer.value(Deno.UnsafePointer.of(bytes))) + BigInt(offset);
  for (let index = 0; index < batch.capacity; index++) {
    const slot = batch.slots[index];
    const iovec = index * IOVEC_BYTES;
    iovecView.setBigUint64(iovec, address(slot, 0), true);
    iovecView.setBigUint64(iovec + 8, BigInt(slot.length), true);
    const message = index * MMSGHDR_BYTES;
    messageView.setBigUint64(message, address(names, index * NAME_BYTES), true); // msg_name
    messageView.setUint32(message + 8, NAME_BYTES, true); // msg_namelen
    messageView.setBigUint64(message + 16, address(iovecs, iovec), true); // msg_iov
    messageView.setBigUint64(message + 24, 1n, true); // msg_iovlen
    messageView.setBigUint64(message + 32, address(control, index * CONTROL_BYTES), true); // msg_control
    messageView.setBigUint64(message + 40, BigInt(CONTROL_BYTES), true); // msg_controllen
  }
  // Receiving overwrites iov_len only through msg_len; the slot sizes set above stay.
  return {
    messages,
    messageView,
    iovecs,
    iovecView,
    names,
    nameView: new DataView(names.buffer),
    control,
    controlView: new DataView(control.buffer),
  };
}

/** Resets what a send changes (name and control lengths, flags, iov_len) for a receive. */
export function resetForReceive(structures: BatchStructures, batch: DatagramBatch): void {
  const { messageView, iovecView } = structures;
  const slotBytes = batch.slotSize;
  for (let index = 0; index < batch.capacity; index++) {
    const message = index * MMSGHDR_BYTES;
    messageView.setUint32(message + 8, NAME_BYTES, true); // msg_namelen
    setSize(messageView, message + 40, CONTROL_BYTES); // msg_controllen
    messageView.setUint32(message + 48, 0, true); // msg_flags
    setSize(iovecView, index * IOVEC_BYTES + 8, slotBytes); // a send may have shortened iov_len
  }
}
