import assert from "node:assert/strict";
import { DatagramBatch, PeerAddressCache } from "./socket.ts";
import { nativeEngineStatus, openNativeSocket, PeerAddress } from "./native_socket.ts";
import { openDenoSocket } from "./deno_socket.ts";
import type { SocketError } from "./errors.ts";

const status = nativeEngineStatus();
const ignore = !status.available && Deno.env.get("CI") !== "true";
if (!status.available) {
  console.error(`native engine tests: ${status.available ? "" : status.reason}`);
}

function fill(
  batch: DatagramBatch,
  messages: { text: string; to: { hostname: string; port: number }; tos?: number }[],
) {
  messages.forEach((message, index) => {
    const bytes = new TextEncoder().encode(message.text);
    batch.slots[index].set(bytes);
    batch.lengths[index] = bytes.length;
    batch.addresses[index] = message.to;
    batch.tos[index] = message.tos ?? -1;
  });
  return messages.length;
}

async function receiveAll(
  socket: Awaited<ReturnType<typeof openNativeSocket>>,
  batch: DatagramBatch,
  count: number,
) {
  const seen: { text: string; from: string; tos: number; receivedAt: number; source: string }[] =
    [];
  while (seen.length < count) {
    const received = await socket.receive(batch);
    for (let index = 0; index < received; index++) {
      seen.push({
        text: new TextDecoder().decode(batch.slots[index].subarray(0, batch.lengths[index])),
        from: `${batch.addresses[index].hostname}:${batch.addresses[index].port}`,
        tos: batch.tos[index],
        receivedAt: batch.receivedAt[index],
        source: batch.timestampSource,
      });
    }
  }
  return seen;
}

Deno.test(
  "native socket moves a batch with one call, with kernel timestamps and the TOS seen on the wire",
  { ignore },
  async () => {
    await using sender = await openNativeSocket({ hostname: "127.0.0.1", port: 0, tos: 0xb8 });
    await using receiver = await openNativeSocket({ hostname: "127.0.0.1", port: 0 });
    const out = new DatagramBatch(8, 256);
    const count = fill(out, [
      { text: "one", to: receiver.localAddress },
      { text: "two", to: receiver.localAddress, tos: 0x28 },
      { text: "three", to: receiver.localAddress },
    ]);
    assert.equal(await sender.send(out, count), 3);
    const seen = await receiveAll(receiver, new DatagramBatch(8, 256), 3);
    assert.deepEqual(seen.map((item) => [item.text, item.tos]), [["one", 0xb8], ["two", 0x28], [
      "three",
      0xb8,
    ]]);
    assert.ok(seen.every((item) => item.from === `127.0.0.1:${sender.localAddress.port}`));
    assert.ok(seen.every((item) => item.source === "kernel"));
    for (let index = 0; index < 3; index++) {
      const oneWay = seen[index].receivedAt - out.sentAt[index];
      assert.ok(oneWay > 0 && oneWay < 100, `kernel receive ${oneWay} ms after the send`);
    }
  },
);

Deno.test(
  "native socket over IPv6 carries the traffic class, and a dual-stack socket answers IPv4",
  { ignore },
  async () => {
    await using sender = await openNativeSocket({ hostname: "::1", port: 0, tos: 0x20 });
    await using receiver = await openNativeSocket({ hostname: "::", port: 0 });
    const out = new DatagramBatch(2, 64);
    fill(out, [{ text: "v6", to: { hostname: "::1", port: receiver.localAddress.port } }]);
    await sender.send(out, 1);
    const inbox = new DatagramBatch(4, 64);
    const [v6] = await receiveAll(receiver, inbox, 1);
    assert.deepEqual([v6.text, v6.from, v6.tos], ["v6", `::1:${sender.localAddress.port}`, 0x20]);

    await using v4 = await openNativeSocket({ hostname: "127.0.0.1", port: 0 });
    fill(out, [{ text: "v4", to: { hostname: "127.0.0.1", port: receiver.localAddress.port } }]);
    await v4.send(out, 1);
    const [mapped] = await receiveAll(receiver, inbox, 1);
    assert.equal(mapped.from, `::ffff:127.0.0.1:${v4.localAddress.port}`);
    // Answer through the dual-stack socket to the mapped address.
    inbox.lengths[0] = 2;
    await receiver.send(inbox, 1);
    const [answer] = await receiveAll(v4, new DatagramBatch(1, 64), 1);
    assert.equal(answer.text, "v4");
  },
);

