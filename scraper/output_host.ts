import type { Logger } from "@logtape/logtape";
import { PluginError } from "@llama/core";
import type { Output, Point } from "@llama/plugins";
import type { Spool } from "./spool.ts";

/** How an output host queues and retries. */
export interface OutputHostSettings {
  /** Points kept in memory before new ones go to the spool (or, without one, the oldest are dropped). */
  memoryPoints: number;
  /** Most points per write. */
  batchPoints: number;
  /** First retry delay and longest, in milliseconds; each failure doubles it, with jitter. */
  retry: { initialMs: number; maxMs: number };
  /** Longest a write may take, in milliseconds. */
  writeTimeoutMs: number;
}

/** An output host's counters. */
export interface OutputHostCounters {
  /** Points written. */
  written: number;
  /** Points the output refused for good (non-retryable errors). */
  rejected: number;
  /** Points dropped because memory was full and there is no data directory. */
  dropped: number;
  /** Failed writes (each retried). */
  failures: number;
  /** Points waiting, in memory and on disk. */
  queued: number;
  /** Points waiting on disk. */
  spooled: number;
  /** Time of the last successful write, milliseconds since the epoch, or 0. */
  lastSuccess: number;
}

/**
 * Owns one output: queues the points given to it, writes them in order in batches, retries
 * failed writes with exponential backoff and jitter, times writes out, and keeps points that
 * wait too long on disk. The plugin only writes.
 */
export class OutputHost {
  /** The output's instance name. */
  readonly name: string;
  readonly #output: Output;
  readonly #settings: OutputHostSettings;
  readonly #spool: Spool | undefined;
  readonly #log: Logger;
  /** Batches waiting in memory, oldest first; the one being written is not among them. */
  readonly #memory: Point[][] = [];
  /** Points in memory, including the batch being written. */
  #memoryPoints = 0;
  #spooling: Promise<void> = Promise.resolve();
  #wake: (() => void) | undefined;
  /** Set by every change to the queue, so the writer never sleeps through one. */
  #signaled = false;
  readonly #stop = new AbortController();
  readonly #loop: Promise<void>;
  /** Counters, kept up to date. */
  readonly counters: OutputHostCounters = {
    written: 0,
    rejected: 0,
    dropped: 0,
    failures: 0,
    queued: 0,
    spooled: 0,
    lastSuccess: 0,
  };

  /** Starts writing to `output`; `spool` (if any) holds points that wait on disk. */
  constructor(
    name: string,
    output: Output,
    settings: OutputHostSettings,
    spool: Spool | undefined,
    log: Logger,
  ) {
    this.name = name;
    this.#output = output;
    this.#settings = settings;
    this.#spool = spool;
    // Every line names the output, in its text and as a property.
    this.#log = log.with({ output: name });
    this.#refreshCounters();
    this.#loop = this.#run();
  }

