// A stateful Session-Reflector's sequence counters (RFC 8762 section 4.2.1), one per session
// keyed by (peer address, peer port, SSID), in a table of fixed size allocated once. A new session
// takes a free slot among the WINDOW slots its hash points at, or evicts the least recently used
// of them: however many sources a flood spoofs, the table never grows. (A flood can evict real
// sessions, whose counters then restart at 0; in authenticated mode only packets whose HMAC
// verified reach the table.)

const WINDOW = 8;

export class StampSessionTable {
  readonly capacity: number;
  readonly #mask: number;
  readonly #hosts: (string | undefined)[];
  readonly #portAndSsid: Float64Array;
  readonly #next: Uint32Array;
  readonly #usedAt: Float64Array;
  #tick = 0;
  #size = 0;

  /** A table of `capacity` sessions, rounded up to a power of two (at least WINDOW). */
  constructor(capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1 || capacity > 1 << 24) {
      throw new RangeError(
        `Cannot create STAMP session table: capacity must be 1..16777216, got ${capacity}`,
      );
    }
    let size = WINDOW;
    while (size < capacity) size *= 2;
    this.capacity = size;
    this.#mask = size - 1;
    this.#hosts = new Array(size).fill(undefined);
    this.#portAndSsid = new Float64Array(size);
    this.#next = new Uint32Array(size);
    this.#usedAt = new Float64Array(size);
  }

  /** Sessions held now. */
  get size(): number {
    return this.#size;
  }

  /** The reflector's sequence number for the next packet of this session, counted from 0. */
  next(hostname: string, port: number, ssid: number): number {
    const key = port * 65536 + ssid;
    const start = hash(hostname, key) & this.#mask;
    const hosts = this.#hosts;
    let free = -1;
    let oldest = start;
    for (let step = 0; step < WINDOW; step++) {
      const slot = (start + step) & this.#mask;
      const host = hosts[slot];
      if (host === undefined) {
        if (free < 0) free = slot;
        continue;
      }
      if (this.#portAndSsid[slot] === key && host === hostname) return this.#use(slot);
      if (this.#usedAt[slot] < this.#usedAt[oldest]) oldest = slot;
    }
    const slot = free >= 0 ? free : oldest;
    if (free >= 0) this.#size++;
    hosts[slot] = hostname;
    this.#portAndSsid[slot] = key;
    this.#next[slot] = 0;
    return this.#use(slot);
  }

  #use(slot: number): number {
    this.#usedAt[slot] = ++this.#tick;
    const sequence = this.#next[slot];
    this.#next[slot] = sequence + 1; // wraps at 2^32, as the field does
    return sequence;
  }
}

/** FNV-1a over the address's characters and the port and SSID. */
function hash(hostname: string, key: number): number {
  let value = 0x811c9dc5;
  for (let index = 0; index < hostname.length; index++) {
    value = Math.imul(value ^ hostname.charCodeAt(index), 0x01000193);
  }
  value = Math.imul(value ^ (key & 0xffff), 0x01000193);
  value = Math.imul(value ^ Math.floor(key / 65536), 0x01000193);
  return (value ^ (value >>> 15)) >>> 0;
}
