import assert from "node:assert/strict";
import {
  rendezvousHash,
  RendezvousMembers,
  rendezvousTop,
  rendezvousWeight,
} from "./rendezvous.ts";

const keys = Array.from({ length: 6000 }, (_, index) => `10.${index >> 8}.${index & 255}.1:8100`);
const collectors = (count: number, from = 1) =>
  Array.from({ length: count }, (_, index) => `collector-${index + from}`);

/** Owners of every key, by key. */
function ownersOf(members: string[], replicas: number): Map<string, string[]> {
  const list = new RendezvousMembers(members);
  return new Map(keys.map((key) => [key, list.owners(key, replicas)]));
}

Deno.test("rendezvousHash is MurmurHash3 x86_32 of the name's UTF-16LE bytes", () => {
  assert.equal(rendezvousHash(""), 0);
  // Published vectors of MurmurHash3_x86_32, which the byte-wise reference below must give.
  assert.equal(murmur3Reference(new TextEncoder().encode("hello"), 0), 0x248bfa47);
  assert.equal(murmur3Reference(new Uint8Array(0), 1), 0x514e28b7);
  assert.equal(rendezvousHash("ab", 7), murmur3Reference(new Uint8Array([97, 0, 98, 0]), 7));
  for (const name of ["a", "ab", "abc", "collector-1", "10.0.0.7:8100", "hôte", "データ"]) {
    const bytes = new Uint8Array(name.length * 2);
    for (let index = 0; index < name.length; index++) {
      bytes[index * 2] = name.charCodeAt(index) & 255;
      bytes[index * 2 + 1] = name.charCodeAt(index) >> 8;
    }
    assert.equal(rendezvousHash(name), murmur3Reference(bytes, 0), name);
  }
});

Deno.test("rendezvous weights are spread evenly over their range", () => {
  const chooser = rendezvousHash("collector-1");
  const buckets = new Array(16).fill(0);
  for (const key of keys) {
    const weight = rendezvousWeight(chooser, rendezvousHash(key));
    assert.ok(Number.isSafeInteger(weight) && weight >= 0);
    buckets[Math.floor(weight / 2 ** 49)]++;
  }
  // 6000 keys in 16 buckets: 375 each; a fair hash stays well within ±25%.
  for (const count of buckets) assert.ok(count > 281 && count < 469, `buckets ${buckets}`);
});

Deno.test("rendezvousTop takes the heaviest candidates, the same as sorting them all", () => {
  const candidates = keys.slice(0, 500).map((name) => ({ name, hash: rendezvousHash(name) }));
  const chooser = rendezvousHash("collector-9");
  const sorted = [...candidates].sort((a, b) =>
    rendezvousWeight(chooser, b.hash) - rendezvousWeight(chooser, a.hash)
  );
  assert.deepEqual(rendezvousTop(chooser, candidates, 7), sorted.slice(0, 7));
  assert.deepEqual(
    rendezvousTop(chooser, candidates.slice(0, 3), 7),
    sorted.filter((c) => candidates.slice(0, 3).includes(c)),
  );
  assert.deepEqual(rendezvousTop(chooser, candidates, 0), []);
});

Deno.test("every key has exactly min(replicas, members) distinct owners", () => {
  for (const [memberCount, replicas] of [[1, 1], [3, 2], [5, 1], [5, 3], [2, 4]]) {
    for (const owners of ownersOf(collectors(memberCount), replicas).values()) {
      assert.equal(owners.length, Math.min(replicas, memberCount));
      assert.equal(new Set(owners).size, owners.length);
    }
  }
});

Deno.test("members share the keys evenly", () => {
  const counts = new Map<string, number>();
  for (const owners of ownersOf(collectors(6), 2).values()) {
    for (const owner of owners) counts.set(owner, (counts.get(owner) ?? 0) + 1);
  }
  // 6000 keys × 2 replicas over 6 members: 2000 each.
  for (const [member, count] of counts) {
    assert.ok(count > 1800 && count < 2200, `${member} owns ${count}`);
  }
});

Deno.test("a member joining takes about 1/n of the keys, and only keys move to it", () => {
  for (const replicas of [1, 2]) {
    const before = ownersOf(collectors(5), replicas);
    const after = ownersOf(collectors(6), replicas);
    let moved = 0;
    for (const key of keys) {
      const old = new Set(before.get(key));
      const gained = after.get(key)!.filter((owner) => !old.has(owner));
      // The only owner a key can gain is the newcomer, and it then loses exactly one.
      assert.ok(gained.every((owner) => owner === "collector-6"), `${key}: ${gained}`);
      moved += gained.length;
    }
    // Expected: replicas × keys / 6 = 1000 × replicas ownerships move.
    const expected = (replicas * keys.length) / 6;
    assert.ok(Math.abs(moved - expected) < expected * 0.15, `${moved} moved, ~${expected}`);
  }
});

Deno.test("a member leaving hands on only its own keys", () => {
  const before = ownersOf(collectors(6), 2);
  const after = ownersOf(collectors(6).filter((name) => name !== "collector-3"), 2);
  let moved = 0;
  for (const key of keys) {
    const old = before.get(key)!;
    const now = after.get(key)!;
    if (!old.includes("collector-3")) {
      assert.deepEqual(now, old, `${key} moved though collector-3 did not own it`);
      continue;
    }
    // Its other owner keeps it; one new owner takes collector-3's place.
    for (const owner of old) if (owner !== "collector-3") assert.ok(now.includes(owner));
    moved++;
  }
  assert.ok(Math.abs(moved - 2000) < 300, `${moved} keys had collector-3 (expected ~2000)`);
});

Deno.test("share keeps a member's keys, and none for a name that is not a member", () => {
  const members = new RendezvousMembers(["c1", "c2", "c3", "c2"]);
  assert.equal(members.size, 3);
  const shares = members.names().map((name) => members.share(name, keys, 1, (key) => key));
  assert.equal(shares.reduce((sum, share) => sum + share.length, 0), keys.length);
  assert.equal(new Set(shares.flat()).size, keys.length);
  assert.deepEqual(members.share("c4", keys, 1, (key) => key), []);
});

/** MurmurHash3_x86_32 on bytes, written from the reference C code, to check the string form. */
function murmur3Reference(bytes: Uint8Array, seed: number): number {
  let hash = seed >>> 0;
  const blocks = bytes.length >> 2;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let index = 0; index < blocks; index++) {
    let k = Math.imul(view.getUint32(index * 4, true), 0xcc9e2d51);
    k = (k << 15) | (k >>> 17);
    hash ^= Math.imul(k, 0x1b873593);
    hash = (hash << 13) | (hash >>> 19);
    hash = (Math.imul(hash, 5) + 0xe6546b64) | 0;
  }
  let tail = 0;
  const rest = bytes.length & 3;
  if (rest >= 3) tail ^= bytes[blocks * 4 + 2] << 16;
  if (rest >= 2) tail ^= bytes[blocks * 4 + 1] << 8;
  if (rest >= 1) {
    tail ^= bytes[blocks * 4];
    tail = Math.imul(tail, 0xcc9e2d51);
    tail = (tail << 15) | (tail >>> 17);
    hash ^= Math.imul(tail, 0x1b873593);
  }
  hash ^= bytes.length;
  hash ^= hash >>> 16;
  hash = Math.imul(hash, 0x85ebca6b);
  hash ^= hash >>> 13;
  hash = Math.imul(hash, 0xc2b2ae35);
  hash ^= hash >>> 16;
  return hash >>> 0;
}
