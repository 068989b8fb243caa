/**
 * `PeerAddress`: a peer address that keeps its own encoded sockaddr, for the native engine.
 *
 * @module
 */
import type { SocketAddress } from "./socket.ts";
import { compactName, encodeAddress } from "./_sockaddr.ts";

/** The encoding of `address` for a socket of `family`, worked out at its first send. */
let peerEncoding: (address: PeerAddress, family: number) => number | Uint8Array;

/**
 * A peer address that keeps its own encoding for the native engine, worked out at the first send
 * to it: for addresses a program keeps and sends to again and again, like a prober's targets.
 * Any engine sends to it as to any `SocketAddress`; the native engine then needs no
 * `PeerAddressCache` entry for it (at 10,000 targets that entry and its number took ~40 bytes
 * a target, more than the address). Like every address sent to, it is not changed once made.
 *
 * @example
 * ```ts
 * import { PeerAddress } from "@llama/core";
 * const target = new PeerAddress("127.0.0.1", 8100);
 * console.assert(target.hostname === "127.0.0.1" && target.port === 8100);
 * ```
 */
export class PeerAddress implements SocketAddress {
  /** The IP address. */
  readonly hostname: string;
  /** The UDP port. */
  readonly port: number;
  /** IPv4 (also mapped): the address as a signed 32-bit number; IPv6: its sockaddr_in6. */
  #encoded: number | Uint8Array | undefined;

  /** A peer at `hostname` (an IP address) and `port`. */
  constructor(hostname: string, port: number) {
    this.hostname = hostname;
    this.port = port;
  }

  static {
    peerEncoding = (address, family) =>
      address.#encoded ??= compactName(encodeAddress(address, family));
  }
}

/**
 * The compact sockaddr (see `compactName`) of `address` for a socket of `family`, worked out at
 * the first call and kept by the address.
 */
export function encodedPeer(address: PeerAddress, family: number): number | Uint8Array {
  return peerEncoding(address, family);
}
