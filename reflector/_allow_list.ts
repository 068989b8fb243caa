import { type AddressFamily, IPV4, IPV6, SourceAddressReader } from "./_source_address.ts";

/** CIDR prefixes (`--allow`), matched against a source without allocating. */
export class AllowList {
  /** Prefixes listed. */
  readonly size: number;
  readonly #families: Uint8Array;
  readonly #lengths: Uint8Array;
  /** Four words a prefix, most significant first, host bits zero (IPv4 in the first). */
  readonly #words: Uint32Array;

  /**
   * Parses prefixes such as `10.0.0.0/8`, `2001:db8::/32` or a bare address (a /32 or /128).
   * IPv4-mapped IPv6 prefixes (`::ffff:10.0.0.0/104`) are read as the IPv4 ones they stand for.
   * Throws `RangeError` naming `what` and the prefix when one is malformed or has host bits set.
   */
  constructor(prefixes: readonly string[], what: string) {
    this.size = prefixes.length;
    this.#families = new Uint8Array(prefixes.length);
    this.#lengths = new Uint8Array(prefixes.length);
    this.#words = new Uint32Array(prefixes.length * 4);
    const reader = new SourceAddressReader();
    prefixes.forEach((prefix, index) => {
      const problem = (why: string) =>
        new RangeError(`${what} takes CIDR prefixes like 10.0.0.0/8 or 2001:db8::/32, ${why}`);
      const slash = prefix.indexOf("/");
      const address = slash < 0 ? prefix : prefix.slice(0, slash);
      const family = address.includes("%") ? 0 : reader.read(address);
      if (family === 0) throw problem(`got "${prefix}"`);
      const mapped = family === IPV4 && address.includes(":");
      const bits = family === IPV4 ? 32 : 128;
      const lengthText = slash < 0 ? String(mapped ? 128 : bits) : prefix.slice(slash + 1);
      let length = /^\d{1,3}$/.test(lengthText) ? Number(lengthText) : NaN;
      if (mapped) length -= 96;
      if (!(length >= 0 && length <= bits)) {
        throw problem(`got "${prefix}" (the length must be 0..${mapped ? "96..128" : bits})`);
      }
      this.#families[index] = family;
      this.#lengths[index] = length;
      for (let word = 0; word < (family === IPV4 ? 1 : 4); word++) {
        const value = reader.words[word];
        const masked = (value & mask(length - word * 32)) >>> 0;
        if (masked !== value) {
          throw problem(`got "${prefix}", which has bits set after its first ${lengthText}`);
        }
        this.#words[index * 4 + word] = masked;
      }
    });
  }

  /** Whether the address in `words` (as `SourceAddressReader` reads it) is inside a prefix. */
  allows(family: AddressFamily, words: Uint32Array): boolean {
    const families = this.#families;
    const lengths = this.#lengths;
    const prefixes = this.#words;
    for (let index = 0; index < families.length; index++) {
      if (families[index] !== family) continue;
      const length = lengths[index];
      const at = index * 4;
      if (family === IPV4) {
        if (((words[0] & mask(length)) >>> 0) === prefixes[at]) return true;
        continue;
      }
      if (
        family === IPV6 &&
        ((words[0] & mask(length)) >>> 0) === prefixes[at] &&
        ((words[1] & mask(length - 32)) >>> 0) === prefixes[at + 1] &&
        ((words[2] & mask(length - 64)) >>> 0) === prefixes[at + 2] &&
        ((words[3] & mask(length - 96)) >>> 0) === prefixes[at + 3]
      ) {
        return true;
      }
    }
    return false;
  }
}

/** The mask of a 32-bit word's first `bits` bits (all of them from 32, none from 0 or less). */
function mask(bits: number): number {
  if (bits <= 0) return 0;
  if (bits >= 32) return 0xffffffff;
  return (0xffffffff << (32 - bits)) >>> 0;
}
