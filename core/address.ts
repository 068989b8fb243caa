import { UsageError } from "./errors.ts";
import type { SocketAddress } from "./_socket_address.ts";

/**
 * Formats an address as `host:port`, bracketing IPv6 hosts.
 *
 * @example
 * ```ts
 * import { formatAddress } from "@llama/core";
 * console.assert(formatAddress({ hostname: "::1", port: 8100 }) === "[::1]:8100");
 * ```
 */
export function formatAddress(address: SocketAddress): string {
  return address.hostname.includes(":")
    ? `[${address.hostname}]:${address.port}`
    : `${address.hostname}:${address.port}`;
}

/**
 * Parses `host:port`, `[v6]:port` or `:port` (every interface, `defaultHost`). `what` names the
 * flag or setting in the error.
 *
 * @example
 * ```ts
 * import { parseHostPort } from "@llama/core";
 * console.assert(parseHostPort("[::1]:9100", "--metrics").hostname === "::1");
 * console.assert(parseHostPort(":9100", "--metrics").hostname === "0.0.0.0");
 * ```
 */
export function parseHostPort(text: string, what: string, defaultHost = "0.0.0.0"): SocketAddress {
  const match = /^(?:\[([0-9a-fA-F:.%a-zA-Z]+)\]|([^:\[\]]*)):(\d{1,5})$/.exec(text.trim());
  const port = match === null ? NaN : Number(match[3]);
  if (match === null || port > 65535) {
    throw new UsageError(
      `${what} takes host:port (like 127.0.0.1:9100 or [::1]:9100), got "${text}"`,
    );
  }
  const hostname = match[1] ?? match[2];
  return { hostname: hostname === "" ? defaultHost : hostname, port };
}

/**
 * Parses dotted-decimal IPv4 text (`192.0.2.1`) into its 32-bit value; undefined for anything
 * else, including leading zeros (`010.0.0.1`, which some parsers read as octal).
 *
 * @example
 * ```ts
 * import { parseIpv4 } from "@llama/core";
 * console.assert(parseIpv4("192.0.2.1") === 0xc0000201);
 * console.assert(parseIpv4("192.0.2") === undefined);
 * ```
 */
export function parseIpv4(text: string): number | undefined {
  const parts = text.split(".");
  if (parts.length !== 4) return undefined;
  let value = 0;
  for (const part of parts) {
    if (!/^(?:0|[1-9]\d{0,2})$/.test(part) || Number(part) > 255) return undefined;
    value = value * 256 + Number(part);
  }
  return value;
}

/**
 * Parses IPv6 text in any RFC 4291 form (section 2.2): eight groups of one to four hex digits,
 * one `::` standing for one or more zero groups, and a dotted IPv4 address as the last 32 bits
 * (`::ffff:192.0.2.1`). Returns the eight 16-bit groups, or undefined for anything else (zone
 * identifiers such as `%eth0` included).
 *
 * @example
 * ```ts
 * import { parseIpv6 } from "@llama/core";
 * console.assert(parseIpv6("2001:DB8::1")?.join(",") === "8193,3512,0,0,0,0,0,1");
 * console.assert(parseIpv6("::ffff:192.0.2.1")?.[7] === 0x0201);
 * console.assert(parseIpv6("1::2::3") === undefined);
 * ```
 */
export function parseIpv6(text: string): number[] | undefined {
  let tail: number[] = [];
  let head = text;
  const lastColon = text.lastIndexOf(":");
  if (lastColon < 0) return undefined;
  if (text.includes(".", lastColon)) {
    const ipv4 = parseIpv4(text.slice(lastColon + 1));
    if (ipv4 === undefined) return undefined;
    tail = [Math.floor(ipv4 / 0x10000), ipv4 % 0x10000];
    // Keep "::" whole ("::1.2.3.4"); otherwise drop the colon before the IPv4 part.
    head = text.endsWith("::", lastColon + 1)
      ? text.slice(0, lastColon + 1)
      : text.slice(0, lastColon);
  }
  const halves = head.split("::");
  if (halves.length > 2) return undefined;
  const left = ipv6Groups(halves[0]);
  const right = halves.length === 2 ? ipv6Groups(halves[1]) : [];
  if (left === undefined || right === undefined) return undefined;
  const missing = 8 - left.length - right.length - tail.length;
  if (halves.length === 2 ? missing < 1 : missing !== 0) return undefined;
  return [...left, ...new Array<number>(missing).fill(0), ...right, ...tail];
}

