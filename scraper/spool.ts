import { join } from "node:path";
import { getLogger, type Logger } from "@logtape/logtape";
import type { Point } from "@llama/plugins";
import { parseSpooledPoints } from "./_spooled_points.ts";

const NAME = /^(\d{16})-(\d+)\.json$/;
const MIDDLE = 5_000_000_000_000_000; // sequence numbers start here, so batches can be put in front

/** The file, in a spool folder, that holds the points an output refused for good. */
export const DEAD_LETTER_FILE = "dead-letter.jsonl";
/** The size past which refused points are counted and logged but no longer kept: 256 MiB. */
export const DEAD_LETTER_MAX_BYTES = 256 * 1024 * 1024;
/** The file a running scraper holds locked, so that two never share a spool folder. */
const LOCK_FILE = "lock";

/** What `Spool.open` needs besides the folder. */
export interface SpoolOptions {
  /** Where to say that a damaged batch was moved aside; by default `llama.scraper`. */
  log?: Logger;
}

/**
 * Points waiting on disk for one output, in order: one JSON file per batch, named by sequence
 * number and point count. A batch is written to a temporary name, flushed to the disk (`fsync`),
 * renamed, and the folder flushed too: once `append` resolves, the batch survives a crash or a
 * `kill -9`, and a crash before leaves nothing. Batches can be added at the back (new points) or
 * at the front (points that were already waiting in memory when the scraper stops). A file that
 * cannot be read back as points is moved aside as `<name>.damaged` and the next one is used.
 * The folder is locked while open: a second scraper cannot use it at the same time.
 */
export class Spool implements AsyncDisposable {
  /** The folder holding the batches. */
  readonly directory: string;
  /** Files moved aside as damaged since the spool was opened. */
  damaged = 0;
  readonly #log: Logger;
  readonly #lock: Deno.FsFile;
  #files: { sequence: number; count: number }[] = [];
  #deadLetter: Deno.FsFile | undefined;
  #deadLetterBytes = 0;

  private constructor(directory: string, lock: Deno.FsFile, log: Logger) {
    this.directory = directory;
    this.#lock = lock;
    this.#log = log;
  }

  /**
   * Opens (creating) a spool folder and finds the batches left in it by an earlier run. Throws
   * when another process has it open.
   */
  static async open(directory: string, options: SpoolOptions = {}): Promise<Spool> {
    await Deno.mkdir(directory, { recursive: true });
    const lock = await Deno.open(join(directory, LOCK_FILE), { write: true, create: true });
    // flock: released by the kernel when the process ends, however it ends.
    if (!(await lock.tryLock(true))) {
      lock.close();
      throw new Error(
        `the spool folder ${directory} is in use by another scraper: give each scraper its own data directory (--data-dir)`,
      );
    }
    const spool = new Spool(directory, lock, options.log ?? getLogger(["llama", "scraper"]));
    try {
      for await (const entry of Deno.readDir(directory)) {
        const match = NAME.exec(entry.name);
        if (entry.isFile && match !== null) {
          spool.#files.push({ sequence: Number(match[1]), count: Number(match[2]) });
        } else if (entry.isFile && entry.name.endsWith(".tmp")) {
          // Never renamed, so never counted as kept: a write cut short by a crash.
          await Deno.remove(join(directory, entry.name));
        }
      }
    } catch (error) {
      lock.close();
      throw error;
    }
    spool.#files.sort((a, b) => a.sequence - b.sequence);
    return spool;
  }

  /** Batches waiting. */
  get batches(): number {
    return this.#files.length;
  }

  /** Points waiting. */
  get points(): number {
    return this.#files.reduce((sum, file) => sum + file.count, 0);
  }

