/**
 * Each interval's table of paths, in the summary's order with their tags, sharing its arrays with
 * the interval before while no path is added and no tags change.
 *
 * @module
 */
import { activeFlow, type FlowCounts, type PathTable } from "./_columns.ts";
import type { FlowRegistry } from "./flow_registry.ts";
import type { PathRows } from "./interval_statistics.ts";

/**
 * Makes the path tables of successive intervals, remembering each path's tags as last published:
 * a path costs a row (4 bytes and a pointer to tags shared with its target), no object.
 */
export class PathTableBuilder {
  readonly #registry: FlowRegistry;
  /** Each path's tags as last published. */
  readonly #pathTags: (Record<string, string> | undefined)[] = [];
  /**
   * What each path's tags were made from: its flows' one tag object (null: several), and the
   * source tags' version.
   */
  readonly #pathTagsSource: (Record<string, string> | null)[] = [];
  #pathTagsVersion = new Int32Array(0);
  /** The table the last interval was published with; its arrays are shared while they hold. */
  #last: Omit<PathTable, "present" | "count"> | undefined;

  /** A builder of tables of the paths of `registry`. */
  constructor(registry: FlowRegistry) {
    this.#registry = registry;
  }

  /** Starts the table of an interval of `counts`, whose flows are ordered as `order`. */
  start(counts: FlowCounts, order: Uint32Array): PathTableRows {
    const known = this.#registry.pathCount;
    if (this.#pathTagsVersion.length < known) {
      const versions = new Int32Array(known).fill(-1);
      versions.set(this.#pathTagsVersion);
      this.#pathTagsVersion = versions;
    }
    return new PathTableRows(this, counts, order, known);
  }

  /** The table before, for `PathTableRows` to share. */
  get last(): Omit<PathTable, "present" | "count"> | undefined {
    return this.#last;
  }

  /** Keeps `table` as the one the next interval's shares arrays with. */
  keep(table: Omit<PathTable, "present" | "count">): void {
    this.#last = table;
  }

  /** The addresses of the registry's paths. */
  addresses(): PathTable["addresses"] {
    return this.#registry.pathAddresses();
  }

  /** The tags `path` was last published with. */
  publishedTags(path: number): Record<string, string> | undefined {
    return this.#pathTags[path];
  }

  /**
   * The tags of a path whose flows are `order[from..to)`: those published before unless they
   * changed. They are the collector's source tags and its active flows' target tags (the target's
   * win on a clash).
   */
  tagsOf(
    path: number,
    counts: FlowCounts,
    order: Uint32Array,
    from: number,
    to: number,
  ): Record<string, string> {
    const registry = this.#registry;
    let shared: Record<string, string> | undefined;
    let mixed = false;
    for (let index = from; index < to; index++) {
      if (!activeFlow(counts, order[index])) continue;
      const tags = registry.flowTags(order[index]);
      if (shared === undefined) shared = tags;
      else if (tags !== shared) mixed = true;
    }
    const version = registry.sourceTagsVersion;
    const cached = this.#pathTags[path];
    if (
      cached !== undefined && !mixed && this.#pathTagsSource[path] === shared &&
      this.#pathTagsVersion[path] === version
    ) return cached;
    let tags: Record<string, string>;
    if (!mixed && shared !== undefined && isEmpty(registry.sourceTags)) {
      // The target's own tags, not a copy: one object fewer a path.
      tags = shared;
    } else {
      tags = { ...registry.sourceTags };
      for (let index = from; index < to; index++) {
        if (activeFlow(counts, order[index])) Object.assign(tags, registry.flowTags(order[index]));
      }
    }
    const kept = cached !== undefined && sameTags(cached, tags) ? cached : tags;
    this.#pathTags[path] = kept;
    this.#pathTagsSource[path] = mixed ? null : shared ?? null;
    this.#pathTagsVersion[path] = version;
    return kept;
  }
}

/**
 * The rows of one interval's table as they are told (see `PathRows`): new arrays are made only
 * from the first row that differs from the table before (a path added, tags changed), and a bit
 * a row says which paths this interval has.
 */
export class PathTableRows implements PathRows {
  readonly #builder: PathTableBuilder;
  readonly #counts: FlowCounts;
  readonly #order: Uint32Array;
  readonly #known: number;
  readonly #present: Uint8Array;
  #rowPaths: Uint32Array | undefined;
  #rowTags: (Record<string, string> | undefined)[] | undefined;
  #rows = 0;
  #activeRows = 0;

  /** Rows of an interval of `counts` over `known` paths. */
  constructor(builder: PathTableBuilder, counts: FlowCounts, order: Uint32Array, known: number) {
    this.#builder = builder;
    this.#counts = counts;
    this.#order = order;
    this.#known = known;
    this.#present = new Uint8Array(Math.ceil(known / 8));
  }

  row(path: number, active: boolean, from: number, to: number): void {
    const builder = this.#builder;
    const last = builder.last;
    const lastPaths = last?.paths ?? EMPTY_PATHS;
    const lastTags = last?.tags ?? [];
    const row = this.#rows++;
    if (active) {
      this.#present[row >> 3] |= 1 << (row & 7);
      this.#activeRows++;
    }
    // An absent path keeps the tags it was last published with.
    const tags = active
      ? builder.tagsOf(path, this.#counts, this.#order, from, to)
      : builder.publishedTags(path);
    // A copy starts at the first row that differs, or where the table before runs out (undefined
    // tags past its end are not the same row).
    if (this.#rowPaths === undefined && (row >= lastPaths.length || lastPaths[row] !== path)) {
      this.#rowPaths = new Uint32Array(this.#known);
      this.#rowPaths.set(lastPaths.subarray(0, row));
    }
    if (this.#rowPaths !== undefined) this.#rowPaths[row] = path;
    if (this.#rowTags === undefined && (row >= lastTags.length || lastTags[row] !== tags)) {
      this.#rowTags = lastTags.slice(0, row);
    }
    this.#rowTags?.push(tags);
  }

  /** The table of every row told, kept by the builder for the next interval to share. */
  table(): PathTable {
    const builder = this.#builder;
    const last = builder.last;
    const lastPaths = last?.paths ?? EMPTY_PATHS;
    const lastTags = last?.tags ?? [];
    const rows = this.#rows;
    const shared = {
      paths: this.#rowPaths?.subarray(0, rows) ??
        (lastPaths.length === rows ? lastPaths : lastPaths.subarray(0, rows)),
      tags: this.#rowTags ?? (lastTags.length === rows ? lastTags : lastTags.slice(0, rows)),
      addresses: builder.addresses(),
    };
    builder.keep(shared);
    return {
      ...shared,
      present: this.#activeRows === rows ? undefined : this.#present,
      count: this.#activeRows,
    };
  }
}

const EMPTY_PATHS = new Uint32Array(0);

function isEmpty(tags: Record<string, string>): boolean {
  for (const _ in tags) return false;
  return true;
}

function sameTags(a: Record<string, string>, b: Record<string, string>): boolean {
  const keys = Object.keys(a);
  if (keys.length !== Object.keys(b).length) return false;
  return keys.every((key) => a[key] === b[key]);
}
