/**
 * The native engine's receive loop on a thread of its own: it blocks in `recvmmsg` and answers
 * with `sendmmsg` without ever leaving the thread, so no datagram waits for an event loop or a
 * hand-off between threads. Started by `startReflector`; the socket stays the main thread's.
 *
 * @module
 */
import { adoptNativeSocket, DatagramBatch, type SharedKey, systemClock } from "@llama/core";
import { Answerer } from "./answerer.ts";
import type { SourceLimitSettings } from "./source_limits.ts";
import { type PostedProperties, postedProperties } from "./_worker_errors.ts";

/** The Worker's global scope (typed here: a published module may not switch its lib to deno.worker). */
const scope = self as unknown as {
  postMessage(message: unknown): void;
  onmessage: ((event: MessageEvent<ReflectWorkerStart>) => void) | null;
  close(): void;
};

/** What the main thread sends to start the loop. */
export interface ReflectWorkerStart {
  /** The socket's file descriptor. */
  fd: number;
  /** Most answers per second; 0 means unlimited. */
  maxPps: number;
  /** Answers waiting for the rate limit before new ones are dropped. */
  backlogLimit: number;
  /** The source ports never answered, as `refusedPortTable` makes them. */
  refusedSourcePorts: Uint8Array;
  /** Keys of `--auth-key-file` (answer only probes they verify), or undefined. */
  authKeys: readonly SharedKey[] | undefined;
  /** `--allow` and `--per-source-pps`, applied here as on the event loop. */
  sourceLimits?: SourceLimitSettings;
  /** Datagrams per recvmmsg. */
  batchSize: number;
  /** Largest datagram. */
  slotBytes: number;
  /** The counters, `COUNTER_SLOTS` Float64 values, read by the main thread. */
  counters: SharedArrayBuffer;
  /** One Int32: set to 1 (then the socket shut down) to stop the loop. */
  stop: SharedArrayBuffer;
}

/** What the loop tells the main thread. */
export type ReflectWorkerMessage =
  | { type: "ready" }
  | ({ type: "warn"; message: string } & PostedProperties)
  | { type: "stopped" };

function post(message: ReflectWorkerMessage): void {
  scope.postMessage(message);
}

function run(start: ReflectWorkerStart): void {
  const socket = adoptNativeSocket(start.fd);
  const stop = new Int32Array(start.stop);
  const warn = (message: string, properties: Record<string, unknown>) =>
    post({ type: "warn", message, ...postedProperties(properties) });
  const answerer = new Answerer(
    socket,
    systemClock,
    {
      maxPps: start.maxPps,
      backlogLimit: start.backlogLimit,
      refusedSourcePorts: start.refusedSourcePorts,
      authKeys: start.authKeys,
      sourceLimits: start.sourceLimits,
    },
    new Float64Array(start.counters),
    warn,
  );
  const batch = new DatagramBatch(start.batchSize, start.slotBytes);
  const delayed = new DatagramBatch(1, start.slotBytes);
  post({ type: "ready" });
  let consecutiveErrors = 0;
  while (Atomics.load(stop, 0) === 0) {
    // Answers held back by the rate limit are older than anything received now: they go first.
    while (answerer.takeDelayed(delayed)) send(delayed, 1, 1);
    const wait = answerer.delayedWaitMs();
    let count: number;
    try {
      count = socket.receiveBlocking(batch, wait === Infinity ? -1 : Math.max(1, wait));
      consecutiveErrors = 0;
    } catch (error) {
      if (Atomics.load(stop, 0) !== 0) break;
      // Receive errors on an unconnected UDP socket are transient (ICMP errors, memory
      // pressure); log them and go on, pausing if they repeat so a bad state cannot spin.
      warn("Receive failed: {error}", { error });
      if (++consecutiveErrors > 10) Atomics.wait(stop, 0, 0, 100);
      continue;
    }
    // A shut-down socket "receives" an empty datagram: not one to count.
    if (Atomics.load(stop, 0) !== 0) break;
    if (count === 0) continue;
    const answers = answerer.answerBatch(batch, count);
    if (answers > 0) send(batch, count, answers);
  }
  post({ type: "stopped" });

  /** Sends the `answers` non-empty slots among the first `count` of `from`. */
  function send(from: DatagramBatch, count: number, answers: number): void {
    try {
      answerer.sent(socket.sendNow(from, count), answers);
    } catch (error) {
      // Stopping shuts the socket down under a send (EPIPE): not a failure to count.
      if (Atomics.load(stop, 0) === 0) answerer.sendFailed(error);
    }
  }
}

scope.onmessage = (event) => {
  scope.onmessage = null;
  run(event.data);
  scope.close();
};
