import assert from "node:assert/strict";
import {
  checkSourceLimits,
  OVER_RATE,
  SourceLimits,
  TABLE_FULL,
  WITHIN_RATE,
} from "./source_limits.ts";
import { PerSourceTable } from "./_per_source_table.ts";
import { IPV4 } from "./_source_address.ts";

function allowing(...prefixes: string[]): SourceLimits {
  return SourceLimits.from({ allow: prefixes })!;
}

Deno.test("no allow list and no per-source rate limit nothing, and cost nothing", () => {
  assert.equal(SourceLimits.from({ allow: [] }), undefined);
  assert.equal(SourceLimits.from(undefined), undefined);
});

Deno.test("the allow list answers only sources inside its prefixes, IPv4-mapped ones as IPv4", () => {
  const limits = allowing("10.0.0.0/8", "192.0.2.7", "2001:db8:1::/48", "::ffff:198.51.100.0/120");
  for (const source of ["10.0.0.1", "10.255.255.255", "::ffff:10.1.2.3", "192.0.2.7"]) {
    assert.ok(limits.allows(source), source);
  }
  for (const source of ["2001:db8:1::1", "2001:db8:1:ffff:ffff:ffff:ffff:ffff", "198.51.100.9"]) {
    assert.ok(limits.allows(source), source);
  }
  for (
    const source of ["11.0.0.1", "192.0.2.8", "2001:db8:2::1", "::ffff:192.0.2.8", "::1", "x"]
  ) {
    assert.ok(!limits.allows(source), source);
  }
});

Deno.test("the allow list takes /0 for everyone of a family and a bare IPv6 address as a /128", () => {
  const limits = allowing("0.0.0.0/0", "2001:db8::5");
  assert.ok(limits.allows("203.0.113.1") && limits.allows("::ffff:1.2.3.4"));
  assert.ok(limits.allows("2001:db8::5") && !limits.allows("2001:db8::6"));
  assert.ok(!limits.allows("::1"));
});

Deno.test("a malformed prefix, or one with host bits set, is refused with its text", () => {
  const cases: [string, RegExp][] = [
    [
      "10.0.0.1/8",
      /--allow takes CIDR prefixes .*"10\.0\.0\.1\/8", which has bits set after its first 8/,
    ],
    ["10.0.0.0/33", /"10\.0\.0\.0\/33" \(the length must be 0\.\.32\)/],
    ["2001:db8::/129", /the length must be 0\.\.128/],
    ["::ffff:10.0.0.0/64", /the length must be 0\.\.96\.\.128/],
    ["example.com/8", /got "example\.com\/8"/],
    ["10.0.0.0/", /got "10\.0\.0\.0\/"/],
    ["fe80::1%eth0", /got "fe80::1%eth0"/],
    ["10.0.0.0/+8", /got "10\.0\.0\.0\/\+8"/],
  ];
  for (const [prefix, message] of cases) {
    assert.throws(() => checkSourceLimits({ allow: [prefix] }), message, prefix);
  }
  assert.throws(
    () => checkSourceLimits({ allow: [], perSource: { pps: 0 } }),
    /pps must be a whole number 1\.\.100000000, got 0/,
  );
});

Deno.test("a source gets its burst, then its rate; another source has a bucket of its own", () => {
  const limits = SourceLimits.from({ allow: [], perSource: { pps: 10, burst: 3 } })!;
  const verdicts = Array.from({ length: 4 }, () => limits.take("192.0.2.1", 1000));
  assert.deepEqual(verdicts, [WITHIN_RATE, WITHIN_RATE, WITHIN_RATE, OVER_RATE]);
  assert.equal(limits.take("192.0.2.2", 1000), WITHIN_RATE);
  assert.equal(limits.take("192.0.2.1", 1050), OVER_RATE); // half a token
  assert.equal(limits.take("192.0.2.1", 1100), WITHIN_RATE);
  assert.equal(limits.take("192.0.2.1", 1100), OVER_RATE);
  assert.equal(limits.tracked, 2);
});

Deno.test("IPv6 sources of one /64 share a bucket; another /64 has its own", () => {
  const limits = SourceLimits.from({ allow: [], perSource: { pps: 1, burst: 2 } })!;
  assert.equal(limits.take("2001:db8:0:1::1", 0), WITHIN_RATE);
  assert.equal(limits.take("2001:db8:0:1:ffff::2", 0), WITHIN_RATE);
  assert.equal(limits.take("2001:db8:0:1:1234:5678:9abc:def0", 0), OVER_RATE);
  assert.equal(limits.take("2001:db8:0:2::1", 0), WITHIN_RATE);
  // An IPv4 address never shares a bucket with the /64 whose first words it equals.
  assert.equal(limits.take("0.0.0.0", 0), WITHIN_RATE);
  assert.equal(limits.take("::", 0), WITHIN_RATE);
});

