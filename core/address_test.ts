import assert from "node:assert/strict";
import {
  canonicalAddress,
  compareAddresses,
  formatIpv6,
  parseIpv4,
  parseIpv6,
  whyNotUnicast,
} from "./address.ts";

const groups = (text: string) => parseIpv6(text)?.map((group) => group.toString(16)).join(":");

Deno.test("parseIpv6 reads the text forms of RFC 4291 section 2.2", () => {
  // 1. The preferred form, leading zeros optional.
  assert.equal(
    groups("ABCD:EF01:2345:6789:ABCD:EF01:2345:6789"),
    "abcd:ef01:2345:6789:abcd:ef01:2345:6789",
  );
  assert.equal(groups("2001:DB8:0:0:8:800:200C:417A"), "2001:db8:0:0:8:800:200c:417a");
  assert.equal(groups("2001:0db8:0000:0000:0008:0800:200c:417a"), "2001:db8:0:0:8:800:200c:417a");
  // 2. "::" for one or more groups of zeros, at the start, middle or end.
  assert.equal(groups("2001:DB8::8:800:200C:417A"), "2001:db8:0:0:8:800:200c:417a");
  assert.equal(groups("FF01::101"), "ff01:0:0:0:0:0:0:101");
  assert.equal(groups("::1"), "0:0:0:0:0:0:0:1");
  assert.equal(groups("::"), "0:0:0:0:0:0:0:0");
  assert.equal(groups("2001:db8::"), "2001:db8:0:0:0:0:0:0");
  assert.equal(groups("1:2:3:4:5:6:7::"), "1:2:3:4:5:6:7:0");
  // 3. x:x:x:x:x:x:d.d.d.d, compressed or not.
  assert.equal(groups("0:0:0:0:0:0:13.1.68.3"), "0:0:0:0:0:0:d01:4403");
  assert.equal(groups("0:0:0:0:0:FFFF:129.144.52.38"), "0:0:0:0:0:ffff:8190:3426");
  assert.equal(groups("::13.1.68.3"), "0:0:0:0:0:0:d01:4403");
  assert.equal(groups("::FFFF:129.144.52.38"), "0:0:0:0:0:ffff:8190:3426");
});

Deno.test("parseIpv6 refuses text that is not an IPv6 address", () => {
  for (
    const text of [
      "",
      ":",
      ":::",
      "1::2::3",
      "1:2:3:4:5:6:7",
      "1:2:3:4:5:6:7:8:9",
      "1:2:3:4:5:6:7:8::",
      "::1:2:3:4:5:6:7:8",
      "12345::",
      "g::",
      ":1:2:3:4:5:6:7",
      "1:2:3:4:5:6:7:",
      "fe80::1%eth0",
      "::ffff:256.0.0.1",
      "::1.2.3",
      "1:2:3:4:5:6:7:1.2.3.4",
      "192.0.2.1",
      "db-1.example",
    ]
  ) {
    assert.equal(parseIpv6(text), undefined, text);
  }
});

Deno.test("parseIpv4 reads dotted decimal and refuses leading zeros and out-of-range parts", () => {
  assert.equal(parseIpv4("0.0.0.0"), 0);
  assert.equal(parseIpv4("255.255.255.255"), 0xffffffff);
  assert.equal(parseIpv4("10.0.0.10"), 0x0a00000a);
  for (const text of ["010.0.0.1", "256.0.0.1", "1.2.3", "1.2.3.4.5", "1.2.3.-4", "a.b.c.d", ""]) {
    assert.equal(parseIpv4(text), undefined, text);
  }
});

Deno.test("formatIpv6 writes the canonical form of RFC 5952 section 4", () => {
  const canonical = (text: string) => formatIpv6(parseIpv6(text)!);
  // 4.1: leading zeros dropped; 4.3: lowercase.
  assert.equal(canonical("2001:0db8:0000:0000:0000:0000:0000:0001"), "2001:db8::1");
  assert.equal(canonical("2001:DB8:AC10:FE01::"), "2001:db8:ac10:fe01::");
  // 4.2.1: "::" shortens as much as possible.
  assert.equal(canonical("2001:db8:0:0:0:0:2:1"), "2001:db8::2:1");
  // 4.2.2: a single zero group is not shortened.
  assert.equal(canonical("2001:db8:0:1:1:1:1:1"), "2001:db8:0:1:1:1:1:1");
  // 4.2.3: the longest run is shortened; of equal runs, the first.
  assert.equal(canonical("2001:0:0:1:0:0:0:1"), "2001:0:0:1::1");
  assert.equal(canonical("2001:db8:0:0:1:0:0:1"), "2001:db8::1:0:0:1");
  // Runs at either end, and all zeros.
  assert.equal(canonical("0:0:0:0:0:0:0:1"), "::1");
  assert.equal(canonical("1:0:0:0:0:0:0:0"), "1::");
  assert.equal(canonical("0:0:0:0:0:0:0:0"), "::");
  assert.equal(canonical("0:1:2:3:4:5:6:7"), "0:1:2:3:4:5:6:7");
});

