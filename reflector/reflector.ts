import { getLogger } from "@logtape/logtape";
import {
  type Clock,
  DatagramBatch,
  type DatagramSocket,
  type EngineChoice,
  fillReflection,
  formatAddress,
  type OpenSocket,
  ProbeReader,
  type ProbeRejection,
  ReflectionFlag,
  reflectionFlags,
  selectEngine,
  type SocketAddress,
  SocketError,
  systemClock,
  TokenBucket,
  WallNanos,
} from "@llama/core";

/** How a reflector runs. Every field has the original LLAMA's default. */
export interface ReflectorOptions {
  /**
   * Address to listen on. Default: `::` (IPv4 and IPv6), or `0.0.0.0` where the host has no
   * IPv6.
   */
  hostname?: string;
  /** UDP port. Default 8100. */
  port?: number;
  /** Most answers per second; 0 means unlimited. Default 5000. */
  maxPps?: number;
  /** Answers waiting for the rate limit before new ones are dropped. Default 1024. */
  backlog?: number;
  /** Batches in flight while the next receive runs. Default 2 with the native engine, 8 with Deno's. */
  pipeline?: number;
  /** Datagrams per batch: 64 with the native engine (one recvmmsg), 1 with Deno's. */
  batchSize?: number;
  /** UDP engine: `auto` (native on Linux when FFI is permitted), `native` or `deno`. Default auto. */
  engine?: EngineChoice;
  /** Kernel receive buffer in bytes (native engine). Default 2 MiB. */
  receiveBufferBytes?: number;
}

/** What the reflector needs from the world, replaceable in tests. */
export interface ReflectorDependencies {
  /** Opens the UDP socket. Default: `Deno.listenDatagram`. */
  openSocket?: OpenSocket;
  /** Clocks for reflection timestamps and the rate limit. Default: the system's. */
  clock?: Clock;
}

/** Why a datagram was not answered: a `ProbeRejection`, or `answer` for a filled reflection. */
export type InvalidReason = ProbeRejection | "answer";

/** The reflector's counters since it started. */
export interface ReflectorCounters {
  /** Datagrams received. */
  received: number;
  /** Answers sent. */
  answered: number;
  /** Datagrams that were not probes, by reason. */
  invalid: Record<InvalidReason, number>;
  /** Answers delayed by the rate limit. */
  throttled: number;
  /** Answers dropped because the backlog was full. */
  dropped: number;
  /** Answers the socket failed to send. */
  sendErrors: number;
  /** Answers waiting in the backlog now. */
  backlog: number;
}

/** A running reflector. */
export interface Reflector extends AsyncDisposable {
  /** The address it listens on, with the real port. */
  readonly address: SocketAddress;
  /** The socket implementation in use. */
  readonly engine: string;
  /** A snapshot of the counters. */
  counters(): ReflectorCounters;
  /** Settles when the reflector has stopped: resolves after `close()`, rejects on a fatal error. */
  readonly finished: Promise<void>;
  /** Stops receiving, waits for pending answers, closes the socket. */
  close(): Promise<void>;
}

const SLOT_BYTES = 65536; // the largest UDP payload, so no datagram is ever cut short

interface Delayed {
  bytes: Uint8Array;
  address: SocketAddress;
  receivedAt: number;
  tos: number;
  reflectionOffset: number;
  kernelTime: boolean;
}

/**
 * Starts a reflector: it answers every valid `llama.Probe` to its source with the bytes it
 * received, filling llama's reflection field in place when the probe reserves one, and never
 * answers anything else.
 *
 * @example
 * ```ts
 * import { startReflector } from "@llama/reflector";
 * await using reflector = await startReflector({ hostname: "127.0.0.1", port: 0 });
 * console.assert(reflector.address.port > 0);
 * ```
 */
export async function startReflector(
  options: ReflectorOptions = {},
  dependencies: ReflectorDependencies = {},
): Promise<Reflector> {
  const engine = dependencies.openSocket === undefined
    ? selectEngine(options.engine ?? "auto")
    : undefined;
  if (engine?.fallbackReason !== undefined) {
    getLogger(["llama", "reflector"]).info(
      "Using Deno.listenDatagram: the native engine is unavailable: {reason}",
      {
        reason: engine.fallbackReason,
      },
    );
  }
  const openSocket = dependencies.openSocket ?? engine!.open;
  const clock = dependencies.clock ?? systemClock;
  const port = options.port ?? 8100;
  const maxPps = options.maxPps ?? 5000;
  const backlogLimit = options.backlog ?? 1024;
  checkInteger("port", port, 0, 65535);
  checkInteger("maxPps", maxPps, 0, 100_000_000);
  checkInteger("backlog", backlogLimit, 0, 10_000_000);
  const socket = await bindReflectorSocket(
    openSocket,
    options.hostname,
    port,
    options.receiveBufferBytes,
  );
  // The native engine moves 64 datagrams per call and sends synchronously, so two batches in
  // flight are plenty; Deno's moves one per call, and overlapping sends is what helps it.
  const batchSize = options.batchSize ?? (socket.engine === "native" ? 64 : 1);
  const pipeline = options.pipeline ?? (socket.engine === "native" ? 2 : 8);
  try {
    checkInteger("batchSize", batchSize, 1, 1024);
    checkInteger("pipeline", pipeline, 1, 1024);
  } catch (error) {
    socket.close();
    throw error;
  }
  return new RunningReflector(socket, clock, { maxPps, backlogLimit, pipeline, batchSize });
}

