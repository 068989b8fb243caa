import { getLogger } from "@logtape/logtape";
import {
  type Clock,
  DatagramBatch,
  type DatagramSocket,
  type EngineChoice,
  formatAddress,
  type Keyring,
  type NativeDatagramSocket,
  type OpenSocket,
  selectEngine,
  type SocketAddress,
  SocketError,
  systemClock,
} from "@llama/core";
import {
  Answerer,
  type AnswererSettings,
  COUNTER_SLOTS,
  readCounters,
  type ReflectorCounters,
} from "./answerer.ts";
import {
  DEFAULT_REFUSED_SOURCE_PORTS,
  parseSourcePorts,
  refusedPortTable,
} from "./_source_ports.ts";
import type { ReflectWorkerMessage, ReflectWorkerStart } from "./reflect_worker.ts";
import { receivedProperties } from "./_worker_errors.ts";
import { StampPort, type StampPortOptions, withStampPort } from "./stamp_port.ts";
import type { Reflector } from "./_reflector_interface.ts";
import { checkSourceLimits, type PerSourceOptions } from "./source_limits.ts";

export type { Reflector } from "./_reflector_interface.ts";

export type { InvalidReason, ReflectorCounters, RefusalReason } from "./answerer.ts";
export type { StampPortOptions } from "./stamp_port.ts";
export type { StampCounters, StampNotAnsweredReason } from "./_stamp_counters.ts";
export { DEFAULT_REFUSED_SOURCE_PORTS, parseSourcePorts } from "./_source_ports.ts";
export type { PerSourceOptions } from "./source_limits.ts";

/** How a reflector runs. Every field has the original LLAMA's default. */
export interface ReflectorOptions {
  /**
   * Address to listen on. Default: `::` (IPv4 and IPv6), or `0.0.0.0` where the host has no
   * IPv6.
   */
  hostname?: string;
  /** UDP port. Default 8100. */
  port?: number;
  /**
   * Most answers per second, any number of 0 or more (0.5 is one answer every 2 s); 0 means
   * unlimited (the original reflector answers nothing at 0: see docs/compatibility.md).
   * Default 5000.
   */
  maxPps?: number;
  /** Answers waiting for the rate limit before new ones are dropped. Default 1024. */
  backlog?: number;
  /**
   * Source ports whose datagrams are never answered: no prober sends from them, and answering
   * would start an echo loop or aim the reflector at a service. The reflector's own port and
   * port 0 are refused whatever this says. Default: `DEFAULT_REFUSED_SOURCE_PORTS` (8100, echo 7,
   * chargen 19, DNS 53, NTP 123, …).
   */
  refusedSourcePorts?: readonly number[];
  /**
   * CIDR prefixes (`10.0.0.0/8`, `2001:db8::/32`, or bare addresses) whose sources are answered,
   * on the LLAMA and STAMP ports alike; others are refused before anything else is looked at.
   * Default: every source.
   */
  allow?: readonly string[];
  /**
   * A token bucket per source address (per /64 for IPv6) on each port, in a table of bounded
   * size, besides `maxPps`: a source over its rate is refused, not delayed. Default: none.
   */
  perSource?: PerSourceOptions;
  /** Batches in flight while the next receive runs. Default 2 with the native engine, 8 with Deno's. */
  pipeline?: number;
  /** Datagrams per batch: 64 with the native engine (one recvmmsg), 1 with Deno's. */
  batchSize?: number;
  /** UDP engine: `auto` (native on Linux when FFI is permitted), `native` or `deno`. Default auto. */
  engine?: EngineChoice;
  /** Kernel receive buffer in bytes (native engine). Default 2 MiB. */
  receiveBufferBytes?: number;
  /**
   * Native engine: run the receive loop on a Worker of its own that blocks in `recvmmsg` and
   * answers at once, instead of on the event loop (a hand-off between threads per batch). A
   * fraction of the CPU, and answers within microseconds. Default true; ignored with Deno's
   * engine or an injected clock.
   */
  ownThread?: boolean;
  /**
   * Answer STAMP (RFC 8762/8972) on a port of its own too, same address and engine, with the
   * same source-port refusals and a rate limit of its own at `maxPps`. Default: no STAMP port.
   */
  stamp?: StampPortOptions;
  /**
   * Authenticated probes: answer only probes whose HMAC (field 10) verifies with a key of this
   * keyring, and sign each answer with the key that verified its probe. Default: answer every
   * probe, signed or not, as the original does.
   */
  authKeyring?: Keyring;
}

