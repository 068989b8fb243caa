// IP prefixes and longest-prefix match, IPv4 and IPv6 (IPv4-mapped IPv6 counts as IPv4).
import { parseIpv4, parseIpv6 } from "@llama/core";

/** An address as a 128-bit number; IPv4 addresses are IPv4-mapped (::ffff:a.b.c.d). */
export function addressBits(address: string): bigint | undefined {
  const ipv4 = parseIpv4(address);
  if (ipv4 !== undefined) return 0xffff00000000n | BigInt(ipv4);
  const groups = parseIpv6(address);
  if (groups === undefined) return undefined;
  return groups.reduce((bits, group) => (bits << 16n) | BigInt(group), 0n);
}

/** Parses `a.b.c.d`, `a.b.c.d/n`, `v6` or `v6/n`; undefined when it is none of these. */
export function parsePrefix(text: string): { bits: bigint; length: number } | undefined {
  const [address, lengthText, extra] = text.trim().split("/");
  if (extra !== undefined) return undefined;
  const bits = addressBits(address);
  if (bits === undefined) return undefined;
  const v4 = parseIpv4(address) !== undefined;
  const max = v4 ? 32 : 128;
  const length = lengthText === undefined ? max : Number(lengthText);
  if (!/^\d+$/.test(lengthText ?? String(max)) || length > max) return undefined;
  const total = v4 ? 96 + length : length;
  return { bits: mask(bits, total), length: total };
}

function mask(bits: bigint, length: number): bigint {
  return length === 0 ? 0n : (bits >> BigInt(128 - length)) << BigInt(128 - length);
}

/** A table of prefixes; `lookup` finds the longest one holding an address. */
export class PrefixTable<T> {
  readonly #byLength = new Map<number, Map<bigint, T>>();
  #lengths: number[] = [];

  /** Adds a prefix. */
  set(prefix: { bits: bigint; length: number }, value: T): void {
    let table = this.#byLength.get(prefix.length);
    if (table === undefined) {
      table = new Map();
      this.#byLength.set(prefix.length, table);
      this.#lengths = [...this.#byLength.keys()].sort((a, b) => b - a);
    }
    table.set(prefix.bits, value);
  }

  /** The value of the longest prefix holding `address`. */
  lookup(address: string): T | undefined {
    const bits = addressBits(address);
    if (bits === undefined) return undefined;
    for (const length of this.#lengths) {
      const value = this.#byLength.get(length)!.get(mask(bits, length));
      if (value !== undefined) return value;
    }
    return undefined;
  }
}
