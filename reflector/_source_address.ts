/**
 * Reads a datagram's source address text into numbers without allocating, for the per-datagram
 * allow list and per-source limits. Both engines give sources as text: dotted IPv4, IPv6 in
 * any RFC 4291 form (the native engine's is RFC 5952 canonical), IPv4-mapped IPv6
 * (`::ffff:192.0.2.1`) on a dual-stack socket.
 *
 * @module
 */

/** Not an IP address. */
export const NOT_AN_ADDRESS = 0;
/** IPv4, or IPv4-mapped IPv6: the address is `words[0]`. */
export const IPV4 = 4;
/** IPv6: the address is `words[0..3]`, most significant first. */
export const IPV6 = 6;

/** What `SourceAddressReader.read` found. */
export type AddressFamily = typeof NOT_AN_ADDRESS | typeof IPV4 | typeof IPV6;

/** Reads address text into `words`, reusing its buffers: one reader per thread. */
export class SourceAddressReader {
  /** The address last read: IPv4 in `words[0]`, IPv6 in all four, most significant first. */
  readonly words: Uint32Array = new Uint32Array(4);
  readonly #groups = new Uint16Array(8);

  /** Reads `text` into `words`; returns its family, `NOT_AN_ADDRESS` for anything else. */
  read(text: string): AddressFamily {
    let end = text.indexOf("%"); // a zone (fe80::1%eth0) is not part of the address
    if (end < 0) end = text.length;
    if (text.indexOf(":") < 0) {
      const ipv4 = readIpv4(text, 0, end);
      if (ipv4 < 0) return NOT_AN_ADDRESS;
      this.words[0] = ipv4;
      return IPV4;
    }
    return this.#readIpv6(text, end);
  }

  #readIpv6(text: string, end: number): AddressFamily {
    const groups = this.#groups;
    let count = 0;
    let gap = -1; // where "::" stands, in groups
    let index = 0;
    if (text.charCodeAt(0) === COLON) {
      if (text.charCodeAt(1) !== COLON) return NOT_AN_ADDRESS;
      gap = 0;
      index = 2;
    }
    while (index < end) {
      const start = index;
      let value = 0;
      let digits = 0;
      for (; index < end; index++) {
        const digit = hexValue(text.charCodeAt(index));
        if (digit < 0) break;
        value = value * 16 + digit;
        digits++;
      }
      if (index < end && text.charCodeAt(index) === DOT) {
        // An IPv4 address as the last 32 bits.
        const ipv4 = count > 6 ? -1 : readIpv4(text, start, end);
        if (ipv4 < 0) return NOT_AN_ADDRESS;
        groups[count++] = ipv4 >>> 16;
        groups[count++] = ipv4 & 0xffff;
        break;
      }
      if (digits === 0 || digits > 4 || count === 8) return NOT_AN_ADDRESS;
      groups[count++] = value;
      if (index === end) break;
      if (text.charCodeAt(index) !== COLON) return NOT_AN_ADDRESS;
      index++;
      if (index < end && text.charCodeAt(index) === COLON) {
        if (gap >= 0) return NOT_AN_ADDRESS;
        gap = count;
        index++;
      } else if (index === end) return NOT_AN_ADDRESS; // a trailing single colon
    }
    if (gap < 0) {
      if (count !== 8) return NOT_AN_ADDRESS;
    } else {
      if (count > 7) return NOT_AN_ADDRESS; // "::" stands for at least one group
      const shift = 8 - count;
      for (let at = count - 1; at >= gap; at--) groups[at + shift] = groups[at];
      for (let at = gap; at < gap + shift; at++) groups[at] = 0;
    }
    const words = this.words;
    if (
      groups[0] === 0 && groups[1] === 0 && groups[2] === 0 && groups[3] === 0 &&
      groups[4] === 0 && groups[5] === 0xffff
    ) {
      words[0] = groups[6] * 65536 + groups[7];
      return IPV4;
    }
    for (let word = 0; word < 4; word++) {
      words[word] = groups[word * 2] * 65536 + groups[word * 2 + 1];
    }
    return IPV6;
  }
}

const COLON = 0x3a, DOT = 0x2e, ZERO = 0x30, NINE = 0x39;

function hexValue(code: number): number {
  if (code >= ZERO && code <= NINE) return code - ZERO;
  const lower = code | 0x20;
  return lower >= 0x61 && lower <= 0x66 ? lower - 0x61 + 10 : -1;
}

/**
 * Dotted-decimal IPv4 in `text[start..end)` as a number, or -1: four parts of 1-3 digits up to
 * 255, without leading zeros (as `parseIpv4` reads them).
 */
function readIpv4(text: string, start: number, end: number): number {
  let value = 0;
  let parts = 0;
  let index = start;
  while (parts < 4) {
    let part = 0;
    let digits = 0;
    for (; index < end; index++) {
      const code = text.charCodeAt(index);
      if (code < ZERO || code > NINE) break;
      if (digits === 1 && part === 0) return -1; // a leading zero
      part = part * 10 + code - ZERO;
      if (++digits > 3) return -1;
    }
    if (digits === 0 || part > 255) return -1;
    value = value * 256 + part;
    parts++;
    if (parts < 4) {
      if (index >= end || text.charCodeAt(index) !== DOT) return -1;
      index++;
    }
  }
  return index === end ? value : -1;
}
