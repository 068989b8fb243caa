import assert from "node:assert/strict";
import { nativeEngineStatus } from "./native_socket.ts";
import { RealtimeClock, timespecSeconds } from "./_realtime_clock.ts";

const status = nativeEngineStatus();
const ignore = !status.available && Deno.env.get("CI") !== "true";

Deno.test("a timespec's 64-bit seconds are read exactly from two 32-bit halves", () => {
  const view = new DataView(new ArrayBuffer(16));
  for (const seconds of [0, 1, 2 ** 32 - 1, 2 ** 32, 1_700_000_000, 2 ** 40 + 3, -1, -(2 ** 33)]) {
    view.setBigInt64(0, BigInt(seconds), true);
    assert.equal(timespecSeconds(view, 0), seconds);
  }
});

Deno.test("CLOCK_REALTIME now is on performance.now()'s scale", { ignore }, () => {
  const clock = new RealtimeClock();
  const before = performance.now();
  const now = clock.now();
  const after = performance.now();
  // Within the bracket, give or take the calibration's error (well under a millisecond).
  assert.ok(now > before - 1 && now < after + 1, `${before} <= ${now} <= ${after}`);
  assert.ok(clock.now() >= now);
});