  /** Queues points; never waits and never fails. */
  enqueue(points: readonly Point[]): void {
    if (points.length === 0) return;
    const batch = [...points];
    const spool = this.#spool;
    if (
      spool !== undefined &&
      (spool.batches > 0 || this.#memoryPoints + batch.length > this.#settings.memoryPoints)
    ) {
      // Once anything waits on disk, everything newer goes there too, so order is kept.
      this.#spooling = this.#spooling.then(async () => {
        const size = this.#settings.batchPoints;
        let start = 0;
        try {
          for (; start < batch.length; start += size) {
            await spool.append(batch.slice(start, start + size));
          }
        } catch (error) {
          // What could not go to disk waits in memory rather than being lost.
          const rest = batch.slice(start);
          this.#log.error(
            "{output}: cannot spill {count} points to {directory}, keeping them in memory: {error}",
            { count: rest.length, directory: spool.directory, error },
          );
          this.#memory.push(rest);
          this.#memoryPoints += rest.length;
        } finally {
          this.#refreshCounters();
          this.#notify();
        }
      });
      return;
    }
    this.#memory.push(batch);
    this.#memoryPoints += batch.length;
    // The batch being written is not in #memory, so it is never dropped under the writer.
    while (
      spool === undefined && this.#memoryPoints > this.#settings.memoryPoints &&
      this.#memory.length > 1
    ) {
      const dropped = this.#memory.shift()!;
      this.#memoryPoints -= dropped.length;
      this.counters.dropped += dropped.length;
      this.#log.error(
        "{output} is behind and there is no data directory: dropped {count} oldest points",
        { count: dropped.length },
      );
    }
    this.#refreshCounters();
    this.#notify();
  }

  /** Resolves once nothing waits (true), or after `timeoutMs` (false). */
  async drained(timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      await this.#spooling;
      if (this.counters.queued === 0 && this.#memoryPoints === 0) return true;
      if (Date.now() >= deadline) return false;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  /** Stops writing, keeps what waits in memory on disk (when there is a spool), and disposes the output. */
  async close(): Promise<void> {
    this.#stop.abort();
    this.#notify();
    await this.#loop;
    await this.#spooling;
    if (this.#spool !== undefined) {
      for (const batch of this.#memory.reverse()) await this.#spool.prepend(batch);
      if (this.#memoryPoints > 0) {
        this.#log.info("{output}: {count} points kept in {directory} for the next start", {
          count: this.#memoryPoints,
          directory: this.#spool.directory,
        });
      }
      this.#memory.length = 0;
      this.#memoryPoints = 0;
    } else if (this.#memoryPoints > 0) {
      this.#log.warn(
        "{output}: {count} points were not written and there is no data directory to keep them",
        { count: this.#memoryPoints },
      );
    }
    await this.#output[Symbol.asyncDispose]?.();
  }

  #notify(): void {
    this.#signaled = true;
    this.#wake?.();
  }

  async #run(): Promise<void> {
    let attempt = 0;
    while (!this.#stop.signal.aborted) {
      this.#signaled = false;
      const next = await this.#next();
      if (next === undefined) {
        // Points may have come while #next was looking: sleep only if nothing changed since.
        if (!this.#signaled) await new Promise<void>((resolve) => (this.#wake = resolve));
        this.#wake = undefined;
        continue;
      }
      const { points, done, retry } = next;
      const timeout = AbortSignal.any([
        this.#stop.signal,
        AbortSignal.timeout(this.#settings.writeTimeoutMs),
      ]);
      try {
        await this.#output.write(points, timeout);
        await done();
        this.counters.written += points.length;
        this.counters.lastSuccess = Date.now();
        if (attempt > 0) this.#log.info("{output} is writing again");
        attempt = 0;
      } catch (error) {
        if (this.#stop.signal.aborted) {
          retry();
          break;
        }
        if (error instanceof PluginError && !error.retryable) {
          await done();
          this.counters.rejected += points.length;
          this.#log.error("{output} refused {count} points for good: {error}", {
            count: points.length,
            error,
          });
          continue;
        }
        this.counters.failures++;
        retry();
        const delay = Math.min(
          this.#settings.retry.maxMs,
          this.#settings.retry.initialMs * 2 ** attempt,
        );
        const wait = delay / 2 + Math.random() * delay / 2;
        attempt++;
        this.#log.warn(
          "{output}: write of {count} points failed ({error}); retry {attempt} in {seconds} s",
          {
            count: points.length,
            error,
            attempt,
            seconds: (wait / 1000).toFixed(1),
          },
        );
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, wait);
          this.#stop.signal.addEventListener("abort", () => {
            clearTimeout(timer);
            resolve();
          }, { once: true });
        });
      } finally {
        this.#refreshCounters();
      }
    }
  }

  /**
   * The next batch to write (memory first: it is older than the spool), `done` to release it once
   * written or refused, and `retry` to put it back in front after a failure. A batch from memory
   * leaves #memory while it is written, so enqueue() cannot drop it under the writer.
   */
  async #next(): Promise<
    { points: Point[]; done: () => Promise<void>; retry: () => void } | undefined
  > {
    const limit = this.#settings.batchPoints;
    if (this.#memory.length > 0) {
      const first = this.#memory.shift()!;
      const points = first.length <= limit ? first : first.slice(0, limit);
      if (points !== first) this.#memory.unshift(first.slice(limit));
      return {
        points,
        done: () => {
          this.#memoryPoints -= points.length;
          return Promise.resolve();
        },
        retry: () => void this.#memory.unshift(points),
      };
    }
    await this.#spooling;
    const spooled = await this.#spool?.peek();
    if (spooled === undefined) return undefined;
    return { points: spooled, done: () => this.#spool!.shift(), retry: () => {} };
  }

  #refreshCounters(): void {
    const spooled = this.#spool?.points ?? 0;
    this.counters.spooled = spooled;
    this.counters.queued = this.#memoryPoints + spooled;
  }
}