Deno.test("native socket sizes its kernel buffers", { ignore }, async () => {
  await using socket = await openNativeSocket({
    hostname: "127.0.0.1",
    port: 0,
    receiveBufferBytes: 4 << 20,
  });
  const info =
    (socket as unknown as { info: { receiveBufferBytes: number; sendBufferBytes: number } }).info;
  // The kernel reports twice what was asked. Without CAP_NET_ADMIN, net.core.rmem_max caps it.
  if (Deno.uid() === 0) assert.equal(info.receiveBufferBytes, 8 << 20);
  assert.ok(info.receiveBufferBytes > 0 && info.sendBufferBytes > 0);
});

Deno.test(
  "native socket: closing wakes a pending receive, and libc errors name the call and errno",
  { ignore },
  async () => {
    const socket = await openNativeSocket({ hostname: "127.0.0.1", port: 0 });
    const pending = socket.receive(new DatagramBatch(4, 64));
    setTimeout(() => socket.close(), 50);
    await assert.rejects(pending, (error: SocketError) => error.operation === "closed");
    await using holder = await openNativeSocket({ hostname: "127.0.0.1", port: 0 });
    await assert.rejects(
      () => openNativeSocket({ hostname: "127.0.0.1", port: holder.localAddress.port }),
      /bind 127\.0\.0\.1:\d+ failed: EADDRINUSE \(98\)$/,
    );
  },
);

Deno.test("native and Deno sockets talk to each other", { ignore }, async () => {
  await using native = await openNativeSocket({ hostname: "127.0.0.1", port: 0 });
  await using plain = await openDenoSocket({ hostname: "127.0.0.1", port: 0 });
  const batch = new DatagramBatch(1, 64);
  fill(batch, [{ text: "ping", to: native.localAddress }]);
  await plain.send(batch, 1);
  const [ping] = await receiveAll(native, new DatagramBatch(4, 64), 1);
  assert.equal(ping.text, "ping");
  fill(batch, [{ text: "pong", to: plain.localAddress }]);
  await native.send(batch, 1);
  await plain.receive(batch);
  assert.equal(new TextDecoder().decode(batch.slots[0].subarray(0, batch.lengths[0])), "pong");
});

Deno.test(
  "native socket receiving on a blocked thread: a timeout, a batch with kernel times, an adopted descriptor, a wake by shutdown",
  { ignore },
  async () => {
    const { adoptNativeSocket } = await import("./native_socket.ts");
    await using owner = await openNativeSocket({ hostname: "127.0.0.1", port: 0 });
    await using sender = await openNativeSocket({ hostname: "127.0.0.1", port: 0 });
    const batch = new DatagramBatch(8, 64);
    const started = performance.now();
    assert.equal(owner.receiveBlocking(batch, 30), 0, "nothing came: the time ran out");
    assert.ok(performance.now() - started >= 25, "it waited for the timeout");

    const out = new DatagramBatch(8, 64);
    const to = owner.localAddress;
    const count = fill(out, [{ text: "a", to }, { text: "bb", to }, { text: "ccc", to }]);
    assert.equal(sender.sendNow(out, count), 3);
    // The adopted wrapper sees the owner's socket through the same descriptor.
    const adopted = adoptNativeSocket(owner.fd);
    assert.equal(adopted.localAddress.port, owner.localAddress.port);
    let received = 0;
    const lengths: number[] = [];
    while (received < 3) {
      const got = adopted.receiveBlocking(batch, 1000);
      assert.ok(got > 0, "the datagrams were there");
      for (let index = 0; index < got; index++) lengths.push(batch.lengths[index]);
      received += got;
    }
    assert.deepEqual(lengths, [1, 2, 3]);
    assert.equal(batch.timestampSource, "kernel");
    adopted.close(); // not the owner's: the descriptor stays open
    assert.equal(sender.sendNow(out, 1), 1);
    assert.equal(owner.receiveBlocking(batch, 1000), 1);

    // shutdown wakes a receive blocked with no time limit (here after it began, from a timer
    // that cannot run while this thread blocks, so shut down first and check it returns).
    owner.shutdown();
    const woken = owner.receiveBlocking(batch, -1);
    assert.ok(woken <= 1 && (woken === 0 || batch.lengths[0] === 0), "an empty wake-up");
  },
);

