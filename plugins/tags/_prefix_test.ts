import assert from "node:assert/strict";
import { addressBits, parsePrefix, PrefixTable } from "./_prefix.ts";

const MAPPED = 0xffff00000000n;

Deno.test("addressBits maps IPv4 into IPv6 and reads every IPv6 spelling", () => {
  assert.equal(addressBits("10.1.2.3"), MAPPED | 0x0a010203n);
  assert.equal(addressBits("::ffff:10.1.2.3"), MAPPED | 0x0a010203n);
  assert.equal(addressBits("::ffff:a01:203"), MAPPED | 0x0a010203n);
  assert.equal(addressBits("::"), 0n);
  assert.equal(addressBits("::1"), 1n);
  assert.equal(addressBits("2001:db8::1"), 0x20010db8000000000000000000000001n);
  assert.equal(addressBits("2001:db8:0:0:0:0:0:1"), 0x20010db8000000000000000000000001n);
  assert.equal(addressBits("fe80::"), 0xfe800000000000000000000000000000n);
  assert.equal(addressBits("64:ff9b::192.0.2.33"), 0x0064ff9b0000000000000000c0000221n);
  for (const text of ["", "10.1.2", "10.1.2.256", "host.example", "1::2::3", "10.0.0.0/8"]) {
    assert.equal(addressBits(text), undefined, text);
  }
});

Deno.test("parsePrefix reads addresses as full-length prefixes", () => {
  assert.deepEqual(parsePrefix("10.1.2.3"), { bits: MAPPED | 0x0a010203n, length: 128 });
  assert.deepEqual(parsePrefix("10.1.2.3/32"), { bits: MAPPED | 0x0a010203n, length: 128 });
  assert.deepEqual(parsePrefix("2001:db8::1/128"), {
    bits: 0x20010db8000000000000000000000001n,
    length: 128,
  });
  assert.deepEqual(parsePrefix(" 10.1.2.3 "), { bits: MAPPED | 0x0a010203n, length: 128 });
});

Deno.test("parsePrefix counts an IPv4 prefix length within the mapped range and clears host bits", () => {
  assert.deepEqual(parsePrefix("10.1.0.0/16"), { bits: MAPPED | 0x0a010000n, length: 112 });
  assert.deepEqual(parsePrefix("10.1.255.255/16"), { bits: MAPPED | 0x0a010000n, length: 112 });
  assert.deepEqual(parsePrefix("2001:db8::ffff/32"), {
    bits: 0x20010db8000000000000000000000000n,
    length: 32,
  });
});

Deno.test("parsePrefix reads /0: all of IPv4 for an IPv4 address, everything for ::", () => {
  assert.deepEqual(parsePrefix("0.0.0.0/0"), { bits: MAPPED, length: 96 });
  assert.deepEqual(parsePrefix("10.9.8.7/0"), { bits: MAPPED, length: 96 });
  assert.deepEqual(parsePrefix("::/0"), { bits: 0n, length: 0 });
  assert.deepEqual(parsePrefix("::"), { bits: 0n, length: 128 });
  assert.deepEqual(parsePrefix("::/128"), { bits: 0n, length: 128 });
});

Deno.test("parsePrefix refuses what is not an address or prefix", () => {
  for (
    const text of [
      "",
      "/8",
      "10.0.0.0/",
      "10.0.0.0/33",
      "::/129",
      "10.0.0.0/-1",
      "10.0.0.0/8.5",
      "10.0.0.0/ 8",
      "10.0.0.0/8/8",
      "10.0.0.0/x",
      "10.0.0",
      "300.0.0.0/8",
      "example.com",
      "gggg::/16",
    ]
  ) {
    assert.equal(parsePrefix(text), undefined, JSON.stringify(text));
  }
});

Deno.test("PrefixTable finds the longest prefix holding an address", () => {
  const table = new PrefixTable<string>();
  const add = (text: string) => table.set(parsePrefix(text)!, text);
  for (
    const text of ["0.0.0.0/0", "10.0.0.0/8", "10.1.0.0/16", "10.1.2.3", "::/0", "2001:db8::/32"]
  ) add(text);
  assert.equal(table.lookup("10.1.2.3"), "10.1.2.3");
  assert.equal(table.lookup("10.1.2.4"), "10.1.0.0/16");
  assert.equal(table.lookup("10.2.0.1"), "10.0.0.0/8");
  assert.equal(table.lookup("192.0.2.1"), "0.0.0.0/0");
  assert.equal(table.lookup("::ffff:10.1.2.3"), "10.1.2.3");
  assert.equal(table.lookup("::ffff:10.1.9.9"), "10.1.0.0/16");
  assert.equal(table.lookup("2001:db8:1::1"), "2001:db8::/32");
  assert.equal(table.lookup("2001:db9::1"), "::/0");
  assert.equal(table.lookup("not an address"), undefined);
  // Adding a prefix later, of a length already present or not, is seen at once.
  add("10.1.2.0/24");
  assert.equal(table.lookup("10.1.2.4"), "10.1.2.0/24");
  table.set(parsePrefix("10.1.0.0/16")!, "replaced");
  assert.equal(table.lookup("10.1.3.1"), "replaced");
});

Deno.test("PrefixTable without a default finds nothing outside its prefixes", () => {
  const table = new PrefixTable<string>();
  table.set(parsePrefix("10.0.0.0/8")!, "ten");
  assert.equal(table.lookup("11.0.0.1"), undefined);
  assert.equal(table.lookup("::1"), undefined);
  assert.equal(new PrefixTable<string>().lookup("10.0.0.1"), undefined);
});
