import { isIP } from "node:net";
import { lookup as dnsLookup } from "node:dns/promises";
import { ConfigError, type Keyring, whyNotUnicast } from "@llama/core";
import type { CollectorConfig, TargetConfig } from "./config.ts";
import { notUnicastMessage } from "./_config_fields.ts";
import type { FleetReport } from "./mesh.ts";

/** Turns a hostname into an IP address. */
export type Lookup = (hostname: string) => Promise<string>;

/** The system resolver (getaddrinfo: /etc/hosts, then DNS), first address in its order. */
export const systemLookup: Lookup = async (hostname: string): Promise<string> =>
  (await dnsLookup(hostname)).address;

/** A target whose address is known. */
export interface ResolvedTarget extends TargetConfig {
  /** The IP address probes go to. */
  ip: string;
}

/** A config whose targets all have IP addresses. */
export interface ResolvedConfig extends Omit<CollectorConfig, "targets"> {
  /** Target lists by name, resolved. */
  targets: Record<string, ResolvedTarget[]>;
  /** How mesh levels and sharding cut the target lists down, when the config has them. */
  fleetReport?: FleetReport;
  /** The keyrings of the STAMP key files the tests use, by absolute path (`loadCollectorConfig`). */
  stampKeyrings?: ReadonlyMap<string, Keyring>;
  /** The keys of `auth` (or `--auth-key-file`), loaded: probes are signed and replies checked. */
  authKeyring?: Keyring;
}

/**
 * Resolves every target hostname (IP literals are kept as they are). Throws `ConfigError`
 * naming the target's place in the file when a name does not resolve.
 *
 * @example
 * ```ts
 * import { defaultCollectorConfig, resolveTargets } from "@llama/collector";
 * const resolved = await resolveTargets(defaultCollectorConfig());
 * console.assert(resolved.targets.default[0].ip === "127.0.0.1");
 * ```
 */
export async function resolveTargets(
  config: CollectorConfig,
  lookup: Lookup = systemLookup,
): Promise<ResolvedConfig> {
  const cache = new Map<string, Promise<string>>();
  const targets: Record<string, ResolvedTarget[]> = {};
  for (const [name, list] of Object.entries(config.targets)) {
    targets[name] = await Promise.all(list.map(async (target) => {
      if (isIP(target.host) !== 0) return { ...target, ip: target.host };
      let pending = cache.get(target.host);
      if (pending === undefined) {
        pending = lookup(target.host);
        cache.set(target.host, pending);
      }
      let ip: string;
      try {
        ip = await pending;
      } catch (error) {
        throw targetError(
          config,
          target,
          `cannot resolve ${JSON.stringify(target.host)}: ${(error as Error).message}`,
          error,
        );
      }
      const problem = whyNotUnicast(ip);
      if (problem !== undefined) {
        throw targetError(
          config,
          target,
          notUnicastMessage(`${JSON.stringify(target.host)}, which resolves to ${ip}`, problem),
        );
      }
      return { ...target, ip };
    }));
  }
  return { ...config, targets };
}

function targetError(
  config: CollectorConfig,
  target: TargetConfig,
  message: string,
  cause?: unknown,
): ConfigError {
  return new ConfigError(message, {
    file: config.file,
    path: target.location.path,
    line: target.location.line,
    column: target.location.column,
    cause,
  });
}
