// stampblast (bench/tools/stampblast.c), the bench's STAMP load generator, against references
// that share no code with it: a STAMP reflector written in Python from RFC 8762
// (_stamp_reflector_reference.py, HMAC by Python's `hmac`) and tshark's TWAMP-Test dissector.
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { buildStampblast, runStampblast } from "../bench/_stampblast.ts";
import { type ReadyProcess, spawnUntilReady } from "../bench/_tools.ts";
import { assertRequirement, requirement } from "./_requirements.ts";

const ROOT = fileURLToPath(new URL("../", import.meta.url));
const REFERENCE = fileURLToPath(new URL("./_stamp_reflector_reference.py", import.meta.url));
const KEY = "8c2f0f9a51d3b6e4a7c1d0e2f3a4b5c6";
const OTHER_KEY = "00112233445566778899aabbccddeeff";

const needs = requirement({ commands: ["cc", "make", "python3"] });
const needsCapture = requirement({ root: true, commands: ["cc", "make", "python3", "tshark"] });

function startReference(args: string[] = []): Promise<ReadyProcess> {
  return spawnUntilReady("python3", {
    args: [REFERENCE, "--port", "0", ...args],
    readyStream: "stdout",
    readyPattern: /reflecting on 127\.0\.0\.1:(?<port>\d+)/,
    timeoutMilliseconds: 10_000,
  });
}

const portOf = (process: ReadyProcess) => Number(process.ready.groups?.port);

Deno.test({
  name: "stampblast: every unauthenticated packet from 3 source ports is answered by the " +
    "RFC reference reflector, matched by sequence, with ordered timestamps",
  ignore: needs.ignore,
  async fn() {
    assertRequirement(needs);
    await using tool = await buildStampblast(ROOT);
    await using reflector = await startReference();
    const result = await runStampblast(tool, {
      port: portOf(reflector),
      rate: 500,
      seconds: 0.6,
      sockets: 3,
      reflectorPid: reflector.pid,
    });
    assert.equal(result.mode, "unauthenticated");
    assert.equal(result.probeBytes, 44);
    assert.equal(result.sent, 300);
    assert.equal(result.received, 300);
    assert.deepEqual(
      [result.foreign, result.bad, result.duplicates, result.orderViolations, result.sendErrors],
      [0, 0, 0, 0, 0],
    );
    assert.equal(result.ssidEchoed, 300, "the reference reflector copies the SSID");
    assert.deepEqual(result.senderTtl, { min: 255, max: 255 });
    assert.equal(result.kernelRoundTrip.count, 300);
    assert.equal(result.netRoundTrip.count, 300);
    const { p50: rtt } = result.kernelRoundTrip, { p50: net } = result.netRoundTrip;
    assert.ok(rtt !== null && net !== null && result.dwell.p50 !== null);
    assert.ok(result.dwell.p50 > 0, "a Python reflector holds each packet for some time");
    assert.ok(net > 0 && net < rtt, `net RTT ${net} µs must be under the RTT ${rtt} µs`);
    assert.ok(rtt < 1_000_000, `an RTT of ${rtt} µs on loopback means a wrong timestamp`);
    assert.ok(result.reflectorCpuPercent !== null && result.reflectorRssKilobytes !== null);
  },
});

Deno.test({
  name: "stampblast: authenticated packets carry an HMAC Python's hmac accepts, and replies " +
    "signed with another key are rejected",
  ignore: needs.ignore,
  async fn() {
    assertRequirement(needs);
    await using tool = await buildStampblast(ROOT);
    if (!tool.authenticated) {
      assert.notEqual(Deno.env.get("CI"), "true", "CI must build stampblast with libcrypto");
      return; // built without libcrypto: nothing to test
    }
    const keyFile = await Deno.makeTempFile({ prefix: "llama-stamp-keys-" });
    try {
      await Deno.writeTextFile(keyFile, `# test keys\n1 ${OTHER_KEY}\nrouters ${KEY}  # used\n`);
      const run = async (reflectorArgs: string[]) => {
        await using reflector = await startReference(reflectorArgs);
        return await runStampblast(tool, {
          port: portOf(reflector),
          rate: 500,
          seconds: 0.2,
          sockets: 2,
          keyFile,
          keyId: "routers",
          drainMilliseconds: 300,
        });
      };
      const good = await run(["--key", KEY]);
      assert.equal(good.mode, "authenticated");
      assert.equal(good.probeBytes, 112);
      assert.equal(good.sent, 100);
      assert.equal(good.received, 100);
      assert.equal(good.hmacFailures, 0);
      assert.equal(good.orderViolations, 0);
      assert.equal(good.ssidEchoed, 100);
      assert.deepEqual(good.senderTtl, { min: 255, max: 255 });

      const wrongKey = await run(["--key", OTHER_KEY]);
      assert.equal(wrongKey.received, 0, "the reflector must drop requests with a wrong HMAC");
      assert.equal(wrongKey.hmacFailures, 0);

      const forged = await run(["--key", KEY, "--reply-key", OTHER_KEY]);
      assert.equal(forged.received, 0);
      assert.equal(forged.hmacFailures, 100, "every forged reply is counted and dropped");
    } finally {
      await Deno.remove(keyFile);
    }
  },
});