/** The groups of `a:b:c` (none for ""), or undefined when one is not 1-4 hex digits. */
function ipv6Groups(text: string): number[] | undefined {
  if (text === "") return [];
  const groups: number[] = [];
  for (const group of text.split(":")) {
    if (!/^[0-9a-fA-F]{1,4}$/.test(group)) return undefined;
    groups.push(parseInt(group, 16));
  }
  return groups;
}

/**
 * Formats eight 16-bit groups as RFC 5952 canonical text (section 4): lowercase hex without
 * leading zeros, the longest run of two or more zero groups shortened to `::` (the leftmost of
 * equal runs), a single zero group written `0`, and an IPv4-mapped address as
 * `::ffff:a.b.c.d` (section 5). Throws `RangeError` naming the value when `groups` is not eight
 * whole numbers from 0 to 0xffff.
 *
 * @example
 * ```ts
 * import { formatIpv6 } from "@llama/core";
 * console.assert(formatIpv6([0x2001, 0xdb8, 0, 0, 1, 0, 0, 1]) === "2001:db8::1:0:0:1");
 * console.assert(formatIpv6([0, 0, 0, 0, 0, 0xffff, 0xc000, 0x0201]) === "::ffff:192.0.2.1");
 * ```
 */
export function formatIpv6(groups: readonly number[]): string {
  if (
    groups.length !== 8 ||
    !groups.every((group) => Number.isInteger(group) && group >= 0 && group <= 0xffff)
  ) {
    throw new RangeError(
      `Cannot format an IPv6 address: expected eight groups from 0 to 0xffff, got [${
        groups.join(", ")
      }]`,
    );
  }
  if (groups.slice(0, 5).every((group) => group === 0) && groups[5] === 0xffff) {
    const ipv4 = [groups[6] >> 8, groups[6] & 0xff, groups[7] >> 8, groups[7] & 0xff];
    return `::ffff:${ipv4.join(".")}`;
  }
  let bestStart = -1;
  let bestLength = 1; // a single zero group is not shortened
  for (let start = 0; start < 8;) {
    let end = start;
    while (end < 8 && groups[end] === 0) end++;
    if (end - start > bestLength) {
      bestStart = start;
      bestLength = end - start;
    }
    start = end === start ? start + 1 : end;
  }
  const hex = groups.map((group) => group.toString(16));
  if (bestStart < 0) return hex.join(":");
  return `${hex.slice(0, bestStart).join(":")}::${hex.slice(bestStart + bestLength).join(":")}`;
}

/**
 * The canonical text of an IP address: IPv4 as given (when valid), IPv6 in RFC 5952 form; undefined
 * when `text` is neither.
 *
 * @example
 * ```ts
 * import { canonicalAddress } from "@llama/core";
 * console.assert(canonicalAddress("2001:0DB8:0:0:0:0:0:0001") === "2001:db8::1");
 * console.assert(canonicalAddress("::FFFF:c000:0201") === "::ffff:192.0.2.1");
 * console.assert(canonicalAddress("db-1.example") === undefined);
 * ```
 */
export function canonicalAddress(text: string): string | undefined {
  if (parseIpv4(text) !== undefined) return text;
  const groups = parseIpv6(text);
  return groups === undefined ? undefined : formatIpv6(groups);
}