function checkInteger(name: string, value: number, min: number, max: number): void {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new RangeError(
      `Cannot start reflector: ${name} must be an integer in ${min}..${max}, got ${value}`,
    );
  }
}

async function bindReflectorSocket(
  openSocket: OpenSocket,
  hostname: string | undefined,
  port: number,
  receiveBufferBytes: number | undefined,
): Promise<DatagramSocket> {
  if (hostname !== undefined) return await openSocket({ hostname, port, receiveBufferBytes });
  try {
    return await openSocket({ hostname: "::", port, receiveBufferBytes });
  } catch (error) {
    // A host without IPv6 cannot bind "::"; IPv4 alone is still useful. Other errors (port in
    // use, missing permission) would fail the same way on 0.0.0.0 and are reported as they are.
    if (
      !(error instanceof SocketError) || !/family|not supported|unavailable/i.test(error.message)
    ) {
      throw error;
    }
    return await openSocket({ hostname: "0.0.0.0", port, receiveBufferBytes });
  }
}

class RunningReflector implements Reflector {
  readonly address: SocketAddress;
  readonly engine: string;
  readonly finished: Promise<void>;
  readonly #socket: DatagramSocket;
  readonly #clock: Clock;
  readonly #wall: WallNanos;
  readonly #reader = new ProbeReader();
  readonly #bucket: TokenBucket | undefined;
  readonly #backlogLimit: number;
  readonly #backlog: Delayed[] = [];
  readonly #log = getLogger(["llama", "reflector"]);
  #draining: Promise<void> | undefined;
  #closed = false;
  #received = 0;
  #answered = 0;
  #throttled = 0;
  #dropped = 0;
  #sendErrors = 0;
  readonly #invalid: Record<InvalidReason, number> = {
    "truncated": 0,
    "varint-overflow": 0,
    "bad-field-number": 0,
    "bad-wire-type": 0,
    "bad-reflection": 0,
    "no-signature": 0,
    "answer": 0,
  };

  constructor(
    socket: DatagramSocket,
    clock: Clock,
    settings: { maxPps: number; backlogLimit: number; pipeline: number; batchSize: number },
  ) {
    this.#socket = socket;
    this.#clock = clock;
    this.#wall = new WallNanos(clock);
    this.address = socket.localAddress;
    this.engine = socket.engine;
    this.#backlogLimit = settings.backlogLimit;
    if (settings.maxPps > 0) {
      // A burst of 50 ms worth lets a collector's cycle through many targets pass unthrottled.
      this.#bucket = new TokenBucket(
        { rate: settings.maxPps, burst: Math.ceil(settings.maxPps / 20) },
        clock,
      );
    }
    this.#log.info(
      "Reflecting probes on udp://{address} ({engine} engine, max {maxPps} answers/s)",
      {
        address: formatAddress(this.address),
        engine: this.engine,
        maxPps: settings.maxPps === 0 ? "unlimited" : settings.maxPps,
      },
    );
    this.finished = this.#run(settings.pipeline, settings.batchSize);
  }

  counters(): ReflectorCounters {
    return {
      received: this.#received,
      answered: this.#answered,
      invalid: { ...this.#invalid },
      throttled: this.#throttled,
      dropped: this.#dropped,
      sendErrors: this.#sendErrors,
      backlog: this.#backlog.length,
    };
  }

  async close(): Promise<void> {
    if (!this.#closed) {
      this.#closed = true;
      this.#socket.close();
    }
    await this.finished.catch(() => {});
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  async #run(pipeline: number, batchSize: number): Promise<void> {
    // A ring of batches: a batch's answers are sent while the next batch receives, and a batch is
    // reused only once its send has finished.
    const batches = Array.from(
      { length: pipeline },
      () => new DatagramBatch(batchSize, SLOT_BYTES),
    );
    const sending: (Promise<void> | undefined)[] = new Array(pipeline);
    let consecutiveErrors = 0;
    try {
      for (let index = 0; !this.#closed; index = (index + 1) % pipeline) {
        const batch = batches[index];
        if (sending[index] !== undefined) await sending[index];
        let count: number;
        try {
          count = await this.#socket.receive(batch);
          consecutiveErrors = 0;
        } catch (error) {
          if (this.#closed) break;
          // Receive errors on an unconnected UDP socket are transient (ICMP errors, memory
          // pressure); log them and go on, pausing if they repeat so a bad state cannot spin.
          consecutiveErrors++;
          this.#log.warn("Receive failed: {error}", { error });
          if (consecutiveErrors > 10) await new Promise((resolve) => setTimeout(resolve, 100));
          continue;
        }
        if (this.#answerBatch(batch, count) > 0) {
          sending[index] = this.#socket.send(batch, count).then(
            (sent) => {
              this.#answered += sent;
            },
            (error) => this.#sendFailed(error),
          );
        } else {
          sending[index] = undefined;
        }
      }
    } finally {
      await Promise.all(sending);
      await this.#draining;
    }
  }

  /** Prepares a received batch for sending in place; returns how many answers it holds. */
  #answerBatch(batch: DatagramBatch, count: number): number {
    let answers = 0;
    for (let index = 0; index < count; index++) {
      this.#received++;
      const bytes = batch.slots[index];
      const length = batch.lengths[index];
      const reader = this.#reader;
      if (!reader.read(bytes, length)) {
        this.#invalid[reader.rejection ?? "truncated"]++;
        batch.lengths[index] = 0;
        continue;
      }
      // Offsets in the batch's shared view: no per-datagram view is allocated.
      const reflection = reader.reflectionOffset < 0
        ? -1
        : bytes.byteOffset + reader.reflectionOffset;
      if (reflection >= 0) {
        if (reflectionFlags(batch.view, reflection) & ReflectionFlag.filled) {
          // Already answered by a reflector: answering it would bounce it back and forth forever.
          this.#invalid.answer++;
          batch.lengths[index] = 0;
          continue;
        }
      }
      if (this.#bucket !== undefined && (this.#backlog.length > 0 || !this.#bucket.take())) {
        this.#delay(batch, index, reader.reflectionOffset);
        batch.lengths[index] = 0;
        continue;
      }
      if (reflection >= 0) {
        this.#fill(
          batch.view,
          reflection,
          batch.receivedAt[index],
          batch.tos[index],
          batch.timestampSource === "kernel",
        );
      }
      answers++;
    }
    return answers;
  }

  #fill(
    view: DataView,
    offset: number,
    receivedAt: number,
    tos: number,
    kernelTime: boolean,
  ): void {
    const wall = this.#wall;
    wall.convert(receivedAt);
    const receivedHigh = wall.high;
    const receivedLow = wall.low;
    // The send time on the socket's own clock: with kernel receive times, the same clock.
    wall.convert(this.#socket.now());
    fillReflection(view, offset, {
      receivedHigh,
      receivedLow,
      sentHigh: wall.high,
      sentLow: wall.low,
      tos,
      flags: kernelTime ? ReflectionFlag.kernelReceiveTime : 0,
    });
  }

  #delay(batch: DatagramBatch, index: number, reflectionOffset: number): void {
    if (this.#backlog.length >= this.#backlogLimit) {
      this.#dropped++;
      return;
    }
    this.#throttled++;
    const address = batch.addresses[index];
    this.#backlog.push({
      bytes: batch.slots[index].slice(0, batch.lengths[index]),
      address: { hostname: address.hostname, port: address.port },
      receivedAt: batch.receivedAt[index],
      tos: batch.tos[index],
      reflectionOffset,
      kernelTime: batch.timestampSource === "kernel",
    });
    this.#draining ??= this.#drain().finally(() => {
      this.#draining = undefined;
    });
  }

  /** Sends delayed answers as the rate limit allows, oldest first. */
  async #drain(): Promise<void> {
    const batch = new DatagramBatch(1, SLOT_BYTES);
    while (this.#backlog.length > 0 && !this.#closed) {
      const wait = this.#bucket?.waitMs() ?? 0;
      if (wait > 0) {
        await new Promise((resolve) => setTimeout(resolve, Math.max(1, wait)));
        continue;
      }
      if (this.#bucket !== undefined && !this.#bucket.take()) continue;
      const delayed = this.#backlog.shift()!;
      batch.slots[0].set(delayed.bytes);
      batch.lengths[0] = delayed.bytes.length;
      batch.addresses[0] = delayed.address;
      batch.tos[0] = delayed.tos; // answered in the probe's traffic class, as at once
      if (delayed.reflectionOffset >= 0) {
        this.#fill(
          batch.view,
          delayed.reflectionOffset,
          delayed.receivedAt,
          delayed.tos,
          delayed.kernelTime,
        );
      }
      try {
        this.#answered += await this.#socket.send(batch, 1);
      } catch (error) {
        this.#sendFailed(error);
      }
    }
  }

  #sendFailed(error: unknown): void {
    if (error instanceof SocketError && error.operation === "closed") return;
    this.#sendErrors++;
    // One line per failure would flood the log when a peer's host is unreachable; the counter
    // keeps the total and the first few are logged.
    if (this.#sendErrors <= 10 || this.#sendErrors % 1000 === 0) {
      this.#log.warn("Answer not sent ({count} so far): {error}", {
        count: this.#sendErrors,
        error,
      });
    }
  }
}
