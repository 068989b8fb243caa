// The native socket's support for path tracing, on loopback: TTLs sent and read, ICMP errors
// from the error queue beside transmit timestamps, and calls that an ICMP error does not fail.
import assert from "node:assert/strict";
import { DatagramBatch, type SocketAddress } from "./socket.ts";
import { adoptNativeSocket, nativeEngineStatus, openNativeSocket } from "./native_socket.ts";
import type { IcmpErrorReport } from "./_icmp_errors.ts";

const status = nativeEngineStatus();
const ignore = !status.available && Deno.env.get("CI") !== "true";

/** A port on `hostname` nothing listens on (a socket bound to it, then closed). */
async function closedPort(hostname: string): Promise<SocketAddress> {
  const socket = await openNativeSocket({ hostname, port: 0 });
  const port = socket.localAddress.port;
  socket.close();
  return { hostname, port };
}

function put(batch: DatagramBatch, index: number, text: string, to: SocketAddress, ttl = -1) {
  const bytes = new TextEncoder().encode(text);
  batch.slots[index].set(bytes);
  batch.lengths[index] = bytes.length;
  batch.addresses[index] = to;
  batch.ttl[index] = ttl;
}

/** A copy of what a report says, taken during the sink call. */
function copy(report: IcmpErrorReport) {
  return {
    family: report.family,
    origin: report.origin,
    type: report.type,
    code: report.code,
    errno: report.errno,
    unreachable: report.unreachable,
    timeExceeded: report.timeExceeded,
    offender: report.offender,
    destination: `${report.destination.hostname}:${report.destination.port}`,
    payload: new TextDecoder().decode(report.payload),
    payloadLength: report.payloadLength,
    receivedAt: report.receivedAt,
  };
}

/** Reads the error queue until `count` ICMP errors came (loopback answers at once; a few tries). */
async function readErrors(
  socket: Awaited<ReturnType<typeof openNativeSocket>>,
  count: number,
): Promise<ReturnType<typeof copy>[]> {
  const errors: ReturnType<typeof copy>[] = [];
  for (let attempt = 0; errors.length < count && attempt < 100; attempt++) {
    socket.readErrorQueue(undefined, (report) => errors.push(copy(report)));
    if (errors.length < count) await new Promise((resolve) => setTimeout(resolve, 10));
  }
  return errors;
}

for (
  const { local, target, family, type, code, offender, destination } of [
    {
      local: "127.0.0.1",
      target: "127.0.0.1",
      family: 4,
      type: 3,
      code: 3,
      offender: "127.0.0.1",
      destination: "127.0.0.1",
    },
    {
      local: "::1",
      target: "::1",
      family: 6,
      type: 1,
      code: 4,
      offender: "::1",
      destination: "::1",
    },
    {
      local: "::",
      target: "127.0.0.1",
      family: 4,
      type: 3,
      code: 3,
      offender: "127.0.0.1",
      destination: "::ffff:127.0.0.1",
    },
  ]
) {
  Deno.test(
    `a probe from ${local} to a closed port on ${target} comes back as a port unreachable from the error queue`,
    { ignore },
    async () => {
      await using socket = await openNativeSocket({
        hostname: local,
        port: 0,
        receiveIcmpErrors: true,
      });
      assert.equal(socket.traceable, true);
      const closed = await closedPort(target);
      const out = new DatagramBatch(2, 64);
      put(out, 0, "probe one", closed);
      const before = performance.now();
      assert.equal(socket.sendNow(out, 1), 1);
      const [error, ...more] = await readErrors(socket, 1);
      assert.deepEqual(more, []);
      assert.deepEqual({ ...error, receivedAt: 0 }, {
        family,
        origin: family === 4 ? 2 : 3,
        type,
        code,
        errno: 111, // ECONNREFUSED
        unreachable: true,
        timeExceeded: false,
        offender,
        destination: `${destination}:${closed.port}`,
        payload: "probe one",
        payloadLength: 9,
        receivedAt: 0,
      });
      assert.ok(error.receivedAt >= before - 1 && error.receivedAt <= performance.now() + 1);
    },
  );
}

