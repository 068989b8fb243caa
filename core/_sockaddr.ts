/**
 * Encoding and decoding of Linux `sockaddr_in` and `sockaddr_in6`, and the compact form (one
 * number for an IPv4 peer) the native socket keeps for each address it sends to.
 *
 * @module
 */
import { formatIpv6, parseIpv6 } from "./address.ts";
import { SocketError } from "./errors.ts";
import type { SocketAddress } from "./socket.ts";
import { AF_INET, AF_INET6, NAME_BYTES } from "./_linux.ts";

/**
 * A sockaddr as one number when it holds an IPv4 address (plain or mapped into IPv6): the address
 * as a signed 32-bit number (a small integer to V8, where address × 65536 + port needed a heap
 * number), the port being the address object's; otherwise the bytes as they are.
 */
export function compactName(bytes: Uint8Array): number | Uint8Array {
  const view = new DataView(bytes.buffer, bytes.byteOffset, NAME_BYTES);
  if (view.getUint16(0, true) === AF_INET) return view.getInt32(4, false);
  const mapped = view.getUint32(8, false) === 0 && view.getUint32(12, false) === 0 &&
    view.getUint32(16, false) === 0xffff && view.getUint32(4, false) === 0 &&
    view.getUint32(24, false) === 0;
  return mapped ? view.getInt32(20, false) : bytes;
}

/**
 * Writes the sockaddr for a socket of `family` at `offset` of `names` (seen through `view`) from
 * its compact form `encoded` (see `compactName`) and `port`. Allocates nothing.
 */
export function writeCompactName(
  names: Uint8Array,
  view: DataView,
  offset: number,
  family: number,
  encoded: number | Uint8Array,
  port: number,
): void {
  if (typeof encoded !== "number") {
    names.set(encoded, offset);
    return;
  }
  const ipv4 = encoded >>> 0;
  names.fill(0, offset, offset + NAME_BYTES);
  view.setUint16(offset, family, true);
  view.setUint16(offset + 2, port, false);
  if (family === AF_INET) view.setUint32(offset + 4, ipv4, false);
  else {
    // An IPv4 peer of a dual-stack socket: ::ffff:a.b.c.d.
    view.setUint16(offset + 18, 0xffff, false);
    view.setUint32(offset + 20, ipv4, false);
  }
}

/**
 * Encodes an address as a sockaddr for a socket of `family` (IPv4 peers of IPv6 sockets are
 * mapped); `NAME_BYTES` long. Throws `SocketError` (operation `address`) for text that is not an
 * IP address of the family.
 */
export function encodeAddress(address: SocketAddress, family: number): Uint8Array {
  const bytes = new Uint8Array(NAME_BYTES);
  const view = new DataView(bytes.buffer);
  let hostname = address.hostname;
  if (family === AF_INET) {
    if (hostname.startsWith("::ffff:")) hostname = hostname.slice(7);
    const parts = hostname.split(".").map(Number);
    if (parts.length !== 4 || parts.some((part) => !(part >= 0 && part <= 255))) {
      throw new SocketError(`not an IPv4 address: ${hostname}`, { operation: "address" });
    }
    view.setUint16(0, AF_INET, true);
    view.setUint16(2, address.port, false);
    bytes.set(parts, 4);
    return bytes;
  }
  view.setUint16(0, AF_INET6, true);
  view.setUint16(2, address.port, false);
  if (/^\d+\.\d+\.\d+\.\d+$/.test(hostname)) hostname = `::ffff:${hostname}`;
  const groups = parseIpv6(hostname);
  if (groups === undefined) {
    throw new SocketError(`not an IP address: ${address.hostname}`, { operation: "address" });
  }
  groups.forEach((group, index) => view.setUint16(8 + index * 2, group, false));
  return bytes;
}

/**
 * The address in the sockaddr at `offset` of `view`: dotted IPv4, `::ffff:a.b.c.d` for a mapped
 * one, RFC 5952 text for other IPv6 addresses.
 */
export function decodeAddress(view: DataView, offset: number): SocketAddress {
  const family = view.getUint16(offset, true);
  const port = view.getUint16(offset + 2, false);
  if (family === AF_INET) {
    return { hostname: [4, 5, 6, 7].map((index) => view.getUint8(offset + index)).join("."), port };
  }
  const groups: number[] = [];
  for (let index = 0; index < 8; index++) {
    groups.push(view.getUint16(offset + 8 + index * 2, false));
  }
  if (groups.slice(0, 5).every((group) => group === 0) && groups[5] === 0xffff) {
    return {
      hostname: `::ffff:${groups[6] >> 8}.${groups[6] & 0xff}.${groups[7] >> 8}.${
        groups[7] & 0xff
      }`,
      port,
    };
  }
  return { hostname: formatIpv6(groups), port };
}
