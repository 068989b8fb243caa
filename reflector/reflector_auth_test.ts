import assert from "node:assert/strict";
import {
  encodeProbe,
  PADDING_ANSWER_MARK,
  parseKeyFile,
  ProbeAuthenticator,
  ProbeReader,
  ProbeWriter,
  ReflectionFlag,
  reflectionFlags,
} from "@llama/core";
import { startReflector } from "./reflector.ts";
import { ENGINE_VARIANTS } from "./_test_util.ts";
import { reflectorMetrics } from "./metrics.ts";
import { UdpClient } from "../tests/_udp.ts";

const OLD = "old 000102030405060708090a0b0c0d0e0f";
const NEW = "new 101112131415161718191a1b1c1d1e1f";

/** A llama probe signed by `keys`' first key (or unsigned with `keys` undefined). */
function probe(keys: string | undefined, sequence: number): Uint8Array {
  const auth = keys === undefined ? undefined : new ProbeAuthenticator(parseKeyFile(keys).keys);
  const writer = new ProbeWriter({ paddingLength: 100, authLength: auth?.authLength ?? 0 });
  crypto.getRandomValues(writer.signature);
  writer.setSequence(sequence);
  if (auth !== undefined) {
    auth.writeKeyId(writer.bytes, writer.authOffset);
    auth.sign(writer.bytes, writer.bytes.length, writer.authOffset, writer.bytes.length);
  }
  return writer.bytes;
}

/** The key index that verifies `answer` with `keys`, checking it is a filled llama answer. */
function verifiedAnswer(answer: Uint8Array, keys: string): number {
  const reader = new ProbeReader();
  assert.ok(reader.read(answer));
  const view = new DataView(answer.buffer, answer.byteOffset);
  assert.ok(reflectionFlags(view, reader.reflectionOffset) & ReflectionFlag.filled);
  return new ProbeAuthenticator(parseKeyFile(keys).keys).check(
    answer,
    answer.length,
    reader.authStart,
    reader.authEnd,
  );
}

async function settle(check: () => boolean): Promise<void> {
  const deadline = Date.now() + 2000;
  while (!check() && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 5));
}

for (const { label, engine, ownThread, ignore } of ENGINE_VARIANTS) {
  Deno.test(
    `[${label}] an authenticated reflector answers signed probes, re-signed with the probe's key`,
    { ignore },
    async () => {
      await using reflector = await startReflector({
        engine,
        ownThread,
        hostname: "127.0.0.1",
        port: 0,
        maxPps: 0,
        authKeyring: parseKeyFile(`${OLD}\n${NEW}`),
      });
      using client = new UdpClient();
      // Rotation: a collector still signing with the old key and one already on the new.
      for (const [keys, index] of [[OLD, 0], [NEW, 1]] as const) {
        const sent = probe(keys, 7);
        await client.send(sent, "127.0.0.1", reflector.address.port);
        const answer = await client.receive(2000);
        assert.ok(answer !== undefined, `no answer to a probe signed with key ${index}`);
        assert.equal(answer.length, sent.length);
        assert.equal(verifiedAnswer(answer, `${OLD}\n${NEW}`), index);
        // The probe's own tag no longer verifies the answer: the reflector signed what it wrote.
        assert.notDeepEqual(answer.subarray(-16), sent.subarray(-16));
      }
      await settle(() => reflector.counters().answered === 2);
      assert.equal(reflector.counters().answered, 2);
    },
  );

  Deno.test(
    `[${label}] an authenticated reflector refuses unsigned, forged and unknown-key probes, by reason`,
    { ignore },
    async () => {
      await using reflector = await startReflector({
        engine,
        ownThread,
        hostname: "127.0.0.1",
        port: 0,
        maxPps: 0,
        authKeyring: parseKeyFile(NEW),
      });
      using client = new UdpClient();
      const forged = probe(NEW, 1);
      forged[20] ^= 0x40; // the send time, altered after signing
      const original = Deno.readFileSync(
        new URL("../tests/fixtures/original/probe_tos184.bin", import.meta.url),
      );
      for (const datagram of [probe(undefined, 1), forged, probe(OLD, 1), original]) {
        await client.send(datagram, "127.0.0.1", reflector.address.port);
      }
      assert.equal(await client.receive(300), undefined);
      await settle(() => reflector.counters().received === 4);
      const counters = reflector.counters();
      assert.equal(counters.answered, 0);
      assert.deepEqual(
        [counters.refused.unsigned, counters.refused["bad-hmac"], counters.refused["unknown-key"]],
        [2, 1, 1],
      );
      const metrics = reflectorMetrics(counters);
      assert.match(metrics, /^llama_reflector_refused_total\{reason="unsigned"\} 2$/m);
      assert.match(metrics, /^llama_reflector_refused_total\{reason="bad-hmac"\} 1$/m);
    },
  );
}

Deno.test("answers held back by the rate limit are signed when they leave", async () => {
  await using reflector = await startReflector({
    engine: "deno",
    hostname: "127.0.0.1",
    port: 0,
    maxPps: 40, // a burst of 2: most of the 8 wait in the backlog
    authKeyring: parseKeyFile(NEW),
  });
  using client = new UdpClient();
  for (let sequence = 0; sequence < 8; sequence++) {
    await client.send(probe(NEW, sequence), "127.0.0.1", reflector.address.port);
  }
  for (let count = 0; count < 8; count++) {
    const answer = await client.receive(2000);
    assert.ok(answer !== undefined, `answer ${count} missing`);
    assert.equal(verifiedAnswer(answer, NEW), 0);
  }
  assert.ok(reflector.counters().throttled > 0, "the rate limit held none back");
});

Deno.test("a signed probe without a reflection block is answered marked, and signed again", async () => {
  const keys = parseKeyFile(NEW);
  const auth = new ProbeAuthenticator(keys.keys);
  const buffer = new Uint8Array(256);
  const length = encodeProbe({
    signature: new Uint8Array(10).fill(3),
    tos: 0,
    paddingLength: 50,
    auth: new Uint8Array(auth.authLength),
  }, buffer);
  const sent = buffer.subarray(0, length);
  const reader = new ProbeReader();
  assert.ok(reader.read(sent));
  auth.writeKeyId(sent, reader.authStart);
  auth.sign(sent, length, reader.authStart, reader.authEnd);
  await using reflector = await startReflector({
    engine: "deno",
    hostname: "127.0.0.1",
    port: 0,
    maxPps: 0,
    authKeyring: keys,
  });
  using client = new UdpClient();
  await client.send(sent, "127.0.0.1", reflector.address.port);
  const answer = await client.receive(2000);
  assert.ok(answer !== undefined);
  assert.equal(answer[reader.paddingOffset], PADDING_ANSWER_MARK);
  assert.equal(auth.check(answer, answer.length, reader.authStart, reader.authEnd), 0);
});
