import { getLogger } from "@logtape/logtape";
import { formatAddress } from "./address.ts";
import { PROMETHEUS_CONTENT_TYPE } from "./prometheus.ts";
import type { SocketAddress } from "./socket.ts";

/** A running `/metrics` endpoint. */
export interface MetricsServer extends AsyncDisposable {
  /** Where it listens (the real port when asked for port 0). */
  readonly address: SocketAddress;
}

/**
 * Serves `render()` as Prometheus text at `GET /metrics` (and answers `GET /status` with `ok`),
 * for programs whose only HTTP surface is their metrics.
 *
 * @example
 * ```ts
 * import { serveMetrics } from "@llama/core";
 * await using server = await serveMetrics({ hostname: "127.0.0.1", port: 0 }, () => "up 1\n");
 * const response = await fetch(`http://127.0.0.1:${server.address.port}/metrics`);
 * console.assert((await response.text()) === "up 1\n");
 * ```
 */
export function serveMetrics(address: SocketAddress, render: () => string): Promise<MetricsServer> {
  const log = getLogger(["llama", "metrics"]);
  return new Promise((resolve, reject) => {
    let server: Deno.HttpServer<Deno.NetAddr>;
    try {
      server = Deno.serve({
        hostname: address.hostname,
        port: address.port,
        onListen: (local) => {
          log.info("Serving metrics on http://{address}/metrics", {
            address: formatAddress(local),
          });
          resolve({
            address: { hostname: local.hostname, port: local.port },
            [Symbol.asyncDispose]: () => server.shutdown(),
          });
        },
        onError: (error) => {
          log.error("Metrics request failed: {error}", { error });
          return new Response("internal error\n", { status: 500 });
        },
      }, (request) => {
        const path = new URL(request.url).pathname;
        if (request.method !== "GET" && request.method !== "HEAD") {
          return new Response("method not allowed\n", {
            status: 405,
            headers: { allow: "GET, HEAD" },
          });
        }
        if (path === "/metrics") {
          return new Response(render(), { headers: { "content-type": PROMETHEUS_CONTENT_TYPE } });
        }
        if (path === "/status") return new Response("ok");
        return new Response("not found: try /metrics\n", { status: 404 });
      });
    } catch (error) {
      reject(error);
    }
  });
}
