/**
 * Reads the key files the config's STAMP targets name, once each, before any socket opens: a bad
 * key file is a config error naming where the config names it.
 *
 * @module
 */
import { ConfigError, type Keyring, loadKeyFile } from "@llama/core";
import type { CollectorConfig } from "./config.ts";
import { stampSettings } from "./_stamp_config.ts";

/**
 * The keyrings of every key file a test's STAMP targets use, by absolute path. Throws
 * `ConfigError` naming the config file, the place of `stamp_key_file` and the key file's problem.
 */
export async function loadStampKeyrings(
  config: Pick<CollectorConfig, "file" | "tests" | "targets">,
): Promise<Map<string, Keyring>> {
  const keyrings = new Map<string, Keyring>();
  for (const test of config.tests) {
    for (const target of config.targets[test.targets] ?? []) {
      const settings = stampSettings(test.stamp, target.stamp);
      const file = settings?.keyFile;
      if (file === undefined || keyrings.has(file)) continue;
      try {
        keyrings.set(file, await loadKeyFile(file));
      } catch (error) {
        if (!(error instanceof ConfigError)) throw error;
        throw new ConfigError(`stamp_key_file ${JSON.stringify(file)}: ${error.message}`, {
          file: config.file,
          path: settings!.keyLocation?.path,
          line: settings!.keyLocation?.line,
          column: settings!.keyLocation?.column,
          cause: error,
        });
      }
    }
  }
  return keyrings;
}
