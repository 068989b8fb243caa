import assert from "node:assert/strict";
import { SocketError } from "./errors.ts";
import { DatagramBatch } from "./socket.ts";
import { adoptNativeSocket, nativeEngineStatus, openNativeSocket } from "./native_socket.ts";
import { describeErrno, Errno, errnoError, errnoName, libc, readErrno } from "./_libc.ts";
import { MSG_DONTWAIT } from "./_linux.ts";
import { buildStructures } from "./_mmsghdr.ts";

const status = nativeEngineStatus();
const ignore = !status.available && Deno.env.get("CI") !== "true";

/** The SocketError `call` throws (synchronously, or as a rejected promise). */
async function socketErrorOf(call: () => unknown): Promise<SocketError> {
  try {
    await call();
  } catch (error) {
    assert.ok(error instanceof SocketError, `not a SocketError: ${error}`);
    return error;
  }
  assert.fail("no error thrown");
}

Deno.test("errno names follow Linux numbering, and unnamed numbers stay numbers", () => {
  assert.equal(errnoName(11), "EAGAIN");
  assert.equal(errnoName(105), "ENOBUFS");
  assert.equal(errnoName(24), "EMFILE");
  assert.equal(errnoName(98), "EADDRINUSE");
  assert.equal(errnoName(9), "EBADF");
  assert.equal(errnoName(4095), undefined);
  assert.equal(describeErrno(11), "EAGAIN (11)");
  assert.equal(describeErrno(4095), "errno (4095)");
  for (const [name, value] of Object.entries(Errno)) assert.equal(errnoName(value), name);
});

Deno.test("an errno error carries its name and number as data beside the message", () => {
  const error = errnoError("sendmmsg failed", "send", 105);
  assert.equal(error.message, "sendmmsg failed: ENOBUFS (105)");
  assert.equal(error.operation, "send");
  assert.equal(error.code, "ENOBUFS");
  assert.equal(error.errno, 105);
  const unnamed = errnoError("poll failed", "poll", 4095);
  assert.equal(unnamed.code, undefined);
  assert.equal(unnamed.errno, 4095);
});

Deno.test(
  "a real EAGAIN from recvmmsg on an empty socket is read and named",
  { ignore },
  async () => {
    await using socket = await openNativeSocket({ hostname: "127.0.0.1", port: 0 });
    const structures = buildStructures(new DatagramBatch(1, 64));
    const result = libc().recvmmsgBlocking(socket.fd, structures.messages, 1, MSG_DONTWAIT, null);
    assert.equal(result, -1);
    const error = errnoError("recvmmsg failed", "receive", readErrno());
    assert.equal(error.code, "EAGAIN");
    assert.equal(error.errno, Errno.EAGAIN);
  },
);

Deno.test("binding a port in use fails with code EADDRINUSE", { ignore }, async () => {
  await using first = await openNativeSocket({ hostname: "127.0.0.1", port: 0 });
  const error = await socketErrorOf(() =>
    openNativeSocket({ hostname: "127.0.0.1", port: first.localAddress.port })
  );
  assert.equal(error.operation, "bind");
  assert.equal(error.code, "EADDRINUSE");
  assert.equal(error.errno, 98);
  assert.match(error.message, /^bind 127\.0\.0\.1:\d+ failed: EADDRINUSE \(98\)$/);
});

Deno.test("adopting a descriptor that is not open fails with code EBADF", { ignore }, async () => {
  const error = await socketErrorOf(() => adoptNativeSocket(-1));
  assert.equal(error.operation, "getsockname");
  assert.equal(error.code, "EBADF");
  assert.equal(error.errno, 9);
});

Deno.test(
  "a datagram too large for UDP fails its send with code EMSGSIZE",
  { ignore },
  async () => {
    await using socket = await openNativeSocket({ hostname: "127.0.0.1", port: 0 });
    const batch = new DatagramBatch(1, 70_000);
    batch.lengths[0] = 70_000;
    batch.addresses[0] = socket.localAddress;
    const error = await socketErrorOf(() => socket.sendNow(batch, 1));
    assert.equal(error.operation, "send");
    assert.equal(error.code, "EMSGSIZE");
    assert.equal(error.message, "sendmmsg failed: EMSGSIZE (90)");
    assert.equal(socket.unsent, 0, "a failed send is an error, not unsent datagrams");
  },
);
