// Datagrams for fuzzing, and an independent reference for which of them are probes.
import { ProbeWriter } from "@llama/core";

/** A small deterministic PRNG (xorshift32), so failures can be replayed from the seed. */
export function xorshift(seed: number): () => number {
  let state = seed >>> 0 || 1;
  return () => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return (state >>> 0) / 4294967296;
  };
}

/**
 * Is this a probe a llama reflector must answer? Written from docs/probe-format.md, apart from
 * the reflector's parser: a well-formed protobuf message (no groups, field numbers 1..2^29-1,
 * varints at most 10 bytes), a non-empty signature (the last field 1 of wire type 2), every
 * field 9 of wire type 2 in the 28-byte fixed layout, and the last one not marked answered; or,
 * without a field 9, a last field 7 (padding) of at least one byte whose first is not 0x01.
 */
export function referenceIsProbe(bytes: Uint8Array): boolean {
  return referenceAnswer(bytes) !== undefined;
}

/**
 * The answer a llama reflector must send to `bytes`, with the reflection body as it came (the
 * reflector's times differ each run), or undefined when it must not answer (`referenceIsProbe`).
 */
export function referenceAnswer(bytes: Uint8Array): Uint8Array | undefined {
  let position = 0;
  const varint = (): number | undefined => {
    let value = 0;
    for (let index = 0; index < 10; index++) {
      if (position >= bytes.length) return undefined;
      const byte = bytes[position++];
      if (index === 9 && byte > 1) return undefined;
      value += (byte & 0x7f) * 2 ** (7 * index);
      if (byte < 0x80) return value;
    }
    return undefined;
  };
  let signatureLength = 0;
  let answered = false;
  let reflection = false;
  let padding = -1;
  let paddingLength = 0;
  while (position < bytes.length) {
    const tag = varint();
    if (tag === undefined) return undefined;
    const field = Math.floor(tag / 8);
    const wireType = tag % 8;
    if (field < 1 || field >= 2 ** 29) return undefined;
    if (wireType === 0) {
      if (varint() === undefined) return undefined;
    } else if (wireType === 1 || wireType === 5) {
      position += wireType === 1 ? 8 : 4;
      if (position > bytes.length) return undefined;
    } else if (wireType === 2) {
      const length = varint();
      if (length === undefined || length > bytes.length - position) return undefined;
      if (field === 1) signatureLength = length;
      if (field === 7) {
        padding = position;
        paddingLength = length;
      }
      if (field === 9) {
        const body = bytes.subarray(position, position + length);
        if (
          length !== 28 || body[0] !== 0x09 || body[9] !== 0x11 || body[18] !== 0x1d ||
          body[23] !== 0x25
        ) {
          return undefined;
        }
        answered = (body[24] & 1) === 1;
        reflection = true;
      }
      position += length;
    } else {
      return undefined;
    }
  }
  if (signatureLength === 0 || answered) return undefined;
  if (reflection) return bytes.slice();
  // Without a reflection block, the answer is marked in its first padding byte; a datagram
  // without padding cannot be marked, and one already marked is an answer.
  if (paddingLength === 0 || bytes[padding] === 0x01) return undefined;
  const answer = bytes.slice();
  answer[padding] = 0x01;
  return answer;
}

/** Yields `count` datagrams: random bytes, mutated original and llama probes, and valid probes with odd fields. */
export function* fuzzDatagrams(
  count: number,
  seed: number,
  original: Uint8Array,
): Generator<Uint8Array> {
  const random = xorshift(seed);
  const integer = (below: number) => Math.floor(random() * below);
  const llama = new ProbeWriter({ paddingLength: 200 }).bytes;
  for (let index = 0; index < count; index++) {
    const kind = index % 5;
    if (kind === 0) {
      const bytes = new Uint8Array(integer(120));
      for (let at = 0; at < bytes.length; at++) bytes[at] = integer(256);
      yield bytes;
    } else if (kind === 1 || kind === 2) {
      const base = kind === 1 ? original : llama;
      const bytes = base.slice(0, random() < 0.2 ? integer(base.length + 1) : base.length);
      // Mutations near the front hit the headers; elsewhere they land in padding.
      for (let flips = 1 + integer(3); flips > 0 && bytes.length > 0; flips--) {
        const at = random() < 0.7 ? integer(Math.min(bytes.length, 80)) : integer(bytes.length);
        bytes[at] = integer(256);
      }
      yield bytes;
    } else if (kind === 3) {
      // A well-formed message of random fields: sometimes a probe, sometimes not.
      const parts: number[] = [];
      for (let fields = integer(6); fields > 0; fields--) {
        const field = [1, 2, 3, 7, 8, 9, 10, 11, 1000, 536870911][integer(10)];
        const wireType = [0, 1, 2, 5][integer(4)];
        let tag = field * 8 + wireType;
        while (tag >= 0x80) {
          parts.push((tag % 128) | 0x80);
          tag = Math.floor(tag / 128);
        }
        parts.push(tag);
        if (wireType === 0) parts.push(0x96, 0x01);
        else if (wireType === 1) parts.push(1, 2, 3, 4, 5, 6, 7, 8);
        else if (wireType === 5) parts.push(1, 2, 3, 4);
        else {
          const length = integer(12);
          parts.push(length, ...Array.from({ length }, () => integer(256)));
        }
      }
      yield new Uint8Array(parts);
    } else {
      // A valid llama probe, sometimes already answered, sometimes with a bad reflection layout.
      const bytes = llama.slice();
      bytes[2] = integer(256);
      const flags = bytes.length - 4;
      if (random() < 0.2) bytes[flags] = 1;
      if (random() < 0.1) bytes[flags - 1] = 0x24;
      yield bytes;
    }
  }
}
