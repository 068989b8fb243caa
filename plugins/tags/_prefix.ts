// IP prefixes and longest-prefix match, IPv4 and IPv6 (IPv4-mapped IPv6 counts as IPv4).
import { isIP } from "node:net";

/** An address as a 128-bit number; IPv4 addresses are IPv4-mapped (::ffff:a.b.c.d). */
export function addressBits(address: string): bigint | undefined {
  const family = isIP(address);
  if (family === 4) return 0xffff00000000n | ipv4Bits(address);
  if (family !== 6) return undefined;
  const mapped = /^(.*:)(\d+\.\d+\.\d+\.\d+)$/.exec(address);
  let text = address;
  let tail = 0n;
  let tailGroups = 0;
  if (mapped !== null) {
    text = mapped[1] + "0:0";
    tail = ipv4Bits(mapped[2]);
    tailGroups = 2;
  }
  const [head, rest] = text.includes("::") ? text.split("::") : [text, undefined];
  const headGroups = head === "" ? [] : head.split(":");
  const restGroups = rest === undefined || rest === "" ? [] : rest.split(":");
  const zeros = 8 - headGroups.length - restGroups.length;
  const groups = [...headGroups, ...Array(rest === undefined ? 0 : zeros).fill("0"), ...restGroups];
  let bits = 0n;
  for (const group of groups) bits = (bits << 16n) | BigInt(parseInt(group, 16));
  return tailGroups === 0 ? bits : (bits & ~0xffffffffn) | tail;
}

function ipv4Bits(address: string): bigint {
  return address.split(".").reduce((bits, part) => (bits << 8n) | BigInt(Number(part)), 0n);
}

/** Parses `a.b.c.d`, `a.b.c.d/n`, `v6` or `v6/n`; undefined when it is none of these. */
export function parsePrefix(text: string): { bits: bigint; length: number } | undefined {
  const [address, lengthText, extra] = text.trim().split("/");
  if (extra !== undefined) return undefined;
  const bits = addressBits(address);
  if (bits === undefined) return undefined;
  const v4 = isIP(address) === 4;
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
