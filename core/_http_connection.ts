/**
 * One accepted TCP connection as the `node:http` server reads and writes it, with the deadlines
 * the server enforces by closing it: the request head must arrive within `headersMs`, a
 * keep-alive connection may wait `idleMs` for its next request, and a write may wait `sendMs` for
 * a client that does not read.
 *
 * @module
 */
import { Duplex } from "node:stream";

/** Which deadline closed a connection. */
export type HttpDeadline = "headers" | "idle" | "send";

/** The deadlines of a connection, milliseconds. */
export interface ConnectionDeadlines {
  /** From the first byte of a request (or the connection's opening) to its whole head. */
  headersMs: number;
  /** Between a response's end and the next request's first byte. */
  idleMs: number;
  /** That one write may wait for the client to read. */
  sendMs: number;
}

const READ_BYTES = 16_384;

/**
 * A `Deno.Conn` as a Node duplex stream. `onClosed` is called once, when it is destroyed, with the
 * deadline that closed it, if one did.
 */
export class HttpConnection extends Duplex {
  /** The client's address, as `node:http` reads it from a socket. */
  readonly remoteAddress: string;
  /** The client's port. */
  readonly remotePort: number;
  readonly #conn: Deno.Conn;
  readonly #deadlines: ConnectionDeadlines;
  readonly #onClosed: (deadline: HttpDeadline | undefined) => void;
  #phase: "headers" | "request" | "idle" = "headers";
  #timer: ReturnType<typeof setTimeout> | undefined;
  #sendTimer: ReturnType<typeof setTimeout> | undefined;
  #expired: HttpDeadline | undefined;

  /** Wraps `conn`; its header deadline starts now. */
  constructor(
    conn: Deno.Conn,
    deadlines: ConnectionDeadlines,
    onClosed: (deadline: HttpDeadline | undefined) => void,
  ) {
    super({ allowHalfOpen: false });
    const remote = conn.remoteAddr as Deno.NetAddr;
    this.remoteAddress = remote.hostname;
    this.remotePort = remote.port;
    this.#conn = conn;
    this.#deadlines = deadlines;
    this.#onClosed = onClosed;
    this.#arm("headers", deadlines.headersMs);
  }

  /** Whether a request is being answered (a server shutting down lets it finish). */
  get busy(): boolean {
    return this.#phase === "request";
  }

  /** The server parsed a request's head: no deadline until its response ends. */
  requestStarted(): void {
    this.#phase = "request";
    clearTimeout(this.#timer);
  }

  /** A response ended: the connection may idle until the next request. */
  requestFinished(): void {
    if (this.destroyed) return;
    this.#phase = "idle";
    this.#arm("idle", this.#deadlines.idleMs);
  }

  override _read(): void {
    const buffer = new Uint8Array(READ_BYTES);
    this.#conn.read(buffer).then((count) => {
      if (count === null) {
        this.push(null);
        return;
      }
      // The next request's first bytes: its head gets the header deadline from now.
      if (this.#phase === "idle") this.#arm("headers", this.#deadlines.headersMs);
      this.push(buffer.subarray(0, count));
    }, (error) => this.destroy(error));
  }

  override _write(
    chunk: Uint8Array,
    _encoding: string,
    callback: (error?: Error | null) => void,
  ): void {
    this.#writeAll(chunk).then(() => callback(), (error) => callback(error));
  }

  override _final(callback: (error?: Error | null) => void): void {
    this.#conn.closeWrite().then(() => callback(), () => callback());
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    clearTimeout(this.#timer);
    clearTimeout(this.#sendTimer);
    try {
      this.#conn.close();
    } catch { /* closed already */ }
    this.#onClosed(this.#expired);
    callback(error);
  }

  /** `node:http` sets its own socket timeouts; ours are the deadlines above. */
  setTimeout(_milliseconds: number, _callback?: () => void): this {
    return this;
  }

  /** Nothing to do: Deno's TCP connections are opened with Nagle's algorithm off. */
  setNoDelay(_noDelay?: boolean): this {
    return this;
  }

  /** Keep-alive probes are not needed: idle connections are closed by the idle deadline. */
  setKeepAlive(_enable?: boolean, _delay?: number): this {
    return this;
  }

  async #writeAll(chunk: Uint8Array): Promise<void> {
    this.#sendTimer = setTimeout(() => this.#expire("send"), this.#deadlines.sendMs);
    try {
      let written = 0;
      while (written < chunk.length) written += await this.#conn.write(chunk.subarray(written));
    } finally {
      clearTimeout(this.#sendTimer);
    }
  }

  #arm(phase: "headers" | "idle", milliseconds: number): void {
    this.#phase = phase === "headers" ? "headers" : "idle";
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => this.#expire(phase), milliseconds);
  }

  #expire(deadline: HttpDeadline): void {
    if (this.destroyed) return;
    this.#expired = deadline;
    this.destroy();
  }
}
