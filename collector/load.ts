import { isIP } from "node:net";
import { ConfigError } from "@llama/core";
import { defaultCollectorConfig, parseCollectorConfig } from "./config.ts";
import { type Lookup, type ResolvedConfig, resolveTargets, systemLookup } from "./resolve.ts";
import { loadStampKeyrings } from "./_stamp_keys.ts";

/** Options of `loadCollectorConfig`. */
export interface LoadConfigOptions {
  /** Reflector port of legacy-format targets and of the default config. Default 8100. */
  dstPort?: number;
  /** Hostname resolver. Default: the system's. */
  lookup?: Lookup;
}

/**
 * Reads, validates and resolves a collector config file; with no file, the original's default
 * config. Throws `ConfigError` naming the file, line, column and path of the problem.
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
  const resolved = await resolveTargets(config, options.lookup ?? systemLookup);
  checkAddressFamilies(resolved);
  const stampKeyrings = await loadStampKeyrings(resolved);
  return stampKeyrings.size === 0 ? resolved : { ...resolved, stampKeyrings };
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