/** What the reflector needs from the world, replaceable in tests. */
export interface ReflectorDependencies {
  /** Opens the UDP socket. Default: `Deno.listenDatagram`. */
  openSocket?: OpenSocket;
  /** Clocks for reflection timestamps and the rate limit. Default: the system's. */
  clock?: Clock;
}

const SLOT_BYTES = 65536; // the largest UDP payload, so no datagram is ever cut short

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
  if (!(maxPps >= 0) || !Number.isFinite(maxPps)) {
    throw new RangeError(
      `Cannot start reflector: maxPps must be a finite number of 0 or more, got ${maxPps}`,
    );
  }
  checkInteger("backlog", backlogLimit, 0, 10_000_000);
  const sourceLimits = { allow: [...(options.allow ?? [])], perSource: options.perSource };
  checkSourceLimits(sourceLimits, "allow");
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
  let refusedSourcePorts: Uint8Array;
  try {
    checkInteger("batchSize", batchSize, 1, 1024);
    checkInteger("pipeline", pipeline, 1, 1024);
    for (const refused of options.refusedSourcePorts ?? []) {
      checkInteger("refusedSourcePorts[]", refused, 1, 65535);
    }
    refusedSourcePorts = refusedPortTable(
      options.refusedSourcePorts ??
        parseSourcePorts(DEFAULT_REFUSED_SOURCE_PORTS, "refusedSourcePorts"),
      socket.localAddress.port,
    );
  } catch (error) {
    socket.close();
    throw error;
  }
  const settings = {
    maxPps,
    backlogLimit,
    pipeline,
    batchSize,
    refusedSourcePorts,
    authKeys: options.authKeyring?.keys,
    sourceLimits,
  };
  let reflector: Reflector | undefined;
  if (
    socket.engine === "native" && options.ownThread !== false && dependencies.clock === undefined
  ) {
    try {
      reflector = await WorkerReflector.start(socket as NativeDatagramSocket, settings);
    } catch (error) {
      // The socket is still good: the event loop runs the same loop, at a higher cost.
      getLogger(["llama", "reflector"]).info(
        "Receiving on the event loop: the receive loop's own thread could not start: {reason}",
        { reason: (error as Error).message },
      );
    }
  }
  reflector ??= new RunningReflector(socket, clock, settings);
  if (options.stamp !== undefined) {
    try {
      checkInteger("stamp.port", options.stamp.port, 0, 65535);
      const stamp = await StampPort.open(openSocket, {
        ...options.stamp,
        hostname: reflector.address.hostname,
        maxPps,
        refusedSourcePorts,
        sourceLimits,
        receiveBufferBytes: options.receiveBufferBytes,
      });
      reflector = withStampPort(reflector, stamp);
    } catch (error) {
      await reflector.close();
      throw error;
    }
  }
  getLogger(["llama", "reflector"]).info(
    "Reflecting probes on udp://{address} ({engine} engine{thread}, max {maxPps} answers/s" +
      "{perSource}{allow}{auth})",
    {
      auth: options.authKeyring === undefined
        ? ""
        : `, signed probes only: ${options.authKeyring.size} key(s)`,
      address: formatAddress(reflector.address),
      engine: reflector.engine,
      thread: reflector.ownThread ? " on its own thread" : "",
      maxPps: maxPps === 0 ? "unlimited" : maxPps,
      perSource: options.perSource === undefined ? "" : `, ${options.perSource.pps} per source`,
      allow: sourceLimits.allow.length === 0 ? "" : `, sources in ${sourceLimits.allow.join(" ")}`,
    },
  );
  return reflector;
}

