/**
 * Rendezvous (highest-random-weight) hashing: every chooser ranks the candidates by a weight
 * hashed from the pair (chooser, candidate), and takes the first ones. Every party that knows
 * the same names reaches the same choice without talking to another, and when a name joins or
 * leaves, only the choices that involve it change.
 *
 * Collectors use it to pick their mesh sample and their share of a sharded target list;
 * scrapers to pick their share of the collectors.
 *
 * @module
 */

/** Seeds of the two names of a pair, so that (a, b) and (b, a) weigh differently. */
const CHOOSER_SEED = 0x6c6c616d; // "llam"
const CANDIDATE_SEED = 0x61726e64; // "arnd"

/**
 * The 32-bit hash of `name` (MurmurHash3 x86_32 of its UTF-16LE bytes) from which `rendezvousWeight` derives weights. Hash each name once and keep it when
 * weighing one name against many.
 *
 * @example
 * ```ts
 * import { rendezvousHash } from "@llama/core";
 * console.assert(rendezvousHash("collector-1") === rendezvousHash("collector-1"));
 * console.assert(rendezvousHash("collector-1") !== rendezvousHash("collector-2"));
 * ```
 */
export function rendezvousHash(name: string, seed = 0): number {
  let hash = seed >>> 0;
  const length = name.length;
  let index = 0;
  for (; index + 1 < length; index += 2) {
    hash = round(hash, name.charCodeAt(index) | (name.charCodeAt(index + 1) << 16));
    hash = Math.imul((hash << 13) | (hash >>> 19), 5) + 0xe6546b64;
  }
  if (index < length) hash = round(hash, name.charCodeAt(index));
  return finalMix(hash ^ (length * 2));
}

function round(hash: number, word: number): number {
  let k = Math.imul(word, 0xcc9e2d51);
  k = (k << 15) | (k >>> 17);
  return hash ^ Math.imul(k, 0x1b873593);
}

function finalMix(value: number): number {
  let hash = value;
  hash ^= hash >>> 16;
  hash = Math.imul(hash, 0x85ebca6b);
  hash ^= hash >>> 13;
  hash = Math.imul(hash, 0xc2b2ae35);
  hash ^= hash >>> 16;
  return hash >>> 0;
}

/**
 * The weight of the pair (chooser, candidate), from their `rendezvousHash`es: a whole number
 * below 2^53, uniform, and unrelated for pairs that share a name. The higher, the likelier the
 * chooser takes the candidate.
 *
 * @example
 * ```ts
 * import { rendezvousHash, rendezvousWeight } from "@llama/core";
 * const weight = rendezvousWeight(rendezvousHash("c1"), rendezvousHash("10.0.0.7:8100"));
 * console.assert(Number.isSafeInteger(weight) && weight >= 0);
 * ```
 */
export function rendezvousWeight(chooserHash: number, candidateHash: number): number {
  const high = finalMix((chooserHash ^ CHOOSER_SEED) + Math.imul(candidateHash, 0x9e3779b1));
  const low = finalMix(
    (candidateHash ^ CANDIDATE_SEED) + Math.imul(high ^ chooserHash, 0x27d4eb2f),
  );
  return (high >>> 11) * 0x100000000 + low;
}

/** A candidate of `rendezvousTop`: its name and the hash of that name. */
export interface RendezvousCandidate {
  /** The name weighed (and the tie-break when two weights are equal). */
  readonly name: string;
  /** `rendezvousHash(name)`. */
  readonly hash: number;
}

/**
 * The `count` candidates that weigh most for the chooser hashed `chooserHash`, heaviest first
 * (all of them, when there are no more). Deterministic: equal weights are ordered by name.
 *
 * @example
 * ```ts
 * import { rendezvousHash, rendezvousTop } from "@llama/core";
 * const hosts = ["h1", "h2", "h3", "h4"].map((name) => ({ name, hash: rendezvousHash(name) }));
 * const two = rendezvousTop(rendezvousHash("collector-1"), hosts, 2);
 * console.assert(two.length === 2 && two[0] !== two[1]);
 * ```
 */
export function rendezvousTop<T extends RendezvousCandidate>(
  chooserHash: number,
  candidates: readonly T[],
  count: number,
): T[] {
  if (count <= 0) return [];
  // A small sorted array beats sorting every candidate: `count` is a replica or sample count.
  const chosen: T[] = [];
  const weights: number[] = [];
  for (const candidate of candidates) {
    const weight = rendezvousWeight(chooserHash, candidate.hash);
    let at = chosen.length;
    while (at > 0 && heavier(weight, candidate.name, weights[at - 1], chosen[at - 1].name)) at--;
    if (at >= count) continue;
    chosen.splice(at, 0, candidate);
    weights.splice(at, 0, weight);
    if (chosen.length > count) {
      chosen.pop();
      weights.pop();
    }
  }
  return chosen;
}

function heavier(weight: number, name: string, otherWeight: number, otherName: string): boolean {
  return weight > otherWeight || (weight === otherWeight && name < otherName);
}

/**
 * A member list for sharding by rendezvous hashing: each key is owned by the `replicas` members
 * that weigh most for it. A member joining takes about 1/n of each other member's keys; one
 * leaving hands its keys to the others, and no other key moves.
 *
 * @example
 * ```ts
 * import { RendezvousMembers } from "@llama/core";
 * const members = new RendezvousMembers(["c1", "c2", "c3"]);
 * const owners = members.owners("10.0.0.7:8100", 2);
 * console.assert(owners.length === 2 && members.owns(owners[0], "10.0.0.7:8100", 2));
 * ```
 */
export class RendezvousMembers {
  readonly #members: RendezvousCandidate[];

  /** A member list; names listed twice count once. */
  constructor(names: Iterable<string>) {
    this.#members = [...new Set(names)].map((name) => ({ name, hash: rendezvousHash(name) }));
  }

  /** How many distinct members there are. */
  get size(): number {
    return this.#members.length;
  }

  /** The names of the members, in the order given. */
  names(): string[] {
    return this.#members.map(({ name }) => name);
  }

  /** The `min(replicas, size)` members that own `key`, the heaviest first. */
  owners(key: string, replicas: number): string[] {
    return rendezvousTop(rendezvousHash(key), this.#members, replicas).map(({ name }) => name);
  }

  /** Whether `member` is one of the owners of `key`. */
  owns(member: string, key: string, replicas: number): boolean {
    return this.owners(key, replicas).includes(member);
  }

  /** The keys of `keys` that `member` owns, in their order (none when it is not a member). */
  share<T>(member: string, keys: readonly T[], replicas: number, keyOf: (item: T) => string): T[] {
    if (!this.#members.some(({ name }) => name === member)) return [];
    return keys.filter((item) => this.owns(member, keyOf(item), replicas));
  }
}
