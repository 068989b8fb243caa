/**
 * Target discovery: target lists read from Prometheus `file_sd` files, HTTP SD URLs and DNS
 * (SRV, A/AAAA), refreshed while the collector runs and applied through the same path as a
 * reload, so probes in flight and the interval are kept.
 *
 * @module
 */
import { isIP } from "node:net";
import { getLogger } from "@logtape/logtape";
import type { MetricFamily } from "@llama/core";
import { TagInterner } from "./_config_fields.ts";
import type { DiscoverySource } from "./_discovery_config.ts";
import { DiscoveredList, type DiscoveredListStatus } from "./_discovered_list.ts";
import { discoveryMetrics } from "./_discovery_metrics.ts";
import { dnsReader } from "./_dns_sd.ts";
import { fileSdReader } from "./_file_sd.ts";
import { httpSdReader } from "./_http_sd.ts";
import type { SourceReader } from "./_sd_groups.ts";
import { type Lookup, type ResolvedConfig, systemLookup } from "./resolve.ts";

export type { DiscoveredListStatus } from "./_discovered_list.ts";
export type { DiscoveryKind, DiscoverySource } from "./_discovery_config.ts";

/** What discovery needs from the world, replaceable in tests. */
export interface DiscoveryDependencies {
  /** Resolves hostnames that `file_sd` and `http_sd` targets name. Default: the system's. */
  lookup?: Lookup;
  /** Fetches HTTP SD URLs. Default: `fetch`. */
  fetch?: typeof fetch;
}

/** What the collector's API reads of discovery: `/status` and `/metrics`. */
export interface DiscoveryView {
  /** Each discovered list's state. */
  status(): DiscoveredListStatus[];
  /** The `llama_discovery_*` metric families. */
  metrics(): MetricFamily[];
}

/**
 * Keeps a config's discovered target lists up to date. `resolve()` reads every new source once
 * and gives the config with their targets; `follow()` then keeps reading them and hands each
 * changed config to `apply` (a collector's `reload`), one at a time. A source that fails keeps
 * its last good list, and says so in `status()`, in the log and in `metrics()`.
 *
 * @example
 * ```ts ignore
 * import { loadCollectorConfig, startCollector, TargetDiscovery } from "@llama/collector";
 * await using discovery = new TargetDiscovery();
 * const config = await discovery.resolve(await loadCollectorConfig("collector.yaml"));
 * await using collector = await startCollector(config, { discovery });
 * discovery.follow((changed) => collector.reload(changed));
 * ```
 */
export class TargetDiscovery implements DiscoveryView, AsyncDisposable {
  readonly #lookup: Lookup;
  readonly #fetch: typeof fetch | undefined;
  readonly #lists = new Map<string, { key: string; list: DiscoveredList }>();
  readonly #log = getLogger(["llama", "collector", "discovery"]);
  #base: ResolvedConfig | undefined;
  #apply: ((config: ResolvedConfig) => Promise<void>) | undefined;
  #chain: Promise<void> = Promise.resolve();
  #queued = false;
  #closed = false;

  /** Discovery through `dependencies` (the system's resolver and `fetch` by default). */
  constructor(dependencies: DiscoveryDependencies = {}) {
    this.#lookup = dependencies.lookup ?? systemLookup;
    this.#fetch = dependencies.fetch;
  }

  /**
   * Takes `base`'s discovered lists: keeps those whose settings are unchanged (with their
   * targets), reads new ones once, stops those gone. Returns `base` with every list's targets.
   */
  async resolve(base: ResolvedConfig): Promise<ResolvedConfig> {
    this.#base = base;
    const wanted = base.discovery ?? {};
    for (const [name, entry] of this.#lists) {
      if (!(name in wanted) || entry.key !== sourceKey(wanted[name])) {
        entry.list.stop();
        this.#lists.delete(name);
      }
    }
    const added: DiscoveredList[] = [];
    for (const [name, source] of Object.entries(wanted)) {
      let entry = this.#lists.get(name);
      if (entry === undefined) {
        const list = new DiscoveredList(name, source, this.#reader(source), {
          lookup: this.#lookup,
          onChange: () => this.#changed(),
          log: this.#log,
        });
        entry = { key: sourceKey(source), list };
        this.#lists.set(name, entry);
        added.push(list);
      }
      entry.list.families = reachableFamilies(base, name);
    }
    await Promise.all(added.map((list) => list.refresh()));
    if (this.#apply !== undefined) { for (const list of added) list.start(); }
    return this.#compose();
  }

  /** Keeps reading every source, handing each changed config to `apply`, one at a time. */
  follow(apply: (config: ResolvedConfig) => Promise<void>): void {
    this.#apply = apply;
    for (const { list } of this.#lists.values()) list.start();
  }

  /**
   * `resolve(base)`, then `apply` of its config, after any apply under way (a SIGHUP's reload).
   * Rejects with `apply`'s error.
   */
  reconfigure(base: ResolvedConfig): Promise<void> {
    const run = this.#chain.then(async () => {
      const config = await this.resolve(base);
      await this.#apply?.(config);
    });
    this.#chain = run.catch(() => {});
    return run;
  }

  /** Each discovered list's state, for `/status`. */
  status(): DiscoveredListStatus[] {
    return [...this.#lists.values()].map(({ list }) => list.status());
  }

  /** The `llama_discovery_*` metric families. */
  metrics(): MetricFamily[] {
    return discoveryMetrics(this.status());
  }

  /** Stops every source and waits for an apply under way. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const { list } of this.#lists.values()) list.stop();
    await this.#chain;
  }

  /** `close()`, for `await using`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  #reader(source: DiscoverySource): SourceReader {
    const interner = new TagInterner();
    if (source.kind === "file_sd") return fileSdReader(source, interner);
    if (source.kind === "http_sd") return httpSdReader(source, interner, this.#fetch);
    return dnsReader(source, interner);
  }

  /** Applies the lists as they are now, once for any number of changes while an apply runs. */
  #changed(): void {
    if (this.#apply === undefined || this.#queued || this.#closed) return;
    this.#queued = true;
    this.#chain = this.#chain.then(async () => {
      this.#queued = false;
      if (this.#closed) return;
      try {
        await this.#apply!(this.#compose());
      } catch (error) {
        this.#log.error("Applying discovered targets failed, keeping the running ones: {error}", {
          error,
        });
      }
    });
  }

  #compose(): ResolvedConfig {
    const base = this.#base!;
    const targets = { ...base.targets };
    for (const [name, { list }] of this.#lists) targets[name] = [...list.targets];
    return { ...base, targets };
  }
}

/** The settings that make a source the same one across a reload (not its place in the file). */
function sourceKey(source: DiscoverySource): string {
  return JSON.stringify({ ...source, location: undefined });
}

/** The IP families every port of every test probing `name` can reach (`::` reaches both). */
function reachableFamilies(config: ResolvedConfig, name: string): Set<number> {
  const families = new Set([4, 6]);
  for (const test of config.tests) {
    if (test.targets !== name) continue;
    for (const member of config.portGroups[test.portGroup]) {
      const bind = config.ports[member.port].ip;
      if (bind === "::") continue;
      families.delete(isIP(bind) === 4 ? 6 : 4);
    }
  }
  return families;
}
