import type { Clock } from "./clock.ts";

/**
 * A token bucket: `rate` tokens per second, holding at most `burst`. Reads the clock only when
 * asked, so it costs nothing while idle.
 *
 * @example
 * ```ts
 * import { systemClock, TokenBucket } from "@llama/core";
 * const bucket = new TokenBucket({ rate: 10, burst: 2 }, systemClock);
 * console.assert(bucket.take() && bucket.take() && !bucket.take());
 * console.assert(bucket.waitMs() > 0 && bucket.waitMs() <= 100);
 * ```
 */
export class TokenBucket {
  readonly #rate: number;
  readonly #burst: number;
  readonly #clock: Clock;
  #tokens: number;
  #updatedAt: number;

  /** Starts full. `rate` is tokens per second; `burst` the most it holds (at least 1). */
  constructor(options: { rate: number; burst: number }, clock: Clock) {
    if (!(options.rate > 0) || !Number.isFinite(options.rate)) {
      throw new RangeError(
        `Cannot create token bucket: rate must be positive, got ${options.rate}`,
      );
    }
    this.#rate = options.rate;
    this.#burst = Math.max(1, options.burst);
    this.#clock = clock;
    this.#tokens = this.#burst;
    this.#updatedAt = clock.monotonic();
  }

  /** Takes one token if there is one. */
  take(): boolean {
    this.#refill();
    if (this.#tokens < 1) return false;
    this.#tokens -= 1;
    return true;
  }

  /** Milliseconds until the next token (0 when one is there). */
  waitMs(): number {
    this.#refill();
    return this.#tokens >= 1 ? 0 : ((1 - this.#tokens) / this.#rate) * 1000;
  }

  #refill(): void {
    const now = this.#clock.monotonic();
    this.#tokens = Math.min(
      this.#burst,
      this.#tokens + ((now - this.#updatedAt) * this.#rate) / 1000,
    );
    this.#updatedAt = now;
  }
}