function checkInteger(name: string, value: number, min: number, max: number): void {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new RangeError(
      `Cannot start reflector: ${name} must be an integer in ${min}..${max}, got ${value}`,
    );
  }
}

/** What binding "::" fails with on a host without IPv6 (either engine). */
const IPV6_UNAVAILABLE: ReadonlySet<string> = new Set(["EAFNOSUPPORT", "EPROTONOSUPPORT"]);

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
    if (!(error instanceof SocketError) || !IPV6_UNAVAILABLE.has(error.code ?? "")) throw error;
    return await openSocket({ hostname: "0.0.0.0", port, receiveBufferBytes });
  }
}

/** A reflector whose loop runs on the event loop: Deno's engine, or the native one when asked. */
class RunningReflector implements Reflector {
  readonly address: SocketAddress;
  readonly engine: string;
  readonly ownThread = false;
  readonly finished: Promise<void>;
  readonly #socket: DatagramSocket;
  readonly #counters = new Float64Array(COUNTER_SLOTS);
  readonly #answerer: Answerer;
  readonly #log = getLogger(["llama", "reflector"]);
  #draining: Promise<void> | undefined;
  #closed = false;

  constructor(
    socket: DatagramSocket,
    clock: Clock,
    settings: AnswererSettings & { pipeline: number; batchSize: number },
  ) {
    this.#socket = socket;
    this.address = socket.localAddress;
    this.engine = socket.engine;
    this.#answerer = new Answerer(
      socket,
      clock,
      settings,
      this.#counters,
      (message, properties) => this.#log.warn(message, properties),
    );
    this.finished = this.#run(settings.pipeline, settings.batchSize);
  }

  counters(): ReflectorCounters {
    return readCounters(this.#counters);
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
    const answerer = this.#answerer;
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
        const answers = answerer.answerBatch(batch, count);
        if (answers > 0) {
          sending[index] = this.#socket.send(batch, count).then(
            (sent) => answerer.sent(sent, answers),
            (error) => answerer.sendFailed(error),
          );
        } else {
          sending[index] = undefined;
        }
        if (answerer.backlog > 0) {
          this.#draining ??= this.#drain().finally(() => {
            this.#draining = undefined;
          });
        }
      }
    } finally {
      await Promise.all(sending);
      await this.#draining;
    }
  }

  /** Sends delayed answers as the rate limit allows, oldest first. */
  async #drain(): Promise<void> {
    const batch = new DatagramBatch(1, SLOT_BYTES);
    const answerer = this.#answerer;
    while (answerer.backlog > 0 && !this.#closed) {
      const wait = answerer.delayedWaitMs();
      if (wait > 0) {
        await new Promise((resolve) => setTimeout(resolve, Math.max(1, wait)));
        continue;
      }
      if (!answerer.takeDelayed(batch)) continue;
      try {
        answerer.sent(await this.#socket.send(batch, 1), 1);
      } catch (error) {
        answerer.sendFailed(error);
      }
    }
  }
}

const WORKER_URL = new URL("./reflect_worker.ts", import.meta.url);

/**
 * A reflector whose loop runs on a Worker blocking in `recvmmsg` (reflect_worker.ts). The main
 * thread keeps the socket, reads the counters the Worker writes to shared memory, and logs for
 * it.
 */
