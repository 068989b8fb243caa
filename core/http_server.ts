/**
 * The HTTP server every llama program serves on (the collector's API, `/metrics`, the scraper's
 * matrix page): a connection cap, deadlines for request heads, idle keep-alive connections and
 * clients that do not read, and an accept loop that survives running out of file descriptors.
 *
 * Why not `Deno.serve`: in Deno 2.9 it has no connection cap and no header or idle timeout, and
 * when `accept` fails with EMFILE its promise rejects and the program dies ("Uncaught (in promise)
 * Http: Too many open files"). `node:http` listening on its own survives the error but never
 * accepts again. So the accept loop is ours (`Deno.listen`, whose `accept` throws an error with
 * code EMFILE and works again once descriptors are free), and each accepted connection is handed
 * to a `node:http` server that parses and writes HTTP/1.1 (its `llhttp` parser, header size
 * limit and keep-alive), through a stream whose deadlines close the connection.
 *
 * With `security`, requests need an API token (`/status` excepted: health checks) and the server
 * speaks HTTPS (`Deno.listenTls`): the handshake is done before `node:http` sees the connection,
 * under the same header deadline, and the cap counts TLS connections as any other.
 *
 * @module
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { Duplex } from "node:stream";
import { getLogger } from "@logtape/logtape";
import { formatAddress } from "./address.ts";
import { BurstLog } from "./_burst_log.ts";
import { HttpConnection } from "./_http_connection.ts";
import { answerExchange, type FetchHandler } from "./_http_exchange.ts";
import type { HttpServerStats } from "./_http_metrics.ts";
import { type HttpSecurity, refusal, unauthorizedResponse } from "./_http_security.ts";
import type { SocketAddress } from "./socket.ts";

export type { FetchHandler } from "./_http_exchange.ts";
export type { HttpDeadline } from "./_http_connection.ts";
export { httpServerMetrics, type HttpServerStats } from "./_http_metrics.ts";
export type { HttpSecurity } from "./_http_security.ts";

/** What a server lets its clients hold. */
export interface HttpLimits {
  /** Connections open at once; one more is closed as soon as it is accepted. */
  maxConnections: number;
  /** Milliseconds a request's head may take, from its first byte (or the connection's opening). */
  headersTimeoutMs: number;
  /** Milliseconds a keep-alive connection may wait for its next request. */
  idleTimeoutMs: number;
  /** Milliseconds one write may wait for a client that does not read. */
  sendTimeoutMs: number;
  /** Bytes a request's head may have (larger ones are answered 431). */
  maxHeaderBytes: number;
}

/** The limits of every llama HTTP server unless its program says otherwise. */
export const HTTP_LIMITS: Readonly<HttpLimits> = Object.freeze({
  maxConnections: 256,
  headersTimeoutMs: 10_000,
  idleTimeoutMs: 30_000,
  sendTimeoutMs: 30_000,
  maxHeaderBytes: 16_384,
});

/** Options of `serveHttp`. */
export interface HttpServerOptions {
  /** Names the server in logs and in the `server` label of its metrics (`api`, `metrics`). */
  name: string;
  /** Limits; each one left out is `HTTP_LIMITS`'s. */
  limits?: Partial<HttpLimits>;
  /** Answers a request whose handler threw. Default: 500 with `internal error`. */
  onError?: (error: unknown) => Response;
  /** API tokens and HTTPS; without it, plain HTTP open to anyone who can connect. */
  security?: HttpSecurity;
}

/** A running server. */
export interface HttpServer extends AsyncDisposable {
  /** Where it listens (the real port when asked for port 0). */
  readonly address: SocketAddress;
  /** `https` when it serves TLS, else `http`. */
  readonly scheme: "http" | "https";
  /** What it counted so far. */
  stats(): HttpServerStats;
  /** Stops accepting, lets requests being answered finish (2 s at most) and closes the rest. */
  shutdown(): Promise<void>;
}

const ACCEPT_BACKOFF_MS = { first: 10, most: 1_000 };
const SHUTDOWN_GRACE_MS = 2_000;

/**
 * Serves `handler` on `address` (see the module doc for why not `Deno.serve`). Throws what
 * `Deno.listen` throws (an address in use, say).
 *
 * @example
 * ```ts
 * import { serveHttp } from "@llama/core";
 * await using server = await serveHttp(
 *   { hostname: "127.0.0.1", port: 0 },
 *   () => new Response("ok"),
 *   { name: "example", limits: { maxConnections: 64 } },
 * );
 * const response = await fetch(`http://127.0.0.1:${server.address.port}/`);
 * console.assert((await response.text()) === "ok");
 * console.assert(server.stats().requests === 1);
 * ```
 */
