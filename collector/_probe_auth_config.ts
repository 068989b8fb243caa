/**
 * The collector's authenticated-probe setting, `auth_key_file:` (or `--auth-key-file`): read as
 * a path when the config is parsed, loaded as a keyring before any socket opens.
 *
 * @module
 */
import { dirname, isAbsolute, resolve } from "node:path";
import { ConfigError, type ConfigNode, type Keyring, loadKeyFile } from "@llama/core";

/** Where the probe key file is, and where the config named it (absent: the flag did). */
export interface ProbeAuthConfig {
  /** Absolute path of the key file (relative ones are taken from the config file's folder). */
  keyFile: string;
  /** Where `auth_key_file` is in the config; undefined when `--auth-key-file` gave it. */
  location?: { path: string; line?: number; column?: number };
}

/** Reads `auth_key_file` of the full format; undefined when absent. */
export function readProbeAuth(
  node: ConfigNode | undefined,
  configFile: string | undefined,
): ProbeAuthConfig | undefined {
  if (node === undefined || node.isMissing) return undefined;
  const path = node.text("the path of a key file");
  if (path === "") throw node.error("expected the path of a key file, got an empty string");
  return { keyFile: absolutePath(path, configFile), location: node.location() };
}

/**
 * Loads the key file of `auth` (undefined: no authentication). A bad file is a `ConfigError`
 * naming the config file and the place of `auth_key_file` as well as the key file's problem.
 */
export async function loadProbeKeyring(
  auth: ProbeAuthConfig | undefined,
  configFile: string | undefined,
): Promise<Keyring | undefined> {
  if (auth === undefined) return undefined;
  try {
    return await loadKeyFile(auth.keyFile);
  } catch (error) {
    if (!(error instanceof ConfigError) || auth.location === undefined) throw error;
    throw new ConfigError(`auth_key_file ${JSON.stringify(auth.keyFile)}: ${error.message}`, {
      file: configFile,
      path: auth.location.path,
      line: auth.location.line,
      column: auth.location.column,
      cause: error,
    });
  }
}

function absolutePath(path: string, configFile: string | undefined): string {
  if (isAbsolute(path)) return path;
  return resolve(configFile === undefined ? Deno.cwd() : dirname(resolve(configFile)), path);
}
