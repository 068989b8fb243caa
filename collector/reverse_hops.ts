/**
 * Reverse hop counts: how many routers each flow's replies crossed on their way back, read off
 * the IP TTL (IPv6 hop limit) they arrive with. Cheap (one number a reply), and it works with
 * every reflector, the original LLAMA's included.
 *
 * @module
 */

/**
 * The TTLs senders start from: Linux and most hosts 64, Windows 128, many routers 255 (and old
 * stacks 32). A reply that arrives with TTL t left with the smallest of these that is >= t.
 */
const INITIAL_TTLS = [32, 64, 128, 255];

/** Hops a datagram that arrived with TTL `ttl` crossed, assuming a usual initial TTL. */
export function hopsFromTtl(ttl: number): number {
  for (const initial of INITIAL_TTLS) if (ttl <= initial) return initial - ttl;
  return 0;
}

/** The latest reply TTL of every flow, by flow id, and how often a flow's count changed. */
export class ReverseHops {
  /** Reply TTL by flow id; 0: none seen. */
  #ttls = new Uint8Array(256);
  /** Times a flow's reply TTL changed, every flow together. */
  changes = 0;
  /** Called with the flow id and the hop counts before and after, when one changes. */
  onChange: ((flow: number, before: number, after: number) => void) | undefined;

  /** A reply of flow `flow` arrived with TTL `ttl` (1–255). */
  observe(flow: number, ttl: number): void {
    let ttls = this.#ttls;
    if (flow >= ttls.length) {
      const grown = new Uint8Array(Math.max(flow + 1, ttls.length * 2));
      grown.set(ttls);
      this.#ttls = ttls = grown;
    }
    const before = ttls[flow];
    if (before === ttl) return;
    ttls[flow] = ttl;
    if (before !== 0) {
      this.changes++;
      this.onChange?.(flow, hopsFromTtl(before), hopsFromTtl(ttl));
    }
  }

  /** Hops the replies of `flow` crossed, or null before its first reply with a TTL. */
  hopsOf(flow: number): number | null {
    const ttl = flow < this.#ttls.length ? this.#ttls[flow] : 0;
    return ttl === 0 ? null : hopsFromTtl(ttl);
  }
}
