import assert from "node:assert/strict";
import {
  parseKeyFile,
  ProbeAuthCheck,
  ProbeAuthenticator,
  ProbeReader,
  ProbeWriter,
} from "./mod.ts";

const OLD = "old 000102030405060708090a0b0c0d0e0f";
const NEW = "new-key f0e1d2c3b4a5968778695a4b3c2d1e0f00112233";

/** A signed probe of `auth`, and a reader that has read it. */
function signedProbe(auth: ProbeAuthenticator): { bytes: Uint8Array; reader: ProbeReader } {
  const writer = new ProbeWriter({ tos: 0xb8, authLength: auth.authLength });
  writer.signature.set([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
  writer.setSent(0x18d5c2b6, 0xbdcdb5de);
  writer.setSequence(42);
  auth.writeKeyId(writer.bytes, writer.authOffset);
  auth.sign(writer.bytes, writer.bytes.length, writer.authOffset, writer.bytes.length);
  const reader = new ProbeReader();
  assert.ok(reader.read(writer.bytes));
  return { bytes: writer.bytes, reader };
}

function check(auth: ProbeAuthenticator, bytes: Uint8Array, reader = new ProbeReader()): number {
  assert.ok(reader.read(bytes));
  return auth.check(bytes, bytes.length, reader.authStart, reader.authEnd);
}

Deno.test("a probe signed with the first key verifies with that key's index", () => {
  const auth = new ProbeAuthenticator(parseKeyFile(`${OLD}\n${NEW}\n`).keys);
  const { bytes, reader } = signedProbe(auth);
  assert.equal(reader.authEnd - reader.authStart, 1 + "old".length + 16);
  assert.equal(check(auth, bytes), 0);
});

Deno.test("changing any byte of a signed probe but the key id makes its MAC fail", () => {
  const auth = new ProbeAuthenticator(parseKeyFile(OLD).keys);
  const { bytes, reader } = signedProbe(auth);
  const idStart = reader.authStart + 1;
  const idEnd = reader.authEnd - 16;
  for (let index = 0; index < bytes.length; index++) {
    if (index >= idStart && index < idEnd) continue; // another id is an unknown key
    if (index === reader.authStart) continue; // another algorithm is unsigned
    const altered = bytes.slice();
    altered[index] ^= 0x01;
    const reading = new ProbeReader();
    // Some single-bit changes break the protobuf framing: not a probe at all, never believed.
    if (!reading.read(altered)) continue;
    assert.equal(
      auth.check(altered, altered.length, reading.authStart, reading.authEnd),
      ProbeAuthCheck.badMac,
      `byte ${index} changed yet the MAC verified`,
    );
  }
});

Deno.test("a keyring verifies probes signed by any of its keys, so keys rotate without a gap", () => {
  const signsNew = new ProbeAuthenticator(parseKeyFile(NEW).keys);
  const signsOld = new ProbeAuthenticator(parseKeyFile(OLD).keys);
  const both = new ProbeAuthenticator(parseKeyFile(`${OLD}\n${NEW}`).keys);
  assert.equal(check(both, signedProbe(signsNew).bytes), 1);
  assert.equal(check(both, signedProbe(signsOld).bytes), 0);
  assert.equal(check(signsOld, signedProbe(signsNew).bytes), ProbeAuthCheck.unknownKey);
});

Deno.test("a key with a known id but another secret is a bad MAC, not a pass", () => {
  const real = new ProbeAuthenticator(parseKeyFile(OLD).keys);
  const impostor = new ProbeAuthenticator(
    parseKeyFile("old 0f0e0d0c0b0a09080706050403020100").keys,
  );
  assert.equal(check(real, signedProbe(impostor).bytes), ProbeAuthCheck.badMac);
});

Deno.test("a probe without an auth field, or with a short or foreign one, is unsigned", () => {
  const auth = new ProbeAuthenticator(parseKeyFile(OLD).keys);
  assert.equal(check(auth, new ProbeWriter().bytes), ProbeAuthCheck.unsigned);
  assert.equal(check(auth, new ProbeWriter({ authLength: 17 }).bytes), ProbeAuthCheck.unsigned);
  const { bytes, reader } = signedProbe(auth);
  bytes[reader.authStart] = 2; // an algorithm this version does not know
  assert.equal(check(auth, bytes), ProbeAuthCheck.unsigned);
});

Deno.test("re-signing with the verifying key covers what a reflector wrote", () => {
  const auth = new ProbeAuthenticator(parseKeyFile(`${NEW}\n${OLD}`).keys);
  const { bytes, reader } = signedProbe(new ProbeAuthenticator(parseKeyFile(OLD).keys));
  const keyIndex = check(auth, bytes);
  assert.equal(keyIndex, 1);
  bytes[reader.reflectionOffset + 24] = 1; // the reflector fills the block…
  assert.equal(check(auth, bytes), ProbeAuthCheck.badMac);
  auth.sign(bytes, bytes.length, reader.authStart, reader.authEnd, keyIndex); // …and re-signs
  assert.equal(check(auth, bytes), 1);
});
