/**
 * The files that lock a program's HTTP API down, read together: a token file, and a certificate
 * with its key for HTTPS. Programs take them as `--api-token-file`, `--tls-cert` and `--tls-key`
 * (or the same in their YAML; the flags win).
 *
 * @module
 */
import { type ApiTokens, loadTokenFile } from "./api_tokens.ts";
import { UsageError } from "./errors.ts";
import { loadTlsIdentity, type TlsIdentity } from "./tls_files.ts";

/** Where an API's token file, certificate and key are; each may be absent. */
export interface ApiSecurityFiles {
  /** Token file (one bearer token a line). */
  tokenFile?: string;
  /** Certificate chain, PEM; goes with `tlsKey`. */
  tlsCert?: string;
  /** Private key, PEM; goes with `tlsCert`. */
  tlsKey?: string;
}

/** What those files hold. */
export interface ApiSecurity {
  /** The tokens requests must carry, if a token file was given. */
  tokens: ApiTokens | undefined;
  /** The certificate and key to serve HTTPS with, if given. */
  tls: TlsIdentity | undefined;
}

/**
 * Reads the files that are given. Throws `UsageError` when only one of `tlsCert` and `tlsKey` is
 * given, `ConfigError` naming a file that cannot be read or is wrong (see `parseTokenFile`,
 * `loadTlsIdentity`).
 *
 * @example
 * ```ts
 * import { loadApiSecurity } from "@llama/core";
 * const security = await loadApiSecurity({});
 * console.assert(security.tokens === undefined && security.tls === undefined);
 * ```
 */
export async function loadApiSecurity(files: ApiSecurityFiles): Promise<ApiSecurity> {
  if ((files.tlsCert === undefined) !== (files.tlsKey === undefined)) {
    throw new UsageError("--tls-cert and --tls-key go together: give both, or neither");
  }
  return {
    tokens: files.tokenFile === undefined ? undefined : await loadTokenFile(files.tokenFile),
    tls: files.tlsCert === undefined || files.tlsKey === undefined
      ? undefined
      : await loadTlsIdentity(files.tlsCert, files.tlsKey),
  };
}