/** A sender with transmit timestamps and a plain receiver, on loopback. */
async function transmitPair() {
  const sender = await openNativeSocket({
    hostname: "127.0.0.1",
    port: 0,
    transmitTimestamps: true,
  });
  const receiver = await openNativeSocket({ hostname: "127.0.0.1", port: 0 });
  return {
    sender,
    receiver,
    async [Symbol.asyncDispose]() {
      await sender[Symbol.asyncDispose]();
      await receiver[Symbol.asyncDispose]();
    },
  };
}

Deno.test(
  "native socket with transmit timestamps: every sent datagram gets a key, and the kernel's send time comes back under it",
  { ignore },
  async () => {
    await using pair = await transmitPair();
    const { sender, receiver } = pair;
    assert.equal(sender.transmitTimestamps, true);
    const out = new DatagramBatch(8, 64);
    const to = receiver.localAddress;
    let count = fill(out, [{ text: "a", to }, { text: "b", to }, { text: "c", to }]);
    out.lengths[1] = 0; // skipped: no key
    const before = sender.now();
    assert.equal(sender.sendNow(out, count), 2);
    assert.deepEqual([...out.transmitKeys.subarray(0, 3)], [0, -1, 1]);
    count = fill(out, [{ text: "d", to }]);
    assert.equal(sender.sendNow(out, count), 1);
    assert.equal(out.transmitKeys[0], 2, "keys count on across sends");

    const received = await receiveAll(receiver, new DatagramBatch(8, 64), 3);
    const times = new Map<number, number>();
    // The kernel queues a transmit time before the datagram reaches any receiver.
    assert.equal(sender.readTransmitTimes((key, time) => times.set(key, time)), 3);
    assert.deepEqual([...times.keys()], [0, 1, 2]);
    for (const [key, time] of times) {
      assert.ok(time >= before, `key ${key}: sent after the clock read before sendmmsg`);
      // Two sockets, two calibrations of the clock mapping: allow them a few microseconds.
      assert.ok(
        time <= received[key].receivedAt + 0.02,
        `key ${key}: sent (${time}) before it was received (${received[key].receivedAt})`,
      );
      assert.ok(received[key].receivedAt - time < 50, `key ${key}: a loopback trip is short`);
    }
    assert.equal(sender.readTransmitTimes(() => assert.fail("read twice")), 0, "queue drained");

    // A socket that did not ask has no keys and no queue.
    const plain = out;
    count = fill(plain, [{ text: "e", to }]);
    assert.equal(receiver.sendNow(plain, count), 1);
    assert.equal(plain.transmitKeys[0], -1);
    assert.equal(receiver.readTransmitTimes(() => assert.fail("not asked for")), 0);
  },
);

Deno.test(
  "native socket with transmit timestamps starts its keys again after a failed send, with the kernel's",
  { ignore },
  async () => {
    await using pair = await transmitPair();
    const { sender, receiver } = pair;
    const to = receiver.localAddress;
    const out = new DatagramBatch(4, 64);
    assert.equal(sender.sendNow(out, fill(out, [{ text: "a", to }, { text: "b", to }])), 2);
    // The second datagram goes to port 0, which the kernel refuses (EINVAL) without sending.
    const count = fill(out, [{ text: "c", to }, { text: "d", to: { ...to, port: 0 } }]);
    assert.throws(() => sender.sendNow(out, count), /sendmmsg failed: EINVAL/);
    assert.deepEqual([...out.transmitKeys.subarray(0, 2)], [2, -1], "the one sent got its key");
    // Everything queued before the failure was let go; the count starts again at 0.
    const before = sender.now();
    assert.equal(sender.sendNow(out, fill(out, [{ text: "e", to }])), 1);
    assert.equal(out.transmitKeys[0], 0);
    const times: [number, number][] = [];
    assert.equal(sender.readTransmitTimes((key, time) => times.push([key, time])), 1);
    assert.equal(times[0][0], 0);
    assert.ok(times[0][1] >= before, "the time of the datagram sent after the restart");
    await receiveAll(receiver, new DatagramBatch(8, 64), 4);
  },
);

