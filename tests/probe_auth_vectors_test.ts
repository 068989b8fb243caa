// The probe MAC cross-checked with Python's hmac module: the same bytes, the same key, the same
// truncated HMAC-SHA-256, computed by an implementation that is not ours.
import assert from "node:assert/strict";
import { encodeProbe, parseKeyFile, ProbeAuthenticator, ProbeReader } from "@llama/core";
import { assertRequirement, requirement } from "./_requirements.ts";

const needs = requirement({ commands: ["python3"] });

const PYTHON = `
import hmac, hashlib, json, sys
for case in json.load(sys.stdin):
    data = bytes.fromhex(case["datagram"])
    start, end = case["mac_start"], case["mac_end"]
    message = data[:start] + data[end:]
    print(hmac.new(bytes.fromhex(case["secret"]), message, hashlib.sha256).hexdigest()[:32])
`;

const hex = (bytes: Uint8Array) =>
  Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");

Deno.test({
  name: "probe MACs match Python's hmac for several keys, sizes and field orders",
  ignore: needs.ignore,
  async fn() {
    assertRequirement(needs);
    const keys = [
      "a 000102030405060708090a0b0c0d0e0f",
      "rotation:2026-05 " + "ab".repeat(32),
      "long." + "x".repeat(59) + " " + "5c".repeat(100), // a secret longer than SHA-256's block
    ];
    const cases: { datagram: string; secret: string; mac_start: number; mac_end: number }[] = [];
    const macs: string[] = [];
    for (const [index, line] of keys.entries()) {
      const auth = new ProbeAuthenticator(parseKeyFile(line).keys);
      for (const padding of [0, 1000]) {
        for (const trailing of [false, true]) {
          const buffer = new Uint8Array(2048);
          let length = encodeProbe({
            signature: crypto.getRandomValues(new Uint8Array(10)),
            tos: index * 32,
            sent: 1_760_000_000_000_000_000n + BigInt(padding),
            paddingLength: padding,
            sequence: BigInt(index * 1000 + padding),
            reflection: true,
            auth: new Uint8Array(auth.authLength),
          }, buffer);
          // An unknown field after the tag (field 11, varint 5) is covered by the MAC too.
          if (trailing) buffer.set([0x58, 0x05], length), length += 2;
          const datagram = buffer.subarray(0, length);
          const reader = new ProbeReader();
          assert.ok(reader.read(datagram));
          auth.writeKeyId(datagram, reader.authStart);
          auth.sign(datagram, length, reader.authStart, reader.authEnd);
          assert.equal(auth.check(datagram, length, reader.authStart, reader.authEnd), 0);
          cases.push({
            datagram: hex(datagram),
            secret: hex(auth.keys[0].secret),
            mac_start: reader.authEnd - 16,
            mac_end: reader.authEnd,
          });
          macs.push(hex(datagram.subarray(reader.authEnd - 16, reader.authEnd)));
        }
      }
    }
    const child = new Deno.Command("python3", {
      args: ["-c", PYTHON],
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const writer = child.stdin.getWriter();
    await writer.write(new TextEncoder().encode(JSON.stringify(cases)));
    await writer.close();
    const output = await child.output();
    assert.ok(output.success, new TextDecoder().decode(output.stderr));
    assert.deepEqual(new TextDecoder().decode(output.stdout).trim().split("\n"), macs);
  },
});