Deno.test({
  name: "stampblast: with a stateful reflector, loss is split into forward and backward",
  ignore: needs.ignore,
  async fn() {
    assertRequirement(needs);
    await using tool = await buildStampblast(ROOT);
    // Of 700 arrivals, every 10th is dropped before the reflector counts it (70 forward) and
    // every 7th of the others is counted but not answered (100 - 10 = 90 backward).
    await using reflector = await startReference([
      ...["--mode", "stateful", "--ignore-every", "10", "--unanswered-every", "7"],
    ]);
    const result = await runStampblast(tool, {
      port: portOf(reflector),
      rate: 1000,
      seconds: 0.7,
      sockets: 2,
      stateful: true,
      drainMilliseconds: 300,
    });
    assert.equal(result.sent, 700);
    assert.equal(result.received, 540);
    assert.equal(result.forwardLost, 70);
    assert.equal(result.backwardLost, 90);
    assert.equal(result.foreign, 0);
  },
});

/** One packet as tshark's TWAMP-Test dissector reads it (first occurrence of each field). */
interface Dissected {
  source: number;
  destination: number;
  udpLength: number;
  frameSeconds: number;
  sequence: number;
  timestampSeconds: number;
  errorEstimate: number;
  senderSequence: number;
  senderTtl: number;
}

const MONTHS = "JanFebMarAprMayJunJulAugSepOctNovDec";

/** Parses tshark's `Dec  7, 2026 12:21:38.336858574 UTC` into seconds since 1970. */
function parseTsharkTime(text: string): number {
  const match = /^(\w{3})\s+(\d+), (\d{4}) (\d\d):(\d\d):(\d\d)(\.\d+)? UTC$/.exec(text);
  assert.ok(match !== null, `tshark printed a time in an unknown format: "${text}"`);
  const [, month, day, year, hours, minutes, seconds, fraction] = match;
  return Date.UTC(+year, MONTHS.indexOf(month) / 3, +day, +hours, +minutes, +seconds) / 1000 +
    Number(fraction ?? 0);
}

async function capture(port: number, during: () => Promise<void>): Promise<Dissected[]> {
  const pcap = await Deno.makeTempFile({ prefix: "llama-stamp-", suffix: ".pcap" });
  try {
    {
      await using _tshark = await spawnUntilReady("tshark", {
        args: ["-i", "lo", "-f", `udp port ${port}`, "-w", pcap],
        readyPattern: /Capture started/,
        timeoutMilliseconds: 20_000,
      });
      await during();
      await new Promise((resolve) => setTimeout(resolve, 500)); // let dumpcap write the tail
    }
    const fields = [
      ...["udp.srcport", "udp.dstport", "udp.length", "frame.time_epoch"],
      ...["twamp.test.seq_number", "twamp.test.timestamp", "twamp.test.error_estimate"],
      ...["twamp.test.sender_seq_number", "twamp.test.sender_ttl"],
    ];
    const output = await new Deno.Command("tshark", {
      args: [
        ...["-r", pcap, "-d", `udp.port==${port},twamp.test`, "-T", "fields"],
        ...["-E", "separator=/t", "-E", "occurrence=f", ...fields.flatMap((f) => ["-e", f])],
      ],
      stdin: "null",
      stderr: "piped",
    }).output();
    assert.ok(output.success, new TextDecoder().decode(output.stderr));
    return new TextDecoder().decode(output.stdout).trim().split("\n").map((line) => {
      const cells = line.split("\t");
      return {
        source: Number(cells[0]),
        destination: Number(cells[1]),
        udpLength: Number(cells[2]),
        frameSeconds: Number(cells[3]),
        sequence: Number(cells[4]),
        timestampSeconds: parseTsharkTime(cells[5]),
        errorEstimate: Number(cells[6]),
        senderSequence: Number(cells[7]),
        senderTtl: Number(cells[8]),
      };
    });
  } finally {
    await Deno.remove(pcap);
  }
}

