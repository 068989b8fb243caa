import { getLogger } from "@logtape/logtape";
import { formatAddress, type HttpSecurity, type HttpServerStats, serveHttp } from "@llama/core";
import { createMatrixUi, type MatrixUi } from "./api.ts";
import { selectHistory } from "./history.ts";
import type { MatrixSource } from "./types.ts";

/** A running matrix server. */
export interface MatrixServer extends AsyncDisposable {
  /** Where it listens (the real port when asked for port 0). */
  readonly address: { hostname: string; port: number };
  /** The handler it serves, also usable without a socket. */
  readonly ui: MatrixUi;
  /** What its HTTP server counted (connections, deadlines; `serveHttp`). */
  stats(): HttpServerStats;
}

const SUMMARY_PARAMETERS = ["src_ip", "dst_ip", "flows"];

/** Options of `serveMatrixUi`. */
export interface ServeMatrixUiOptions {
  /**
   * More JSON routes served beside the matrix, by path (the scraper's `/api/v1/suspects` and
   * `/api/v1/traces`): each GET answers what its function returns, as JSON.
   */
  json?: Readonly<Record<string, () => unknown>>;
  /** API tokens (every route but `/status`) and HTTPS; without it, open plain HTTP. */
  security?: HttpSecurity;
}

/**
 * Serves the matrix on its own address, for a program without an HTTP API of its own (the
 * scraper): the page and its API, `/api/v1/summaries` with the last interval of `source` (the
 * collector's format, so a scraper can be scraped), `/status`, and the `json` routes of
 * `options`.
 *
 * @example
 * ```ts
 * import { serveMatrixUi } from "@llama/ui";
 * await using server = await serveMatrixUi({ hostname: "127.0.0.1", port: 0 }, { history: () => [] });
 * const response = await fetch(`http://127.0.0.1:${server.address.port}/status`);
 * console.assert((await response.text()) === "ok");
 * ```
 */
export async function serveMatrixUi(
  address: { hostname: string; port: number },
  source: MatrixSource,
  options: ServeMatrixUiOptions = {},
): Promise<MatrixServer> {
  const log = getLogger(["llama", "ui"]);
  const ui = createMatrixUi(source);
  const json = new Map(Object.entries(options.json ?? {}));
  const handle = (request: Request): Response | Promise<Response> => {
    const url = new URL(request.url);
    const known = url.pathname === "/status" || url.pathname === "/api/v1/summaries" ||
      json.has(url.pathname) || ui.paths.includes(url.pathname);
    if (!known) {
      return Response.json({
        error: `no route ${url.pathname}; routes: ${
          ["/status", "/api/v1/summaries", ...json.keys(), ...ui.paths].join(", ")
        }`,
      }, { status: 404 });
    }
    if (request.method !== "GET" && request.method !== "HEAD") {
      return Response.json(
        { error: `${request.method} is not allowed on ${url.pathname}; use GET` },
        { status: 405, headers: { allow: "GET, HEAD" } },
      );
    }
    if (url.pathname === "/status") return new Response("ok");
    if (url.pathname === "/api/v1/summaries") return summaries(source, url.searchParams);
    const answer = json.get(url.pathname);
    if (answer !== undefined) return Response.json(answer());
    return ui.fetch(request);
  };
  const server = await serveHttp(address, handle, {
    name: "ui",
    security: options.security,
    onError: (error) => {
      log.error("Matrix request failed: {error}", { error });
      return Response.json({ error: "internal error" }, { status: 500 });
    },
  });
  log.info("Serving the matrix on {scheme}://{address}/", {
    scheme: server.scheme,
    address: formatAddress(server.address),
  });
  return {
    address: server.address,
    ui,
    stats: () => server.stats(),
    [Symbol.asyncDispose]: () => server.shutdown(),
  };
}

/** The last interval, in the collector's `/api/v1/summaries` format and with its filters. */
function summaries(source: MatrixSource, parameters: URLSearchParams): Response {
  for (const name of new Set(parameters.keys())) {
    if (!SUMMARY_PARAMETERS.includes(name)) {
      return Response.json({
        error: `unknown query parameter "${name}"; known: ${SUMMARY_PARAMETERS.join(", ")}`,
      }, { status: 400 });
    }
    if (parameters.getAll(name).length > 1) {
      return Response.json({
        error: `query parameter "${name}" given ${parameters.getAll(name).length} times`,
      }, { status: 400 });
    }
  }
  const flows = parameters.get("flows");
  if (flows !== null && flows !== "true" && flows !== "false") {
    return Response.json({
      error: `query parameter "flows" takes true or false, got "${flows}"`,
    }, { status: 400 });
  }
  const match = (["src_ip", "dst_ip"] as const).flatMap((key) => {
    const value = parameters.get(key);
    return value === null ? [] : [[key, value] as const];
  });
  const [last] = selectHistory(source.history(), { intervals: 1, match, flows: flows !== "false" });
  return Response.json({
    start: last?.start ?? null,
    end: last?.end ?? null,
    intervalSeconds: last?.intervalSeconds ?? null,
    timestampSource: last?.timestampSource ?? null,
    sendTimestampSource: last?.sendTimestampSource ?? null,
    paths: last?.paths ?? [],
  });
}