Deno.test("formatIpv6 writes an IPv4-mapped address as ::ffff:a.b.c.d (RFC 5952 section 5)", () => {
  assert.equal(formatIpv6([0, 0, 0, 0, 0, 0xffff, 0xc000, 0x0201]), "::ffff:192.0.2.1");
  assert.equal(formatIpv6(parseIpv6("::FFFF:0a00:0001")!), "::ffff:10.0.0.1");
  assert.equal(formatIpv6(parseIpv6("0:0:0:0:0:ffff:0:0")!), "::ffff:0.0.0.0");
  // Only the mapped prefix is written with a dotted tail.
  assert.equal(formatIpv6(parseIpv6("::13.1.68.3")!), "::d01:4403");
  assert.equal(formatIpv6(parseIpv6("64:ff9b::192.0.2.1")!), "64:ff9b::c000:201");
});

Deno.test("formatIpv6 refuses anything but eight 16-bit groups, naming them", () => {
  assert.throws(
    () => formatIpv6([1, 2, 3]),
    /expected eight groups from 0 to 0xffff, got \[1, 2, 3\]/,
  );
  assert.throws(() => formatIpv6([0, 0, 0, 0, 0, 0, 0, 0x10000]), RangeError);
  assert.throws(() => formatIpv6([0, 0, 0, 0, 0, 0, 0, 1.5]), RangeError);
});

Deno.test("canonicalAddress keeps IPv4, rewrites IPv6 in RFC 5952 form, refuses other text", () => {
  assert.equal(canonicalAddress("192.0.2.1"), "192.0.2.1");
  assert.equal(canonicalAddress("2001:DB8:0:0:1:0:0:1"), "2001:db8::1:0:0:1");
  assert.equal(canonicalAddress("::ffff:c000:201"), "::ffff:192.0.2.1");
  assert.equal(canonicalAddress("db-1.example"), undefined);
  assert.equal(canonicalAddress("010.0.0.1"), undefined);
});

Deno.test("compareAddresses orders IPv4 before IPv6, numerically within each family", () => {
  const sorted = [
    "2001:db8::2:1",
    "::1",
    "10.0.0.10",
    "2001:db8:0:0:1::",
    "9.255.255.255",
    "2001:db8::10",
    "10.0.0.9",
    "2001:db8::9",
    "fe80::1",
  ].sort(compareAddresses);
  assert.deepEqual(sorted, [
    "9.255.255.255",
    "10.0.0.9",
    "10.0.0.10",
    "::1",
    "2001:db8::9",
    "2001:db8::10",
    "2001:db8::2:1",
    "2001:db8:0:0:1::",
    "fe80::1",
  ]);
  // The case the summarizer's padded-string key got wrong: 2001:db8:0:0:0:0:2:1 < 2001:db8:0:0:1:0:0:0.
  assert.ok(compareAddresses("2001:db8::2:1", "2001:db8:0:0:1::") < 0);
  assert.ok(compareAddresses("2001:db8:0:0:1::", "2001:db8::2:1") > 0);
});

Deno.test("compareAddresses sorts IPv4-mapped addresses with IPv4 and non-addresses last", () => {
  const sorted = [
    "db-1.example",
    "::ffff:10.0.0.2",
    "::2",
    "10.0.0.2",
    "10.0.0.3",
    "::ffff:10.0.0.1",
  ]
    .sort(compareAddresses);
  assert.deepEqual(sorted, [
    "::ffff:10.0.0.1",
    "10.0.0.2",
    "::ffff:10.0.0.2",
    "10.0.0.3",
    "::2",
    "db-1.example",
  ]);
  assert.equal(compareAddresses("2001:db8::1", "2001:db8::1"), 0);
  // Two spellings of one address still have an order, so that sorting is stable across runs.
  assert.ok(compareAddresses("2001:DB8::1", "2001:db8::1") < 0);
});

Deno.test("whyNotUnicast names the unspecified, broadcast and multicast addresses and passes unicast ones", () => {
  const cases: [string, string | undefined][] = [
    ["0.0.0.0", "the unspecified address (0.0.0.0)"],
    ["255.255.255.255", "the broadcast address (255.255.255.255)"],
    ["224.0.0.0", "a multicast address (224.0.0.0/4)"],
    ["239.255.255.255", "a multicast address (224.0.0.0/4)"],
    ["::", "the unspecified address (::)"],
    ["0:0:0:0:0:0:0:0", "the unspecified address (::)"],
    ["ff02::1", "a multicast address (ff00::/8)"],
    ["FF0E::101", "a multicast address (ff00::/8)"],
    ["::ffff:0.0.0.0", "the unspecified address (0.0.0.0)"],
    ["::ffff:224.0.0.251", "a multicast address (224.0.0.0/4)"],
    ["::ffff:ffff:ffff", "the broadcast address (255.255.255.255)"],
    ["223.255.255.255", undefined],
    ["240.0.0.1", undefined],
    ["0.0.0.1", undefined],
    ["127.0.0.1", undefined],
    ["::1", undefined],
    ["fe80::1", undefined],
    ["feff::1", undefined],
    ["2001:db8::1", undefined],
    ["not-an-address", undefined],
  ];
  for (const [address, expected] of cases) assert.equal(whyNotUnicast(address), expected, address);
});