  /** Adds a batch behind the others; resolves once it is on the disk. */
  async append(points: readonly Point[]): Promise<void> {
    const sequence = (this.#files.at(-1)?.sequence ?? MIDDLE - 1) + 1;
    await this.#write(sequence, points);
    this.#files.push({ sequence, count: points.length });
  }

  /** Adds a batch in front of the others; resolves once it is on the disk. */
  async prepend(points: readonly Point[]): Promise<void> {
    const sequence = (this.#files[0]?.sequence ?? MIDDLE) - 1;
    await this.#write(sequence, points);
    this.#files.unshift({ sequence, count: points.length });
  }

  /**
   * The oldest batch, or undefined when none waits. A file that is not a batch of points (empty,
   * cut short, another shape, another count than its name says) is moved aside and logged.
   */
  async peek(): Promise<Point[] | undefined> {
    for (;;) {
      const first = this.#files[0];
      if (first === undefined) return undefined;
      const path = this.#path(first);
      let problem: string;
      try {
        const points = parseSpooledPoints(await Deno.readTextFile(path));
        if (typeof points !== "string" && points.length === first.count) return points;
        problem = typeof points === "string"
          ? points
          : `holds ${points.length} points, its name says ${first.count}`;
      } catch (error) {
        if (!(error instanceof Deno.errors.NotFound)) throw error;
        problem = "was removed by someone else";
      }
      this.#files.shift();
      this.damaged++;
      if (problem !== "was removed by someone else") await Deno.rename(path, `${path}.damaged`);
      this.#log.error(
        "Spool file {file} {problem}: moved aside as {file}.damaged, going on with the next",
        { file: path, problem, points: first.count },
      );
    }
  }

  /** Removes the oldest batch (once it is written). */
  async shift(): Promise<void> {
    const first = this.#files.shift();
    if (first !== undefined) await Deno.remove(this.#path(first));
  }

  /**
   * Replaces the oldest batch with `points`, the part of it still to write (after some of it was
   * written or set aside). The new file is on the disk before the old one goes; a crash between
   * the two leaves both, and the next start writes the remainder twice rather than not at all.
   */
  async replaceFirst(points: readonly Point[]): Promise<void> {
    const first = this.#files[0];
    if (first === undefined || points.length === first.count) return;
    if (points.length === 0) return await this.shift();
    // One below the old sequence number: the remainder still comes first.
    const sequence = first.sequence - 1;
    await this.#write(sequence, points);
    this.#files[0] = { sequence, count: points.length };
    await Deno.remove(this.#path(first));
  }

  /**
   * Keeps points an output refused for good in `dead-letter.jsonl`, one JSON object per line:
   * `{"refusedAt": ISO time, "output", "reason", "point": {measurement, tags, fields, time}}`,
   * flushed to the disk before it resolves. Returns the file's path, or undefined when the file
   * has reached `DEAD_LETTER_MAX_BYTES` and the points were not kept.
   */
  async deadLetter(
    points: readonly Point[],
    details: { output: string; reason: string },
  ): Promise<string | undefined> {
    const path = join(this.directory, DEAD_LETTER_FILE);
    if (this.#deadLetter === undefined) {
      this.#deadLetter = await Deno.open(path, { append: true, create: true });
      this.#deadLetterBytes = (await this.#deadLetter.stat()).size;
    }
    const refusedAt = new Date().toISOString();
    const bytes = new TextEncoder().encode(
      points.map((point) =>
        JSON.stringify({ refusedAt, output: details.output, reason: details.reason, point }) + "\n"
      ).join(""),
    );
    // A collector sending bad tags on every path, every interval, must not fill the disk the
    // spool needs for the good points.
    if (this.#deadLetterBytes + bytes.length > DEAD_LETTER_MAX_BYTES) return undefined;
    await writeAll(this.#deadLetter, bytes);
    await this.#deadLetter.sync();
    this.#deadLetterBytes += bytes.length;
    return path;
  }

  /** Releases the folder's lock and the dead-letter file. */
  [Symbol.asyncDispose](): Promise<void> {
    this.#deadLetter?.close();
    this.#deadLetter = undefined;
    this.#lock.close();
    return Promise.resolve();
  }

  async #write(sequence: number, points: readonly Point[]): Promise<void> {
    const path = this.#path({ sequence, count: points.length });
    {
      using file = await Deno.open(`${path}.tmp`, { write: true, create: true, truncate: true });
      await writeAll(file, new TextEncoder().encode(JSON.stringify(points)));
      await file.sync();
    }
    await Deno.rename(`${path}.tmp`, path);
    // The rename is only kept once the folder's entry is on the disk too.
    using folder = await Deno.open(this.directory, { read: true });
    await folder.sync();
  }

  #path(file: { sequence: number; count: number }): string {
    return join(this.directory, `${String(file.sequence).padStart(16, "0")}-${file.count}.json`);
  }
}

async function writeAll(file: Deno.FsFile, bytes: Uint8Array): Promise<void> {
  let offset = 0;
  while (offset < bytes.length) offset += await file.write(bytes.subarray(offset));
}
