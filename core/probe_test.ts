import assert from "node:assert/strict";
import { decodeProbe, type Probe, ProbeReader, ReflectionFlag } from "./probe.ts";
import {
  encodeProbe,
  fillReflection,
  ProbeWriter,
  reflectionDwellNs,
  reflectionFlags,
} from "./probe_writer.ts";
import { ProtocolError } from "./errors.ts";
import { splitBigInt } from "./_uint64.ts";

const fixtures = new URL("../tests/fixtures/original/", import.meta.url);
const readFixture = (name: string) => Deno.readFileSync(new URL(name, fixtures));

function decoded(bytes: Uint8Array): Probe {
  const result = decodeProbe(bytes);
  if (result instanceof ProtocolError) throw result;
  return result;
}

for (
  const [name, tos] of [["probe_tos0.bin", 0], ["probe_tos0_b.bin", 0], [
    "probe_tos184.bin",
    184,
  ]] as const
) {
  Deno.test(`decodeProbe reads the original collector's ${name}`, () => {
    const bytes = readFixture(name);
    assert.equal(bytes.length, 1028);
    const probe = decoded(bytes);
    assert.equal(probe.signature.length, 10);
    assert.equal(probe.tos, tos);
    assert.equal(probe.paddingLength, 1000);
    assert.equal(probe.sequence, undefined);
    assert.equal(probe.reflection, undefined);
    // Captured on 2026-11-25: the send time must be that day, in nanoseconds.
    const sentDay = new Date(Number(probe.sent / 1_000_000n)).toISOString().slice(0, 10);
    assert.equal(sentDay, "2026-11-25");
  });

  Deno.test(`ProbeWriter reproduces ${name} byte for byte`, () => {
    const original = readFixture(name);
    const probe = decoded(original);
    const writer = new ProbeWriter({ tos, sequence: false, reflection: false });
    writer.signature.set(probe.signature);
    writer.setSent(...splitBigInt(probe.sent));
    assert.deepEqual(writer.bytes, original);
  });

  Deno.test(`encodeProbe reproduces ${name} byte for byte`, () => {
    const original = readFixture(name);
    const probe = decoded(original);
    const buffer = new Uint8Array(2048);
    const length = encodeProbe({ ...probe, reflection: false, sequence: undefined }, buffer);
    assert.deepEqual(buffer.subarray(0, length), original);
  });
}

Deno.test("every fixture captured from the original is byte for byte the one listed in SHA256SUMS", async () => {
  // The captures are the project's own copy (no test reads a folder outside the repository):
  // a fixture edited by accident, or one added without its sum, fails here.
  const listed = new Map(
    Deno.readTextFileSync(new URL("SHA256SUMS", fixtures)).trim().split("\n").map((line) => {
      const [sum, name] = line.split(/\s+/);
      return [name, sum];
    }),
  );
  const present: string[] = [];
  const walk = (directory: URL, prefix: string) => {
    for (const entry of Deno.readDirSync(directory)) {
      if (entry.isDirectory) walk(new URL(`${entry.name}/`, directory), `${prefix}${entry.name}/`);
      else if (entry.name !== "SHA256SUMS" && entry.name !== "README.md") {
        present.push(`${prefix}${entry.name}`);
      }
    }
  };
  walk(fixtures, "");
  assert.deepEqual(present.sort(), [...listed.keys()].sort());
  for (const name of present) {
    const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", readFixture(name)));
    const hex = Array.from(digest, (byte) => byte.toString(16).padStart(2, "0")).join("");
    assert.equal(hex, listed.get(name), name);
  }
});

