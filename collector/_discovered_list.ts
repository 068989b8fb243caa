/**
 * One discovered target list: its source read on schedule (and on a watch), hostnames resolved,
 * targets checked, and the last good list kept when a read fails.
 *
 * @module
 */
import { isIP } from "node:net";
import type { Logger } from "@logtape/logtape";
import { whyNotUnicast } from "@llama/core";
import type { DiscoverySource } from "./_discovery_config.ts";
import { type DiscoveredTarget, DiscoveryError, type SourceReader } from "./_sd_groups.ts";
import type { Lookup, ResolvedTarget } from "./resolve.ts";

/** What `/status` says of one discovered target list. */
export interface DiscoveredListStatus {
  /** The target list's name in the config. */
  list: string;
  /** The kind of source. */
  kind: DiscoverySource["kind"];
  /** Its file, URL or DNS name. */
  source: string;
  /** Whether the last read succeeded; while false, the list is the last good one. */
  ok: boolean;
  /** Targets in the list now. */
  targets: number;
  /** Why the last read failed, when it did. */
  error: string | null;
  /** When a read last succeeded (ISO 8601), if one has. */
  lastSuccess: string | null;
  /** When the source was last read (ISO 8601). */
  lastAttempt: string | null;
  /** Reads, by outcome, since the list was configured. */
  refreshes: { changed: number; unchanged: number; failed: number };
}

/** What a discovered list needs from its owner. */
export interface DiscoveredListContext {
  /** Resolves hostnames of `file_sd` and `http_sd` targets. */
  lookup: Lookup;
  /** Told when a read changed the list (not on the first read, which its owner awaits). */
  onChange: () => void;
  /** Where reads are logged. */
  log: Logger;
}

/** A target list whose targets a source gives. */
export class DiscoveredList {
  /** The target list's name. */
  readonly name: string;
  /** Its settings. */
  readonly source: DiscoverySource;
  /** The IP families (4, 6) that every port of the tests probing this list can reach. */
  families: ReadonlySet<number> = new Set([4, 6]);
  #targets: readonly ResolvedTarget[] = [];
  readonly #reader: SourceReader;
  readonly #context: DiscoveredListContext;
  #ok = false;
  #error: string | null = null;
  #lastSuccess: number | undefined;
  #lastAttempt: number | undefined;
  readonly #refreshes = { changed: 0, unchanged: 0, failed: 0 };
  #timer: ReturnType<typeof setTimeout> | undefined;
  #stopWatch: (() => void) | undefined;
  #reading: Promise<boolean> | undefined;
  #again = false;
  /** Seconds until the next scheduled read, as the last read asked. */
  #nextSeconds: number;
  #started = false;
  #stopped = false;

  /** A list named `name` read through `reader`. */
  constructor(
    name: string,
    source: DiscoverySource,
    reader: SourceReader,
    context: DiscoveredListContext,
  ) {
    this.name = name;
    this.source = source;
    this.#reader = reader;
    this.#context = context;
    this.#nextSeconds = source.refreshSeconds;
  }

  /** The targets: the last good read's (none before one). */
  get targets(): readonly ResolvedTarget[] {
    return this.#targets;
  }

  /** Reads the source once; true when the list changed. Never throws: a failure is kept. */
  refresh(): Promise<boolean> {
    if (this.#reading !== undefined) {
      this.#again = true;
      return this.#reading;
    }
    this.#reading = (async () => {
      let changed = false;
      do {
        this.#again = false;
        changed = (await this.#readOnce()) || changed;
      } while (this.#again && !this.#stopped);
      this.#reading = undefined;
      return changed;
    })();
    return this.#reading;
  }

  /** Starts reading on schedule (and on the source's watch), telling `onChange` of changes. */
  start(): void {
    if (this.#started || this.#stopped) return;
    this.#started = true;
    this.#stopWatch = this.#reader.watch?.(() => this.#refreshAndTell());
    this.#schedule(this.#nextSeconds);
  }

  /** Stops reading. */
  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#timer);
    this.#stopWatch?.();
  }

