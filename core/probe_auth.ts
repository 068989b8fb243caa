/**
 * Authenticated LLAMA probes: an HMAC-SHA-256 tag, truncated to 16 bytes, carried in the probe's
 * `auth` field (10), which the original programs ignore and echo unchanged. The layout and the
 * rules are in `docs/probe-format.md` ("Authentication").
 *
 * @module
 */
import { createHmac, createSecretKey, type KeyObject } from "node:crypto";
import type { SharedKey } from "./key_file.ts";

/** Bytes of the truncated HMAC-SHA-256 at the end of the `auth` field. */
export const PROBE_MAC_BYTES = 16;

/** The first byte of the `auth` field: HMAC-SHA-256 truncated to 128 bits. */
export const PROBE_AUTH_HMAC_SHA256_128 = 1;

/**
 * What `ProbeAuthenticator.check` found: a key index (0 or more) when the tag verifies, or one of
 * these negative values.
 */
export const ProbeAuthCheck = {
  /** No `auth` field, or one that is not `algorithm ‖ key id ‖ 16-byte MAC`. */
  unsigned: -1,
  /** The `auth` field names a key this keyring does not hold. */
  unknownKey: -2,
  /** The key is known, but the MAC does not verify: altered or forged. */
  badMac: -3,
} as const;

/**
 * Signs and checks probes with a keyring's keys: the first key signs, every key verifies. The
 * `auth` field's body is `0x01 ‖ key id (ASCII) ‖ MAC`; the MAC is HMAC-SHA-256 over the whole
 * datagram except the MAC's own 16 bytes, truncated to 16 bytes. Synchronous (node:crypto, i.e.
 * OpenSSL); per call it allocates only node:crypto's HMAC object and digest.
 *
 * @example
 * ```ts
 * import { parseKeyFile, ProbeAuthenticator, ProbeReader, ProbeWriter } from "@llama/core";
 * const keyring = parseKeyFile("lab 000102030405060708090a0b0c0d0e0f\n");
 * const auth = new ProbeAuthenticator(keyring.keys);
 * const writer = new ProbeWriter({ authLength: auth.authLength });
 * auth.writeKeyId(writer.bytes, writer.authOffset);
 * auth.sign(writer.bytes, writer.bytes.length, writer.authOffset, writer.authOffset + auth.authLength);
 * const reader = new ProbeReader();
 * reader.read(writer.bytes);
 * console.assert(auth.check(writer.bytes, writer.bytes.length, reader.authStart, reader.authEnd) === 0);
 * ```
 */
export class ProbeAuthenticator {
  /** The keys, in keyring order: index 0 signs. */
  readonly keys: readonly SharedKey[];
  /** Length of the `auth` field's body when signing with the first key. */
  readonly authLength: number;
  readonly #objects: readonly KeyObject[];
  readonly #ids: readonly Uint8Array[];

  /** Prepares `keys` (a keyring's `keys`: at least one; ids are ASCII, as key files make them). */
  constructor(keys: readonly SharedKey[]) {
    if (keys.length === 0) {
      throw new RangeError("Cannot authenticate probes: the keyring holds no key");
    }
    this.keys = keys;
    this.#objects = keys.map((key) => createSecretKey(key.secret));
    this.#ids = keys.map((key) => new TextEncoder().encode(key.id));
    this.authLength = 1 + this.#ids[0].length + PROBE_MAC_BYTES;
  }

  /**
   * Writes the algorithm byte and the id of key `keyIndex` (default: the signing key) at
   * `bytes[authStart…]`, the start of an `auth` body `authLength` long (a template's: once).
   */
  writeKeyId(bytes: Uint8Array, authStart: number, keyIndex = 0): void {
    bytes[authStart] = PROBE_AUTH_HMAC_SHA256_128;
    bytes.set(this.#ids[keyIndex], authStart + 1);
  }

  /**
   * Writes the MAC of the first `length` bytes of `bytes` with key `keyIndex` into the last 16
   * bytes of the `auth` body `[authStart, authEnd)`, whose key id must already be there.
   */
  sign(
    bytes: Uint8Array,
    length: number,
    authStart: number,
    authEnd: number,
    keyIndex = 0,
  ): void {
    if (authEnd - authStart < 2 + PROBE_MAC_BYTES || authEnd > length) {
      throw new RangeError(
        `Cannot sign probe: the auth field [${authStart}, ${authEnd}) cannot hold a key id and a ` +
          `${PROBE_MAC_BYTES}-byte MAC inside ${length} bytes`,
      );
    }
    const digest = this.#digest(keyIndex, bytes, length, authEnd - PROBE_MAC_BYTES, authEnd);
    for (let index = 0; index < PROBE_MAC_BYTES; index++) {
      bytes[authEnd - PROBE_MAC_BYTES + index] = digest[index];
    }
  }

  /**
   * Checks the `auth` body `[authStart, authEnd)` of the first `length` bytes of `bytes` (offsets
   * from `ProbeReader`; `authStart` -1 when absent): returns the index of the key that verifies,
   * or a negative `ProbeAuthCheck`. Compares in constant time.
   */
  check(bytes: Uint8Array, length: number, authStart: number, authEnd: number): number {
    if (authStart < 0 || authEnd - authStart < 2 + PROBE_MAC_BYTES) return ProbeAuthCheck.unsigned;
    if (bytes[authStart] !== PROBE_AUTH_HMAC_SHA256_128) return ProbeAuthCheck.unsigned;
    const macStart = authEnd - PROBE_MAC_BYTES;
    const keyIndex = this.#keyIndex(bytes, authStart + 1, macStart);
    if (keyIndex < 0) return ProbeAuthCheck.unknownKey;
    const digest = this.#digest(keyIndex, bytes, length, macStart, authEnd);
    let difference = 0;
    for (let index = 0; index < PROBE_MAC_BYTES; index++) {
      difference |= digest[index] ^ bytes[macStart + index];
    }
    return difference === 0 ? keyIndex : ProbeAuthCheck.badMac;
  }

  /** The index of the key whose id is `bytes[start, end)`, or -1 (a few keys: a linear scan). */
  #keyIndex(bytes: Uint8Array, start: number, end: number): number {
    const ids = this.#ids;
    for (let key = 0; key < ids.length; key++) {
      const id = ids[key];
      if (id.length !== end - start) continue;
      let index = 0;
      while (index < id.length && id[index] === bytes[start + index]) index++;
      if (index === id.length) return key;
    }
    return -1;
  }

  /** HMAC of `bytes[0, length)` without `[macStart, macEnd)`. */
  #digest(
    keyIndex: number,
    bytes: Uint8Array,
    length: number,
    macStart: number,
    macEnd: number,
  ): Uint8Array {
    const hmac = createHmac("sha256", this.#objects[keyIndex]);
    hmac.update(bytes.subarray(0, macStart));
    if (length > macEnd) hmac.update(bytes.subarray(macEnd, length));
    return hmac.digest();
  }
}
