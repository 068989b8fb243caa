import { getLogger } from "@logtape/logtape";
import { formatAddress } from "./address.ts";
import {
  type HttpLimits,
  type HttpSecurity,
  type HttpServer,
  httpServerMetrics,
  type HttpServerStats,
  serveHttp,
} from "./http_server.ts";
import { formatPrometheus, PROMETHEUS_CONTENT_TYPE } from "./prometheus.ts";
import type { SocketAddress } from "./socket.ts";

/** A running `/metrics` endpoint. */
export interface MetricsServer extends AsyncDisposable {
  /** Where it listens (the real port when asked for port 0). */
  readonly address: SocketAddress;
  /** What its HTTP server counted (also served as `llama_http_*` on `/metrics`). */
  stats(): HttpServerStats;
}

/**
 * Serves `render()` as Prometheus text at `GET /metrics` (and answers `GET /status` with `ok`),
 * for programs whose only HTTP surface is their metrics. It serves through `serveHttp` (a
 * connection cap and deadlines; with `security`, a token for `/metrics` and HTTPS) and adds its
 * own `llama_http_*` metrics to `render()`'s.
 *
 * @example
 * ```ts
 * import { serveMetrics } from "@llama/core";
 * await using server = await serveMetrics({ hostname: "127.0.0.1", port: 0 }, () => "up 1\n");
 * const response = await fetch(`http://127.0.0.1:${server.address.port}/metrics`);
 * console.assert((await response.text()) === "up 1\n");
 * ```
 */
export async function serveMetrics(
  address: SocketAddress,
  render: () => string,
  options: { limits?: Partial<HttpLimits>; security?: HttpSecurity } = {},
): Promise<MetricsServer> {
  const log = getLogger(["llama", "metrics"]);
  const server: HttpServer = await serveHttp(address, (request) => {
    const path = new URL(request.url).pathname;
    if (request.method !== "GET" && request.method !== "HEAD") {
      return new Response("method not allowed\n", {
        status: 405,
        headers: { allow: "GET, HEAD" },
      });
    }
    if (path === "/metrics") {
      const text = render() + formatPrometheus(httpServerMetrics([server.stats()]));
      return new Response(text, { headers: { "content-type": PROMETHEUS_CONTENT_TYPE } });
    }
    if (path === "/status") return new Response("ok");
    return new Response("not found: try /metrics\n", { status: 404 });
  }, {
    name: "metrics",
    limits: options.limits,
    security: options.security,
    onError: (error) => {
      log.error("Metrics request failed: {error}", { error });
      return new Response("internal error\n", { status: 500 });
    },
  });
  log.info("Serving metrics on {scheme}://{address}/metrics", {
    scheme: server.scheme,
    address: formatAddress(server.address),
  });
  return {
    address: server.address,
    stats: () => server.stats(),
    [Symbol.asyncDispose]: () => server.shutdown(),
  };
}
