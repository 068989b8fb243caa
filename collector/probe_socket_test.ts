import assert from "node:assert/strict";
import {
  type DatagramBatch,
  type DatagramSocket,
  nativeEngineStatus,
  openNativeSocket,
  SocketError,
  systemClock,
  WallNanos,
} from "@llama/core";
import { ProbeSocket } from "./probe_socket.ts";
import { Summarizer } from "./summarizer.ts";

const status = nativeEngineStatus();

Deno.test({
  name: "a probe socket closes while its prober stays busy (a reload retiring it at a high rate)",
  ignore: !status.available && Deno.env.get("CI") !== "true",
  fn: async () => {
    const socket = await openNativeSocket({ hostname: "127.0.0.1", port: 0 });
    // A prober that turns every few milliseconds and never goes quiet.
    const pace = { busy: () => true, whenIdle: () => new Promise<void>(() => {}) };
    const probe = new ProbeSocket(
      socket,
      { tos: 0, timeoutMs: 1000, instanceTag: 1, pace },
      new Summarizer(1).book,
      new WallNanos(systemClock),
    );
    let timer: ReturnType<typeof setTimeout> | undefined;
    const outcome = await Promise.race([
      probe.close().then(() => "closed"),
      new Promise((resolve) => timer = setTimeout(() => resolve("still open after 2 s"), 2000)),
    ]);
    clearTimeout(timer);
    assert.equal(outcome, "closed");
  },
});

Deno.test("probes a partial batch send left out are counted as unsent", async () => {
  const closed = Promise.withResolvers<number>();
  closed.promise.catch(() => {});
  let asked = 0;
  // A native-like socket whose buffer stays full after 3 datagrams of each send.
  const socket: DatagramSocket = {
    engine: "native",
    localAddress: { hostname: "127.0.0.1", port: 40000 },
    receive: () => closed.promise,
    send: () => Promise.reject(new Error("not used")),
    sendNow: (_batch: DatagramBatch, count: number) => {
      asked += count;
      return Math.min(count, 3);
    },
    now: () => performance.now(),
    close: () => closed.reject(new SocketError("socket closed", { operation: "closed" })),
    [Symbol.asyncDispose]: () => Promise.resolve(),
  };
  const probe = new ProbeSocket(
    socket,
    { tos: 0, timeoutMs: 1000, instanceTag: 1 },
    new Summarizer(1).book,
    new WallNanos(systemClock),
  );
  const target = { hostname: "127.0.0.1", port: 8100 };
  for (let sequence = 0; sequence < 5; sequence++) {
    probe.stage(0, 0, sequence, target, performance.now());
  }
  await probe.flush();
  assert.equal(asked, 5);
  assert.equal(probe.counters.sent, 5);
  assert.equal(probe.counters.unsent, 2);
  assert.equal(probe.counters.errors, 0, "a partial send is not a failed one");
  await probe.close();
});
