/**
 * CLOCK_REALTIME, the clock of kernel timestamps, read through libc and mapped onto the
 * `performance.now()` scale by a calibration renewed every 100 ms.
 *
 * @module
 */
import { libc } from "./_libc.ts";
import { CLOCK_REALTIME } from "./_linux.ts";

// Between calibrations the two clocks drift apart (NTP slews up to 500 ppm), so a probe whose
// send and receive straddle one is off by drift × period: 100 ms keeps that to a few
// microseconds at realistic rates, for two clock reads per 100 ms.
const CALIBRATE_EVERY_MS = 100;

/** The seconds of the struct timespec at `offset`: a 64-bit integer, read as two 32-bit halves. */
export function timespecSeconds(view: DataView, offset: number): number {
  return view.getUint32(offset, true) + view.getInt32(offset + 4, true) * 4294967296;
}

/**
 * Maps CLOCK_REALTIME readings (kernel timestamps, or read now) onto the `performance.now()`
 * scale, without BigInts and without losing precision. One per socket.
 */
export class RealtimeClock {
  /** A struct timespec for clock_gettime, read as 32-bit halves: a BigInt a reading was garbage. */
  readonly #timespecBytes = new Uint8Array(16);
  readonly #timespecView = new DataView(this.#timespecBytes.buffer);
  // A performance.now() reading and the CLOCK_REALTIME seconds and nanoseconds read with it.
  #calibratedAt = -Infinity;
  #baseMonotonic = 0;
  #baseSeconds = 0;
  #baseNanos = 0;

  /** Calibrates again if the last calibration is older than 100 ms at `now` (performance.now()). */
  calibrateIfDue(now: number): void {
    if (now - this.#calibratedAt > CALIBRATE_EVERY_MS) this.#calibrate();
  }

  /**
   * Maps the struct timespec at `offset` of `view` (64-bit seconds and nanoseconds, read as
   * 32-bit halves: no BigInt) onto the performance.now() scale.
   */
  timespecAt(view: DataView, offset: number): number {
    return this.#toMonotonic(timespecSeconds(view, offset), view.getUint32(offset + 8, true));
  }

  /** CLOCK_REALTIME now, on the performance.now() scale: the same clock as kernel timestamps. */
  now(): number {
    this.calibrateIfDue(performance.now());
    libc().clock_gettime(CLOCK_REALTIME, this.#timespecBytes);
    return this.timespecAt(this.#timespecView, 0);
  }

  #calibrate(): void {
    // The clock read is bracketed by two performance.now() readings; of three tries the
    // tightest bracket wins, so a preemption between the readings cannot skew the mapping.
    const c = libc();
    let best = Infinity;
    for (let attempt = 0; attempt < 3; attempt++) {
      const before = performance.now();
      c.clock_gettime(CLOCK_REALTIME, this.#timespecBytes);
      const after = performance.now();
      if (after - before >= best) continue;
      best = after - before;
      this.#baseMonotonic = (before + after) / 2;
      this.#baseSeconds = timespecSeconds(this.#timespecView, 0);
      this.#baseNanos = this.#timespecView.getUint32(8, true);
    }
    this.#calibratedAt = this.#baseMonotonic;
  }

  /** Maps a CLOCK_REALTIME reading onto the performance.now() scale. */
  #toMonotonic(seconds: number, nanos: number): number {
    return this.#baseMonotonic + (seconds - this.#baseSeconds) * 1000 +
      (nanos - this.#baseNanos) / 1e6;
  }
}
