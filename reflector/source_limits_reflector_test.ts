// `allow` and `perSource` in each receive loop (Deno's, the native Worker's, the native event
// loop's) and on the STAMP port, over real loopback sockets.
import assert from "node:assert/strict";
import { nativeEngineStatus, StampTestPacketWriter } from "@llama/core";
import { type Reflector, type ReflectorOptions, startReflector } from "./reflector.ts";
import { reflectorMetrics } from "./metrics.ts";
import { UdpClient } from "../tests/_udp.ts";

const probe = Deno.readFileSync(
  new URL("../tests/fixtures/original/probe_tos184.bin", import.meta.url),
);

/** Waits until the reflector has seen `received` datagrams on the port `of` reads. */
async function receivedAll(
  reflector: Reflector,
  received: number,
  of: (reflector: Reflector) => number,
): Promise<void> {
  const deadline = Date.now() + 5000;
  while (of(reflector) < received && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  assert.equal(of(reflector), received, "every datagram reached the reflector");
}

/** Answers that arrive within `ms` once the reflector has seen everything. */
async function answers(client: UdpClient, ms = 300): Promise<number> {
  let count = 0;
  while (await client.receive(ms) !== undefined) count++;
  return count;
}

const native = nativeEngineStatus();
const variants = [
  { label: "deno", engine: "deno", ownThread: false },
  { label: "native", engine: "native", ownThread: true },
  { label: "native, event loop", engine: "native", ownThread: false },
] as const satisfies (ReflectorOptions & { label: string })[];
for (const { label, engine, ownThread } of variants) {
  const ignore = engine === "native" && !native.available && Deno.env.get("CI") !== "true";
  Deno.test(
    `[${label}] reflector answers only sources inside --allow, over IPv4 and IPv6, counting the rest`,
    { ignore },
    async () => {
      await using reflector = await startReflector({
        engine,
        ownThread,
        port: 0,
        maxPps: 0,
        allow: ["192.0.2.0/24", "127.0.0.1", "2001:db8::/32"],
      });
      using allowed = new UdpClient("127.0.0.1");
      using refused = new UdpClient("127.0.0.2");
      using refused6 = new UdpClient("::1");
      for (let index = 0; index < 3; index++) {
        await allowed.send(probe, "127.0.0.1", reflector.address.port);
        await refused.send(probe, "127.0.0.1", reflector.address.port);
        await refused6.send(probe, "::1", reflector.address.port);
      }
      await receivedAll(reflector, 9, (reflector) => reflector.counters().received);
      assert.equal(await answers(allowed), 3);
      assert.equal(await answers(refused, 50), 0);
      assert.equal(await answers(refused6, 50), 0);
      const counters = reflector.counters();
      assert.equal(counters.refused["not-allowed"], 6);
      assert.equal(counters.answered, 3);
      assert.match(
        reflectorMetrics(counters),
        /llama_reflector_refused_total\{reason="not-allowed"\} 6/,
      );
    },
  );

  Deno.test(
    `[${label}] reflector refuses a source over --per-source-pps and still answers another`,
    { ignore },
    async () => {
      await using reflector = await startReflector({
        engine,
        ownThread,
        port: 0,
        maxPps: 0,
        perSource: { pps: 1, burst: 3, entries: 64 },
      });
      using heavy = new UdpClient("127.0.0.1");
      using light = new UdpClient("127.0.0.3");
      for (let index = 0; index < 10; index++) {
        await heavy.send(probe, "127.0.0.1", reflector.address.port);
      }
      await light.send(probe, "127.0.0.1", reflector.address.port);
      await receivedAll(reflector, 11, (reflector) => reflector.counters().received);
      const heavyAnswers = await answers(heavy);
      // Its burst of 3, and a 4th if sending the 10 took the machine over a second.
      assert.ok(heavyAnswers === 3 || heavyAnswers === 4, `${heavyAnswers} answers`);
      assert.equal(await answers(light, 100), 1);
      const counters = reflector.counters();
      assert.equal(counters.refused["per-source-rate"], 10 - heavyAnswers);
      assert.equal(counters.perSourceTracked, 2);
      assert.match(reflectorMetrics(counters), /llama_reflector_per_source_tracked 2/);
    },
  );
}

Deno.test(
  "the STAMP port applies --allow and --per-source-pps too, with counters of its own",
  { ignore: !native.available && Deno.env.get("CI") !== "true" },
  async () => {
    await using reflector = await startReflector({
      engine: "native",
      hostname: "127.0.0.1",
      port: 0,
      maxPps: 0,
      allow: ["127.0.0.1/32"],
      perSource: { pps: 1, burst: 2 },
      stamp: { port: 0 },
    });
    const stampPort = reflector.stampAddress!.port;
    const writer = new StampTestPacketWriter({ ssid: 1 });
    using allowed = new UdpClient("127.0.0.1");
    using refused = new UdpClient("127.0.0.4");
    for (let sequence = 0; sequence < 6; sequence++) {
      writer.write(sequence, Date.now());
      await allowed.send(writer.bytes, "127.0.0.1", stampPort);
      await refused.send(writer.bytes, "127.0.0.1", stampPort);
    }
    await receivedAll(reflector, 12, (reflector) => reflector.counters().stamp!.received);
    const allowedAnswers = await answers(allowed);
    assert.ok(allowedAnswers === 2 || allowedAnswers === 3, `${allowedAnswers} replies`);
    assert.equal(await answers(refused, 50), 0);
    const stamp = reflector.counters().stamp!;
    assert.equal(stamp.dropped["not-allowed"], 6);
    assert.equal(stamp.dropped["per-source-rate"], 6 - allowedAnswers);
    assert.equal(stamp.perSourceTracked, 1);
    const metrics = reflectorMetrics(reflector.counters());
    assert.match(metrics, /llama_reflector_stamp_dropped_total\{reason="not-allowed"\} 6/);
    // The LLAMA port has a table of its own: a source limited on STAMP is not on LLAMA.
    await allowed.send(probe, "127.0.0.1", reflector.address.port);
    assert.equal(await answers(allowed), 1);
  },
);

Deno.test("startReflector refuses a malformed allow prefix before binding anything", async () => {
  await assert.rejects(
    () => startReflector({ port: 0, allow: ["10.0.0.1/8"] }),
    /allow takes CIDR prefixes .*"10\.0\.0\.1\/8", which has bits set after its first 8/,
  );
  await assert.rejects(
    () => startReflector({ port: 0, perSource: { pps: 1.5 } }),
    /pps must be a whole number 1\.\.100000000, got 1\.5/,
  );
});
