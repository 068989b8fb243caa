/**
 * The paths the collector knows: a source and a destination address each, numbered in the order
 * they were first seen.
 *
 * @module
 */
import { grown, trimmed } from "./_samples.ts";
import type { PathAddresses } from "./_columns.ts";

/** Paths by id, each a source and a destination address; paths are only ever added. */
export class PathRegistry {
  /** The source addresses (a collector has few). */
  readonly #sources: string[] = [];
  readonly #sourceIds = new Map<string, number>();
  /** Each path's source address, as a number in `#sources`. */
  #pathSource = new Uint32Array(64);
  readonly #destinations: string[] = [];
  /** Path id by source, then destination address, while paths are added (see `doneAdding`). */
  #index: Map<string, Map<string, number>> | undefined;
  /** The addresses as they are now, made when needed. */
  #addresses: PathAddresses | undefined;

  /** How many paths there are: their ids are 0 up to this. */
  get count(): number {
    return this.#destinations.length;
  }

  /** The id of the path from `srcIp` to `dstIp`, added if new. */
  pathOf(srcIp: string, dstIp: string): number {
    this.#index ??= this.#indexPaths();
    let bySource = this.#index.get(srcIp);
    if (bySource === undefined) {
      bySource = new Map();
      this.#index.set(srcIp, bySource);
    }
    let path = bySource.get(dstIp);
    if (path !== undefined) return path;
    path = this.#destinations.length;
    bySource.set(dstIp, path);
    let source = this.#sourceIds.get(srcIp);
    if (source === undefined) {
      source = this.#sources.push(srcIp) - 1;
      this.#sourceIds.set(srcIp, source);
    }
    this.#pathSource = grown(this.#pathSource, path + 1, makeUint32);
    this.#pathSource[path] = source;
    this.#destinations.push(dstIp);
    this.#addresses = undefined;
    return path;
  }

  /** A path's source address. */
  sourceOf(path: number): string {
    return this.#sources[this.#pathSource[path]];
  }

  /** A path's destination address. */
  destinationOf(path: number): string {
    return this.#destinations[path];
  }

  /** Every path's addresses; the same object until a path is added. */
  addresses(): PathAddresses {
    return this.#addresses ??= {
      sources: this.#sources,
      source: this.#pathSource,
      destinations: this.#destinations,
    };
  }

  /**
   * Drops the index `pathOf` keeps and the room its arrays have grown for more paths: paths are
   * added only at a (re)load.
   */
  doneAdding(): void {
    this.#index = undefined;
    this.#pathSource = trimmed(this.#pathSource, this.count);
    this.#addresses = undefined;
  }

  #indexPaths(): Map<string, Map<string, number>> {
    const index = new Map<string, Map<string, number>>();
    for (let path = 0; path < this.count; path++) {
      const source = this.sourceOf(path);
      let bySource = index.get(source);
      if (bySource === undefined) {
        bySource = new Map();
        index.set(source, bySource);
      }
      bySource.set(this.#destinations[path], path);
    }
    return index;
  }
}

const makeUint32 = (length: number) => new Uint32Array(length);
