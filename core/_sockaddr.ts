/**
 * Encoding and decoding of Linux `sockaddr_in` and `sockaddr_in6`, and the compact form (one
 * number for an IPv4 peer) the native socket keeps for each address it sends to.
 *
 * @module
 */
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
  const groups = expandIpv6(hostname);
  if (groups === undefined) {
    throw new SocketError(`not an IP address: ${address.hostname}`, { operation: "address" });
  }
  groups.forEach((group, index) => view.setUint16(8 + index * 2, group, false));
  return bytes;
}

/** The eight 16-bit groups of IPv6 text (`::` and a dotted IPv4 tail allowed), or undefined. */
function expandIpv6(text: string): number[] | undefined {
  let tail: number[] = [];
  const mapped = /^(.*:)(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (mapped !== null) {
    const parts = mapped[2].split(".").map(Number);
    tail = [(parts[0] << 8) | parts[1], (parts[2] << 8) | parts[3]];
    text = mapped[1].endsWith("::") ? mapped[1] : mapped[1].slice(0, -1);
  }
  const pieces = text.split("::");
  if (pieces.length > 2) return undefined; // "::" may stand for one run of zeros only
  const [head, rest] = pieces.length === 2 ? pieces : [text, undefined];
  const parse = (part: string) =>
    part === "" ? [] : part.split(":").map((group) => parseInt(group, 16));
  const left = parse(head);
  const right = rest === undefined ? [] : parse(rest);
  const fill = 8 - tail.length - left.length - right.length;
  if (fill < 0 || (rest === undefined && fill !== 0)) return undefined;
  const groups = [...left, ...Array(fill).fill(0), ...right, ...tail];
  return groups.length === 8 && groups.every((group) => group >= 0 && group <= 0xffff)
    ? groups
    : undefined;
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

/** RFC 5952 text: lowercase hex, the longest run of two or more zero groups as "::". */
function formatIpv6(groups: number[]): string {
  let bestStart = -1, bestLength = 1;
  for (let start = 0; start < 8;) {
    if (groups[start] !== 0) {
      start++;
      continue;
    }
    let end = start;
    while (end < 8 && groups[end] === 0) end++;
    if (end - start > bestLength) {
      bestStart = start;
      bestLength = end - start;
    }
    start = end;
  }
  const hex = groups.map((group) => group.toString(16));
  if (bestStart < 0) return hex.join(":");
  return `${hex.slice(0, bestStart).join(":")}::${hex.slice(bestStart + bestLength).join(":")}`;
}
