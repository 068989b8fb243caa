/**
 * The address type of the socket interface, in a module of its own so that the modules
 * `socket.ts` needs (the ICMP error report) can name it without importing `socket.ts` back.
 *
 * @module
 */

/** A UDP endpoint. IPv4 peers of a dual-stack socket appear as `::ffff:a.b.c.d`. */
export interface SocketAddress {
  /** IP address. */
  hostname: string;
  /** UDP port. */
  port: number;
}
