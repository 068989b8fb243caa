/**
 * The native socket's peer addresses both ways: a received sockaddr to a cached `SocketAddress`,
 * and an address sent to into the sockaddr of its slot, with its encoding kept for the next send.
 *
 * @module
 */
import type { SocketAddress } from "./socket.ts";
import { AF_INET, NAME_BYTES } from "./_linux.ts";
import { compactName, decodeAddress, encodeAddress, writeCompactName } from "./_sockaddr.ts";
import { encodedPeer, PeerAddress } from "./_peer_address.ts";

/** Received peers kept before the cache starts again: a busy peer then costs nothing. */
const CACHED_PEERS = 4096;

/** One socket's peer addresses, decoded and encoded (see the module doc). */
export class PeerNames {
  readonly #family: number;
  readonly #addresses = new Map<string | number, SocketAddress>();
  /**
   * Each peer's sockaddr, for peers that are not `PeerAddress`es: an IPv4 peer as its address, one
   * 32-bit number (the port is the address object's; a Uint8Array of its own took ~250 bytes), an
   * IPv6 one as its bytes.
   */
  readonly #encoded: WeakMap<SocketAddress, number | Uint8Array>;

  /** Names for a socket of `family`, keeping encodings in `encoded` (shareable between sockets). */
  constructor(family: number, encoded: WeakMap<SocketAddress, number | Uint8Array>) {
    this.#family = family;
    this.#encoded = encoded;
  }

  /** The peer in the sockaddr at `offset` of `view`, from a small cache. */
  peer(view: DataView, offset: number): SocketAddress {
    const family = view.getUint16(offset, true);
    const port = view.getUint16(offset + 2, false);
    let key: string | number;
    if (family === AF_INET) key = view.getUint32(offset + 4, false) * 65536 + port;
    else {
      let text = "";
      for (let index = 8; index < 24; index += 4) {
        text += view.getUint32(offset + index, false).toString(16) + ",";
      }
      key = text + port;
    }
    let address = this.#addresses.get(key);
    if (address === undefined) {
      if (this.#addresses.size >= CACHED_PEERS) this.#addresses.clear();
      address = decodeAddress(view, offset);
      this.#addresses.set(key, address);
      const encoded = new Uint8Array(NAME_BYTES);
      encoded.set(new Uint8Array(view.buffer, view.byteOffset + offset, NAME_BYTES));
      this.#encoded.set(address, compactName(encoded));
    }
    return address;
  }

  /** Writes the sockaddr of `address` at `offset` of `names` (seen through `view`). */
  write(names: Uint8Array, view: DataView, offset: number, address: SocketAddress): void {
    let encoded;
    if (address instanceof PeerAddress) encoded = encodedPeer(address, this.#family);
    else {
      encoded = this.#encoded.get(address);
      if (encoded === undefined) {
        encoded = compactName(encodeAddress(address, this.#family));
        this.#encoded.set(address, encoded);
      }
    }
    writeCompactName(names, view, offset, this.#family, encoded, address.port);
  }
}
