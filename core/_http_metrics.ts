/**
 * What an HTTP server counts, and those counts as Prometheus families (`llama_http_*`).
 *
 * @module
 */
import type { MetricFamily } from "./prometheus.ts";
import type { HttpDeadline } from "./_http_connection.ts";

/** What a server counted since it started. */
export interface HttpServerStats {
  /** The server's name. */
  server: string;
  /** Connections open now. */
  open: number;
  /** Connections accepted. */
  accepted: number;
  /** Connections closed at once because `maxConnections` were open. */
  refused: number;
  /** Failed accepts by error code (EMFILE, ENFILE, …): the connection waits in the backlog. */
  acceptErrors: Record<string, number>;
  /** Connections closed by a deadline. */
  timedOut: Record<HttpDeadline, number>;
  /** Requests answered (their head was read). */
  requests: number;
  /** Requests `node:http` could not parse (answered 400 or 431 and closed). */
  badRequests: number;
  /** Requests answered 401: no API token, or a wrong one (only when the server wants one). */
  unauthorized: number;
  /** TLS connections whose handshake failed (a client that does not trust the certificate). */
  tlsFailures: number;
}

/**
 * Prometheus families of servers' stats (`llama_http_*`, labelled by `server`).
 *
 * @example
 * ```ts
 * import { formatPrometheus, httpServerMetrics, serveHttp } from "@llama/core";
 * await using server = await serveHttp({ hostname: "127.0.0.1", port: 0 }, () => new Response(), {
 *   name: "metrics",
 * });
 * const text = formatPrometheus(httpServerMetrics([server.stats()]));
 * console.assert(text.includes('llama_http_connections_open{server="metrics"} 0'));
 * ```
 */
export function httpServerMetrics(stats: readonly HttpServerStats[]): MetricFamily[] {
  const each = (pick: (stat: HttpServerStats) => number) =>
    stats.map((stat) => ({ labels: { server: stat.server }, value: pick(stat) }));
  return [
    {
      name: "llama_http_connections_open",
      help: "HTTP connections open now.",
      type: "gauge",
      samples: each((stat) => stat.open),
    },
    {
      name: "llama_http_connections_accepted_total",
      help: "HTTP connections accepted.",
      type: "counter",
      samples: each((stat) => stat.accepted),
    },
    {
      name: "llama_http_connections_refused_total",
      help: "HTTP connections closed as soon as accepted: the connection limit was reached.",
      type: "counter",
      samples: each((stat) => stat.refused),
    },
    {
      name: "llama_http_accept_errors_total",
      help: "Failed accepts by errno (EMFILE: out of file descriptors); the server backs off.",
      type: "counter",
      samples: stats.flatMap((stat) =>
        Object.entries(stat.acceptErrors).map(([code, value]) => ({
          labels: { server: stat.server, code },
          value,
        }))
      ),
    },
    {
      name: "llama_http_connections_timed_out_total",
      help: "HTTP connections closed by a deadline: headers (slow request head), idle " +
        "(keep-alive without a request), send (a client not reading).",
      type: "counter",
      samples: stats.flatMap((stat) =>
        (Object.entries(stat.timedOut) as [HttpDeadline, number][]).map(([deadline, value]) => ({
          labels: { server: stat.server, deadline },
          value,
        }))
      ),
    },
    {
      name: "llama_http_requests_total",
      help: "HTTP requests whose head was read.",
      type: "counter",
      samples: each((stat) => stat.requests),
    },
    {
      name: "llama_http_bad_requests_total",
      help: "HTTP requests that could not be parsed (answered 400 or 431, connection closed).",
      type: "counter",
      samples: each((stat) => stat.badRequests),
    },
    {
      name: "llama_http_unauthorized_total",
      help: "HTTP requests answered 401: no API token or a wrong one.",
      type: "counter",
      samples: each((stat) => stat.unauthorized),
    },
    {
      name: "llama_http_tls_handshake_failures_total",
      help: "TLS connections whose handshake failed (a client not trusting the certificate, " +
        "or not speaking TLS).",
      type: "counter",
      samples: each((stat) => stat.tlsFailures),
    },
  ];
}