export function serveHttp(
  address: SocketAddress,
  handler: FetchHandler,
  options: HttpServerOptions,
): Promise<HttpServer> {
  try {
    return Promise.resolve(new RunningHttpServer(address, handler, options));
  } catch (error) {
    return Promise.reject(error);
  }
}

class RunningHttpServer implements HttpServer {
  readonly address: SocketAddress;
  readonly scheme: "http" | "https";
  readonly #name: string;
  readonly #limits: HttpLimits;
  readonly #listener: Deno.Listener;
  readonly #http: ReturnType<typeof createServer>;
  readonly #connections = new Set<HttpConnection>();
  readonly #log = getLogger(["llama", "http"]);
  readonly #stats: Omit<HttpServerStats, "open">;
  readonly #refusals: BurstLog;
  readonly #acceptFailures: BurstLog;
  readonly #expiries: BurstLog;
  readonly #badRequests: BurstLog;
  readonly #unauthorized: BurstLog;
  readonly #tlsFailures: BurstLog;
  #loop: Promise<void>;
  #closed = false;
  #wake: (() => void) | undefined;

  constructor(address: SocketAddress, handler: FetchHandler, options: HttpServerOptions) {
    this.#name = options.name;
    this.#limits = { ...HTTP_LIMITS, ...options.limits };
    this.#stats = {
      server: options.name,
      accepted: 0,
      refused: 0,
      acceptErrors: {},
      timedOut: { headers: 0, idle: 0, send: 0 },
      requests: 0,
      badRequests: 0,
      unauthorized: 0,
      tlsFailures: 0,
    };
    const warn = (message: string, properties: Record<string, unknown>) =>
      this.#log.warn(message, {
        server: this.#name,
        address: formatAddress(this.address),
        ...properties,
      });
    this.#refusals = new BurstLog(warn);
    this.#acceptFailures = new BurstLog(warn);
    this.#expiries = new BurstLog(warn);
    this.#badRequests = new BurstLog(warn);
    this.#unauthorized = new BurstLog(warn);
    this.#tlsFailures = new BurstLog(warn);
    const security = options.security;
    const onError = options.onError ?? ((error: unknown) => {
      this.#log.error("{server} request failed: {error}", { server: this.#name, error });
      return new Response("internal error\n", { status: 500 });
    });
    // requestTimeout 0 and headersTimeout 0 turn node:http's own checks off: the deadlines of
    // HttpConnection replace them (node's need a real socket handle to see connections).
    this.#http = createServer({
      maxHeaderSize: this.#limits.maxHeaderBytes,
      requestTimeout: 0,
      headersTimeout: 0,
    });
    this.#http.on("request", (incoming: IncomingMessage, outgoing: ServerResponse) => {
      const connection = incoming.socket as unknown as HttpConnection;
      connection.requestStarted();
      this.#stats.requests++;
      outgoing.once("finish", () => connection.requestFinished());
      const problem = refusal(security, incoming.url, incoming.headers.authorization);
      if (problem !== undefined) {
        this.#stats.unauthorized++;
        this.#unauthorized.event(
          "{server} on {address} answered 401 to {client}: {problem} API token for {method} {path}",
          {
            client: connection.remoteAddress,
            problem: problem === "missing" ? "no" : "a wrong",
            method: incoming.method,
            path: incoming.url?.slice(0, 200),
          },
        );
      }
      const answer = problem === undefined ? handler : () => unauthorizedResponse(problem);
      answerExchange(incoming, outgoing, answer, onError).catch((error) => {
        this.#log.error("{server} response failed: {error}", { server: this.#name, error });
        outgoing.destroy();
      });
    });
    this.#http.on("clientError", (error: Error & { code?: string }, socket: Duplex) => {
      this.#stats.badRequests++;
      const connection = socket as unknown as HttpConnection;
      this.#badRequests.event(
        "{server} on {address}: unparsable request from {client} ({code}); closed",
        { client: connection.remoteAddress, code: error.code ?? error.message },
      );
      const status = error.code === "HPE_HEADER_OVERFLOW"
        ? "431 Request Header Fields Too Large"
        : "400 Bad Request";
      if (socket.writable && !socket.destroyed) {
        socket.end(`HTTP/1.1 ${status}\r\nconnection: close\r\ncontent-length: 0\r\n\r\n`);
      }
      setTimeout(() => socket.destroy(), 1_000);
    });
    const where = { hostname: address.hostname, port: address.port };
    this.#listener = security?.tls === undefined
      ? Deno.listen(where)
      : Deno.listenTls({ ...where, cert: security.tls.cert, key: security.tls.key });
    this.scheme = security?.tls === undefined ? "http" : "https";
    const local = this.#listener.addr as Deno.NetAddr;
    this.address = { hostname: local.hostname, port: local.port };
    this.#loop = this.#acceptLoop();
  }

  stats(): HttpServerStats {
    return {
      ...this.#stats,
      open: this.#connections.size,
      acceptErrors: { ...this.#stats.acceptErrors },
      timedOut: { ...this.#stats.timedOut },
    };
  }

  async shutdown(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#wake?.();
    try {
      this.#listener.close();
    } catch { /* closed already */ }
    await this.#loop;
    for (const connection of this.#connections) if (!connection.busy) connection.destroy();
    const deadline = performance.now() + SHUTDOWN_GRACE_MS;
    while (this.#connections.size > 0 && performance.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    for (const connection of this.#connections) connection.destroy();
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.shutdown();
  }

  async #acceptLoop(): Promise<void> {
    let backoffMs = ACCEPT_BACKOFF_MS.first;
    while (!this.#closed) {
      let conn: Deno.Conn;
      try {
        conn = await this.#listener.accept();
      } catch (error) {
        if (this.#closed) return;
        // EMFILE and ENFILE leave the connection in the backlog: wait for descriptors to be
        // freed (deadlines close idle connections) rather than spin on accept.
        const code = (error as { code?: string }).code ?? (error as Error).name;
        this.#stats.acceptErrors[code] = (this.#stats.acceptErrors[code] ?? 0) + 1;
        this.#acceptFailures.event(
          "{server} on {address} cannot accept a connection ({code}): retrying in {backoffMs} ms",
          { code, backoffMs, error },
        );
        await this.#sleep(backoffMs);
        backoffMs = Math.min(backoffMs * 2, ACCEPT_BACKOFF_MS.most);
        continue;
      }
      backoffMs = ACCEPT_BACKOFF_MS.first;
      if (this.#connections.size >= this.#limits.maxConnections) {
        this.#stats.refused++;
        this.#refusals.event(
          "{server} on {address} refused a connection from {client}: {limit} connections open",
          {
            client: (conn.remoteAddr as Deno.NetAddr).hostname,
            limit: this.#limits.maxConnections,
          },
        );
        try {
          conn.close();
        } catch { /* gone already */ }
        continue;
      }
      this.#stats.accepted++;
      const connection: HttpConnection = new HttpConnection(conn, {
        headersMs: this.#limits.headersTimeoutMs,
        idleMs: this.#limits.idleTimeoutMs,
        sendMs: this.#limits.sendTimeoutMs,
      }, (deadline) => {
        this.#connections.delete(connection);
        if (deadline === undefined) return;
        this.#stats.timedOut[deadline]++;
        this.#expiries.event(
          "{server} on {address} closed a connection from {client}: {deadline} deadline passed",
          { client: connection.remoteAddress, deadline },
        );
      });
      connection.on("error", () => {/* a reset by the client; the connection is closed */});
      this.#connections.add(connection);
      if (this.scheme === "https") this.#handshake(conn as Deno.TlsConn, connection);
      else this.#http.emit("connection", connection);
    }
  }

  /**
   * Hands `connection` to `node:http` once its TLS handshake is done. The header deadline runs
   * from the accept, so a client that never finishes its handshake is closed like a slow one.
   */
  #handshake(conn: Deno.TlsConn, connection: HttpConnection): void {
    conn.handshake().then(() => {
      if (!connection.destroyed) this.#http.emit("connection", connection);
    }, (error) => {
      if (connection.destroyed) return;
      this.#stats.tlsFailures++;
      this.#tlsFailures.event(
        "{server} on {address}: TLS handshake with {client} failed ({reason}); closed",
        { client: connection.remoteAddress, reason: (error as Error).message },
      );
      connection.destroy();
    });
  }

  #sleep(milliseconds: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, milliseconds);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.#wake = done;
    });
  }
}
