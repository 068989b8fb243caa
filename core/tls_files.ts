/**
 * PEM files for HTTPS: a server's certificate chain and key, and the CA certificates a client
 * trusts, read and checked before anything listens or connects.
 *
 * @module
 */
import { ConfigError } from "./errors.ts";

/** A server's certificate chain and private key, PEM text. */
export interface TlsIdentity {
  /** The certificate chain, PEM (the server's certificate first). */
  readonly cert: string;
  /** The private key, PEM. */
  readonly key: string;
}

/**
 * Reads a certificate chain and its key for `serveHttp`'s `tls`. Throws `ConfigError` naming the
 * file that cannot be read or holds no PEM certificate (or key). Whether the two match is
 * checked when the server starts listening.
 *
 * @example
 * ```ts ignore
 * import { loadTlsIdentity } from "@llama/core";
 * const tls = await loadTlsIdentity("/etc/llama/api.pem", "/etc/llama/api.key");
 * ```
 */
export async function loadTlsIdentity(certFile: string, keyFile: string): Promise<TlsIdentity> {
  const cert = await readPem(certFile, /-----BEGIN CERTIFICATE-----/, "a PEM certificate");
  const key = await readPem(keyFile, /-----BEGIN [A-Z ]*PRIVATE KEY-----/, "a PEM private key");
  return Object.freeze({ cert, key });
}

/**
 * Reads a file of PEM CA certificates, for `Deno.createHttpClient({ caCerts })`. Throws
 * `ConfigError` naming the file that cannot be read or holds no certificate.
 *
 * @example
 * ```ts ignore
 * import { loadCaFile } from "@llama/core";
 * const client = Deno.createHttpClient({ caCerts: [await loadCaFile("/etc/llama/ca.pem")] });
 * ```
 */
export function loadCaFile(file: string): Promise<string> {
  return readPem(file, /-----BEGIN CERTIFICATE-----/, "a PEM CA certificate");
}

async function readPem(file: string, pattern: RegExp, what: string): Promise<string> {
  let text: string;
  try {
    text = await Deno.readTextFile(file);
  } catch (error) {
    throw new ConfigError(`cannot read ${what}: ${(error as Error).message}`, {
      file,
      cause: error,
    });
  }
  if (!pattern.test(text)) throw new ConfigError(`expected ${what}, found none`, { file });
  return text;
}
