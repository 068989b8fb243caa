// The reflector's STAMP port under 100,000 random and mutated datagrams: no crash, no answer to
// junk, no reply of another length than its request, every request that qualifies answered.
import assert from "node:assert/strict";
import { nativeEngineStatus, StampReplyReader, StampTestPacketWriter } from "@llama/core";
import { xorshift } from "./_fuzz.ts";
import { parsePrometheusText } from "./_prometheus.ts";
import { startProgram } from "./_process.ts";
import { freeUdpPort, UdpClient } from "./_udp.ts";

/**
 * Must an unauthenticated llama STAMP reflector answer this? Written from docs/stamp.md: at least
 * the 44-byte base packet, and the 8 bytes where a reply carries its Receive Timestamp (16..23)
 * all zero.
 */
function qualifies(bytes: Uint8Array): boolean {
  return bytes.length >= 44 && bytes.subarray(16, 24).every((byte) => byte === 0);
}

const SENTINEL = 0xfff00000;

Deno.test({
  name:
    "the STAMP port survives 100,000 fuzzed datagrams: no crash, no answer to junk, none longer",
  ignore: !nativeEngineStatus().available && Deno.env.get("CI") !== "true",
  async fn() {
    const stampPort = freeUdpPort();
    await using reflector = await startProgram(
      "reflector/main.ts",
      [
        "--host",
        "127.0.0.1",
        "--port",
        "0",
        "--stamp-port",
        String(stampPort),
        "--max-pps",
        "0",
        "--metrics",
        "127.0.0.1:0",
        // Through the abuse limits, which must let all of it by: a prefix, and a rate no fuzz reaches.
        "--allow",
        "127.0.0.0/8",
        "--per-source-pps",
        "100000000",
        "--engine",
        "native",
      ],
      { readyPattern: /Serving metrics on http:\/\/(\S+)\/metrics/ },
    );
    const metricsUrl = `http://${reflector.ready[1]}/metrics`;
    using client = new UdpClient();
    const random = xorshift(0x5eed5);
    const writer = new StampTestPacketWriter({ ssid: 5, tlvs: { classOfService: { dscp1: 10 } } });
    const reader = new StampReplyReader();
    const expectedLength = new Map<number, number>();
    const replies: Uint8Array[] = [];
    let stopped = false;
    const receiving = (async () => {
      while (!stopped) {
        const reply = await client.receive(200);
        if (reply !== undefined) replies.push(reply);
      }
    })();
    const total = 100_000;
    const window = 200;
    let answerable = 0;
    let answered = 0;
    const checkWindow = async (windowIndex: number) => {
      writer.write(SENTINEL + windowIndex, Date.now());
      await client.send(writer.bytes, "127.0.0.1", stampPort);
      const deadline = performance.now() + 5000;
      for (;;) {
        const at = replies.findIndex((reply) =>
          reader.read(reply, reply.length) && reader.senderSequence === SENTINEL + windowIndex
        );
        if (at >= 0) {
          for (const reply of replies.splice(0, at + 1).slice(0, at)) {
            assert.ok(reader.read(reply, reply.length), "every reply reads as one");
            const length = expectedLength.get(reader.senderSequence);
            assert.ok(length !== undefined, `a reply to ${reader.senderSequence}, not answerable`);
            assert.equal(reply.length, length, "a reply is exactly as long as its request");
            expectedLength.delete(reader.senderSequence);
            answered++;
          }
          break;
        }
        assert.ok(
          performance.now() < deadline,
          `window ${windowIndex}'s sentinel was not answered`,
        );
        await new Promise((resolve) => setTimeout(resolve, 1));
      }
      assert.equal(expectedLength.size, 0, `window ${windowIndex}: answerable requests unanswered`);
    };
    try {
      for (let index = 0; index < total; index++) {
        let datagram: Uint8Array;
        const kind = random();
        if (kind < 0.4) {
          // Junk: random bytes of random length.
          datagram = new Uint8Array(Math.floor(random() * 160));
          for (let at = 0; at < datagram.length; at++) datagram[at] = random() * 256;
        } else {
          // A real request, mutated: bytes flipped (TLVs included), cut short or extended.
          writer.write(index, Date.now());
          const length = kind < 0.55
            ? Math.floor(random() * 52)
            : writer.bytes.length + Math.floor(random() * 3) * Math.floor(random() * 40);
          datagram = new Uint8Array(length);
          datagram.set(writer.bytes.subarray(0, Math.min(length, writer.bytes.length)));
          const flips = Math.floor(random() * 4);
          for (let flip = 0; flip < flips && length > 4; flip++) {
            datagram[4 + Math.floor(random() * (length - 4))] ^= 1 << Math.floor(random() * 8);
          }
        }
        if (qualifies(datagram)) {
          answerable++;
          // Keyed by the request's sequence number (never mutated): its reply's sender sequence.
          expectedLength.set(new DataView(datagram.buffer).getUint32(0), datagram.length);
        }
        await client.send(datagram, "127.0.0.1", stampPort);
        if ((index + 1) % window === 0) await checkWindow((index + 1) / window);
      }
    } finally {
      stopped = true;
      await receiving;
    }
    assert.equal(answered, answerable);
    assert.ok(
      answerable > 30_000 && answerable < 70_000,
      `${answerable} answerable: the mix is off`,
    );
    const metrics = parsePrometheusText(await (await fetch(metricsUrl)).text());
    const sentinels = total / window;
    assert.equal(metrics.get("llama_reflector_stamp_received_total"), total + sentinels);
    assert.equal(metrics.get("llama_reflector_stamp_answered_total"), answerable + sentinels);
    const dropped = [...metrics.entries()]
      .filter(([name]) => name.startsWith("llama_reflector_stamp_dropped_total"))
      .reduce((sum, [, value]) => sum + value, 0);
    assert.equal(dropped, total - answerable);
    assert.equal((await reflector.stop("SIGTERM")).code, 0, reflector.stderr());
  },
});