Deno.test({
  name: "stampblast: tshark decodes its packets as TWAMP-Test with the sequence numbers, " +
    "timestamps and error estimate it sent",
  ignore: needsCapture.ignore,
  async fn() {
    assertRequirement(needsCapture);
    await using tool = await buildStampblast(ROOT);
    await using reflector = await startReference();
    const port = portOf(reflector);
    const packets = await capture(port, async () => {
      const result = await runStampblast(tool, { port, rate: 200, seconds: 0.1, sockets: 2 });
      assert.equal(result.received, 20);
    });
    const requests = packets.filter((packet) => packet.destination === port);
    const replies = packets.filter((packet) => packet.source === port);
    assert.equal(requests.length, 20);
    assert.equal(replies.length, 20);
    const sourcePorts = [...new Set(requests.map((packet) => packet.source))];
    assert.equal(sourcePorts.length, 2, "two sockets, two source ports");
    for (const source of sourcePorts) {
      const sequences = requests.filter((packet) => packet.source === source)
        .map((packet) => packet.sequence);
      assert.deepEqual(sequences, [...Array(10).keys()], `sequence numbers from port ${source}`);
    }
    for (const packet of requests) {
      assert.equal(packet.udpLength, 8 + 44);
      // S = 0, Z = 0 (NTP), scale 22, multiplier 1: about 1 ms
      assert.equal(packet.errorEstimate, 0x1601);
      const skew = Math.abs(packet.timestampSeconds - packet.frameSeconds);
      assert.ok(skew < 0.01, `the sender timestamp is ${skew} s away from the capture time`);
    }
    for (const packet of replies) assert.equal(packet.senderTtl, 255);
    assert.deepEqual(
      replies.map((packet) => `${packet.destination}/${packet.senderSequence}`).sort(),
      requests.map((packet) => `${packet.source}/${packet.sequence}`).sort(),
    );
  },
});

const STAMP_CORE_REFERENCE = fileURLToPath(new URL("./stamp_reference.py", import.meta.url));

Deno.test({
  name: "stampblast: the issue's Python reference reflector (tests/stamp_reference.py) answers " +
    "every packet, stateless, stateful and authenticated",
  ignore: needs.ignore,
  async fn() {
    assertRequirement(needs);
    await using tool = await buildStampblast(ROOT);
    const keyFile = await Deno.makeTempFile({ prefix: "llama-stamp-keys-" });
    try {
      await Deno.writeTextFile(keyFile, `routers ${KEY}\n`);
      const modes = [
        { args: [], stateful: false, bytes: 44 },
        { args: ["--stateful"], stateful: true, bytes: 44 },
        ...(tool.authenticated
          ? [{ args: ["--key-file", keyFile], stateful: false, bytes: 112 }]
          : []),
      ];
      for (const mode of modes) {
        await using reflector = await spawnUntilReady("python3", {
          args: [STAMP_CORE_REFERENCE, "reflect", "--port", "0", ...mode.args],
          readyStream: "stdout",
          readyPattern: /"event": "listening", "port": (?<port>\d+)/,
          timeoutMilliseconds: 10_000,
        });
        const result = await runStampblast(tool, {
          port: portOf(reflector),
          rate: 500,
          seconds: 0.2,
          sockets: 2,
          stateful: mode.stateful,
          keyFile: mode.bytes === 112 ? keyFile : undefined,
          drainMilliseconds: 300,
        });
        const label = mode.args.join(" ") || "stateless";
        assert.equal(result.probeBytes, mode.bytes, label);
        assert.deepEqual([result.sent, result.received], [100, 100], label);
        assert.deepEqual([result.foreign, result.hmacFailures, result.orderViolations], [0, 0, 0]);
        assert.equal(result.ssidEchoed, 100, label);
        if (mode.stateful) assert.deepEqual([result.forwardLost, result.backwardLost], [0, 0]);
      }
    } finally {
      await Deno.remove(keyFile);
    }
  },
});
