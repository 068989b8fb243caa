import { getLogger } from "@logtape/logtape";
import {
  DatagramBatch,
  type DatagramSocket,
  formatAddress,
  type Keyring,
  type OpenSocket,
  type SocketAddress,
  SocketError,
  STAMP_DROP_REASONS,
  type StampMode,
  type StampReceiveMeta,
  StampReflector,
  systemClock,
  TokenBucket,
} from "@llama/core";
import type { Reflector } from "./_reflector_interface.ts";
import type { StampCounters, StampNotAnsweredReason } from "./_stamp_counters.ts";
import { OVER_RATE, SourceLimits, type SourceLimitSettings, WITHIN_RATE } from "./source_limits.ts";

/** How the reflector's STAMP port runs. */
export interface StampPortOptions {
  /** UDP port to answer STAMP on (862 is the registered one; 0 lets the kernel choose). */
  port: number;
  /** Authenticated mode: only requests whose HMAC verifies with one of these keys are answered. */
  keyring?: Keyring;
  /** Default `stateless`. */
  mode?: StampMode;
}

const REASONS: readonly StampNotAnsweredReason[] = [
  ...STAMP_DROP_REASONS,
  "not-allowed",
  "source-port",
  "per-source-rate",
  "per-source-table-full",
  "throttled",
];
const NOT_ALLOWED = REASONS.indexOf("not-allowed");
const SOURCE_PORT = REASONS.indexOf("source-port");
const PER_SOURCE_RATE = REASONS.indexOf("per-source-rate");
const PER_SOURCE_TABLE_FULL = REASONS.indexOf("per-source-table-full");
const THROTTLED = REASONS.indexOf("throttled");
const SLOT_BYTES = 65536;

/**
 * The reflector's STAMP port: a socket of its own beside the LLAMA one, answered on the event
 * loop by a `StampReflector`, in place, with its replies sent in the DSCP they ask for.
 */
export class StampPort {
  /** The address it listens on, with the real port. */
  readonly address: SocketAddress;
  /** Settles when the loop has stopped. */
  readonly finished: Promise<void>;
  readonly #socket: DatagramSocket;
  readonly #reflector: StampReflector;
  readonly #refused: Uint8Array;
  readonly #limits: SourceLimits | undefined;
  readonly #bucket: TokenBucket | undefined;
  readonly #dropped = new Float64Array(REASONS.length);
  readonly #log = getLogger(["llama", "reflector", "stamp"]);
  #received = 0;
  #answered = 0;
  #sendErrors = 0;
  #closed = false;

  /** Opens the STAMP socket and starts answering. */
  static async open(
    openSocket: OpenSocket,
    options: StampPortOptions & {
      hostname: string;
      maxPps: number;
      refusedSourcePorts: Uint8Array;
      sourceLimits?: SourceLimitSettings;
      receiveBufferBytes?: number;
    },
  ): Promise<StampPort> {
    const socket = await openSocket({
      hostname: options.hostname,
      port: options.port,
      receiveTtl: true,
      receiveBufferBytes: options.receiveBufferBytes,
    });
    return new StampPort(socket, options);
  }

