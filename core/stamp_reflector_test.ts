// Reflector and reply reader, field by field against RFC 8762 Figures 4 and 5 (offsets written
// from the RFC, not the code), round trips in both modes, TLVs, and HMACs checked with Python.
import assert from "node:assert/strict";
import {
  type Clock,
  parseKeyFile,
  type StampReceiveMeta,
  StampReflector,
  type StampReflectorOptions,
  StampReplyReader,
  StampTestPacketWriter,
} from "./mod.ts";

const SECRET_HEX = "00112233445566778899aabbccddeeff0123";
const KEYS = parseKeyFile(`lab ${SECRET_HEX}\n`, "test");
const OTHER_KEYS = parseKeyFile(`other ${"ab".repeat(16)}\nlab ${SECRET_HEX}\n`, "test");
const WRONG_KEYS = parseKeyFile(`lab ${"ab".repeat(16)}\n`, "test");
// Wall clock 2024-06-01T12:00:00Z at monotonic 0; the request arrives at +250 ms, leaves at +251.
const ORIGIN = 1_717_243_200_000;
const NTP_SECONDS = 3_926_232_000;
const clock: Clock = { origin: ORIGIN, monotonic: () => 251, wall: () => ORIGIN + 251 };
const view = (bytes: Uint8Array) => new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
const zeros = (bytes: Uint8Array, start: number, end: number) =>
  assert.ok(bytes.subarray(start, end).every((byte) => byte === 0), `bytes ${start}..${end} are 0`);

function meta(overrides: Partial<StampReceiveMeta> = {}): StampReceiveMeta {
  return {
    receivedAt: 250,
    ttl: 61,
    tos: 0xb9,
    address: { hostname: "192.0.2.7", port: 40000 },
    ...overrides,
  };
}

function reflector(options: StampReflectorOptions = {}): StampReflector {
  return new StampReflector({ clock, errorEstimate: 0x8a01, ...options });
}

function request(options: ConstructorParameters<typeof StampTestPacketWriter>[0], sequence = 9) {
  const writer = new StampTestPacketWriter({ errorEstimate: 0x0102, ssid: 0x4242, ...options });
  writer.write(sequence, ORIGIN + 100.5);
  return writer.bytes.slice();
}

Deno.test("an unauthenticated reply is laid out as RFC 8762 Figure 4 with RFC 8972's SSID", () => {
  const bytes = request({});
  const reply = new Uint8Array(64);
  assert.equal(reflector().reflect(bytes, bytes.length, meta(), reply), 44);
  const v = view(reply);
  assert.equal(v.getUint32(0), 9); // Sequence Number: stateless, the sender's
  assert.equal(v.getUint32(4), NTP_SECONDS); // Timestamp: sent at +251 ms
  assert.equal(v.getUint32(8), Math.floor(0.251 * 2 ** 32));
  assert.equal(v.getUint16(12), 0x8a01); // Error Estimate
  assert.equal(v.getUint16(14), 0x4242); // SSID
  assert.equal(v.getUint32(16), NTP_SECONDS); // Receive Timestamp: +250 ms
  assert.equal(v.getUint32(20), 2 ** 30);
  assert.equal(v.getUint32(24), 9); // Session-Sender Sequence Number
  assert.equal(v.getUint32(28), NTP_SECONDS); // Session-Sender Timestamp, +100.5 ms
  assert.equal(v.getUint32(32), Math.floor(0.1005 * 2 ** 32));
  assert.equal(v.getUint16(36), 0x0102); // Session-Sender Error Estimate
  zeros(reply, 38, 40); // MBZ
  assert.equal(reply[40], 61); // Ses-Sender TTL
  zeros(reply, 41, 44); // MBZ
});

