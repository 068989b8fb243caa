/**
 * The send path of the native socket: runs of slots with the same TOS and TTL, one `sendmmsg`
 * each, retried while the send buffer is full or an ICMP error is reported on the call.
 *
 * @module
 */
import type { DatagramBatch } from "./socket.ts";
import { Errno, errnoError, libc, readErrno } from "./_libc.ts";
import type { SocketOptions } from "./_socket_options.ts";
import type { TransmitTimes } from "./_transmit_times.ts";
import { isIcmpErrno } from "./_icmp_errors.ts";
import type { PeerNames } from "./_peer_names.ts";
import type { RealtimeClock } from "./_realtime_clock.ts";
import { AF_INET6, IPV4_NAME_BYTES, MMSGHDR_BYTES, MSG_DONTWAIT, NAME_BYTES } from "./_linux.ts";
import { type BatchStructures, setSize } from "./_mmsghdr.ts";

/** sendmmsg calls per run before the datagrams still unsent are given up on (and counted). */
const SEND_ATTEMPTS = 100;
/**
 * ICMP errors a send retries in a row at one datagram before the errno is taken for the
 * datagram's own (ICMP errors that arrive late, after other sends, may strike twice).
 */
const ICMP_ERRORS_PER_DATAGRAM = 8;

/** What the sender needs of its socket. */
export interface SenderParts {
  /** The descriptor. */
  fd: number;
  /** AF_INET or AF_INET6. */
  family: number;
  /** Its options (TOS and TTL are set through them). */
  options: SocketOptions;
  /** Its peer names, to write each slot's sockaddr. */
  peers: PeerNames;
  /** Its clock, for the send times. */
  clock: RealtimeClock;
  /** Its transmit timestamp keys, when it has them. */
  transmitTimes: TransmitTimes | undefined;
  /** Whether it reports ICMP errors (and so meets them on its calls). */
  traceable: boolean;
  /** TOS of datagrams that do not ask for one, as the descriptor was opened with. */
  baseTos: number;
}

/** Sends batches for one native socket (see the module doc). */
export class BatchSender {
  readonly #fd: number;
  readonly #family: number;
  readonly #options: SocketOptions;
  readonly #peers: PeerNames;
  readonly #clock: RealtimeClock;
  readonly #transmitTimes: TransmitTimes | undefined;
  readonly #traceable: boolean;
  /** TOS of datagrams that do not ask for one. */
  readonly #baseTos: number;
  /** TOS the socket is set to now. */
  #tos: number;
  /** TTL / hop limit the socket is set to now; -1 for the default. */
  #ttl = -1;
  /** Datagrams the current #sendmmsg has sent so far (it may throw after sending some). */
  #sendProgress = 0;
  /** Datagrams given up on after the send buffer stayed full through every retry. */
  unsent = 0;
  /** ICMP errors reported on sendmmsg calls, and retried. */
  icmpErrorsOnCalls = 0;

  /** A sender for the socket described by `parts`. */
  constructor(parts: SenderParts) {
    this.#fd = parts.fd;
    this.#family = parts.family;
    this.#options = parts.options;
    this.#peers = parts.peers;
    this.#clock = parts.clock;
    this.#transmitTimes = parts.transmitTimes;
    this.#traceable = parts.traceable;
    this.#baseTos = parts.baseTos;
    // Set when the descriptor was opened (an adopted one's owner did it with the same TOS).
    this.#tos = parts.baseTos;
  }

