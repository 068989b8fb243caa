/**
 * The scraper config's security settings: `api` ({token_file, tls_cert, tls_key}: its matrix
 * page and metrics), `collector_token_file` and `collector_ca` (how it reaches collectors). Paths
 * are resolved against the config's folder; the flags of the same names win.
 *
 * @module
 */
import { resolve } from "node:path";
import type { ApiSecurityFiles, ConfigNode } from "@llama/core";

/** The security settings of a scraper config. */
export interface ScraperSecurityConfig {
  /** Token file, certificate and key of the scraper's own servers (`--ui`, `--metrics`). */
  api: ApiSecurityFiles;
  /** The token sent to collectors is this file's first. */
  collectorTokenFile: string | undefined;
  /** PEM CA certificates trusted for collectors' HTTPS. */
  collectorCa: string | undefined;
}

/** Reads the security settings out of a config's top-level `fields`. */
export function parseSecurity(
  fields: Map<string, ConfigNode>,
  directory: string,
): ScraperSecurityConfig {
  const path = (node: ConfigNode | undefined) =>
    node === undefined ? undefined : resolve(directory, node.text("a file path"));
  const api = fields.get("api");
  const apiFields = api?.fields(
    ["token_file", "tls_cert", "tls_key"],
    "a map with token_file, tls_cert and tls_key",
  );
  const files: ApiSecurityFiles = {
    tokenFile: path(apiFields?.get("token_file")),
    tlsCert: path(apiFields?.get("tls_cert")),
    tlsKey: path(apiFields?.get("tls_key")),
  };
  if (api !== undefined && (files.tlsCert === undefined) !== (files.tlsKey === undefined)) {
    throw api.error("tls_cert and tls_key go together: give both, or neither");
  }
  return {
    api: files,
    collectorTokenFile: path(fields.get("collector_token_file")),
    collectorCa: path(fields.get("collector_ca")),
  };
}