Deno.test(
  "native socket transmit timestamps over IPv6, and to an IPv4 peer from a dual-stack socket",
  { ignore },
  async () => {
    await using sender = await openNativeSocket({
      hostname: "::",
      port: 0,
      transmitTimestamps: true,
    });
    await using v6 = await openNativeSocket({ hostname: "::1", port: 0 });
    await using v4 = await openNativeSocket({ hostname: "127.0.0.1", port: 0 });
    const out = new DatagramBatch(4, 64);
    const count = fill(out, [
      { text: "six", to: { hostname: "::1", port: v6.localAddress.port } },
      { text: "four", to: { hostname: "127.0.0.1", port: v4.localAddress.port } },
    ]);
    const before = sender.now();
    assert.equal(sender.sendNow(out, count), 2);
    await receiveAll(v6, new DatagramBatch(4, 64), 1);
    await receiveAll(v4, new DatagramBatch(4, 64), 1);
    const keys: number[] = [];
    sender.readTransmitTimes((key, time) => {
      assert.ok(time >= before && time - before < 50, `key ${key}: ${time - before} ms`);
      keys.push(key);
    });
    assert.deepEqual(keys, [0, 1]);
  },
);

Deno.test(
  "sockets sharing a peer address cache send to the same address objects, IPv4 and dual-stack",
  { ignore },
  async () => {
    const peerAddresses = new PeerAddressCache();
    await using receiver = await openNativeSocket({ hostname: "127.0.0.1", port: 0 });
    await using ipv4 = await openNativeSocket({ hostname: "127.0.0.1", port: 0, peerAddresses });
    await using dual = await openNativeSocket({ hostname: "::", port: 0, peerAddresses });
    // One object for both senders, as a prober hands each target to all its sockets.
    const to = { hostname: "127.0.0.1", port: receiver.localAddress.port };
    const out = new DatagramBatch(2, 64);
    for (
      const [socket, text] of [[ipv4, "from v4"], [dual, "from dual"], [ipv4, "again"]] as const
    ) {
      assert.equal(socket.sendNow(out, fill(out, [{ text, to }])), 1);
    }
    const seen = await receiveAll(receiver, new DatagramBatch(8, 64), 3);
    assert.deepEqual(seen.map((one) => one.text).sort(), ["again", "from dual", "from v4"]);
    // 127.0.0.1 as one 32-bit number (a small integer for V8, where address and port were not).
    assert.equal(peerAddresses.encoded.get(to), 0x7f000001, "an IPv4 peer is one number");
    assert.ok(
      seen.some((one) => one.from === `127.0.0.1:${ipv4.localAddress.port}`) &&
        seen.some((one) => one.from === `127.0.0.1:${dual.localAddress.port}`),
    );
  },
);

Deno.test(
  "a PeerAddress keeps its own encoding: IPv4 from IPv4 and dual-stack sockets, IPv6, no cache entry",
  { ignore },
  async () => {
    const peerAddresses = new PeerAddressCache();
    await using receiver = await openNativeSocket({ hostname: "127.0.0.1", port: 0 });
    await using receiver6 = await openNativeSocket({ hostname: "::1", port: 0 });
    await using ipv4 = await openNativeSocket({ hostname: "127.0.0.1", port: 0, peerAddresses });
    await using dual = await openNativeSocket({ hostname: "::", port: 0, peerAddresses });
    const to = new PeerAddress("127.0.0.1", receiver.localAddress.port);
    const to6 = new PeerAddress("::1", receiver6.localAddress.port);
    const out = new DatagramBatch(2, 64);
    for (
      const [socket, text] of [[ipv4, "from v4"], [dual, "from dual"], [ipv4, "again"]] as const
    ) {
      assert.equal(socket.sendNow(out, fill(out, [{ text, to }])), 1);
    }
    assert.equal(dual.sendNow(out, fill(out, [{ text: "v6", to: to6 }])), 1);
    const seen = await receiveAll(receiver, new DatagramBatch(8, 64), 3);
    assert.deepEqual(seen.map((one) => one.text).sort(), ["again", "from dual", "from v4"]);
    const [six] = await receiveAll(receiver6, new DatagramBatch(8, 64), 1);
    assert.equal(six.text, "v6");
    assert.equal(peerAddresses.encoded.get(to), undefined, "no cache entry for a PeerAddress");
    assert.equal(peerAddresses.encoded.get(to6), undefined);
  },
);