  /** What `/status` says of this list. */
  status(): DiscoveredListStatus {
    const iso = (time: number | undefined) =>
      time === undefined ? null : new Date(time).toISOString();
    return {
      list: this.name,
      kind: this.source.kind,
      source: this.source.source,
      ok: this.#ok,
      targets: this.#targets.length,
      error: this.#error,
      lastSuccess: iso(this.#lastSuccess),
      lastAttempt: iso(this.#lastAttempt),
      refreshes: { ...this.#refreshes },
    };
  }

  #schedule(seconds: number): void {
    clearTimeout(this.#timer);
    if (this.#stopped) return;
    this.#timer = setTimeout(() => this.#refreshAndTell(), seconds * 1000);
  }

  async #refreshAndTell(): Promise<void> {
    const changed = await this.refresh();
    if (this.#stopped) return;
    this.#schedule(this.#nextSeconds);
    if (changed) this.#context.onChange();
  }

  async #readOnce(): Promise<boolean> {
    const log = this.#context.log;
    this.#lastAttempt = Date.now();
    const where = { list: this.name, kind: this.source.kind, source: this.source.source };
    try {
      const read = await this.#reader.read();
      this.#nextSeconds = read.nextSeconds ?? this.source.refreshSeconds;
      let changed = false;
      if (read.targets !== undefined) {
        let targets;
        try {
          targets = await this.#resolve(read.targets);
        } catch (error) {
          // Read again next time, though the source may answer "not modified".
          this.#reader.reset();
          throw error;
        }
        changed = !sameTargets(targets, this.#targets);
        if (changed) {
          const before = new Set(this.#targets.map(key));
          const after = new Set(targets.map(key));
          log.info("Discovered {count} targets for {list} ({added} new, {removed} gone)", {
            ...where,
            count: targets.length,
            added: targets.filter((target) => !before.has(key(target))).length,
            removed: this.#targets.filter((target) => !after.has(key(target))).length,
          });
          this.#targets = targets;
        }
      }
      this.#refreshes[changed ? "changed" : "unchanged"]++;
      if (!this.#ok && this.#lastSuccess !== undefined) {
        log.info("Discovery of {list} works again ({kind} {source})", where);
      }
      this.#ok = true;
      this.#error = null;
      this.#lastSuccess = Date.now();
      return changed;
    } catch (error) {
      if (!(error instanceof DiscoveryError)) throw error;
      this.#refreshes.failed++;
      this.#nextSeconds = this.source.refreshSeconds;
      // One line when a source starts failing or fails differently, not one per retry.
      if (this.#ok || this.#error !== error.message) {
        log.warn(
          "Discovery of {list} failed ({kind} {source}), keeping its last {count} targets: {error}",
          { ...where, count: this.#targets.length, error },
        );
      }
      this.#ok = false;
      this.#error = error.message;
      return false;
    }
  }

  /** `found` with IP addresses, checked and without repeats; throws `DiscoveryError`. */
  async #resolve(found: DiscoveredTarget[]): Promise<ResolvedTarget[]> {
    const lookups = new Map<string, Promise<string>>();
    const ips = await Promise.all(found.map(async (target) => {
      if (isIP(target.host) !== 0) return target.host;
      let pending = lookups.get(target.host);
      if (pending === undefined) {
        pending = this.#context.lookup(target.host);
        lookups.set(target.host, pending);
      }
      try {
        return await pending;
      } catch (error) {
        throw new DiscoveryError(
          `${target.where}: cannot resolve ${JSON.stringify(target.host)}: ${
            (error as Error).message
          }`,
          { cause: error },
        );
      }
    }));
    const fromDns = this.source.kind === "dns" || this.source.kind === "dns_srv";
    const seen = new Set<string>();
    const targets: ResolvedTarget[] = [];
    for (const [index, target] of found.entries()) {
      const ip = ips[index];
      const problem = whyNotUnicast(ip);
      if (problem !== undefined) {
        throw new DiscoveryError(
          `${target.where}: ${target.host} is not the unicast address of one reflector: ${problem}`,
        );
      }
      if (!this.families.has(isIP(ip))) {
        // A name with both A and AAAA records, probed from IPv4-bound ports: its IPv4 addresses.
        if (fromDns) continue;
        throw new DiscoveryError(
          `${target.where}: ${ip} is IPv${isIP(ip)}, which the ports of the tests probing ` +
            `"${this.name}" cannot reach (bind them to "::" to reach both families)`,
        );
      }
      const id = `${ip}|${target.port}`;
      if (seen.has(id)) continue;
      seen.add(id);
      targets.push({
        host: target.host,
        port: target.port,
        tags: target.tags,
        ip,
        location: { path: `targets.${this.name} (${this.source.kind} ${target.where})` },
      });
    }
    return targets;
  }
}

function key(target: ResolvedTarget): string {
  return `${target.ip}|${target.port}`;
}

/** Same targets, in the same order, with the same tags (interned: equal tags are one object). */
function sameTargets(a: readonly ResolvedTarget[], b: readonly ResolvedTarget[]): boolean {
  if (a.length !== b.length) return false;
  for (let index = 0; index < a.length; index++) {
    if (
      a[index].ip !== b[index].ip || a[index].port !== b[index].port ||
      a[index].tags !== b[index].tags
    ) return false;
  }
  return true;
}
