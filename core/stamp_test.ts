// Test vectors written from the RFC figures: offsets and sizes here are read off RFC 8762
// section 4 (Figures 2-5), RFC 8972 sections 3-4 and RFC 4656 section 4.1.2, not from the code.
import assert from "node:assert/strict";
import {
  decodeErrorEstimate,
  encodeErrorEstimate,
  errorEstimateSeconds,
  parseKeyFile,
  readStampTimestamp,
  STAMP_AUTHENTICATED_BYTES,
  STAMP_PORT,
  STAMP_UNAUTHENTICATED_BYTES,
  StampTestPacketWriter,
  writeStampTimestamp,
} from "./mod.ts";

const view = (bytes: Uint8Array) => new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
const zeros = (bytes: Uint8Array, start: number, end: number) =>
  assert.ok(bytes.subarray(start, end).every((byte) => byte === 0), `bytes ${start}..${end} are 0`);
const KEYS = parseKeyFile("k1 " + "6b".repeat(32) + "\n", "test");

// 2024-06-01T12:00:00.25Z: 1717243200 s after 1970, so 3926232000 s after 1900.
const WHEN_MS = 1_717_243_200_250;
const WHEN_NTP_SECONDS = 3_926_232_000;

Deno.test("STAMP constants are those of the RFCs", () => {
  assert.equal(STAMP_PORT, 862);
  assert.equal(STAMP_UNAUTHENTICATED_BYTES, 44);
  assert.equal(STAMP_AUTHENTICATED_BYTES, 112);
});

Deno.test("NTP timestamps count seconds from 1900 and 2^-32 s fractions", () => {
  const bytes = new Uint8Array(8);
  writeStampTimestamp(bytes, 0, WHEN_MS, false);
  assert.equal(view(bytes).getUint32(0), WHEN_NTP_SECONDS);
  assert.equal(view(bytes).getUint32(4), 0x40000000); // a quarter of a second
  assert.equal(readStampTimestamp(bytes, 0, false), WHEN_MS);
  // Era 1: 2036-02-07T06:28:16Z is NTP second 2^32, which wraps to 0.
  const era1Ms = (2 ** 32 - 2_208_988_800) * 1000 + 1000;
  writeStampTimestamp(bytes, 0, era1Ms, false);
  assert.equal(view(bytes).getUint32(0), 1);
  assert.equal(readStampTimestamp(bytes, 0, false), era1Ms);
});

Deno.test("PTP timestamps count seconds from 1970 and nanoseconds", () => {
  const bytes = new Uint8Array(8);
  writeStampTimestamp(bytes, 0, WHEN_MS, true);
  assert.equal(view(bytes).getUint32(0), 1_717_243_200);
  assert.equal(view(bytes).getUint32(4), 250_000_000);
  assert.equal(readStampTimestamp(bytes, 0, true), WHEN_MS);
});

Deno.test("the Error Estimate packs S, Z, Scale and Multiplier as RFC 4656 lays them out", () => {
  // S is the top bit, Z the next, then 6 bits of Scale and 8 of Multiplier.
  assert.equal(
    encodeErrorEstimate({ synchronized: true, ptp: false, scale: 0, multiplier: 1 }),
    0x8001,
  );
  assert.equal(
    encodeErrorEstimate({ synchronized: false, ptp: true, scale: 63, multiplier: 2 }),
    0x7f02,
  );
  assert.deepEqual(decodeErrorEstimate(0xbf10), {
    synchronized: true,
    ptp: false,
    scale: 63,
    multiplier: 16,
  });
  assert.equal(errorEstimateSeconds(0x2003), 3); // 3 × 2^(32−32)
  assert.equal(errorEstimateSeconds(0x1601), 2 ** -10);
  assert.throws(
    () => encodeErrorEstimate({ synchronized: false, ptp: false, scale: 1, multiplier: 0 }),
    /multiplier/,
  );
  assert.throws(
    () => encodeErrorEstimate({ synchronized: false, ptp: false, scale: 64, multiplier: 1 }),
    /scale/,
  );
});