  private constructor(
    socket: DatagramSocket,
    options: StampPortOptions & {
      maxPps: number;
      refusedSourcePorts: Uint8Array;
      sourceLimits?: SourceLimitSettings;
    },
  ) {
    this.#socket = socket;
    this.address = socket.localAddress;
    this.#refused = options.refusedSourcePorts;
    this.#limits = SourceLimits.from(options.sourceLimits);
    this.#reflector = new StampReflector({
      mode: options.mode,
      keyring: options.keyring,
      now: () => socket.now(),
      canSetTos: socket.engine === "native",
    });
    if (options.maxPps > 0) {
      this.#bucket = new TokenBucket(
        { rate: options.maxPps, burst: Math.ceil(options.maxPps / 20) },
        systemClock,
      );
    }
    this.finished = this.#run(socket.engine === "native" ? 64 : 1);
    this.#log.info(
      "Answering STAMP on udp://{address} ({mode}, {auth})",
      {
        address: formatAddress(this.address),
        mode: this.#reflector.mode,
        auth: this.#reflector.authenticated ? "authenticated" : "unauthenticated",
      },
    );
  }

  /** A snapshot of the counters. */
  counters(): StampCounters {
    const dropped = {} as Record<StampNotAnsweredReason, number>;
    REASONS.forEach((reason, index) => dropped[reason] = this.#dropped[index]);
    return {
      received: this.#received,
      answered: this.#answered,
      dropped,
      sendErrors: this.#sendErrors,
      sessions: this.#reflector.sessions,
      perSourceTracked: this.#limits?.tracked ?? 0,
    };
  }

  /** Stops the loop and closes the socket. */
  async close(): Promise<void> {
    if (!this.#closed) {
      this.#closed = true;
      this.#socket.close();
    }
    await this.finished.catch(() => {});
  }

  async #run(batchSize: number): Promise<void> {
    const batch = new DatagramBatch(batchSize, SLOT_BYTES);
    const meta: StampReceiveMeta = { receivedAt: 0, ttl: -1, tos: -1, address: batch.addresses[0] };
    const reflector = this.#reflector;
    const socket = this.#socket;
    const limits = this.#limits;
    let consecutiveErrors = 0;
    while (!this.#closed) {
      let count: number;
      try {
        count = await socket.receive(batch);
        consecutiveErrors = 0;
      } catch (error) {
        if (this.#closed) break;
        consecutiveErrors++;
        this.#log.warn("Receive failed: {error}", { error });
        if (consecutiveErrors > 10) await new Promise((resolve) => setTimeout(resolve, 100));
        continue;
      }
      let answers = 0;
      for (let index = 0; index < count; index++) {
        this.#received++;
        const address = batch.addresses[index];
        const length = batch.lengths[index];
        batch.lengths[index] = 0;
        if (limits !== undefined && !limits.allows(address.hostname)) {
          this.#dropped[NOT_ALLOWED]++;
          continue;
        }
        if (this.#refused[address.port] === 1) {
          this.#dropped[SOURCE_PORT]++;
          continue;
        }
        meta.receivedAt = batch.receivedAt[index];
        meta.ttl = batch.ttl[index];
        meta.tos = batch.tos[index];
        meta.address = address;
        const slot = batch.slots[index];
        const replyLength = reflector.reflect(slot, length, meta, slot);
        if (replyLength === 0) {
          this.#dropped[STAMP_DROP_REASONS.indexOf(reflector.lastDrop!)]++;
          continue;
        }
        // Junk costs no token: only what would be answered is counted against the limits.
        if (limits !== undefined) {
          const verdict = limits.take(address.hostname, meta.receivedAt);
          if (verdict !== WITHIN_RATE) {
            this.#dropped[verdict === OVER_RATE ? PER_SOURCE_RATE : PER_SOURCE_TABLE_FULL]++;
            continue;
          }
        }
        if (this.#bucket !== undefined && !this.#bucket.take()) {
          this.#dropped[THROTTLED]++;
          continue;
        }
        batch.lengths[index] = replyLength;
        batch.tos[index] = reflector.replyTos;
        batch.ttl[index] = -1; // sent with the socket's TTL, not the one the request came with
        answers++;
      }
      if (answers === 0) continue;
      try {
        const sent = socket.sendNow !== undefined
          ? socket.sendNow(batch, count)
          : await socket.send(batch, count);
        this.#answered += sent;
      } catch (error) {
        if (error instanceof SocketError && error.operation === "closed") break;
        if (++this.#sendErrors <= 10) this.#log.warn("Reply not sent: {error}", { error });
      }
    }
  }
}

/**
 * A reflector with a STAMP port beside it: its counters gain `stamp`, and closing it closes both.
 */
export function withStampPort<R extends Reflector>(reflector: R, stamp: StampPort): Reflector {
  return {
    address: reflector.address,
    stampAddress: stamp.address,
    engine: reflector.engine,
    ownThread: reflector.ownThread,
    counters: () => ({ ...reflector.counters(), stamp: stamp.counters() }),
    finished: Promise.all([reflector.finished, stamp.finished]).then(() => {}),
    close: async () => {
      await Promise.all([reflector.close(), stamp.close()]);
    },
    [Symbol.asyncDispose]() {
      return this.close();
    },
  };
}
