import { ConfigError } from "@llama/core";
import { addressBits } from "./_prefix.ts";
import type { TagResolverPlugin } from "../contract.ts";
import { PLUGIN_CONTRACT_VERSION } from "../contract.ts";
import { OptionsReader } from "../options.ts";

/** Options of the `dns` tag resolver. */
export interface DnsTagsOptions {
  /** Tag to set (the host adds `src_`/`dst_`). */
  tag: string;
  /** How long an answer (or the lack of one) is kept, in milliseconds. */
  ttlMs: number;
  /** Longest wait for an answer, in milliseconds. */
  timeoutMs: number;
  /** Whether to drop the domain and keep the first label. */
  shortName: boolean;
  /** A name server to ask instead of the system's (`ip` and `port`). */
  nameServer: { ipAddr: string; port: number } | undefined;
}

/**
 * Reverse DNS: `src_ip`/`dst_ip` → `src_hostname`/`dst_hostname` (the tag name is an option),
 * through `Deno.resolveDns` PTR queries, cached with a TTL. A lookup never holds a scrape longer
 * than `timeout_ms`: an address whose answer has not come yet gets no tag this time, and the
 * answer, once it comes, is cached for the next scrape.
 */
export const dnsTags: TagResolverPlugin<DnsTagsOptions> = {
  kind: "tags",
  name: "dns",
  contract: PLUGIN_CONTRACT_VERSION,
  parseOptions(raw, path) {
    const options = new OptionsReader(raw, path, "dns");
    const server = options.string("name_server");
    let nameServer: DnsTagsOptions["nameServer"];
    if (server !== undefined) {
      // `ip`, `ip:port`, `[ipv6]:port`, or a bare IPv6 address (whose colons are not a port).
      const bare = addressBits(server) !== undefined;
      const match = bare ? null : /^(?:\[([^\]]+)\]|([^:]+))(?::(\d+))?$/.exec(server);
      const ipAddr = bare ? server : match?.[1] ?? match?.[2];
      const port = Number(match?.[3] ?? 53);
      if (ipAddr === undefined || addressBits(ipAddr) === undefined || port < 1 || port > 65535) {
        throw new ConfigError(
          `dns: expected name_server as ip, ip:port or [ipv6]:port, got ${JSON.stringify(server)}`,
          { path: `${path}.name_server` },
        );
      }
      nameServer = { ipAddr, port };
    }
    const parsed = {
      tag: options.string("tag", "hostname")!,
      ttlMs: options.number("ttl_ms", { min: 0, max: 86_400_000, fallback: 300_000 }),
      timeoutMs: options.number("timeout_ms", { min: 1, max: 60_000, fallback: 500 }),
      shortName: options.boolean("short_name", false),
      nameServer,
    };
    options.done();
    return parsed;
  },
  create(options, context) {
    const cache = new Map<string, { name: string | undefined; expires: number }>();
    const pending = new Map<string, Promise<void>>();
    // A query nobody answers stays open for seconds (the resolver retries); disposing must not
    // wait for it.
    const disposed = new AbortController();
    const lookupSignal = AbortSignal.any([context.signal, disposed.signal]);
    const lookup = (address: string) => {
      let running = pending.get(address);
      if (running !== undefined) return running;
      running = (async () => {
        let name: string | undefined;
        try {
          const answers = await Deno.resolveDns(ptrName(address), "PTR", {
            nameServer: options.nameServer,
            signal: lookupSignal,
          });
          name = answers[0]?.replace(/\.$/, "");
          if (name !== undefined && options.shortName) name = name.split(".")[0];
        } catch (error) {
          context.logger.debug("No PTR record for {address}: {error}", { address, error });
        }
        cache.set(address, { name, expires: Date.now() + options.ttlMs });
      })().finally(() => pending.delete(address));
      pending.set(address, running);
      return running;
    };
    return {
      async resolve(address, signal) {
        const cached = cache.get(address);
        if (cached !== undefined && cached.expires > Date.now()) {
          return cached.name === undefined ? {} : { [options.tag]: cached.name };
        }
        if (addressBits(address) === undefined) return {};
        const running = lookup(address);
        let timer: ReturnType<typeof setTimeout> | undefined;
        let stop: (() => void) | undefined;
        const waited = signal.aborted ? false : await Promise.race([
          running.then(() => true),
          new Promise<false>((resolve) => {
            stop = () => resolve(false);
            timer = setTimeout(stop, options.timeoutMs);
            signal.addEventListener("abort", stop, { once: true });
          }),
        ]);
        clearTimeout(timer);
        if (stop !== undefined) signal.removeEventListener("abort", stop);
        const answer = waited ? cache.get(address) : cached;
        return answer?.name === undefined ? {} : { [options.tag]: answer.name };
      },
      async [Symbol.asyncDispose]() {
        disposed.abort();
        await Promise.allSettled(pending.values());
      },
    };
  },
};

/** The PTR query name of an address (`4.3.2.1.in-addr.arpa`, nibbles for IPv6). */
export function ptrName(address: string): string {
  const bits = addressBits(address)!;
  if (bits >> 32n === 0xffffn) {
    return `${
      [0, 8, 16, 24].map((shift) => Number((bits >> BigInt(shift)) & 0xffn)).join(".")
    }.in-addr.arpa`;
  }
  const nibbles: string[] = [];
  for (let shift = 0n; shift < 128n; shift += 4n) {
    nibbles.push(((bits >> shift) & 0xfn).toString(16));
  }
  return `${nibbles.join(".")}.ip6.arpa`;
}
