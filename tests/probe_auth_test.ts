// Authenticated LLAMA probes end to end: a collector and a reflector sharing keys, key rotation,
// and a man in the middle whose forged and replayed replies must never be believed.
import assert from "node:assert/strict";
import { startReflector } from "@llama/reflector";
import { nativeEngineStatus, parseKeyFile, ProbeReader } from "@llama/core";
import { collectorYaml, startRecordingCollector } from "./_collector.ts";
import { startProbeRelay } from "./_probe_relay.ts";

const OLD = "old 000102030405060708090a0b0c0d0e0f";
const NEW = "new 101112131415161718191a1b1c1d1e1f";

const settle = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

for (const engine of ["deno", "native"] as const) {
  Deno.test(
    `[${engine}] a collector and a reflector sharing keys lose nothing, and every reply verifies`,
    {
      ignore: engine === "native" && !nativeEngineStatus().available &&
        Deno.env.get("CI") !== "true",
    },
    async () => {
      await using reflector = await startReflector({
        engine,
        hostname: "127.0.0.1",
        port: 0,
        maxPps: 0,
        authKeyring: parseKeyFile(NEW),
      });
      await using run = await startRecordingCollector(
        collectorYaml({ targets: [["127.0.0.1", reflector.address.port, {}]], cps: 20 }),
        { engine, authKeyring: parseKeyFile(NEW) },
      );
      await run.next(1);
      const [path] = (await run.next(1)).paths;
      assert.ok(path.sent >= 40, `sent ${path.sent}`); // 80 a second scheduled
      assert.equal(path.lost, 0);
      assert.equal(path.dwellCorrected, path.sent, "each reply carried the reflector's dwell");
      const health = run.collector.health();
      assert.deepEqual([health.forged, health.unsigned, health.replayed], [0, 0, 0]);
      assert.equal(reflector.counters().refused.unsigned, 0);
    },
  );
}

Deno.test("keys rotate without a gap, and a collector whose key the reflector lacks is refused", async (t) => {
  const cases = [
    { name: "reflector old+new, collector new", reflector: `${OLD}\n${NEW}`, collector: NEW },
    { name: "reflector new+old, collector old", reflector: `${NEW}\n${OLD}`, collector: OLD },
    { name: "collector new+old, reflector new", reflector: NEW, collector: `${NEW}\n${OLD}` },
    {
      name: "reflector new, collector old",
      reflector: NEW,
      collector: OLD,
      refused: "unknown-key",
    },
    { name: "reflector new, collector unsigned", reflector: NEW, refused: "unsigned" },
  ] as const;
  for (const c of cases) {
    await t.step(c.name, async () => {
      await using reflector = await startReflector({
        hostname: "127.0.0.1",
        port: 0,
        maxPps: 0,
        authKeyring: parseKeyFile(c.reflector),
      });
      await using run = await startRecordingCollector(
        collectorYaml({ targets: [["127.0.0.1", reflector.address.port, {}]], cps: 10 }),
        { authKeyring: "collector" in c ? parseKeyFile(c.collector) : undefined },
      );
      await run.next(1);
      const [path] = (await run.next(1)).paths;
      const counters = reflector.counters();
      if ("refused" in c) {
        assert.equal(path.lossPercent, 100);
        assert.equal(counters.answered, 0);
        assert.ok(counters.refused[c.refused] >= path.sent, JSON.stringify(counters.refused));
      } else {
        assert.equal(path.lost, 0, `${path.lost} of ${path.sent} lost`);
        assert.equal(run.collector.health().forged, 0);
      }
    });
  }
});

Deno.test("forged and replayed replies injected by a man in the middle are counted, never believed", async () => {
  const keys = `${NEW}`;
  await using reflector = await startReflector({
    hostname: "127.0.0.1",
    port: 0,
    maxPps: 0,
    authKeyring: parseKeyFile(keys),
  });
  const reader = new ProbeReader();
  let forwarded = 0, forged = 0, replayed = 0;
  let previous: Uint8Array | undefined;
  // Every fourth reply is dropped and replaced by a forgery claiming the probe came back (its
  // dwell time altered, as a forger hiding loss or shaping RTT would) and by a replay of an
  // older genuine reply; every other one is forwarded, then sent again: a replay.
  await using relay = startProbeRelay(reflector.address.port, (reply, index, { send }) => {
    if (index % 4 === 0) {
      const forgery = reply.slice();
      assert.ok(reader.read(forgery));
      forgery[reader.reflectionOffset + 1] ^= 0xff; // the reflector's receive time
      send(forgery), forged++;
      if (previous !== undefined) send(previous), replayed++;
      return;
    }
    send(reply), forwarded++;
    send(reply), replayed++;
    previous = reply;
  });
  await using run = await startRecordingCollector(
    // Trace probes off: their replies go to the tracer, and these counts are the flows'.
    collectorYaml({ targets: [["127.0.0.1", relay.port, {}]], cps: 20, tracing: "{mode: off}" }),
    { authKeyring: parseKeyFile(keys) },
  );
  await run.next(1);
  const summary = await run.next(1);
  relay.pause();
  await settle(500);
  const health = run.collector.health();
  assert.ok(forged > 10 && replayed > 30, `forged ${forged}, replayed ${replayed}`);
  assert.equal(health.forged, forged);
  assert.equal(health.replayed, replayed);
  assert.equal(health.answered, forwarded, "only genuine replies were believed");
  assert.equal(health.duplicates, 0, "replays are not counted as a path's duplicates");
  const [path] = summary.paths;
  // A quarter of the genuine replies never arrived: the forgeries did not hide that loss.
  assert.ok(path.lossPercent >= 15 && path.lossPercent <= 35, `loss ${path.lossPercent}%`);
  assert.equal(path.duplicates, 0);
  assert.ok(path.rtt !== null && path.rtt.max < 100, "no forged dwell reached the RTTs");
});

Deno.test("an authenticated collector counts an original reflector's echoes as unsigned", async () => {
  // The original reflector echoes the probe unchanged: the collector's own valid tag, but no
  // reflection filled in. It must not pass for an answer.
  let echoed = 0;
  await using relay = startProbeRelay(undefined, (reply, _index, { send }) => {
    send(reply), echoed++;
  });
  await using run = await startRecordingCollector(
    collectorYaml({ targets: [["127.0.0.1", relay.port, {}]], cps: 10 }),
    { authKeyring: parseKeyFile(NEW) },
  );
  await run.next(1);
  const [path] = (await run.next(1)).paths;
  relay.pause();
  await settle(300);
  assert.equal(path.lossPercent, 100);
  const health = run.collector.health();
  assert.ok(echoed > 0);
  assert.equal(health.unsigned, echoed);
  assert.equal(health.answered, 0);
});
