import { join } from "node:path";
import type { Point } from "@llama/plugins";

const NAME = /^(\d{16})-(\d+)\.json$/;
const MIDDLE = 5_000_000_000_000_000; // sequence numbers start here, so batches can be put in front

/**
 * Points waiting on disk for one output, in order: one JSON file per batch, named by sequence
 * number and point count. Files are written whole (to a temporary name, then renamed), so a crash
 * leaves either the batch or nothing. Batches can be added at the back (new points) or at the
 * front (points that were already waiting in memory when the scraper stops).
 */
export class Spool {
  /** The folder holding the batches. */
  readonly directory: string;
  #files: { sequence: number; count: number }[] = [];

  private constructor(directory: string) {
    this.directory = directory;
  }

  /** Opens (creating) a spool folder and finds the batches left in it by an earlier run. */
  static async open(directory: string): Promise<Spool> {
    await Deno.mkdir(directory, { recursive: true });
    const spool = new Spool(directory);
    for await (const entry of Deno.readDir(directory)) {
      const match = NAME.exec(entry.name);
      if (entry.isFile && match !== null) {
        spool.#files.push({ sequence: Number(match[1]), count: Number(match[2]) });
      } else if (entry.isFile && entry.name.endsWith(".tmp")) {
        await Deno.remove(join(directory, entry.name));
      }
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

  /** Adds a batch behind the others. */
  async append(points: readonly Point[]): Promise<void> {
    const sequence = (this.#files.at(-1)?.sequence ?? MIDDLE - 1) + 1;
    await this.#write(sequence, points);
    this.#files.push({ sequence, count: points.length });
  }

  /** Adds a batch in front of the others. */
  async prepend(points: readonly Point[]): Promise<void> {
    const sequence = (this.#files[0]?.sequence ?? MIDDLE) - 1;
    await this.#write(sequence, points);
    this.#files.unshift({ sequence, count: points.length });
  }

  /** The oldest batch, or undefined. */
  async peek(): Promise<Point[] | undefined> {
    const first = this.#files[0];
    if (first === undefined) return undefined;
    return JSON.parse(await Deno.readTextFile(this.#path(first))) as Point[];
  }

  /** Removes the oldest batch (once it is written). */
  async shift(): Promise<void> {
    const first = this.#files.shift();
    if (first !== undefined) await Deno.remove(this.#path(first));
  }

  async #write(sequence: number, points: readonly Point[]): Promise<void> {
    const path = this.#path({ sequence, count: points.length });
    await Deno.writeTextFile(`${path}.tmp`, JSON.stringify(points));
    await Deno.rename(`${path}.tmp`, path);
  }

  #path(file: { sequence: number; count: number }): string {
    return join(this.directory, `${String(file.sequence).padStart(16, "0")}-${file.count}.json`);
  }
}
