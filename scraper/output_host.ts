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
  /** Points the output refused for good (non-retryable errors), set aside in the dead-letter file. */
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
  /** Spool files that could not be read back, moved aside as `*.damaged`. */
  damaged: number;
  /** Points refused for good and not kept, the dead-letter file being full (counted in `rejected` too). */
  unkept: number;
}

/** A batch being written, and how to release it or put (what is left of) it back. */
interface NextBatch {
  points: Point[];
  done: () => Promise<void>;
  retry: (rest: Point[]) => Promise<void>;
}

/**
 * Owns one output: keeps the points given to it (on disk first, when there is a spool), writes
 * them in order in batches, retries failed writes with exponential backoff and jitter, times
 * writes out, and sets aside the points the output refuses for good without holding back the
 * others. The plugin only writes.
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
  readonly #destinationGone = Promise.withResolvers<PluginError>();
  /** The error that said the destination is gone for good (a closed pipe), once one did. */
  #gone: PluginError | undefined;
  #closing: Promise<void> | undefined;
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
    damaged: 0,
    unkept: 0,
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

  /**
   * Takes points; never fails. With a spool, they go to the disk first (flushed before the
   * returned promise resolves): a scraper killed any time after that loses none of them. Without
   * one, they wait in memory, where the oldest are dropped past `memoryPoints`.
   */
  enqueue(points: readonly Point[]): Promise<void> {
    if (points.length === 0) return Promise.resolve();
    const batch = [...points];
    const spool = this.#spool;
    if (spool !== undefined) {
      // Appended one after the other, so the files keep the order the points came in.
      const kept = this.#spooling.then(async () => {
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
            "{output}: cannot keep {count} points in {directory}, holding them in memory: {error}",
            { count: rest.length, directory: spool.directory, error },
          );
          this.#memory.push(rest);
          this.#memoryPoints += rest.length;
        } finally {
          this.#refreshCounters();
          this.#notify();
        }
      });
      this.#spooling = kept;
      return kept;
    }
    this.#memory.push(batch);
    this.#memoryPoints += batch.length;
    // The batch being written is not in #memory, so it is never dropped under the writer.
    while (this.#memoryPoints > this.#settings.memoryPoints && this.#memory.length > 1) {
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
    return Promise.resolve();
  }

  /**
   * Queues what the output derives from a whole scrape round's points (its `aggregate` hook,
   * per-group aggregates say), like any other points; nothing when it has no such hook. A hook
   * that throws is logged, not passed on: the round's own points are queued already.
   */
  enqueueAggregates(roundPoints: readonly Point[]): Promise<void> {
    const aggregate = this.#output.aggregate;
    if (aggregate === undefined || roundPoints.length === 0) return Promise.resolve();
    let derived: Point[];
    try {
      derived = aggregate.call(this.#output, roundPoints);
    } catch (error) {
      this.#log.error("{output}: cannot aggregate {count} points of a round: {error}", {
        count: roundPoints.length,
        error,
      });
      return Promise.resolve();
    }
    return this.enqueue(derived);
  }

  /**
   * Resolves with the output's error once its destination is gone for good (a pipe whose reader
   * closed it); the host writes no more then, and keeps what waits. Pending otherwise.
   */
  get destinationClosed(): Promise<PluginError> {
    return this.#destinationGone.promise;
  }

  /**
   * Resolves once nothing waits, or the destination is gone for good (true), or after
   * `timeoutMs` (false).
   */
  async drained(timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      await this.#spooling;
      if (this.#gone !== undefined) return true;
      if (this.counters.queued === 0 && this.#memoryPoints === 0) return true;
      if (Date.now() >= deadline) return false;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  /** Stops writing, keeps what waits in memory on disk (when there is a spool), and disposes the output. */
  close(): Promise<void> {
    // Once only: a second close would dispose the spool twice.
    if (this.#closing !== undefined) return this.#closing;
    this.#closing = this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    this.#stop.abort();
    this.#notify();
    await this.#loop;
    await this.#spooling;
    if (this.#spool !== undefined) {
      try {
        for (const batch of this.#memory.reverse()) await this.#spool.prepend(batch);
        if (this.#memoryPoints > 0) {
          this.#log.info("{output}: {count} points kept in {directory} for the next start", {
            count: this.#memoryPoints,
            directory: this.#spool.directory,
          });
        }
        this.#memory.length = 0;
        this.#memoryPoints = 0;
      } finally {
        await this.#spool[Symbol.asyncDispose]();
      }
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
      let next;
      let settled = 0;
      try {
        next = await this.#next();
        if (next === undefined) {
          // Points may have come while #next was looking: sleep only if nothing changed since.
          if (!this.#signaled) await new Promise<void>((resolve) => (this.#wake = resolve));
          this.#wake = undefined;
          continue;
        }
        if (this.#stop.signal.aborted) {
          // close() came while #next was reading: the batch goes back, unwritten, to be kept.
          await this.#keepForRetry(next, next.points);
          break;
        }
        // Points written or set aside, from the front: what a retry no longer needs to send.
        await this.#deliver(next.points, (count) => (settled += count));
        await next.done();
        if (attempt > 0) this.#log.info("{output} is writing again");
        attempt = 0;
      } catch (error) {
        const rest = next?.points.slice(settled) ?? [];
        if (next !== undefined) await this.#keepForRetry(next, rest);
        if (this.#stop.signal.aborted) break;
        if (error instanceof PluginError && error.closed) {
          // Retrying cannot reach it: stop writing, keep what waits (on disk, with a spool).
          this.#gone = error;
          this.#log.info("{output} stops writing: {error}", { error });
          this.#destinationGone.resolve(error);
          break;
        }
        this.counters.failures++;
        const delay = Math.min(
          this.#settings.retry.maxMs,
          this.#settings.retry.initialMs * 2 ** attempt,
        );
        const wait = delay / 2 + Math.random() * delay / 2;
        attempt++;
        const details = { count: rest.length, error, attempt, seconds: (wait / 1000).toFixed(1) };
        if (next === undefined) {
          this.#log.error(
            "{output}: cannot read the next batch from the spool ({error}); retry {attempt} in {seconds} s",
            details,
          );
        } else {
          this.#log.warn(
            "{output}: write of {count} points failed ({error}); retry {attempt} in {seconds} s",
            details,
          );
        }
        await this.#pause(wait);
      } finally {
        this.#refreshCounters();
      }
    }
  }

  /** Puts what is left of a batch back in front, logging (not throwing) if even that fails. */
  async #keepForRetry(next: NextBatch, rest: Point[]): Promise<void> {
    try {
      await next.retry(rest);
    } catch (error) {
      this.#log.error("{output}: cannot put {count} points back in the queue: {error}", {
        count: rest.length,
        error,
      });
    }
  }

  /**
   * Writes `points`. When the output refuses them for good (`retryable: false`), writes each
   * half on its own, down to single points, so that one bad point costs only itself: the others
   * are written, it is set aside. `settle` hears of every point written or set aside, in order.
   * Throws what may pass later (the output is down).
   */
  async #deliver(
    points: Point[],
    settle: (count: number) => void,
    splitting = false,
  ): Promise<void> {
    const signal = AbortSignal.any([
      this.#stop.signal,
      AbortSignal.timeout(this.#settings.writeTimeoutMs),
    ]);
    try {
      await this.#output.write(points, signal);
    } catch (error) {
      if (
        this.#stop.signal.aborted || !(error instanceof PluginError) || error.retryable ||
        error.closed
      ) {
        throw error;
      }
      if (points.length === 1) {
        await this.#setAside(points, error);
        settle(1);
        return;
      }
      if (!splitting) {
        // Once per batch, not at every halving.
        this.#log.warn(
          "{output} refused {count} points for good ({error}); writing them in halves to find those at fault",
          { count: points.length, error },
        );
      }
      const middle = Math.ceil(points.length / 2);
      await this.#deliver(points.slice(0, middle), settle, true);
      await this.#deliver(points.slice(middle), settle, true);
      return;
    }
    this.counters.written += points.length;
    this.counters.lastSuccess = Date.now();
    settle(points.length);
  }

  /** Keeps points refused for good in the spool's dead-letter file (or the log), and counts them. */
  async #setAside(points: Point[], error: PluginError): Promise<void> {
    const spool = this.#spool;
    if (spool === undefined) {
      this.#log.error(
        "{output} refused {count} points for good: {error}; there is no data directory to keep them, here they are: {points}",
        { count: points.length, error, points },
      );
    } else {
      const file = await spool.deadLetter(points, { output: this.name, reason: error.message });
      if (file !== undefined) {
        this.#log.error("{output} refused {count} points for good: {error}; kept in {file}", {
          count: points.length,
          error,
          file,
        });
      } else {
        this.counters.unkept += points.length;
        this.#log.error(
          "{output} refused {count} points for good: {error}; the dead-letter file in {directory} is full, so they are not kept: {points}",
          { count: points.length, error, directory: spool.directory, points },
        );
      }
    }
    this.counters.rejected += points.length;
  }

  #pause(milliseconds: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, milliseconds);
      this.#stop.signal.addEventListener("abort", () => {
        clearTimeout(timer);
        resolve();
      }, { once: true });
    });
  }

  /**
   * The next batch to write (memory first: it holds what the disk could not), `done` to release
   * it once written or set aside, and `retry` to put what is left of it back in front after a
   * failure. A batch from memory leaves #memory while it is written, so enqueue() cannot drop it
   * under the writer.
   */
  async #next(): Promise<NextBatch | undefined> {
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
        retry: (rest) => {
          this.#memoryPoints -= points.length - rest.length;
          if (rest.length > 0) this.#memory.unshift(rest);
          return Promise.resolve();
        },
      };
    }
    await this.#spooling;
    const spool = this.#spool;
    const spooled = await spool?.peek();
    this.counters.damaged = spool?.damaged ?? 0;
    if (spooled === undefined) return undefined;
    return {
      points: spooled,
      done: () => spool!.shift(),
      retry: (rest) => spool!.replaceFirst(rest),
    };
  }

  #refreshCounters(): void {
    const spooled = this.#spool?.points ?? 0;
    this.counters.spooled = spooled;
    this.counters.queued = this.#memoryPoints + spooled;
  }
}