class WorkerReflector implements Reflector {
  readonly address: SocketAddress;
  readonly engine: string;
  readonly ownThread = true;
  readonly finished: Promise<void>;
  readonly #socket: NativeDatagramSocket;
  readonly #worker: Worker;
  readonly #counters = new Float64Array(new SharedArrayBuffer(COUNTER_SLOTS * 8));
  readonly #stop = new Int32Array(new SharedArrayBuffer(4));
  #closed = false;
  /** Set once the loop has stopped (or failed) and the socket is closed. */
  #settled = false;

  static async start(
    socket: NativeDatagramSocket,
    settings: AnswererSettings & { batchSize: number },
  ): Promise<WorkerReflector> {
    // From a checkout the Worker reads its modules from disk, which needs read permission: ask
    // first rather than let Deno print the Worker's failure as an uncaught error. (A compiled
    // program embeds them: `--include reflect_worker.ts`.)
    if (
      WORKER_URL.protocol === "file:" && !Deno.build.standalone &&
      Deno.permissions.querySync({ name: "read", path: WORKER_URL }).state !== "granted"
    ) {
      throw new Error(
        `it needs read access to ${decodeURIComponent(WORKER_URL.pathname)} and the modules it ` +
          "imports (from a checkout: --allow-read, as `deno task reflector` grants; at least --allow-read=reflector,core)",
      );
    }
    const reflector = new WorkerReflector(socket, settings);
    try {
      await reflector.#ready;
    } catch (error) {
      // The Worker never ran the loop: the socket goes back to the caller, open.
      reflector.#worker.terminate();
      throw error;
    }
    return reflector;
  }

  #ready: Promise<void>;

  private constructor(
    socket: NativeDatagramSocket,
    settings: AnswererSettings & { batchSize: number },
  ) {
    this.#socket = socket;
    this.address = socket.localAddress;
    this.engine = socket.engine;
    const log = getLogger(["llama", "reflector"]);
    const ready = Promise.withResolvers<void>();
    const stopped = Promise.withResolvers<void>();
    this.#ready = ready.promise;
    this.#worker = new Worker(WORKER_URL.href, {
      type: "module",
      name: "llama reflector loop",
    });
    this.#worker.onmessage = (event: MessageEvent<ReflectWorkerMessage>) => {
      const message = event.data;
      if (message.type === "ready") ready.resolve();
      else if (message.type === "warn") log.warn(message.message, receivedProperties(message));
      else if (message.type === "stopped") stopped.resolve();
    };
    this.#worker.onerror = (event) => {
      event.preventDefault();
      const error = new SocketError(`the reflector's receive loop failed: ${event.message}`, {
        operation: "receive",
      });
      ready.reject(error);
      stopped.reject(error);
    };
    const start: ReflectWorkerStart = {
      fd: socket.fd,
      maxPps: settings.maxPps,
      backlogLimit: settings.backlogLimit,
      refusedSourcePorts: settings.refusedSourcePorts,
      authKeys: settings.authKeys,
      sourceLimits: settings.sourceLimits,
      batchSize: settings.batchSize,
      slotBytes: SLOT_BYTES,
      counters: this.#counters.buffer as SharedArrayBuffer,
      stop: this.#stop.buffer as SharedArrayBuffer,
    };
    this.#worker.postMessage(start);
    ready.promise.catch(() => {});
    stopped.promise.catch(() => {});
    this.finished = ready.promise.then(() =>
      stopped.promise.finally(() => {
        this.#settled = true;
        this.#worker.terminate();
        // Closed only now: a descriptor closed under the Worker could be reused by another socket.
        this.#socket.close();
      })
    );
    this.finished.catch(() => {});
  }

  counters(): ReflectorCounters {
    return readCounters(this.#counters);
  }

  async close(): Promise<void> {
    if (!this.#closed) {
      this.#closed = true;
      Atomics.store(this.#stop, 0, 1);
      Atomics.notify(this.#stop, 0); // ends a pause after repeated receive errors at once
      // A loop that already ended has closed the socket: its number may be another's now.
      if (!this.#settled) this.#socket.shutdown();
    }
    await this.finished.catch(() => {});
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
