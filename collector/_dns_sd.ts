/**
 * DNS discovery: the A and AAAA records of a name (`dns`), or the SRV records of a name and the
 * addresses of their targets (`dns_srv`), re-queried when the shortest TTL runs out.
 *
 * Through `node:dns`'s `Resolver`: `Deno.resolveDns` gives no TTLs, `resolve4`/`resolve6` with
 * `{ ttl: true }` do. SRV answers come without theirs (neither API gives it), so an SRV set is
 * re-read every `refresh` seconds, and sooner when its targets' addresses expire.
 *
 * @module
 */
import { Resolver } from "node:dns/promises";
import type { TagInterner } from "./_config_fields.ts";
import type { DiscoverySource } from "./_discovery_config.ts";
import { type DiscoveredTarget, DiscoveryError, type SourceReader } from "./_sd_groups.ts";

/** The soonest a DNS source is re-read, whatever its TTLs say (a TTL of 0 would spin). */
const MIN_TTL_SECONDS = 1;

interface Addresses {
  ips: string[];
  /** The shortest TTL among them, or Infinity when there were none. */
  ttl: number;
}

/** A reader of `source`'s A/AAAA (`dns`) or SRV (`dns_srv`) records. */
export function dnsReader(source: DiscoverySource, interner: TagInterner): SourceReader {
  const tags = interner.intern(source.tags);
  const resolver = new Resolver({ timeout: Math.ceil(source.timeoutSeconds * 500), tries: 2 });
  if (source.nameServer !== undefined) resolver.setServers([source.nameServer]);
  const next = (ttl: number) =>
    Math.min(
      source.refreshSeconds,
      Math.max(ttl, Math.min(MIN_TTL_SECONDS, source.refreshSeconds)),
    );
  return {
    async read() {
      if (source.kind === "dns") {
        const { ips, ttl } = await addresses(resolver, source.source);
        const targets = ips.map((ip): DiscoveredTarget => ({
          host: ip,
          port: source.port,
          tags,
          where: `${source.source} A/AAAA`,
        }));
        return { targets, nextSeconds: next(ttl) };
      }
      const records = await query(source.source, "SRV", () => resolver.resolveSrv(source.source));
      const found = await Promise.all(records.map((record) => addresses(resolver, record.name)));
      const targets: DiscoveredTarget[] = [];
      let ttl = Infinity;
      for (const [index, record] of records.entries()) {
        ttl = Math.min(ttl, found[index].ttl);
        for (const ip of found[index].ips) {
          targets.push({
            host: ip,
            port: record.port,
            tags,
            where: `${source.source} SRV ${record.name}:${record.port}`,
          });
        }
      }
      return { targets, nextSeconds: next(ttl) };
    },
    reset() {},
  };
}

/** The A and AAAA records of `name`; none (not an error) when it has neither. */
async function addresses(resolver: Resolver, name: string): Promise<Addresses> {
  const [v4, v6] = await Promise.all([
    query(name, "A", () => resolver.resolve4(name, { ttl: true })),
    query(name, "AAAA", () => resolver.resolve6(name, { ttl: true })),
  ]);
  const records = [...v4, ...v6];
  return {
    ips: records.map((record) => record.address),
    ttl: records.reduce((shortest, record) => Math.min(shortest, record.ttl), Infinity),
  };
}

/**
 * The records `run` finds; none when the name or the records do not exist (as Prometheus: a
 * service with no instance left has no SRV records). Any other failure (a timeout, SERVFAIL,
 * REFUSED) throws `DiscoveryError`: the source keeps its last good list.
 */
async function query<T>(name: string, type: string, run: () => Promise<T[]>): Promise<T[]> {
  try {
    return await run();
  } catch (error) {
    const code = (error as { code?: string }).code;
    if (code === "ENOTFOUND" || code === "ENODATA") return [];
    throw new DiscoveryError(
      `cannot query the ${type} records of ${name}: ${(error as Error).message}`,
      { cause: error },
    );
  }
}
