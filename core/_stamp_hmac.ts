// HMAC-SHA-256 truncated to 16 bytes (RFC 8762 section 4.1.2, RFC 8972 section 4.8), synchronous
// through node:crypto. Each call allocates the digest: node:crypto offers no way to reuse one.
import { createHmac, createSecretKey, type KeyObject, timingSafeEqual } from "node:crypto";
import type { Keyring, SharedKey } from "./key_file.ts";
import { STAMP_HMAC_BYTES } from "./_stamp_layout.ts";

/** Node key objects for a keyring's secrets, made once (cheaper per packet than raw bytes). */
export class HmacKeys {
  readonly keys: readonly SharedKey[];
  readonly #objects: readonly KeyObject[];
  readonly #byId: ReadonlyMap<string, number>;

  constructor(keyring: Keyring) {
    this.keys = keyring.keys;
    this.#objects = keyring.keys.map((key) => createSecretKey(key.secret));
    this.#byId = new Map(keyring.keys.map((key, index) => [key.id, index]));
  }

  /** The index of the key named `id` (an SSID in decimal), or -1. */
  indexOf(id: string): number {
    return this.#byId.get(id) ?? -1;
  }

  /**
   * HMAC of `bytes[start, end)`, then of `bytes[start2, end2)` when `end2 > start2`, with key
   * `index`, truncated and written at `bytes[at, at + 16)`.
   */
  sign(
    index: number,
    bytes: Uint8Array,
    ranges: Int32Array,
    at: number,
  ): void {
    const digest = this.#digest(index, bytes, ranges);
    bytes.set(digest.subarray(0, STAMP_HMAC_BYTES), at);
  }

  /** Whether `bytes[at, at + 16)` holds the HMAC that `sign` would write. */
  verify(
    index: number,
    bytes: Uint8Array,
    ranges: Int32Array,
    at: number,
  ): boolean {
    const digest = this.#digest(index, bytes, ranges);
    return timingSafeEqual(
      digest.subarray(0, STAMP_HMAC_BYTES),
      bytes.subarray(at, at + STAMP_HMAC_BYTES),
    );
  }

  /**
   * The key that verifies, trying first the one named after `ssid` (keys may be named by the
   * SSID of their session), then every other in file order; -1 when none does.
   */
  find(
    ssid: number,
    bytes: Uint8Array,
    ranges: Int32Array,
    at: number,
  ): number {
    const named = this.keys.length > 1 ? this.indexOf(String(ssid)) : -1;
    if (named >= 0 && this.verify(named, bytes, ranges, at)) return named;
    for (let index = 0; index < this.keys.length; index++) {
      if (index !== named && this.verify(index, bytes, ranges, at)) return index;
    }
    return -1;
  }

  #digest(
    index: number,
    bytes: Uint8Array,
    ranges: Int32Array,
  ): Uint8Array {
    const hmac = createHmac("sha256", this.#objects[index]);
    hmac.update(bytes.subarray(ranges[0], ranges[1]));
    if (ranges[3] > ranges[2]) hmac.update(bytes.subarray(ranges[2], ranges[3]));
    return hmac.digest();
  }
}
