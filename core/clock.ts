import { addToSplit } from "./_uint64.ts";

/**
 * The clocks a llama program reads. Passed in, so tests can drive time.
 *
 * @example
 * ```ts
 * import { systemClock } from "@llama/core";
 * const start = systemClock.monotonic();
 * console.assert(systemClock.monotonic() >= start);
 * ```
 */
export interface Clock {
  /** Monotonic milliseconds with sub-microsecond resolution, like `performance.now()`. */
  monotonic(): number;
  /** Wall-clock milliseconds since the Unix epoch, like `Date.now()`. */
  wall(): number;
  /** Wall-clock milliseconds at monotonic time 0, like `performance.timeOrigin`. */
  readonly origin: number;
}

/** The real clocks: `performance.now()`, `Date.now()` and `performance.timeOrigin`. */
export const systemClock: Clock = {
  monotonic: () => performance.now(),
  wall: () => Date.now(),
  origin: performance.timeOrigin,
};

/**
 * Turns monotonic readings into wall-clock nanoseconds since the epoch, as exact 32-bit halves,
 * without allocating: `convert()` fills `high` and `low` in place. The wall clock is read once,
 * at construction, so the result never jumps when NTP steps the system clock.
 *
 * @example
 * ```ts
 * import { systemClock, WallNanos } from "@llama/core";
 * const wall = new WallNanos(systemClock);
 * wall.convert(systemClock.monotonic());
 * const ns = BigInt(wall.high) * 2n ** 32n + BigInt(wall.low);
 * console.assert(ns > 1_700_000_000_000_000_000n);
 * ```
 */
export class WallNanos {
  /** Upper 32 bits of the last conversion. */
  high = 0;
  /** Lower 32 bits of the last conversion. */
  low = 0;
  readonly #originHigh: number;
  readonly #originLow: number;
  readonly #out = new Float64Array(2);

  /** Anchors monotonic time 0 at the clock's origin. */
  constructor(clock: Clock) {
    const originNs = BigInt(Math.round(clock.origin * 1000)) * 1000n;
    this.#originHigh = Number(originNs >> 32n);
    this.#originLow = Number(originNs & 0xffffffffn);
  }

  /** Converts a monotonic reading in milliseconds; the result is in `high` and `low`. */
  convert(monotonicMs: number): void {
    addToSplit(this.#originHigh, this.#originLow, Math.round(monotonicMs * 1e6), this.#out);
    this.high = this.#out[0];
    this.low = this.#out[1];
  }
}