Deno.test("an authenticated reply is laid out as RFC 8762 Figure 5 with RFC 8972's SSID", () => {
  const bytes = request({ keyring: KEYS }, 0xfffffffe);
  assert.equal(reflector({ keyring: KEYS }).reflect(bytes, bytes.length, meta(), bytes), 112);
  const v = view(bytes);
  assert.equal(v.getUint32(0), 0xfffffffe); // Sequence Number
  zeros(bytes, 4, 16); // MBZ, 12 octets
  assert.equal(v.getUint32(16), NTP_SECONDS); // Timestamp
  assert.equal(v.getUint16(24), 0x8a01); // Error Estimate
  assert.equal(v.getUint16(26), 0x4242); // SSID
  zeros(bytes, 28, 32); // MBZ, 4 octets
  assert.equal(v.getUint32(32), NTP_SECONDS); // Receive Timestamp
  assert.equal(v.getUint32(36), 2 ** 30);
  zeros(bytes, 40, 48); // MBZ, 8 octets
  assert.equal(v.getUint32(48), 0xfffffffe); // Session-Sender Sequence Number
  zeros(bytes, 52, 64); // MBZ, 12 octets
  assert.equal(v.getUint32(64), NTP_SECONDS); // Session-Sender Timestamp
  assert.equal(v.getUint16(72), 0x0102); // Session-Sender Error Estimate
  zeros(bytes, 74, 80); // MBZ, 6 octets
  assert.equal(bytes[80], 61); // Ses-Sender TTL
  zeros(bytes, 81, 96); // MBZ, 15 octets
  const reader = new StampReplyReader();
  assert.ok(reader.read(bytes, 112, KEYS), reader.rejection);
  assert.ok(reader.hmacVerified);
  assert.ok(!reader.read(bytes, 112, WRONG_KEYS));
  assert.equal(reader.rejection, "bad-hmac");
});

Deno.test("sender, reflector and reader agree on every field in both modes", () => {
  for (const keyring of [undefined, KEYS]) {
    for (const mode of ["stateless", "stateful"] as const) {
      const reflecting = reflector({ keyring, mode });
      const reader = new StampReplyReader();
      for (let sequence = 100; sequence < 103; sequence++) {
        const bytes = request({ keyring }, sequence);
        const length = reflecting.reflect(bytes, bytes.length, meta(), bytes);
        assert.equal(length, keyring === undefined ? 44 : 112);
        assert.ok(reader.read(bytes, length, keyring), `${mode}: ${reader.rejection}`);
        assert.equal(reader.sequence, mode === "stateless" ? sequence : sequence - 100);
        assert.equal(reader.senderSequence, sequence);
        assert.ok(Math.abs(reader.t1 - (ORIGIN + 100.5)) < 0.001);
        assert.ok(Math.abs(reader.t2 - (ORIGIN + 250)) < 0.001);
        assert.ok(Math.abs(reader.t3 - (ORIGIN + 251)) < 0.001);
        assert.equal(reader.errorEstimate, 0x8a01);
        assert.equal(reader.senderErrorEstimate, 0x0102);
        assert.equal(reader.senderTtl, 61);
        assert.equal(reader.ssid, 0x4242);
        assert.equal(reader.hmacVerified, keyring !== undefined);
      }
    }
  }
});

Deno.test("a stateful reflector counts each (address, port, SSID) session on its own", () => {
  const reflecting = reflector({ mode: "stateful" });
  const reader = new StampReplyReader();
  const sequenceFor = (hostname: string, port: number, ssid: number) => {
    const bytes = request({ ssid }, 500);
    reflecting.reflect(bytes, 44, meta({ address: { hostname, port } }), bytes);
    assert.ok(reader.read(bytes, 44));
    return reader.sequence;
  };
  assert.equal(sequenceFor("192.0.2.1", 1000, 1), 0);
  assert.equal(sequenceFor("192.0.2.1", 1000, 1), 1);
  assert.equal(sequenceFor("192.0.2.1", 1000, 2), 0);
  assert.equal(sequenceFor("192.0.2.1", 1001, 1), 0);
  assert.equal(sequenceFor("192.0.2.2", 1000, 1), 0);
  assert.equal(sequenceFor("192.0.2.1", 1000, 1), 2);
  assert.equal(reflecting.sessions, 4);
});

Deno.test("a stateful reflector's session table stays bounded under a flood of spoofed sources", () => {
  const reflecting = reflector({ mode: "stateful", sessions: 64 });
  const bytes = request({});
  const copy = bytes.slice();
  for (let index = 0; index < 20_000; index++) {
    bytes.set(copy);
    const address = { hostname: `10.${index >> 16}.${(index >> 8) & 255}.${index & 255}`, port: 1 };
    assert.equal(reflecting.reflect(bytes, 44, meta({ address }), bytes), 44);
  }
  assert.ok(reflecting.sessions <= 64, `${reflecting.sessions} sessions`);
  assert.ok(reflecting.sessions >= 32, `${reflecting.sessions} sessions: the table is used`);
});

