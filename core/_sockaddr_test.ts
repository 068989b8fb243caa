import assert from "node:assert/strict";
import { nativeEngineStatus, openNativeSocket } from "./native_socket.ts";
import { compactName, decodeAddress, encodeAddress, writeCompactName } from "./_sockaddr.ts";
import { AF_INET, AF_INET6, NAME_BYTES } from "./_linux.ts";
import { libc } from "./_libc.ts";

const status = nativeEngineStatus();
const ignore = !status.available && Deno.env.get("CI") !== "true";

/**
 * struct sockaddr_in as Linux lays it out: sa_family_t (host order, little-endian here),
 * in_port_t and in_addr in network order, 8 bytes of zero; padded to NAME_BYTES.
 */
function sockaddrIn(address: number[], port: number): Uint8Array {
  const bytes = new Uint8Array(NAME_BYTES);
  bytes.set([AF_INET & 0xff, AF_INET >> 8, port >> 8, port & 0xff, ...address]);
  return bytes;
}

/**
 * struct sockaddr_in6: sa_family_t, in_port_t (network order), sin6_flowinfo (4), in6_addr (16,
 * network order), sin6_scope_id (4).
 */
function sockaddrIn6(address: number[], port: number): Uint8Array {
  const bytes = new Uint8Array(NAME_BYTES);
  bytes.set([AF_INET6 & 0xff, AF_INET6 >> 8, port >> 8, port & 0xff, 0, 0, 0, 0, ...address]);
  return bytes;
}

const view = (bytes: Uint8Array) => new DataView(bytes.buffer, bytes.byteOffset, bytes.length);

Deno.test("an IPv4 address encodes as Linux's sockaddr_in and decodes back", () => {
  const bytes = sockaddrIn([192, 0, 2, 7], 8100);
  assert.deepEqual(encodeAddress({ hostname: "192.0.2.7", port: 8100 }, AF_INET), bytes);
  assert.deepEqual(decodeAddress(view(bytes), 0), { hostname: "192.0.2.7", port: 8100 });
  // A mapped address given to an IPv4 socket is its IPv4 address.
  assert.deepEqual(encodeAddress({ hostname: "::ffff:192.0.2.7", port: 8100 }, AF_INET), bytes);
});

Deno.test("an IPv6 address encodes as Linux's sockaddr_in6 and decodes back as RFC 5952 text", () => {
  const address = [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01];
  const bytes = sockaddrIn6(address, 65535);
  assert.deepEqual(encodeAddress({ hostname: "2001:db8::1", port: 65535 }, AF_INET6), bytes);
  assert.deepEqual(
    encodeAddress({ hostname: "2001:0db8:0:0:0:0:0:1", port: 65535 }, AF_INET6),
    bytes,
  );
  assert.deepEqual(decodeAddress(view(bytes), 0), { hostname: "2001:db8::1", port: 65535 });
  const loopback = sockaddrIn6([...new Array(15).fill(0), 1], 1);
  assert.deepEqual(decodeAddress(view(loopback), 0), { hostname: "::1", port: 1 });
  // The longest run of zeros is the one shortened.
  const runs = sockaddrIn6([0, 1, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 3], 9);
  assert.deepEqual(decodeAddress(view(runs), 0).hostname, "1:0:2::3");
});

Deno.test("an IPv4 peer of an IPv6 socket is mapped into ::ffff:0:0/96", () => {
  const mapped = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 198, 51, 100, 9];
  const bytes = sockaddrIn6(mapped, 53);
  assert.deepEqual(encodeAddress({ hostname: "198.51.100.9", port: 53 }, AF_INET6), bytes);
  assert.deepEqual(encodeAddress({ hostname: "::ffff:198.51.100.9", port: 53 }, AF_INET6), bytes);
  assert.deepEqual(decodeAddress(view(bytes), 0), { hostname: "::ffff:198.51.100.9", port: 53 });
});

Deno.test("the compact form of an IPv4 sockaddr is one number, written back byte for byte", () => {
  for (
    const [family, bytes] of [
      [AF_INET, sockaddrIn([203, 0, 113, 200], 4242)],
      [AF_INET6, sockaddrIn6([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 203, 0, 113, 200], 4242)],
    ] as const
  ) {
    const compact = compactName(bytes);
    assert.equal(compact, (203 << 24) | (113 << 8) | 200, "a signed 32-bit address");
    const names = new Uint8Array(NAME_BYTES * 2).fill(0xee);
    writeCompactName(names, view(names), NAME_BYTES, family, compact, 4242);
    assert.deepEqual(names.subarray(NAME_BYTES), bytes);
    assert.ok(names.subarray(0, NAME_BYTES).every((byte) => byte === 0xee), "nothing else written");
  }
  const ipv6 = sockaddrIn6([0x20, 0x01, 0x0d, 0xb8, ...new Array(11).fill(0), 5], 1);
  assert.equal(compactName(ipv6), ipv6, "an IPv6 address keeps its bytes");
});

Deno.test("text that is not an address of the family is refused with operation address", () => {
  for (
    const [hostname, family] of [
      ["256.0.0.1", AF_INET],
      ["1.2.3", AF_INET],
      ["::1", AF_INET],
      ["1::2::3", AF_INET6],
      ["1:2:3:4:5:6:7:8:9", AF_INET6],
      ["example.com", AF_INET6],
    ] as const
  ) {
    assert.throws(
      () => encodeAddress({ hostname, port: 1 }, family),
      (error: { operation?: string }) => error.operation === "address",
      hostname,
    );
  }
});

Deno.test(
  "the kernel's own sockaddr of a bound socket decodes to its address",
  { ignore },
  async () => {
    for (const hostname of ["127.0.0.1", "::1"]) {
      await using socket = await openNativeSocket({ hostname, port: 0 });
      const bytes = new Uint8Array(NAME_BYTES);
      const length = new Uint32Array([NAME_BYTES]);
      assert.equal(libc().getsockname(socket.fd, bytes, new Uint8Array(length.buffer)), 0);
      const family = hostname.includes(":") ? AF_INET6 : AF_INET;
      assert.deepEqual(decodeAddress(view(bytes), 0), socket.localAddress);
      assert.deepEqual(
        encodeAddress(socket.localAddress, family).subarray(0, length[0]),
        bytes.subarray(0, length[0]),
      );
    }
  },
);
