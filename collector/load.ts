import { isIP } from "node:net";
import { ConfigError } from "@llama/core";
import { loadProbeKeyring } from "./_probe_auth_config.ts";
import { defaultCollectorConfig, parseCollectorConfig } from "./config.ts";
import { type Lookup, type ResolvedConfig, resolveTargets, systemLookup } from "./resolve.ts";
import { planFleet } from "./mesh.ts";
import { loadStampKeyrings } from "./_stamp_keys.ts";

/** Options of `loadCollectorConfig`. */
export interface LoadConfigOptions {
  /** Reflector port of legacy-format targets and of the default config. Default 8100. */
  dstPort?: number;
  /** Hostname resolver. Default: the system's. */
  lookup?: Lookup;
  /** Probe key file (`--auth-key-file`), instead of the config's `auth_key_file`. */
  authKeyFile?: string;
}

/**
 * Reads, validates and resolves a collector config file; with no file, the original's default
 * config. Mesh levels and sharding cut the target lists down first (`planFleet`), so only the
 * targets this collector probes are resolved; `fleetReport` says how. Throws `ConfigError` naming the file, line, column and path of the problem.
 *
 * @example
 * ```ts
 * import { loadCollectorConfig } from "@llama/collector";
 * const config = await loadCollectorConfig(undefined, { dstPort: 9100 });
 * console.assert(config.targets.default[0].port === 9100);
 * ```
 */
export async function loadCollectorConfig(
  file: string | undefined,
  options: LoadConfigOptions = {},
): Promise<ResolvedConfig> {
  let config;
  if (file === undefined) {
    config = defaultCollectorConfig(options.dstPort);
  } else {
    let text: string;
    try {
      text = await Deno.readTextFile(file);
    } catch (error) {
      throw new ConfigError(`cannot read the config: ${(error as Error).message}`, {
        file,
        cause: error,
      });
    }
    config = parseCollectorConfig(text, { file, dstPort: options.dstPort });
  }
  if (options.authKeyFile !== undefined) config.auth = { keyFile: options.authKeyFile };
  // With discovered lists the plan waits for them (`planResolvedFleet`, once they are read): a
  // discovered member list, or discovered targets, would be cut here before they exist.
  const plan = config.discovery === undefined
    ? planFleet(config)
    : { targets: config.targets, report: undefined };
  const resolved = await resolveTargets(
    { ...config, targets: plan.targets },
    options.lookup ?? systemLookup,
  );
  checkAddressFamilies(resolved);
  const stampKeyrings = await loadStampKeyrings(resolved);
  const authKeyring = await loadProbeKeyring(config.auth, config.file);
  return {
    ...resolved,
    ...(stampKeyrings.size === 0 ? {} : { stampKeyrings }),
    ...(authKeyring === undefined ? {} : { authKeyring }),
    ...(plan.report === undefined ? {} : { fleetReport: plan.report }),
  };
}

/**
 * A socket bound to an IPv4 address cannot reach an IPv6 target, nor the reverse; `::` reaches
 * both. Throws `ConfigError` at the first target that its test's ports cannot reach.
 */
export function checkAddressFamilies(config: ResolvedConfig): void {
  for (const [index, test] of config.tests.entries()) {
    for (const member of config.portGroups[test.portGroup]) {
      const bind = config.ports[member.port].ip;
      const family = bind === "::" ? 0 : isIP(bind);
      for (const target of config.targets[test.targets]) {
        const targetFamily = isIP(target.ip);
        if (family === 0 || family === targetFamily) continue;
        throw new ConfigError(
          `target ${target.ip} is IPv${targetFamily}, but tests[${index}] sends from port "${member.port}" bound to ` +
            `${bind} (IPv${family}); bind that port to ${
              targetFamily === 6 ? '"::"' : "an IPv4 address"
            } to reach it`,
          {
            file: config.file,
            path: target.location.path,
            line: target.location.line,
            column: target.location.column,
          },
        );
      }
    }
  }
}