Deno.test("requests shorter than their mode's base packet, replies and bad HMACs are dropped and counted", () => {
  const unauthenticated = reflector();
  const reply = new Uint8Array(200);
  assert.equal(unauthenticated.reflect(new Uint8Array(43), 43, meta(), reply), 0);
  assert.equal(unauthenticated.lastDrop, "too-short");
  // A reply (its Receive Timestamp filled) is never answered: two reflectors cannot loop.
  const answered = request({});
  unauthenticated.reflect(answered, 44, meta(), answered);
  assert.equal(unauthenticated.reflect(answered, 44, meta(), reply), 0);
  assert.equal(unauthenticated.lastDrop, "malformed");

  const authenticated = reflector({ keyring: KEYS });
  const unsigned = request({});
  const padded = new Uint8Array(112);
  padded.set(unsigned);
  assert.equal(authenticated.reflect(unsigned, 44, meta(), reply), 0);
  assert.equal(authenticated.lastDrop, "too-short");
  assert.equal(authenticated.reflect(padded, 112, meta(), reply), 0);
  assert.equal(authenticated.lastDrop, "bad-hmac");
  const signed = request({ keyring: KEYS });
  signed[5] ^= 1; // inside the HMAC's coverage
  assert.equal(authenticated.reflect(signed, 112, meta(), reply), 0);
  assert.equal(authenticated.lastDrop, "bad-hmac");
  const other = request({ keyring: WRONG_KEYS });
  assert.equal(authenticated.reflect(other, 112, meta(), reply), 0);
  assert.deepEqual(authenticated.drops(), { "too-short": 1, malformed: 0, "bad-hmac": 3 });
  assert.deepEqual(unauthenticated.drops(), { "too-short": 1, malformed: 1, "bad-hmac": 0 });
});

Deno.test("an authenticated reflector accepts any of its keys and signs with the one that verified", () => {
  const bytes = request({ keyring: KEYS }); // signed with "lab", the second key of OTHER_KEYS
  const reflecting = reflector({ keyring: OTHER_KEYS });
  assert.equal(reflecting.reflect(bytes, 112, meta(), bytes), 112);
  const reader = new StampReplyReader();
  assert.ok(reader.read(bytes, 112, KEYS), reader.rejection);
});

Deno.test("TLVs come back filled in: CoS measured, Timestamp Information, U flag on unknown types", () => {
  const bytes = request({
    tlvs: {
      classOfService: { dscp1: 46 },
      timestampInformation: true,
      raw: [{ type: 200, value: new Uint8Array([1, 2, 3]) }],
      extraPadding: 5,
    },
  });
  const before = bytes.slice();
  const reflecting = reflector();
  assert.equal(reflecting.reflect(bytes, bytes.length, meta({ tos: 0xb9 }), bytes), bytes.length);
  // Class of Service: DSCP1 46 as asked, DSCP2 46 and ECN 1 as arrived (TOS 0xb9), RP 0.
  const cos = view(bytes).getUint16(48);
  assert.deepEqual([cos >>> 10, (cos >>> 4) & 63, (cos >>> 2) & 3, cos & 3], [46, 0xb9 >> 2, 1, 0]);
  assert.equal(reflecting.replyTos, 46 << 2);
  // Timestamp Information: clock synchronized (S bit of 0x8a01): NTP in and out, software.
  assert.deepEqual([...bytes.subarray(52, 60)], [0, 3, 0, 4, 1, 2, 1, 2]);
  assert.deepEqual([...bytes.subarray(60, 67)], [0x80, 200, 0, 3, 1, 2, 3]); // U flag
  assert.deepEqual([...bytes.subarray(67)], [...before.subarray(67)]); // Extra Padding as sent
  const reader = new StampReplyReader();
  assert.ok(reader.read(bytes, bytes.length));
  assert.deepEqual([reader.dscp1, reader.dscp2, reader.ecn, reader.reversePath], [46, 46, 1, 0]);
  assert.deepEqual(
    [
      reader.syncSourceIn,
      reader.timestampMethodIn,
      reader.syncSourceOut,
      reader.timestampMethodOut,
    ],
    [1, 2, 1, 2],
  );
  assert.equal(reader.unrecognizedTlvs, 1);
  // A reflector that cannot set TOS says so with RP = 1.
  const plain = request({ tlvs: { classOfService: { dscp1: 10 } } });
  reflector({ canSetTos: false, errorEstimate: 1 }).reflect(
    plain,
    plain.length,
    meta({ tos: -1 }),
    plain,
  );
  assert.ok(reader.read(plain, plain.length));
  assert.deepEqual([reader.dscp1, reader.dscp2, reader.ecn, reader.reversePath], [10, 0, 0, 1]);
});

