import assert from "node:assert/strict";
import {
  decodeProbe,
  encodeProbe,
  nativeEngineStatus,
  PADDING_ANSWER_MARK,
  ProbeReader,
  ProbeWriter,
  ProtocolError,
  ReflectionFlag,
} from "@llama/core";
import { type ReflectorOptions, startReflector } from "./reflector.ts";
import { reflectorMetrics } from "./metrics.ts";
import { UdpClient } from "../tests/_udp.ts";

const fixture = Deno.readFileSync(
  new URL("../tests/fixtures/original/probe_tos184.bin", import.meta.url),
);

/** What a llama reflector answers to a probe without a reflection block: its first padding byte marked. */
function markedAnswer(probe: Uint8Array): Uint8Array {
  const reader = new ProbeReader();
  assert.ok(reader.read(probe) && reader.paddingLength > 0 && reader.reflectionOffset < 0);
  const answer = probe.slice();
  answer[reader.paddingOffset] = PADDING_ANSWER_MARK;
  return answer;
}

const native = nativeEngineStatus();
// Deno's engine; the native one with its loop on a Worker of its own (the default); the native one
// on the event loop.
const variants = [
  { label: "deno", engine: "deno", ownThread: false },
  { label: "native", engine: "native", ownThread: true },
  { label: "native, event loop", engine: "native", ownThread: false },
] as const satisfies (ReflectorOptions & { label: string })[];
for (const { label, engine, ownThread } of variants) {
  // The native engine needs Linux and FFI: skipped where it cannot run, except in CI.
  const ignore = engine === "native" && !native.available && Deno.env.get("CI") !== "true";
  Deno.test(
    `[${label}] reflector answers an original LLAMA probe with its bytes, the first padding byte marked, over IPv4 and IPv6`,
    { ignore },
    async () => {
      await using reflector = await startReflector({ engine, ownThread, port: 0, maxPps: 0 });
      const expected = markedAnswer(fixture);
      for (const hostname of ["127.0.0.1", "::1"]) {
        using client = new UdpClient(hostname);
        await client.send(fixture, hostname, reflector.address.port);
        const answer = await client.receive(2000);
        assert.deepEqual(answer, expected, hostname);
        // What the original collector reads of it, the signature, is the probe's.
        const probe = decodeProbe(answer!);
        assert.ok(!(probe instanceof ProtocolError));
        assert.deepEqual(probe.signature, fixture.subarray(2, 12));
      }
      // On a thread of its own, the reflector counts an answer just after sending it: the reply
      // can arrive here first.
      const deadline = Date.now() + 2000;
      while (reflector.counters().answered < 2 && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
      assert.equal(reflector.counters().answered, 2);
      assert.equal(reflector.ownThread, ownThread);
    },
  );

  Deno.test(
    `[${label}] reflector fills llama's reflection field in place and changes nothing else`,
    { ignore },
    async () => {
      await using reflector = await startReflector({
        engine,
        ownThread,
        hostname: "127.0.0.1",
        port: 0,
        maxPps: 0,
      });
      using client = new UdpClient();
      const writer = new ProbeWriter({ tos: 0x28, paddingLength: 64 });
      writer.signature.set([9, 8, 7, 6, 5, 4, 3, 2, 1, 0]);
      writer.setSequence(42);
      const before = Date.now() * 1_000_000;
      await client.send(writer.bytes, "127.0.0.1", reflector.address.port);
      const answer = await client.receive(2000);
      assert.ok(answer !== undefined);
      assert.equal(answer.length, writer.bytes.length);
      const probe = decodeProbe(answer);
      assert.ok(!(probe instanceof ProtocolError));
      assert.deepEqual([...probe.signature], [9, 8, 7, 6, 5, 4, 3, 2, 1, 0]);
      assert.equal(probe.sequence, 42n);
      const reflection = probe.reflection!;
      assert.equal(reflection.flags & ReflectionFlag.filled, ReflectionFlag.filled);
      assert.ok(reflection.sent >= reflection.received, "sent after received");
      assert.ok(reflection.sent - reflection.received < 100_000_000n, "dwell under 100 ms");
      // The reflector's clock is this machine's: the stamps must be now, give or take a second.
      assert.ok(Math.abs(Number(reflection.received) - before) < 1e9);
      // Every byte outside the reflection body is the probe's.
      const body = writer.reflectionOffset;
      assert.deepEqual(answer.subarray(0, body), writer.bytes.subarray(0, body));
      assert.deepEqual(answer.subarray(body + 28), writer.bytes.subarray(body + 28));
    },
  );

  Deno.test(
    `[${label}] reflector answers a probe without a tos field, which crashes the original`,
    { ignore },
    async () => {
      await using reflector = await startReflector({
        engine,
        ownThread,
        hostname: "127.0.0.1",
        port: 0,
        maxPps: 0,
      });
      using client = new UdpClient();
      const buffer = new Uint8Array(64);
      const length = encodeProbe(
        { signature: new Uint8Array([1, 2, 3]), sent: 5n, paddingLength: 4 },
        buffer,
      );
      const probe = buffer.slice(0, length);
      assert.equal((decodeProbe(probe) as { tos: unknown }).tos, undefined);
      await client.send(probe, "127.0.0.1", reflector.address.port);
      assert.deepEqual(await client.receive(2000), markedAnswer(probe));
    },
  );

  Deno.test(
    `[${label}] reflector drops datagrams that are not probes, and answers already answered`,
    { ignore },
    async () => {
      await using reflector = await startReflector({
        engine,
        ownThread,
        hostname: "127.0.0.1",
        port: 0,
        maxPps: 0,
      });
      using client = new UdpClient();
      const answered = new ProbeWriter({ paddingLength: 8 }).bytes;
      answered[answered.length - 4] = ReflectionFlag.filled; // flags field of the reflection body
      const junk = [
        new Uint8Array(0),
        new TextEncoder().encode("GET / HTTP/1.1\r\n\r\n"),
        new Uint8Array([0x12, 0x01, 0x00]), // tos only: no signature
        new Uint8Array([0x0a, 0x0a, 1, 2]), // truncated signature
        answered,
      ];
      for (const datagram of junk) await client.send(datagram, "127.0.0.1", reflector.address.port);
      const valid = new ProbeWriter({ paddingLength: 8 }).bytes;
      await client.send(valid, "127.0.0.1", reflector.address.port);
      // Datagrams from one socket arrive in order: the first answer must be the valid probe's.
      const first = await client.receive(2000);
      assert.equal(first?.length, valid.length);
      assert.equal(await client.receive(200), undefined);
      const counters = reflector.counters();
      assert.equal(counters.received, 6);
      assert.equal(counters.answered, 1);
      assert.deepEqual(
        Object.fromEntries(Object.entries(counters.invalid).filter(([, count]) => count > 0)),
        { "no-signature": 2, "bad-wire-type": 1, "truncated": 1, "answer": 1 },
      );
    },
  );

  Deno.test(
    `[${label}] reflector never answers an answer: a marked probe, and one it could not mark, are refused and counted`,
    { ignore },
    async () => {
      await using reflector = await startReflector({
        engine,
        ownThread,
        hostname: "127.0.0.1",
        port: 0,
        maxPps: 0,
      });
      using client = new UdpClient();
      const port = reflector.address.port;
      // The answer to an original probe, sent back as another reflector would echo it.
      await client.send(fixture, "127.0.0.1", port);
      const answer = await client.receive(2000);
      assert.deepEqual(answer, markedAnswer(fixture));
      await client.send(answer!, "127.0.0.1", port);
      // The spoofed datagram: a signature alone, nowhere to mark its answer.
      await client.send(new Uint8Array([0x0a, 0x01, 0x41]), "127.0.0.1", port);
      // The same with a tos field, which the C reference reflector echoes.
      await client.send(new Uint8Array([0x0a, 0x01, 0x41, 0x12, 0x01, 0x00]), "127.0.0.1", port);
      // An empty padding field cannot be marked either.
      await client.send(new Uint8Array([0x0a, 0x01, 0x41, 0x3a, 0x00]), "127.0.0.1", port);
      const valid = new ProbeWriter({ paddingLength: 0 }).bytes;
      await client.send(valid, "127.0.0.1", port);
      // Datagrams from one socket arrive in order: the next answer must be the valid probe's.
      assert.equal((await client.receive(2000))?.length, valid.length);
      assert.equal(await client.receive(200), undefined);
      const counters = reflector.counters();
      assert.equal(counters.received, 6);
      assert.equal(counters.answered, 2);
      assert.equal(counters.invalid.answer, 1);
      assert.deepEqual(counters.refused, {
        "not-allowed": 0,
        "source-port": 0,
        "unmarkable": 3,
        "per-source-rate": 0,
        "per-source-table-full": 0,
        "unsigned": 0,
        "unknown-key": 0,
        "bad-hmac": 0,
      });
      const metrics = reflectorMetrics(counters);
      assert.match(metrics, /^llama_reflector_refused_total\{reason="unmarkable"\} 3$/m);
      assert.match(metrics, /^llama_reflector_invalid_total\{reason="answer"\} 1$/m);
    },
  );

  Deno.test(
    `[${label}] reflector does not answer datagrams from a refused source port`,
    { ignore },
    async () => {
      using refused = new UdpClient();
      using allowed = new UdpClient();
      await using reflector = await startReflector({
        engine,
        ownThread,
        hostname: "127.0.0.1",
        port: 0,
        maxPps: 0,
        refusedSourcePorts: [refused.port],
      });
      const probe = new ProbeWriter({ paddingLength: 8 }).bytes;
      await refused.send(probe, "127.0.0.1", reflector.address.port);
      await refused.send(fixture, "127.0.0.1", reflector.address.port);
      await allowed.send(probe, "127.0.0.1", reflector.address.port);
      assert.equal((await allowed.receive(2000))?.length, probe.length);
      assert.equal(await refused.receive(200), undefined);
      const counters = reflector.counters();
      assert.equal(counters.received, 3);
      assert.equal(counters.answered, 1);
      assert.equal(counters.refused["source-port"], 2);
    },
  );

  Deno.test(`[${label}] reflector delays answers above --max-pps instead of dropping them`, {
    ignore,
  }, async () => {
    const maxPps = 200;
    await using reflector = await startReflector({
      engine,
      ownThread,
      hostname: "127.0.0.1",
      port: 0,
      maxPps,
      backlog: 1000,
    });
    using client = new UdpClient();
    const probe = new ProbeWriter({ paddingLength: 8 }).bytes;
    const count = 300;
    const start = performance.now();
    for (let index = 0; index < count; index++) {
      await client.send(probe, "127.0.0.1", reflector.address.port);
      // Yield now and then: the reflector shares this event loop, and a kernel receive buffer
      // cannot hold 300 datagrams sent while it is not running.
      if (index % 20 === 19) await new Promise((resolve) => setTimeout(resolve, 1));
    }
    let answers = 0;
    while (answers < count && (await client.receive(3000)) !== undefined) answers++;
    const seconds = (performance.now() - start) / 1000;
    const counters = reflector.counters();
    assert.equal(counters.received, count);
    assert.equal(answers, count);
    assert.equal(counters.dropped, 0);
    const burst = Math.ceil(maxPps / 20);
    assert.ok(
      counters.throttled >= count - burst - maxPps * seconds * 0.1,
      `throttled ${counters.throttled}`,
    );
    // At 200 answers/s, 300 answers beyond a burst of 10 cannot take less than 1.45 s.
    assert.ok(seconds >= ((count - burst) / maxPps) * 0.95, `took only ${seconds.toFixed(2)} s`);
  });

  Deno.test(
    `[${label}] reflector drops and counts answers once its backlog is full`,
    { ignore },
    async () => {
      await using reflector = await startReflector({
        engine,
        ownThread,
        hostname: "127.0.0.1",
        port: 0,
        maxPps: 50,
        backlog: 20,
      });
      using client = new UdpClient();
      const probe = new ProbeWriter({ paddingLength: 8 }).bytes;
      for (let index = 0; index < 200; index++) {
        await client.send(probe, "127.0.0.1", reflector.address.port);
        if (index % 20 === 19) await new Promise((resolve) => setTimeout(resolve, 1));
      }
      let answers = 0;
      while ((await client.receive(1000)) !== undefined) answers++;
      const counters = reflector.counters();
      assert.equal(counters.received, 200);
      assert.equal(counters.answered, answers);
      assert.equal(counters.answered + counters.dropped, 200);
      assert.ok(counters.dropped >= 150, `dropped ${counters.dropped}`);
      assert.equal(counters.backlog, 0);
      const metrics = reflectorMetrics(counters);
      assert.match(metrics, new RegExp(`^llama_reflector_dropped_total ${counters.dropped}$`, "m"));
    },
  );
}

Deno.test(
  "[native] reflector answers in the probe's TOS and reports the TOS and a kernel time it received",
  { ignore: !native.available && Deno.env.get("CI") !== "true" },
  async () => {
    const { DatagramBatch, openNativeSocket } = await import("@llama/core");
    await using reflector = await startReflector({
      engine: "native",
      hostname: "127.0.0.1",
      port: 0,
      maxPps: 0,
    });
    assert.equal(reflector.engine, "native");
    // A client marking its probes AF11 (0x28), and reading the TOS of what comes back.
    await using client = await openNativeSocket({ hostname: "127.0.0.1", port: 0, tos: 0x28 });
    const batch = new DatagramBatch(4, 2048);
    const probe = new ProbeWriter({ tos: 0x28, paddingLength: 32 }).bytes;
    batch.slots[0].set(probe);
    batch.lengths[0] = probe.length;
    batch.addresses[0] = reflector.address;
    await client.send(batch, 1);
    assert.equal(await client.receive(batch), 1);
    assert.equal(batch.tos[0], 0x28, "the answer left the reflector with the probe's TOS");
    const answer = decodeProbe(batch.slots[0].subarray(0, batch.lengths[0]));
    assert.ok(!(answer instanceof ProtocolError));
    assert.equal(answer.reflection?.tos, 0x28, "the reflector saw the probe arrive with TOS 0x28");
    assert.equal(
      answer.reflection!.flags & ReflectionFlag.kernelReceiveTime,
      ReflectionFlag.kernelReceiveTime,
    );
  },
);