Deno.test("ProbeWriter lays out llama's extensions after the original's fields", () => {
  const writer = new ProbeWriter({ tos: 0xb8, paddingLength: 1000 });
  writer.signature.set([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
  writer.setSent(...splitBigInt(1_764_000_000_123_456_789n));
  writer.setSequence(2 ** 40 + 5);
  assert.equal(writer.bytes.length, 1028 + 9 + 30);
  const probe = decoded(writer.bytes);
  assert.deepEqual([...probe.signature], [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
  assert.equal(probe.tos, 0xb8);
  assert.equal(probe.sent, 1_764_000_000_123_456_789n);
  assert.equal(probe.sequence, 2n ** 40n + 5n);
  assert.deepEqual(probe.reflection, { received: 0n, sent: 0n, tos: undefined, flags: 0 });
});

Deno.test("fillReflection writes times, TOS and flags in place without changing the length", () => {
  const writer = new ProbeWriter({ paddingLength: 16 });
  const answer = writer.bytes.slice();
  const reader = new ProbeReader();
  assert.ok(reader.read(answer));
  const view = new DataView(answer.buffer);
  assert.equal(reflectionFlags(view, reader.reflectionOffset), 0);
  const [receivedHigh, receivedLow] = splitBigInt(1_764_000_000_000_000_000n);
  const [sentHigh, sentLow] = splitBigInt(1_764_000_000_000_012_345n);
  fillReflection(view, reader.reflectionOffset, {
    receivedHigh,
    receivedLow,
    sentHigh,
    sentLow,
    tos: 0x28,
    flags: ReflectionFlag.kernelReceiveTime,
  });
  assert.equal(answer.length, writer.bytes.length);
  assert.equal(reflectionDwellNs(view, reader.reflectionOffset), 12_345);
  const probe = decoded(answer);
  assert.deepEqual(probe.reflection, {
    received: 1_764_000_000_000_000_000n,
    sent: 1_764_000_000_000_012_345n,
    tos: 0x28,
    flags: ReflectionFlag.filled | ReflectionFlag.kernelReceiveTime | ReflectionFlag.tosKnown,
  });
});

Deno.test("decodeProbe follows protobuf-go: unknown fields skipped, last occurrence wins", () => {
  const bytes = new Uint8Array([
    0x0a,
    0x01,
    0xaa, // signature [aa]
    0x78,
    0x05, // field 15 varint (unknown)
    0x15,
    1,
    2,
    3,
    4, // field 2 as fixed32: wrong wire type, so unknown
    0xa5,
    0x06,
    1,
    2,
    3,
    4, // field 100 fixed32 (unknown)
    0x12,
    0x00, // tos present but empty
    0x0a,
    0x02,
    0xbb,
    0xcc, // signature again: the last wins
    0x30,
    0x01, // lost = true (ignored)
  ]);
  const probe = decoded(bytes);
  assert.deepEqual([...probe.signature], [0xbb, 0xcc]);
  assert.equal(probe.tos, undefined);
  assert.equal(probe.sent, 0n);
});

Deno.test("decodeProbe answers every kind of non-probe with a ProtocolError naming the byte", () => {
  const cases: [number[], RegExp][] = [
    [[], /no signature/],
    [[0x12, 0x01, 0x00], /no signature/],
    [[0x0a, 0x00], /no signature/],
    [[0x0a, 0x05, 1, 2], /ends inside a field \(at byte 1\)/],
    [[0x0a, 0x01, 1, 0x18, 0xff, 0xff], /ends inside a field/],
    [[0x0a, 0x01, 1, 0x18, ...Array(9).fill(0xff), 0x02], /longer than 64 bits/],
    [[0x00, 0x00], /field number/],
    [[0x0a, 0x01, 1, 0x0b], /wire type/], // field 1, start group
    [[0x0a, 0x01, 1, 0x0e], /wire type/], // wire type 6
    [[0x0a, 0x01, 1, 0x4a, 0x02, 0x08, 0x01], /reflection field/],
    [[0x0a, 0x01, 1, 0x41, 1, 2, 3], /ends inside a field/],
  ];
  for (const [bytes, message] of cases) {
    const result = decodeProbe(new Uint8Array(bytes));
    assert.ok(result instanceof ProtocolError, `${bytes} should not decode`);
    assert.match(result.message, message);
  }
});

Deno.test("decodeProbe never throws on random or mutated datagrams", () => {
  const original = readFixture("probe_tos184.bin");
  const llama = new ProbeWriter({ paddingLength: 40 }).bytes;
  const reader = new ProbeReader();
  let state = 0x2545f491;
  const random = () => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return (state >>> 0) / 4294967296;
  };
  let probes = 0;
  for (let round = 0; round < 30_000; round++) {
    let bytes: Uint8Array;
    if (round % 3 === 0) {
      bytes = new Uint8Array(Math.floor(random() * 64));
      for (let index = 0; index < bytes.length; index++) bytes[index] = random() * 256;
    } else {
      const base = round % 3 === 1 ? original : llama;
      const keep = random() < 0.25 ? Math.floor(random() * (base.length + 1)) : base.length;
      bytes = base.slice(0, keep);
      for (let flips = 1 + random() * 4; flips > 0; flips--) {
        bytes[Math.floor(random() * bytes.length)] = random() * 256;
      }
    }
    const result = decodeProbe(bytes, reader);
    assert.ok(result instanceof ProtocolError || result.signature.length > 0);
    if (!(result instanceof ProtocolError)) probes++;
  }
  // Mutations that keep a valid probe must exist, or the test exercised only rejections.
  assert.ok(probes > 1000, `only ${probes} mutated datagrams were still probes`);
});