Deno.test("without a CoS TLV the reply keeps the request's DSCP, without ECN", () => {
  const reflecting = reflector();
  const bytes = request({});
  reflecting.reflect(bytes, 44, meta({ tos: 0xbb }), bytes);
  assert.equal(reflecting.replyTos, 0xb8);
  const again = request({});
  reflecting.reflect(again, 44, meta({ tos: -1 }), again);
  assert.equal(reflecting.replyTos, -1);
});

Deno.test("a malformed TLV comes back with the M flag, zero padding untouched", () => {
  const bytes = new Uint8Array(44 + 12);
  bytes.set(request({}));
  bytes.set([0, 4, 0, 2, 0, 0], 44); // Class of Service with a 2-byte value: too short
  bytes.set([0, 200, 0, 9], 50); // overruns the datagram
  reflector().reflect(bytes, bytes.length, meta(), bytes);
  assert.deepEqual([...bytes.subarray(44)], [0x40, 4, 0, 2, 0, 0, 0x40, 200, 0, 9, 0, 0]);
  const padded = new Uint8Array(44 + 27); // TWAMP-Light style zero padding
  padded.set(request({}));
  reflector().reflect(padded, padded.length, meta(), padded);
  zeros(padded, 44, 71);
});

Deno.test("the HMAC TLV is verified, re-signed over the reply, and flagged I when it fails", () => {
  const tlvs = {
    classOfService: { dscp1: 8 },
    raw: [{ type: 77, value: new Uint8Array(2) }],
    hmac: true,
  };
  const bytes = request({ keyring: KEYS, tlvs });
  const reflecting = reflector({ keyring: KEYS, mode: "stateful" });
  reflecting.reflect(bytes, bytes.length, meta(), bytes);
  const reader = new StampReplyReader();
  assert.ok(reader.read(bytes, bytes.length, KEYS));
  assert.equal(reader.hmacTlv, "verified");
  assert.equal(reader.integrityFailedTlvs, 0);
  const tampered = request({ keyring: KEYS, tlvs });
  tampered[112 + 4] ^= 4; // DSCP1, covered by the HMAC TLV but not by the base HMAC
  reflecting.reflect(tampered, tampered.length, meta(), tampered);
  assert.ok(reader.read(tampered, tampered.length, KEYS));
  assert.equal(reader.integrityFailedTlvs, 1);
  assert.equal(tampered[112 + 14], 0x20 | 0); // the HMAC TLV's flags: I
});

Deno.test("HMACs match Python's hmac module, base packet and HMAC TLV", async () => {
  const tlvs = { classOfService: { dscp1: 46 }, hmac: true };
  const bytes = request({ keyring: KEYS, tlvs });
  const reply = bytes.slice();
  reflector({ keyring: KEYS }).reflect(reply, reply.length, meta(), reply);
  const script = [
    "import hmac, hashlib, sys",
    `key = bytes.fromhex("${SECRET_HEX}")`,
    "for packet in sys.argv[1:]:",
    "    p = bytes.fromhex(packet)",
    "    base = hmac.new(key, p[:96], hashlib.sha256).digest()[:16]",
    "    tlv = hmac.new(key, p[:4] + p[112:112 + 8], hashlib.sha256).digest()[:16]",
    "    print(base.hex(), tlv.hex())",
  ].join("\n");
  const hex = (data: Uint8Array) =>
    Array.from(data, (b) => b.toString(16).padStart(2, "0")).join("");
  const output = await new Deno.Command("python3", {
    args: ["-c", script, hex(bytes), hex(reply)],
    stdout: "piped",
  }).output();
  assert.ok(output.success);
  const lines = new TextDecoder().decode(output.stdout).trim().split("\n");
  for (const [index, packet] of [bytes, reply].entries()) {
    // HMAC TLV: 8 bytes of CoS TLV, then the HMAC TLV header at 120, its value at 124.
    assert.equal(
      lines[index],
      `${hex(packet.subarray(96, 112))} ${hex(packet.subarray(124, 140))}`,
    );
  }
});
