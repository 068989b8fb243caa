/**
 * How the scraper reaches collectors whose API is locked down: their API token in every request
 * (`--collector-token-file`: the file's first token) and the CA their HTTPS certificates are
 * signed by (`--collector-ca`), beside the system's.
 *
 * @module
 */

/** Options of `collectorClient`. */
export interface CollectorClientOptions {
  /** Sent as `Authorization: Bearer TOKEN` to every collector. */
  token?: string;
  /** PEM CA certificates trusted for collectors' HTTPS, besides the system's. */
  caCerts?: readonly string[];
  /** The `fetch` underneath, replaceable in tests. Default: the global one. */
  fetch?: typeof fetch;
}

/** A `fetch` for collectors; disposing of it closes its connections. */
export interface CollectorClient extends Disposable {
  /** Fetches as `fetch` does, with the token and the CA. */
  readonly fetch: typeof fetch;
}

/**
 * A `fetch` for `startScraper`'s dependencies that sends `token` and trusts `caCerts`.
 *
 * @example
 * ```ts
 * import { collectorClient } from "@llama/scraper";
 * const seen: (string | null)[] = [];
 * using client = collectorClient({
 *   token: "5f0c1e9a7b3d42c6a8e1f0b9d7c5a3e1",
 *   fetch: (_url, init) => {
 *     seen.push(new Headers(init?.headers).get("authorization"));
 *     return Promise.resolve(new Response("[]"));
 *   },
 * });
 * await client.fetch("http://collector-1:5000/influxdata", { headers: { accept: "application/json" } });
 * console.assert(seen[0] === "Bearer 5f0c1e9a7b3d42c6a8e1f0b9d7c5a3e1");
 * ```
 */
export function collectorClient(options: CollectorClientOptions = {}): CollectorClient {
  const base = options.fetch ?? fetch;
  const http = options.caCerts === undefined || options.caCerts.length === 0
    ? undefined
    : Deno.createHttpClient({ caCerts: [...options.caCerts] });
  const authorization = options.token === undefined ? undefined : `Bearer ${options.token}`;
  const wrapped = (input: RequestInfo | URL, init: RequestInit = {}): Promise<Response> => {
    const headers = new Headers(init.headers);
    if (authorization !== undefined) headers.set("authorization", authorization);
    return base(input, {
      ...init,
      headers,
      ...(http === undefined ? {} : { client: http }),
    } as RequestInit);
  };
  return {
    fetch: wrapped as typeof fetch,
    [Symbol.dispose]: () => http?.close(),
  };
}
