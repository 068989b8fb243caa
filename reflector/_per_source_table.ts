import { type AddressFamily, IPV4 } from "./_source_address.ts";

/** The source may be answered: its bucket (or, without an entry, the overflow bucket) had a token. */
export const WITHIN_RATE = 0;
/** The source's own bucket is empty. */
export const OVER_RATE = 1;
/** No entry could be made for the source, and the overflow bucket it was charged to is empty. */
export const TABLE_FULL = 2;

/** What `PerSourceTable.take` decided. */
export type PerSourceVerdict = typeof WITHIN_RATE | typeof OVER_RATE | typeof TABLE_FULL;

/** Entries of a set: a source can live in any of the 8 slots its hash picks. */
const WAYS = 8;

/** How a `PerSourceTable` limits. */
export interface PerSourceTableOptions {
  /** Tokens a second, per source. */
  rate: number;
  /** Tokens a source's bucket holds at most (at least 1). */
  burst: number;
  /** Most sources tracked at once: rounded up to a power of two, at least 8. */
  entries: number;
  /** Two random 32-bit words keying the hash; default: from `crypto.getRandomValues`. */
  seed?: Uint32Array;
}

/**
 * A token bucket per source (an IPv4 address, or an IPv6 /64) in a fixed table: a set-associative
 * hash table with a secret key, allocated once, that no traffic can grow.
 *
 * A source with a full bucket needs no entry: an entry is only worth keeping while its bucket is
 * short of tokens, that is while the source sends near or above its rate. So a newcomer takes, in
 * its set of 8, a free slot, or one whose bucket has refilled, or else the fullest one when it is
 * at most one token short and holds a token (forgetting it gives that source one answer more, at
 * most; with a burst of 1 only refilled slots are reused). A source being limited (less than a
 * token left) is never evicted: while every slot of its set is short of more than a token, a
 * newcomer gets no entry and is charged to one overflow bucket shared by all such sources, at the
 * per-source rate. A spoofed flood of random sources therefore churns through slots its own
 * single datagrams made evictable, and can neither reset the bucket of a source it floods nor
 * get more than one source's rate through the overflow. Filling the whole table with sources
 * each over its rate takes `entries × rate` datagrams a second, all but the overflow's refused.
 */
export class PerSourceTable {
  /** Most sources tracked at once. */
  readonly capacity: number;
  readonly #setMask: number;
  readonly #rate: number;
  readonly #burst: number;
  readonly #seed0: number;
  readonly #seed1: number;
  /** 0 for a free slot, else the family (4 or 6). */
  readonly #families: Uint8Array;
  /** Two words a slot: the IPv4 address and 0, or the /64's two words. */
  readonly #keys: Uint32Array;
  readonly #tokens: Float64Array;
  readonly #updatedAt: Float64Array;
  #overflowTokens: number;
  #overflowUpdatedAt = -Infinity;
  #used = 0;

  /** Allocates the whole table (about 25 bytes an entry). */
  constructor(options: PerSourceTableOptions) {
    if (!(options.rate > 0) || !Number.isFinite(options.rate)) {
      throw new RangeError(
        `Cannot limit per source: the rate must be positive, got ${options.rate}`,
      );
    }
    if (!Number.isInteger(options.entries) || options.entries < 1 || options.entries > 1 << 24) {
      throw new RangeError(
        `Cannot limit per source: entries must be a whole number 1..${
          1 << 24
        }, got ${options.entries}`,
      );
    }
    this.capacity = Math.max(WAYS, 2 ** Math.ceil(Math.log2(options.entries)));
    this.#setMask = this.capacity / WAYS - 1;
    this.#rate = options.rate / 1000; // tokens a millisecond
    this.#burst = Math.max(1, options.burst);
    this.#overflowTokens = this.#burst;
    const seed = options.seed ?? crypto.getRandomValues(new Uint32Array(2));
    this.#seed0 = seed[0] | 0;
    this.#seed1 = seed[1] | 0;
    this.#families = new Uint8Array(this.capacity);
    this.#keys = new Uint32Array(this.capacity * 2);
    this.#tokens = new Float64Array(this.capacity);
    this.#updatedAt = new Float64Array(this.capacity);
  }