/**
 * Orders IP addresses for display: IPv4 before IPv6, numerically within a family (so
 * `10.0.0.9` before `10.0.0.10`, and `2001:db8::2:1`, which is 2001:db8:0:0:0:0:2:1, before
 * `2001:db8:0:0:1::`, which text padded group by group puts first). An IPv4-mapped
 * address (`::ffff:10.0.0.1`, how a dual-stack socket shows an IPv4 peer) sorts with IPv4, after
 * the same address written plainly; text that is no address sorts last, as text. Ties of
 * different spellings of one address are broken by the text, so the order is total.
 *
 * @example
 * ```ts
 * import { compareAddresses } from "@llama/core";
 * const sorted = ["2001:db8::2:1", "10.0.0.10", "2001:db8:0:0:1::", "10.0.0.9"]
 *   .sort(compareAddresses);
 * console.assert(sorted.join(" ") === "10.0.0.9 10.0.0.10 2001:db8::2:1 2001:db8:0:0:1::");
 * ```
 */
export function compareAddresses(a: string, b: string): number {
  const left = sortKey(a);
  const right = sortKey(b);
  if (left.rank !== right.rank) return left.rank - right.rank;
  for (let index = 0; index < left.groups.length; index++) {
    const difference = left.groups[index] - right.groups[index];
    if (difference !== 0) return difference;
  }
  if (left.mapped !== right.mapped) return left.mapped ? 1 : -1;
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Family rank (0 IPv4, 1 IPv6, 2 not an address) and the numbers to compare within it. */
function sortKey(text: string): { rank: number; groups: readonly number[]; mapped: boolean } {
  const ipv4 = parseIpv4(text);
  if (ipv4 !== undefined) return { rank: 0, groups: [ipv4], mapped: false };
  const groups = parseIpv6(text);
  if (groups === undefined) return { rank: 2, groups: [], mapped: false };
  if (groups.slice(0, 5).every((group) => group === 0) && groups[5] === 0xffff) {
    return { rank: 0, groups: [groups[6] * 0x10000 + groups[7]], mapped: true };
  }
  return { rank: 1, groups, mapped: false };
}

/**
 * Why `ip` cannot be one host's address to probe, or undefined when it can: the unspecified
 * address (`0.0.0.0`, `::`), the IPv4 broadcast address (`255.255.255.255`), or a multicast one
 * (`224.0.0.0/4`, `ff00::/8`), IPv4-mapped forms (`::ffff:224.0.0.1`) included. A probe sent to
 * one reaches no reflector, many, or (for the unspecified address, on Linux) this host, so its
 * loss and RTT would describe no path. Text that is no IP address gives undefined.
 *
 * @example
 * ```ts
 * import { whyNotUnicast } from "@llama/core";
 * console.assert(whyNotUnicast("224.0.0.1") === "a multicast address (224.0.0.0/4)");
 * console.assert(whyNotUnicast("ff02::1") === "a multicast address (ff00::/8)");
 * console.assert(whyNotUnicast("192.0.2.1") === undefined);
 * ```
 */
export function whyNotUnicast(ip: string): string | undefined {
  let ipv4 = parseIpv4(ip);
  if (ipv4 === undefined) {
    const groups = parseIpv6(ip);
    if (groups === undefined) return undefined;
    if (groups.slice(0, 5).every((group) => group === 0) && groups[5] === 0xffff) {
      ipv4 = groups[6] * 0x10000 + groups[7];
    } else {
      if (groups.every((group) => group === 0)) return "the unspecified address (::)";
      if (groups[0] >= 0xff00) return "a multicast address (ff00::/8)";
      return undefined;
    }
  }
  if (ipv4 === 0) return "the unspecified address (0.0.0.0)";
  if (ipv4 === 0xffffffff) return "the broadcast address (255.255.255.255)";
  if (ipv4 >= 0xe0000000 && ipv4 < 0xf0000000) return "a multicast address (224.0.0.0/4)";
  return undefined;
}
