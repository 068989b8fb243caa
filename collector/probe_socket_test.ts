import assert from "node:assert/strict";
import { nativeEngineStatus, openNativeSocket, systemClock, WallNanos } from "@llama/core";
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