  /** Slots holding a source whose bucket was not yet seen refilled. */
  get used(): number {
    return this.#used;
  }

  /**
   * Takes a token for the source in `words` (as `SourceAddressReader` reads it: IPv4 in the first
   * word; of IPv6, the first two, its /64, count) at `now`, monotonic milliseconds.
   */
  take(family: AddressFamily, words: Uint32Array, now: number): PerSourceVerdict {
    const high = words[0];
    const low = family === IPV4 ? 0 : words[1];
    const base = this.#setOf(family, high, low) * WAYS;
    const families = this.#families;
    const keys = this.#keys;
    let free = -1;
    let fullest = -1;
    let fullestTokens = -1;
    for (let slot = base; slot < base + WAYS; slot++) {
      if (families[slot] === 0) {
        if (free < 0) free = slot;
        continue;
      }
      const tokens = this.#refill(slot, now);
      if (families[slot] === family && keys[slot * 2] === high && keys[slot * 2 + 1] === low) {
        if (tokens < 1) return OVER_RATE;
        this.#tokens[slot] = tokens - 1;
        return WITHIN_RATE;
      }
      if (tokens >= this.#burst) {
        // Refilled: the same as no entry. Freed, so `used` counts sources still short of tokens.
        families[slot] = 0;
        this.#used--;
        if (free < 0) free = slot;
      } else if (tokens > fullestTokens) {
        fullest = slot;
        fullestTokens = tokens;
      }
    }
    let slot = free;
    // Forgetting the fullest gives its source at most one answer more, and only to a source that
    // could be answered now anyway (a source being limited has less than a token).
    if (slot < 0 && fullestTokens >= this.#burst - 1 && fullestTokens >= 1) slot = fullest;
    if (slot < 0) return this.#takeOverflow(now);
    if (free >= 0) this.#used++;
    families[slot] = family;
    keys[slot * 2] = high;
    keys[slot * 2 + 1] = low;
    this.#tokens[slot] = this.#burst - 1;
    this.#updatedAt[slot] = now;
    return WITHIN_RATE;
  }

  /** The slot's tokens at `now`, stored; a clock going back adds none. */
  #refill(slot: number, now: number): number {
    const elapsed = now - this.#updatedAt[slot];
    if (elapsed <= 0) return this.#tokens[slot];
    const tokens = Math.min(this.#burst, this.#tokens[slot] + elapsed * this.#rate);
    this.#tokens[slot] = tokens;
    this.#updatedAt[slot] = now;
    return tokens;
  }

  #takeOverflow(now: number): PerSourceVerdict {
    const elapsed = now - this.#overflowUpdatedAt;
    if (elapsed > 0) {
      this.#overflowTokens = Math.min(this.#burst, this.#overflowTokens + elapsed * this.#rate);
      this.#overflowUpdatedAt = now;
    }
    if (this.#overflowTokens < 1) return TABLE_FULL;
    this.#overflowTokens -= 1;
    return WITHIN_RATE;
  }

  /** The set of a key: a keyed 32-bit mix (murmur3's finalizer), so sets cannot be aimed at. */
  #setOf(family: number, high: number, low: number): number {
    let hash = this.#seed0 ^ family;
    hash = Math.imul(hash ^ high, 0xcc9e2d51);
    hash = Math.imul((hash << 15) | (hash >>> 17), 0x1b873593) ^ this.#seed1;
    hash = Math.imul(hash ^ low, 0xcc9e2d51);
    hash = Math.imul((hash << 15) | (hash >>> 17), 0x1b873593);
    hash ^= hash >>> 16;
    hash = Math.imul(hash, 0x85ebca6b);
    hash ^= hash >>> 13;
    hash = Math.imul(hash, 0xc2b2ae35);
    hash ^= hash >>> 16;
    return hash & this.#setMask;
  }
}