Deno.test("an unauthenticated Session-Sender packet is laid out as RFC 8762 Figure 2 with RFC 8972's SSID", () => {
  const writer = new StampTestPacketWriter({ ssid: 0xbeef, errorEstimate: 0x8105 });
  writer.write(0x01020304, WHEN_MS);
  const bytes = writer.bytes;
  assert.equal(bytes.length, 44);
  assert.equal(view(bytes).getUint32(0), 0x01020304); // Sequence Number
  assert.equal(view(bytes).getUint32(4), WHEN_NTP_SECONDS); // Timestamp
  assert.equal(view(bytes).getUint32(8), 0x40000000);
  assert.equal(view(bytes).getUint16(12), 0x8105); // Error Estimate
  assert.equal(view(bytes).getUint16(14), 0xbeef); // SSID
  zeros(bytes, 16, 44); // MBZ, 28 octets
});

Deno.test("an authenticated Session-Sender packet is laid out as RFC 8762 Figure 3 with RFC 8972's SSID", () => {
  const writer = new StampTestPacketWriter({ keyring: KEYS, ssid: 3, errorEstimate: 0x0a0b });
  writer.write(7, WHEN_MS);
  const bytes = writer.bytes;
  assert.equal(bytes.length, 112);
  assert.equal(view(bytes).getUint32(0), 7); // Sequence Number
  zeros(bytes, 4, 16); // MBZ, 12 octets
  assert.equal(view(bytes).getUint32(16), WHEN_NTP_SECONDS); // Timestamp
  assert.equal(view(bytes).getUint32(20), 0x40000000);
  assert.equal(view(bytes).getUint16(24), 0x0a0b); // Error Estimate
  assert.equal(view(bytes).getUint16(26), 3); // SSID
  zeros(bytes, 28, 96); // MBZ, 68 octets
  assert.ok(!bytes.subarray(96, 112).every((byte) => byte === 0), "HMAC, 16 octets");
});

Deno.test("a sender with the Z bit set writes PTP timestamps", () => {
  const writer = new StampTestPacketWriter({ errorEstimate: 0x4001 });
  writer.write(1, WHEN_MS);
  assert.equal(view(writer.bytes).getUint32(4), 1_717_243_200);
  assert.equal(view(writer.bytes).getUint32(8), 250_000_000);
});

Deno.test("sender TLVs follow the base packet as RFC 8972 section 4 lays them out", () => {
  const writer = new StampTestPacketWriter({
    keyring: KEYS,
    tlvs: {
      classOfService: { dscp1: 46 },
      timestampInformation: true,
      raw: [{ type: 200, value: new Uint8Array([9, 8]) }],
      extraPadding: 3,
      hmac: true,
    },
  });
  writer.write(1, WHEN_MS);
  const tlvs = writer.bytes.subarray(112);
  assert.deepEqual([...tlvs.subarray(0, 8)], [0, 4, 0, 4, 46 << 2, 0, 0, 0]); // Class of Service
  assert.deepEqual([...tlvs.subarray(8, 16)], [0, 3, 0, 4, 0, 0, 0, 0]); // Timestamp Information
  assert.deepEqual([...tlvs.subarray(16, 22)], [0, 200, 0, 2, 9, 8]);
  assert.deepEqual([...tlvs.subarray(22, 29)], [0, 1, 0, 3, 0, 0, 0]); // Extra Padding
  assert.deepEqual([...tlvs.subarray(29, 33)], [0, 8, 0, 16]); // HMAC, 16-byte value
  assert.equal(tlvs.length, 33 + 16);
  assert.throws(
    () => new StampTestPacketWriter({ tlvs: { hmac: true } }),
    /HMAC TLV needs a keyring/,
  );
  assert.throws(
    () => new StampTestPacketWriter({ tlvs: { classOfService: { dscp1: 64 } } }),
    /dscp1/,
  );
  assert.throws(() => new StampTestPacketWriter({ ssid: 65536 }), /ssid/);
});
