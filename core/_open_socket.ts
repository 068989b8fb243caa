/**
 * Opening a native UDP descriptor as the native socket wants it (bound, receive timestamps and
 * TOS on, buffers sized; transmit timestamps, received TTLs and ICMP errors when asked), or taking
 * over one opened elsewhere.
 *
 * @module
 */
import type { BindOptions, SocketAddress } from "./socket.ts";
import { libc } from "./_libc.ts";
import {
  AF_INET,
  AF_INET6,
  IP_RECVERR,
  IP_RECVTOS,
  IP_RECVTTL,
  IPPROTO_IP,
  IPPROTO_IPV6,
  IPV4_NAME_BYTES,
  IPV6_RECVERR,
  IPV6_RECVHOPLIMIT,
  IPV6_RECVTCLASS,
  IPV6_V6ONLY,
  NAME_BYTES,
  SO_RCVBUF,
  SO_RCVBUFFORCE,
  SO_SNDBUF,
  SO_SNDBUFFORCE,
  SO_TIMESTAMPNS,
  SOCK_DGRAM,
  SOL_SOCKET,
} from "./_linux.ts";
import { decodeAddress, encodeAddress } from "./_sockaddr.ts";
import { callError, SocketOptions } from "./_socket_options.ts";
import { enableTransmitTimestamps } from "./_transmit_times.ts";

/** Kernel buffers asked for when the options do not say (the original's receive buffer). */
const DEFAULT_BUFFER_BYTES = 2 * 1024 * 1024;

/** A descriptor ready for the native socket, and what it needs to know of it. */
export interface OpenedDescriptor {
  /** The file descriptor. */
  fd: number;
  /** AF_INET or AF_INET6. */
  family: number;
  /** Its integer options. */
  options: SocketOptions;
  /** The address it is bound to. */
  localAddress: SocketAddress;
  /** Whether the kernel gives it transmit timestamps. */
  transmitTimestamps: boolean;
  /** Whether the kernel reports ICMP errors on it (IP_RECVERR / IPV6_RECVERR). */
  receiveIcmpErrors: boolean;
}

/**
 * Opens and binds a UDP descriptor as `options` ask (IPv6, dual-stack, when the hostname has a
 * colon). Throws `SocketError` naming the call that failed; the descriptor is closed then.
 */
export function openDescriptor(options: BindOptions): OpenedDescriptor {
  const c = libc();
  const v6 = options.hostname.includes(":");
  const family = v6 ? AF_INET6 : AF_INET;
  const fd = c.socket(family, SOCK_DGRAM, 0);
  if (fd < 0) throw callError("socket", options);
  const socketOptions = new SocketOptions(fd);
  try {
    if (v6) socketOptions.set(IPPROTO_IPV6, IPV6_V6ONLY, 0, "IPV6_V6ONLY", true);
    const name = encodeAddress({ hostname: options.hostname, port: options.port }, family);
    if (c.bind(fd, name, v6 ? NAME_BYTES : IPV4_NAME_BYTES) !== 0) {
      throw callError("bind", options);
    }
    socketOptions.set(SOL_SOCKET, SO_TIMESTAMPNS, 1, "SO_TIMESTAMPNS");
    socketOptions.set(IPPROTO_IP, IP_RECVTOS, 1, "IP_RECVTOS", v6);
    if (v6) socketOptions.set(IPPROTO_IPV6, IPV6_RECVTCLASS, 1, "IPV6_RECVTCLASS");
    // A dual-stack socket takes the IPv4 options too, for its IPv4 peers.
    if (options.receiveTtl === true) {
      socketOptions.set(IPPROTO_IP, IP_RECVTTL, 1, "IP_RECVTTL", v6);
      if (v6) socketOptions.set(IPPROTO_IPV6, IPV6_RECVHOPLIMIT, 1, "IPV6_RECVHOPLIMIT");
    }
    const receiveIcmpErrors = options.receiveIcmpErrors === true;
    if (receiveIcmpErrors) {
      socketOptions.set(IPPROTO_IP, IP_RECVERR, 1, "IP_RECVERR", v6);
      if (v6) socketOptions.set(IPPROTO_IPV6, IPV6_RECVERR, 1, "IPV6_RECVERR");
    }
    const tos = options.tos ?? 0;
    if (tos !== 0) socketOptions.setTos(family, tos);
    const receiveBytes = options.receiveBufferBytes ?? DEFAULT_BUFFER_BYTES;
    socketOptions.setBuffer(SO_RCVBUFFORCE, SO_RCVBUF, receiveBytes, "SO_RCVBUF");
    const sendBytes = options.sendBufferBytes ?? DEFAULT_BUFFER_BYTES;
    socketOptions.setBuffer(SO_SNDBUFFORCE, SO_SNDBUF, sendBytes, "SO_SNDBUF");
    // Optional: a kernel without them leaves the send times to the clock read before sendmmsg.
    const transmitTimestamps = options.transmitTimestamps === true &&
      enableTransmitTimestamps(socketOptions);
    const localAddress = decodeAddress(localName(fd), 0);
    return {
      fd,
      family,
      options: socketOptions,
      localAddress,
      transmitTimestamps,
      receiveIcmpErrors,
    };
  } catch (error) {
    c.close(fd);
    throw error;
  }
}

/** Takes over `fd`, opened by `openDescriptor` elsewhere in this process; it is not closed here. */
export function adoptDescriptor(fd: number): OpenedDescriptor {
  const local = localName(fd);
  const family = local.getUint16(0, true);
  const options = new SocketOptions(fd);
  return {
    fd,
    family,
    options,
    localAddress: decodeAddress(local, 0),
    transmitTimestamps: false,
    // Its calls meet the ICMP errors its owner asked for: the wrapper must know to retry them.
    receiveIcmpErrors: family === AF_INET6
      ? options.get(IPV6_RECVERR, IPPROTO_IPV6) !== 0
      : options.get(IP_RECVERR, IPPROTO_IP) !== 0,
  };
}

/** The sockaddr `fd` is bound to, as getsockname gives it. */
function localName(fd: number): DataView {
  const local = new Uint8Array(NAME_BYTES);
  const length = new Uint32Array([NAME_BYTES]);
  if (libc().getsockname(fd, local, new Uint8Array(length.buffer)) !== 0) {
    throw callError("getsockname");
  }
  return new DataView(local.buffer);
}
