/**
 * The Linux numbers and struct sizes the native socket is written against (x86_64 and aarch64):
 * address families, socket options, message flags and control-message types.
 *
 * @module
 */

export const AF_INET = 2;
export const AF_INET6 = 10;
export const SOCK_DGRAM = 2;
export const SOL_SOCKET = 1;
export const SO_SNDBUF = 7;
export const SO_RCVBUF = 8;
export const SO_SNDBUFFORCE = 32;
export const SO_RCVBUFFORCE = 33;
export const SO_TIMESTAMPNS = 35;
export const SO_TIMESTAMPING = 37;
export const IPPROTO_IP = 0;
export const IP_TOS = 1;
export const IP_RECVERR = 11;
export const IP_RECVTOS = 13;
export const IPPROTO_IPV6 = 41;
export const IPV6_RECVERR = 25;
export const IPV6_V6ONLY = 26;
export const IPV6_RECVTCLASS = 66;
export const IPV6_TCLASS = 67;
export const MSG_TRUNC = 0x20;
export const MSG_DONTWAIT = 0x40;
export const MSG_ERRQUEUE = 0x2000;
export const MSG_WAITFORONE = 0x10000;
export const POLLIN = 1;
export const SHUT_RDWR = 2;
export const CLOCK_REALTIME = 0;
// Software transmit timestamps, reported, keyed by a per-socket counter, without the payload.
export const SOF_TIMESTAMPING_TX_SOFTWARE = 1 << 1;
export const SOF_TIMESTAMPING_SOFTWARE = 1 << 4;
export const SOF_TIMESTAMPING_OPT_ID = 1 << 7;
export const SOF_TIMESTAMPING_OPT_TSONLY = 1 << 11;
export const SO_EE_ORIGIN_TIMESTAMPING = 4;
export const SCM_TSTAMP_SND = 0;

/** struct mmsghdr: msghdr (56) + msg_len + padding. */
export const MMSGHDR_BYTES = 64;
/** struct iovec. */
export const IOVEC_BYTES = 16;
/** sockaddr_in6, large enough for sockaddr_in. */
export const NAME_BYTES = 28;
/** sockaddr_in. */
export const IPV4_NAME_BYTES = 16;
export const IP_TTL = 2;
export const IP_RECVTTL = 12;
export const IPV6_UNICAST_HOPS = 16;
export const IPV6_RECVHOPLIMIT = 51;
export const IPV6_HOPLIMIT = 52;
export const SO_RCVTIMEO = 20;
export const POLLERR = 8;
// sock_extended_err.ee_origin of ICMP errors (SO_EE_ORIGIN_TIMESTAMPING is above).
export const SO_EE_ORIGIN_LOCAL = 1;
export const SO_EE_ORIGIN_ICMP = 2;
export const SO_EE_ORIGIN_ICMP6 = 3;
/** struct sock_extended_err; SO_EE_OFFENDER's sockaddr follows it. */
export const EXTENDED_ERROR_BYTES = 16;
