// The collector probing STAMP reflectors for real: the Python reference reflector (written from
// RFC 8762, not from llama's code) on loopback, stateless and stateful, unauthenticated and
// authenticated.
import assert from "node:assert/strict";
import { parseIntervalSummary } from "@llama/core";
import {
  stampYaml,
  startFileCollector,
  startReferenceReflector,
  summariesOf,
  totals,
} from "./_stamp.ts";
import { requirement } from "./_requirements.ts";

const needs = requirement({ commands: ["python3"] });
const KEY = "lab 000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\n";
const OTHER_KEY = "lab ffeeddccbbaa99887766554433221100ffeeddccbbaa99887766554433221100\n";

async function probe(options: {
  stateful?: boolean;
  reflectorKey?: string;
  collectorKey?: string;
}) {
  const directory = await Deno.makeTempDir({ prefix: "llama-stamp-" });
  try {
    let reflectorKeyFile: string | undefined;
    if (options.reflectorKey !== undefined) {
      reflectorKeyFile = `${directory}/reflector-keys.txt`;
      await Deno.writeTextFile(reflectorKeyFile, options.reflectorKey);
    }
    if (options.collectorKey !== undefined) {
      await Deno.writeTextFile(`${directory}/keys.txt`, options.collectorKey);
    }
    await using reflector = await startReferenceReflector({
      stateful: options.stateful,
      keyFile: reflectorKeyFile,
    });
    const target = `{ip: 127.0.0.1, port: ${reflector.port}, protocol: stamp, ` +
      `stamp_mode: ${options.stateful ? "stateful" : "stateless"}, tags: {kind: router}` +
      (options.collectorKey === undefined ? "" : ", stamp_key_file: keys.txt") + "}";
    await using running = await startFileCollector(directory, stampYaml([target]));
    // The first interval may be partial: judge the two after it.
    const summaries = (await summariesOf(running.summaries, 3)).slice(1);
    for (const summary of summaries) parseIntervalSummary(JSON.parse(JSON.stringify(summary)));
    return { summaries, ...totals(summaries, "127.0.0.1") };
  } finally {
    await Deno.remove(directory, { recursive: true });
  }
}

Deno.test({
  name:
    "collector probes a stateless STAMP reflector: RTT, one-way delays flagged unsynchronized, no loss split",
  ignore: needs.ignore,
  async fn() {
    const { paths, sent, lost } = await probe({});
    assert.ok(sent >= 50, `sent ${sent}`);
    assert.equal(lost, 0);
    for (const path of paths) {
      assert.equal(path.tags.kind, "router");
      assert.ok(path.rtt !== null && path.rtt.min >= 0 && path.rtt.max < 300);
      assert.equal(path.dwellCorrected, path.sent - path.lost);
      const delay = path.oneWayDelay;
      assert.ok(delay !== undefined, "oneWayDelay missing");
      assert.equal(delay.clockSynchronized, false);
      // One host, one clock: each way is a fraction of the round trip (the reference reflector
      // reads time.time(), llama performance.now(): allow a few ms of disagreement).
      // On a loaded machine a round trip can take tens of ms: bound each way by the worst one.
      const bound = path.rtt!.max + 5;
      assert.ok(
        Math.abs(delay.forward.mean) < bound && Math.abs(delay.backward.mean) < bound,
        `forward ${delay.forward.mean} ms, backward ${delay.backward.mean} ms, rtt max ${
          path.rtt!.max
        }`,
      );
      assert.ok(delay.forward.min <= delay.forward.mean && delay.forward.mean <= delay.forward.max);
      assert.equal(path.lostForward, undefined);
      assert.equal(path.lostBackward, undefined);
      for (const flow of path.flows) assert.ok(flow.oneWayDelay !== undefined);
    }
  },
});

Deno.test({
  name: "collector probes a stateful STAMP reflector: the loss split is there, and 0 on loopback",
  ignore: needs.ignore,
  async fn() {
    const { paths, sent, lost, lostForward, lostBackward } = await probe({ stateful: true });
    assert.ok(sent >= 50);
    assert.equal(lost, 0);
    assert.equal(lostForward, 0);
    assert.equal(lostBackward, 0);
    for (const path of paths) {
      assert.equal(path.lostForward, 0);
      assert.equal(path.lostBackward, 0);
    }
  },
});

Deno.test({
  name:
    "collector probes an authenticated STAMP reflector with the key file's key, and a wrong key gets nothing",
  ignore: needs.ignore,
  async fn() {
    const good = await probe({ stateful: true, reflectorKey: KEY, collectorKey: KEY });
    assert.ok(good.sent >= 50);
    assert.equal(good.lost, 0);
    assert.ok(good.paths.every((path) => path.oneWayDelay !== undefined));
    const wrong = await probe({ reflectorKey: KEY, collectorKey: OTHER_KEY });
    assert.ok(wrong.sent >= 50);
    assert.equal(wrong.lost, wrong.sent);
  },
});

Deno.test("collector probes llama's own STAMP port, stateful and authenticated: every probe answered, the split 0/0", async () => {
  const { startReflector } = await import("@llama/reflector");
  const { parseKeyFile } = await import("@llama/core");
  const directory = await Deno.makeTempDir({ prefix: "llama-stamp-" });
  try {
    await Deno.writeTextFile(`${directory}/keys.txt`, KEY);
    await using reflector = await startReflector({
      hostname: "127.0.0.1",
      port: 0,
      maxPps: 0,
      stamp: { port: 0, mode: "stateful", keyring: parseKeyFile(KEY, "keys.txt") },
    });
    const port = reflector.stampAddress!.port;
    const target = `{ip: 127.0.0.1, port: ${port}, protocol: stamp, stamp_mode: stateful, ` +
      `stamp_key_file: keys.txt, tags: {kind: llama}}`;
    await using running = await startFileCollector(directory, stampYaml([target]));
    const summaries = (await summariesOf(running.summaries, 3)).slice(1);
    const { paths, sent, lost } = totals(summaries, "127.0.0.1");
    assert.ok(sent >= 50, `sent ${sent}`);
    assert.equal(lost, 0);
    for (const path of paths) {
      assert.equal(path.lostForward, 0);
      assert.equal(path.lostBackward, 0);
      assert.equal(path.dwellCorrected, path.sent);
      assert.ok(path.oneWayDelay !== undefined);
    }
  } finally {
    await Deno.remove(directory, { recursive: true });
  }
});