/** 2^32 random IPv4 addresses, one a call, from a fixed seed. */
function randomSources(seed: number): () => number {
  let state = seed;
  return () => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return state >>> 0;
  };
}

const SEED = new Uint32Array([0x9e3779b9, 0x7f4a7c15]);

Deno.test("a flood of a million random sources never grows the table past its capacity", () => {
  const table = new PerSourceTable({ rate: 10, burst: 10, entries: 1000, seed: SEED });
  assert.equal(table.capacity, 1024);
  const words = new Uint32Array(4);
  const next = randomSources(1);
  let maxUsed = 0;
  for (let index = 0; index < 1_000_000; index++) {
    words[0] = next();
    table.take(IPV4, words, index / 1000); // a million datagrams a second
    maxUsed = Math.max(maxUsed, table.used);
  }
  assert.ok(maxUsed <= 1024, `${maxUsed} slots used`);
  assert.ok(maxUsed > 1000, `${maxUsed} slots used: the flood should have filled the table`);
});

Deno.test("a spoofed flood of random sources cannot reset the bucket of a source it floods", () => {
  const table = new PerSourceTable({ rate: 10, burst: 10, entries: 64, seed: SEED });
  const victim = new Uint32Array([0xc0000201, 0, 0, 0]);
  const words = new Uint32Array(4);
  const next = randomSources(2);
  let victimAnswers = 0;
  // 10 seconds: the victim's source is spoofed 1,000 times a second among 100,000 random ones.
  for (let step = 0; step < 1_000_000; step++) {
    const now = step / 100;
    if (step % 100 === 0) {
      if (table.take(IPV4, victim, now) === WITHIN_RATE) victimAnswers++;
    } else {
      words[0] = next();
      table.take(IPV4, words, now);
    }
  }
  // Its burst, then 10 a second: evicting it even once a second would show.
  assert.ok(victimAnswers <= 10 + 10 * 10 + 1, `${victimAnswers} answers to the flooded source`);
  assert.ok(victimAnswers >= 10 * 10, `${victimAnswers} answers to the flooded source`);
});

Deno.test("a prober within its rate keeps every answer while random sources fill the table", () => {
  const table = new PerSourceTable({ rate: 50, burst: 50, entries: 64, seed: SEED });
  const probers = Array.from({ length: 16 }, (_, index) => new Uint32Array([0x0a000000 + index]));
  const words = new Uint32Array(4);
  const next = randomSources(3);
  let refused = 0;
  let sent = 0;
  for (let step = 0; step < 500_000; step++) {
    const now = step / 50; // 50,000 datagrams a second for 10 s
    if (step % 5000 === 0) {
      // Each prober sends a cycle of 4 probes every 100 ms: 40 a second, under its 50.
      for (const prober of probers) {
        for (let probe = 0; probe < 4; probe++) {
          sent++;
          if (table.take(IPV4, prober, now) !== WITHIN_RATE) refused++;
        }
      }
    } else {
      words[0] = next();
      table.take(IPV4, words, now);
    }
  }
  assert.equal(refused, 0, `${refused} of ${sent} probes refused`);
});

Deno.test("sources that find their set full of limited sources share one overflow bucket", () => {
  // One set of 8: fill it with 8 sources each over its rate, then try newcomers.
  const table = new PerSourceTable({ rate: 1, burst: 4, entries: 8, seed: SEED });
  const words = new Uint32Array(4);
  for (let source = 1; source <= 8; source++) {
    words[0] = source;
    for (let probe = 0; probe < 4; probe++) table.take(IPV4, words, 0);
    assert.equal(table.take(IPV4, words, 0), OVER_RATE);
  }
  assert.equal(table.used, 8);
  const verdicts = [];
  for (let source = 100; source < 106; source++) {
    words[0] = source;
    verdicts.push(table.take(IPV4, words, 0));
  }
  // The overflow bucket's burst of 4, then nothing: one source's share for all of them.
  assert.deepEqual(verdicts, [
    WITHIN_RATE,
    WITHIN_RATE,
    WITHIN_RATE,
    WITHIN_RATE,
    TABLE_FULL,
    TABLE_FULL,
  ]);
  // Once the limited sources' buckets refill (4 s at 1/s), newcomers get slots again.
  words[0] = 200;
  assert.equal(table.take(IPV4, words, 4000), WITHIN_RATE);
  assert.equal(table.used, 1, "the refilled slots were freed");
});
