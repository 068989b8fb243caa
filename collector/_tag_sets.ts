/**
 * The targets' tag objects, numbered: a flow holds a number, not a reference, and every flow of
 * equal tags shares one entry.
 *
 * @module
 */

/** Tag objects by number; the numbers are dense and kept small by `keepOnly`. */
export class TagSets {
  #sets: Record<string, string>[] = [];
  /** Numbers by object, while flows are added (see `keepOnly`). */
  #ids: Map<Record<string, string>, number> | undefined;

  /** The number of `tags`, added if new. */
  idOf(tags: Record<string, string>): number {
    this.#ids ??= new Map(this.#sets.map((tags, id) => [tags, id]));
    let id = this.#ids.get(tags);
    if (id === undefined) {
      id = this.#sets.push(tags) - 1;
      this.#ids.set(tags, id);
    }
    return id;
  }

  /** The tags numbered `id`. */
  get(id: number): Record<string, string> {
    return this.#sets[id];
  }

  /**
   * Keeps only the sets that `used[0..count)` names, renumbering `used` in place: a reload gives
   * every flow its target's new tag objects, and the old ones would stay for as long as the
   * collector runs.
   */
  keepOnly(used: Uint32Array, count: number): void {
    const renumbered = new Int32Array(this.#sets.length).fill(-1);
    const kept: Record<string, string>[] = [];
    for (let index = 0; index < count; index++) {
      const id = used[index];
      if (renumbered[id] < 0) renumbered[id] = kept.push(this.#sets[id]) - 1;
      used[index] = renumbered[id];
    }
    this.#sets = kept;
    this.#ids = undefined;
  }
}