  /**
   * Sends the first `count` slots of `batch`, whose C structures are `structures`; returns the
   * number sent. Throws `SocketError` when the kernel refuses one.
   */
  send(batch: DatagramBatch, structures: BatchStructures, count: number): number {
    const { messageView, iovecView, names, nameView } = structures;
    const peers = this.#peers;
    const nameLength = this.#family === AF_INET6 ? NAME_BYTES : IPV4_NAME_BYTES;
    let sent = 0;
    batch.transmitKeys.fill(-1, 0, count);
    try {
      // Runs of datagrams with the same TOS and TTL, each one sendmmsg; an empty slot is skipped.
      let index = 0;
      while (index < count) {
        if (batch.lengths[index] === 0) {
          index++;
          continue;
        }
        const runStart = index;
        const runTos = batch.tos[index];
        const runTtl = batch.ttl[index];
        while (
          index < count && batch.lengths[index] !== 0 && batch.tos[index] === runTos &&
          batch.ttl[index] === runTtl
        ) {
          const message = index * MMSGHDR_BYTES;
          peers.write(names, nameView, index * NAME_BYTES, batch.addresses[index]);
          messageView.setUint32(message + 8, nameLength, true);
          setSize(iovecView, index * 16 + 8, batch.lengths[index]);
          setSize(messageView, message + 40, 0); // no control data on send
          index++;
        }
        if (runTtl !== this.#ttl) this.#applyTtl(runTtl);
        sent += this.#sendRun(structures, batch, runStart, index - runStart, runTos);
      }
    } catch (error) {
      // A datagram the kernel refused (a firewall's EPERM, say) may still have used up a key:
      // start the count again rather than pair later times with the wrong probes.
      this.#transmitTimes?.restart();
      throw error;
    } finally {
      // A TTL is for the datagrams that asked for it only: others (another thread's) get the default.
      if (this.#ttl !== -1) this.#applyTtl(-1);
    }
    return sent;
  }

  /** Sends `batch[start, start + count)`, whose structures are written, with TOS `runTos`. */
  #sendRun(
    structures: BatchStructures,
    batch: DatagramBatch,
    start: number,
    count: number,
    runTos: number,
  ): number {
    const tos = runTos >= 0 ? runTos : this.#baseTos;
    if (tos !== this.#tos) this.#applyTos(tos);
    const now = this.#clock.now();
    for (let index = start; index < start + count; index++) batch.sentAt[index] = now;
    this.#sendProgress = 0;
    try {
      return this.#sendmmsg(structures, start, count);
    } finally {
      // The kernel numbers every datagram it accepts, in order, also before a failure.
      this.#transmitTimes?.number(batch, start, start + this.#sendProgress);
    }
  }

  /**
   * Sends `count` datagrams from slot `start`, retrying while the send buffer is full; returns
   * how many went. Those still unsent after `SEND_ATTEMPTS` calls are counted in `unsent`.
   */
  #sendmmsg(structures: BatchStructures, start: number, count: number): number {
    const c = libc();
    let done = 0;
    // ICMP errors reported on the call at the same datagram, in a row: one is read once, so an
    // errno that keeps coming back is the datagram's own failure (EMSGSIZE, EACCES).
    let icmpErrorsHere = 0;
    for (let attempt = 0; done < count && attempt < SEND_ATTEMPTS; attempt++) {
      const from = (start + done) * MMSGHDR_BYTES;
      // No view made for the common case, a batch sent whole from its first slot.
      const messages = from === 0 ? structures.messages : structures.messages.subarray(from);
      const result = c.sendmmsg(this.#fd, messages, count - done, MSG_DONTWAIT);
      if (result > 0) {
        done += result;
        this.#sendProgress = done;
        icmpErrorsHere = 0;
        // A traceable socket's run is cut short by every ICMP error that comes in during it
        // (loopback answers within the call): progress does not use up an attempt there.
        if (this.#traceable) attempt--;
        continue;
      }
      const errno = readErrno();
      // A full send buffer clears within microseconds: try again; anything else fails the rest.
      if (result < 0 && errno === Errno.EAGAIN) continue;
      if (
        result < 0 && this.#traceable && icmpErrorsHere < ICMP_ERRORS_PER_DATAGRAM &&
        isIcmpErrno(errno)
      ) {
        icmpErrorsHere++;
        this.icmpErrorsOnCalls++;
        continue;
      }
      throw errnoError("sendmmsg failed", "send", errno);
    }
    if (done < count) this.unsent += count - done;
    return done;
  }

  #applyTos(tos: number): void {
    this.#options.setTos(this.#family, tos);
    this.#tos = tos;
  }

  #applyTtl(ttl: number): void {
    this.#options.setTtl(this.#family, ttl);
    this.#ttl = ttl;
  }
}
