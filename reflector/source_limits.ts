import { AllowList } from "./_allow_list.ts";
import { PerSourceTable, type PerSourceVerdict, WITHIN_RATE } from "./_per_source_table.ts";
import {
  type AddressFamily,
  IPV4,
  NOT_AN_ADDRESS,
  SourceAddressReader,
} from "./_source_address.ts";

export { OVER_RATE, type PerSourceVerdict, TABLE_FULL, WITHIN_RATE } from "./_per_source_table.ts";

/** A token bucket per source address (per /64 for IPv6), in a table of bounded size. */
export interface PerSourceOptions {
  /** Answers a second per source. */
  pps: number;
  /** Answers a source may get at once after a quiet spell. Default: `pps`, at least 2. */
  burst?: number;
  /** Most sources tracked at once (rounded up to a power of two). Default 65536, ~1.6 MB. */
  entries?: number;
}

/** Who a reflector port answers: plain data, so it can be posted to the Worker loop. */
export interface SourceLimitSettings {
  /** CIDR prefixes whose sources are answered; empty for every source. */
  allow: readonly string[];
  /** The per-source rate limit, if any. */
  perSource?: PerSourceOptions;
}

/** The default of `PerSourceOptions.entries`. */
export const DEFAULT_PER_SOURCE_ENTRIES = 65536;
/** The most `PerSourceOptions.entries` may be (about 400 MB of table). */
export const MAX_PER_SOURCE_ENTRIES: number = 1 << 24;

/**
 * A port's `--allow` list and per-source buckets, checked per datagram without allocating. Each
 * port (LLAMA, STAMP) has its own, so each limits a source on its own.
 */
export class SourceLimits {
  readonly #allow: AllowList | undefined;
  readonly #table: PerSourceTable | undefined;
  readonly #reader = new SourceAddressReader();
  /** The source text read last, and its family: consecutive datagrams often share a source. */
  #lastText = "";
  #lastFamily: AddressFamily = NOT_AN_ADDRESS;

  /**
   * Limits as `settings` say, or undefined when they limit nothing (so a port pays nothing).
   * Throws `RangeError` for a malformed prefix (naming `what`) or a bad rate.
   */
  static from(
    settings: SourceLimitSettings | undefined,
    what = "--allow",
  ): SourceLimits | undefined {
    if (settings === undefined) return undefined;
    if (settings.allow.length === 0 && settings.perSource === undefined) return undefined;
    return new SourceLimits(settings, what);
  }

  private constructor(settings: SourceLimitSettings, what: string) {
    this.#allow = settings.allow.length === 0 ? undefined : new AllowList(settings.allow, what);
    const perSource = settings.perSource;
    if (perSource !== undefined) {
      this.#table = new PerSourceTable({
        rate: perSource.pps,
        burst: perSource.burst ?? Math.max(2, perSource.pps),
        entries: perSource.entries ?? DEFAULT_PER_SOURCE_ENTRIES,
      });
    }
  }

  /** Slots of the per-source table in use (0 without one). */
  get tracked(): number {
    return this.#table?.used ?? 0;
  }

  /** Whether `hostname` is inside the allow list (always, without one; never, if not an IP). */
  allows(hostname: string): boolean {
    if (this.#allow === undefined) return true;
    const family = this.#read(hostname);
    return family !== NOT_AN_ADDRESS && this.#allow.allows(family, this.#reader.words);
  }

  /**
   * Takes a token from the bucket of `hostname` (its /64 for IPv6) at `now`, monotonic
   * milliseconds. Text that is not an IP address (never from a socket) shares one bucket.
   */
  take(hostname: string, now: number): PerSourceVerdict {
    if (this.#table === undefined) return WITHIN_RATE;
    const family = this.#read(hostname);
    if (family !== NOT_AN_ADDRESS) return this.#table.take(family, this.#reader.words, now);
    this.#reader.words[0] = 0;
    return this.#table.take(IPV4, this.#reader.words, now);
  }

  #read(hostname: string): AddressFamily {
    if (hostname !== this.#lastText) {
      this.#lastFamily = this.#reader.read(hostname);
      this.#lastText = hostname;
    }
    return this.#lastFamily;
  }
}

/**
 * Checks `settings` as `startReflector` will use them, without allocating a table: throws
 * `RangeError` naming `what` (the allow list) or the per-source field that is wrong.
 */
export function checkSourceLimits(settings: SourceLimitSettings, what = "--allow"): void {
  new AllowList(settings.allow, what);
  const perSource = settings.perSource;
  if (perSource === undefined) return;
  const check = (name: string, value: number | undefined, min: number, max: number) => {
    if (value !== undefined && !(Number.isInteger(value) && value >= min && value <= max)) {
      throw new RangeError(
        `Cannot limit per source: ${name} must be a whole number ${min}..${max}, got ${value}`,
      );
    }
  };
  check("pps", perSource.pps, 1, 100_000_000);
  check("burst", perSource.burst, 1, 100_000_000);
  check("entries", perSource.entries, 1, MAX_PER_SOURCE_ENTRIES);
}
