/**
 * The `api` section of a collector config: where the API listens and how it is locked down
 * (`token_file`, `tls_cert`, `tls_key`; the same as `--api-token-file`, `--tls-cert`,
 * `--tls-key`, which win).
 *
 * @module
 */
import { dirname, resolve } from "node:path";
import { type ConfigNode, parseHostPort, type SocketAddress, UsageError } from "@llama/core";

/** The `api:` section: where the API listens, its token file, its certificate and key. */
export interface CollectorApiConfig {
  /** Where the HTTP API listens. */
  bind: SocketAddress;
  /** API tokens (`token_file`): every route but `/status` needs one. */
  tokenFile?: string;
  /** HTTPS certificate chain, PEM (`tls_cert`; with `tlsKey`). */
  tlsCert?: string;
  /** HTTPS private key, PEM (`tls_key`; with `tlsCert`). */
  tlsKey?: string;
}

const API_KEYS = ["bind", "token_file", "tls_cert", "tls_key"];

/**
 * Parses the `api` map over `defaults`; file paths are resolved against the config file's folder
 * (the working directory without one).
 */
export function parseApi(
  node: ConfigNode,
  defaults: CollectorApiConfig,
  file: string | undefined,
): CollectorApiConfig {
  const fields = node.fields(API_KEYS, "a map with bind, token_file, tls_cert and tls_key");
  const api: CollectorApiConfig = { ...defaults };
  const bind = fields.get("bind");
  if (bind !== undefined) {
    try {
      api.bind = parseHostPort(bind.text("host:port"), "bind");
    } catch (error) {
      if (error instanceof UsageError) {
        throw bind.error(`expected host:port (like 0.0.0.0:5000), got ${bind.describe()}`);
      }
      throw error;
    }
  }
  const folder = file === undefined ? Deno.cwd() : dirname(resolve(file));
  const path = (key: string) => {
    const value = fields.get(key);
    return value === undefined ? undefined : resolve(folder, value.text("a file path"));
  };
  // Only keys that are given: a config without them equals the default one.
  for (const [key, field] of [["token_file", "tokenFile"], ["tls_cert", "tlsCert"]] as const) {
    const value = path(key);
    if (value !== undefined) api[field] = value;
  }
  const key = path("tls_key");
  if (key !== undefined) api.tlsKey = key;
  if ((api.tlsCert === undefined) !== (api.tlsKey === undefined)) {
    throw node.error("tls_cert and tls_key go together: give both, or neither");
  }
  return api;
}