Deno.test(
  "after ICMP errors, a traceable socket's receives and sends go on, counting the errors met on calls",
  { ignore },
  async () => {
    await using socket = await openNativeSocket({
      hostname: "127.0.0.1",
      port: 0,
      receiveIcmpErrors: true,
    });
    await using peer = await openNativeSocket({ hostname: "127.0.0.1", port: 0 });
    const closed = await closedPort("127.0.0.1");
    const out = new DatagramBatch(4, 64);
    const inbox = new DatagramBatch(4, 64);
    // A receive already waiting when the error comes is woken by it (sk_err): it must go on.
    const pending = socket.receive(inbox);
    await new Promise((resolve) => setTimeout(resolve, 20));
    for (let round = 0; round < 3; round++) {
      put(out, 0, "to nowhere", closed);
      put(out, 1, "to nowhere", closed);
      put(out, 2, "to the peer", peer.localAddress);
      assert.equal(socket.sendNow(out, 3), 3);
    }
    put(out, 0, "answer", socket.localAddress);
    assert.equal(peer.sendNow(out, 1), 1);
    assert.ok((await pending) >= 1);
    assert.equal(new TextDecoder().decode(inbox.slots[0].subarray(0, inbox.lengths[0])), "answer");

    // Neither a queued nor a blocking receive fails on an ICMP error left for the next call.
    put(out, 0, "to nowhere", closed);
    assert.equal(socket.sendNow(out, 1), 1);
    await new Promise((resolve) => setTimeout(resolve, 10));
    assert.equal(socket.receiveQueued?.(inbox), 0);
    assert.equal(socket.sendNow(out, 1), 1);
    await new Promise((resolve) => setTimeout(resolve, 10));
    // A send meets the error the last one left (sk_err): it is retried, and goes.
    put(out, 0, "to nowhere", closed);
    assert.equal(socket.sendNow(out, 1), 1);
    await new Promise((resolve) => setTimeout(resolve, 50));
    const metBefore = socket.icmpErrorsOnCalls;
    put(out, 0, "after an error", peer.localAddress);
    assert.equal(socket.sendNow(out, 1), 1);
    assert.equal(socket.icmpErrorsOnCalls, metBefore + 1);
    const got = await peer.receive(inbox); // the three of the rounds before, and this one
    const last = inbox.slots[got - 1].subarray(0, inbox.lengths[got - 1]);
    assert.equal(new TextDecoder().decode(last), "after an error");
    // A datagram's own failure with such an errno (too long: EMSGSIZE) still throws.
    const huge = new DatagramBatch(1, 70_000);
    huge.lengths[0] = 70_000;
    huge.addresses[0] = peer.localAddress;
    assert.throws(() => socket.sendNow(huge, 1), /sendmmsg failed: EMSGSIZE/);
    // The error queue is full now, so poll says POLLERR at once: the receive still waits.
    const started = performance.now();
    assert.equal(socket.receiveBlocking(inbox, 60), 0);
    assert.ok(performance.now() - started >= 50, "it waited for its timeout, it did not return");
    put(out, 0, "late answer", socket.localAddress);
    assert.equal(peer.sendNow(out, 1), 1);
    assert.equal(socket.receiveBlocking(inbox, 1000), 1);
    assert.ok((await readErrors(socket, 9)).length >= 9, "every error is still on the queue");
    // An adopted descriptor knows it is traceable (the Worker's calls meet the errors too).
    assert.equal(adoptNativeSocket(socket.fd).traceable, true);
  },
);

Deno.test(
  "with transmit timestamps on, every probe to a closed port gives both its transmit time and its ICMP error",
  { ignore },
  async () => {
    await using socket = await openNativeSocket({
      hostname: "127.0.0.1",
      port: 0,
      receiveIcmpErrors: true,
      transmitTimestamps: true,
    });
    const closed = await closedPort("127.0.0.1");
    // Under the kernel's burst of ICMP errors (icmp_msgs_burst, 50).
    const probes = 16;
    const out = new DatagramBatch(probes, 64);
    for (let index = 0; index < probes; index++) put(out, index, `probe ${index}`, closed);
    assert.equal(socket.sendNow(out, probes), probes);
    assert.deepEqual([...out.transmitKeys], Array.from({ length: probes }, (_, key) => key));
    const keys: number[] = [];
    const payloads: string[] = [];
    for (let attempt = 0; payloads.length < probes && attempt < 100; attempt++) {
      socket.readErrorQueue(
        (key) => keys.push(key),
        (report) => payloads.push(new TextDecoder().decode(report.payload)),
      );
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    assert.deepEqual(keys, Array.from({ length: probes }, (_, key) => key));
    assert.deepEqual(payloads, Array.from({ length: probes }, (_, index) => `probe ${index}`));

    // readTransmitTimes has no sink for ICMP errors: they are dropped, and counted.
    assert.equal(socket.sendNow(out, 1), 1);
    let times = 0;
    for (let attempt = 0; socket.icmpErrorsDropped === 0 && attempt < 100; attempt++) {
      times += socket.readTransmitTimes(() => {});
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    assert.equal(times, 1);
    assert.equal(socket.icmpErrorsDropped, 1);
  },
);

for (
  const { sender, receiver, to } of [
    { sender: "127.0.0.1", receiver: "127.0.0.1", to: "127.0.0.1" },
    { sender: "::1", receiver: "::1", to: "::1" },
    { sender: "::", receiver: "::", to: "127.0.0.1" },
  ]
) {
  Deno.test(
    `a datagram sent from ${sender} with a TTL arrives at ${receiver} with it, and the next ones with the default`,
    { ignore },
    async () => {
      await using from = await openNativeSocket({ hostname: sender, port: 0 });
      await using at = await openNativeSocket({ hostname: receiver, port: 0, receiveTtl: true });
      const target = { hostname: to, port: at.localAddress.port };
      const out = new DatagramBatch(4, 64);
      put(out, 0, "seven", target, 7);
      put(out, 1, "default", target);
      put(out, 2, "three", target, 3);
      assert.equal(from.sendNow(out, 3), 3);
      put(out, 0, "default again", target);
      assert.equal(from.sendNow(out, 1), 1);
      const seen: [string, number][] = [];
      const inbox = new DatagramBatch(4, 64);
      while (seen.length < 4) {
        const count = await at.receive(inbox);
        for (let index = 0; index < count; index++) {
          const text = new TextDecoder().decode(
            inbox.slots[index].subarray(0, inbox.lengths[index]),
          );
          seen.push([text, inbox.ttl[index]]);
        }
      }
      const byDefault = Number(
        await Deno.readTextFile(
          to.includes(":")
            ? "/proc/sys/net/ipv6/conf/lo/hop_limit"
            : "/proc/sys/net/ipv4/ip_default_ttl",
        ),
      );
      assert.deepEqual(seen, [
        ["seven", 7],
        ["default", byDefault],
        ["three", 3],
        ["default again", byDefault],
      ]);
      // A socket that did not ask does not know.
      await using plain = await openNativeSocket({ hostname: receiver, port: 0 });
      put(out, 0, "unknown", { hostname: to, port: plain.localAddress.port }, 9);
      assert.equal(from.sendNow(out, 1), 1);
      await plain.receive(inbox);
      assert.equal(inbox.ttl[0], -1);
    },
  );
}
