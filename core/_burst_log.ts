/**
 * A log line for events that can come by the thousand (refused connections, failed accepts): the
 * first of a burst is logged at once, the rest are counted and said in one line at most every
 * `quietMs`, so an attacker cannot flood the log.
 *
 * @module
 */

/** Logs `first(properties)` for an event, then at most one `more(count)` line per `quietMs`. */
export class BurstLog {
  readonly #quietMs: number;
  readonly #write: (message: string, properties: Record<string, unknown>) => void;
  #lastLogged = -Infinity;
  #unlogged = 0;

  /** `write` takes a LogTape message template and its properties. */
  constructor(
    write: (message: string, properties: Record<string, unknown>) => void,
    quietMs = 10_000,
  ) {
    this.#write = write;
    this.#quietMs = quietMs;
  }

  /** Records one event; logs it (with how many went unlogged before it) when the log is quiet. */
  event(message: string, properties: Record<string, unknown>): void {
    const now = performance.now();
    if (now - this.#lastLogged < this.#quietMs) {
      this.#unlogged++;
      return;
    }
    const suppressed = this.#unlogged;
    this.#unlogged = 0;
    this.#lastLogged = now;
    this.#write(
      suppressed === 0 ? message : `${message} ({suppressed} more like it not logged)`,
      { ...properties, suppressed },
    );
  }
}
