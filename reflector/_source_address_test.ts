import assert from "node:assert/strict";
import { formatIpv6, parseIpv4, parseIpv6 } from "@llama/core";
import { IPV4, IPV6, NOT_AN_ADDRESS, SourceAddressReader } from "./_source_address.ts";

function read(text: string): [number, number[]] {
  const reader = new SourceAddressReader();
  const family = reader.read(text);
  return [family, Array.from(reader.words.subarray(0, family === IPV4 ? 1 : 4))];
}

Deno.test("the source reader reads IPv4, IPv6 and IPv4-mapped IPv6 as the kernel reports them", () => {
  assert.deepEqual(read("192.0.2.1"), [IPV4, [0xc0000201]]);
  assert.deepEqual(read("0.0.0.0"), [IPV4, [0]]);
  assert.deepEqual(read("255.255.255.255"), [IPV4, [0xffffffff]]);
  assert.deepEqual(read("::ffff:10.1.2.3"), [IPV4, [0x0a010203]]);
  assert.deepEqual(read("::ffff:a01:203"), [IPV4, [0x0a010203]]);
  assert.deepEqual(read("2001:db8::1"), [IPV6, [0x20010db8, 0, 0, 1]]);
  assert.deepEqual(read("::1"), [IPV6, [0, 0, 0, 1]]);
  assert.deepEqual(read("::"), [IPV6, [0, 0, 0, 0]]);
  assert.deepEqual(read("fe80::1%eth0"), [IPV6, [0xfe800000, 0, 0, 1]]);
  assert.deepEqual(read("2001:DB8:0:1:2:3:4:5"), [IPV6, [0x20010db8, 1, 0x20003, 0x40005]]);
  assert.deepEqual(read("1::"), [IPV6, [0x10000, 0, 0, 0]]);
  assert.deepEqual(read("64:ff9b::192.0.2.1"), [IPV6, [0x64ff9b, 0, 0, 0xc0000201]]);
});

Deno.test("the source reader refuses what is not an address", () => {
  for (
    const text of [
      "",
      "1.2.3",
      "1.2.3.4.5",
      "256.1.1.1",
      "01.2.3.4",
      "1.2.3.4 ",
      "example.com",
      ":1",
      "1:",
      "1::2::3",
      ":::",
      "1:2:3:4:5:6:7:8:9",
      "1:2:3:4:5:6:7",
      "1:2:3:4:5:6:7::8",
      "12345::",
      "::g",
      "::1.2.3",
      "1:2:3:4:5:6:7:1.2.3.4",
    ]
  ) {
    assert.equal(read(text)[0], NOT_AN_ADDRESS, JSON.stringify(text));
  }
});

/** The same answer as core's (allocating) parsers, which are tested against RFC 4291 forms. */
function expected(text: string): [number, number[]] {
  const ipv4 = parseIpv4(text);
  if (ipv4 !== undefined) return [IPV4, [ipv4]];
  const groups = parseIpv6(text);
  if (groups === undefined) return [NOT_AN_ADDRESS, []];
  if (groups.slice(0, 5).every((group) => group === 0) && groups[5] === 0xffff) {
    return [IPV4, [groups[6] * 65536 + groups[7]]];
  }
  return [IPV6, [0, 1, 2, 3].map((word) => groups[word * 2] * 65536 + groups[word * 2 + 1])];
}

Deno.test("the source reader agrees with parseIpv4 and parseIpv6 on 20,000 random and mutated texts", () => {
  let state = 0x2545f491;
  const random = () => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return (state >>> 0) / 4294967296;
  };
  const reader = new SourceAddressReader();
  const alphabet = "0123456789abcdefABCDEF:.%x";
  let addresses = 0;
  for (let round = 0; round < 20_000; round++) {
    const groups = Array.from(
      { length: 8 },
      () => random() < 0.4 ? 0 : Math.floor(random() * 65536),
    );
    let text = random() < 0.3
      ? Array.from({ length: 4 }, () => Math.floor(random() * 256)).join(".")
      : formatIpv6(groups);
    // Mutate a third of them: a character changed, inserted or removed.
    if (random() < 0.33) {
      const at = Math.floor(random() * (text.length + 1));
      const character = alphabet[Math.floor(random() * alphabet.length)];
      const kind = random();
      text = kind < 0.33
        ? text.slice(0, at) + character + text.slice(at + 1)
        : kind < 0.66
        ? text.slice(0, at) + character + text.slice(at)
        : text.slice(0, at) + text.slice(at + 1);
    }
    if (text.includes("%")) continue; // core's parser refuses zones; ours ignores them
    const family = reader.read(text);
    const got: [number, number[]] = [
      family,
      family === NOT_AN_ADDRESS
        ? []
        : Array.from(reader.words.subarray(0, family === IPV4 ? 1 : 4)),
    ];
    assert.deepEqual(got, expected(text), JSON.stringify(text));
    if (family !== NOT_AN_ADDRESS) addresses++;
  }
  assert.ok(addresses > 10_000, `only ${addresses} texts were addresses: the mix is off`);
});
