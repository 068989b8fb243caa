import { SocketError } from "./errors.ts";
import { formatAddress } from "./address.ts";
import type { BindOptions, DatagramBatch, DatagramSocket, SocketAddress } from "./socket.ts";

/** Whether `Deno.listenDatagram` is available (it needs `--unstable-net`). */
export function hasDenoDatagramApi(): boolean {
  return typeof (Deno as { listenDatagram?: unknown }).listenDatagram === "function";
}

/**
 * Opens a UDP socket with `Deno.listenDatagram`. Throws `SocketError` when the API is missing
 * (run with `--unstable-net`) or the address cannot be bound.
 *
 * @example
 * ```ts
 * import { DatagramBatch, openDenoSocket } from "@llama/core";
 * await using socket = await openDenoSocket({ hostname: "127.0.0.1", port: 0 });
 * const batch = new DatagramBatch(1, 2048);
 * batch.slots[0].set([1, 2, 3]);
 * batch.lengths[0] = 3;
 * batch.addresses[0] = socket.localAddress;
 * await socket.send(batch, 1);
 * console.assert(await socket.receive(batch) === 1 && batch.lengths[0] === 3);
 * ```
 */
export function openDenoSocket(options: BindOptions): Promise<DatagramSocket> {
  if (!hasDenoDatagramApi()) {
    return Promise.reject(
      new SocketError(
        "Deno.listenDatagram is not available: run Deno with --unstable-net " +
          '(or put "unstable": ["net"] in deno.json)',
        { operation: "open" },
      ),
    );
  }
  let connection: Deno.DatagramConn;
  try {
    connection = Deno.listenDatagram({
      transport: "udp",
      hostname: options.hostname,
      port: options.port,
    });
  } catch (error) {
    return Promise.reject(
      new SocketError(
        `Cannot bind UDP ${formatAddress(options)}: ${(error as Error).message}`,
        { operation: "bind", code: errorCode(error), cause: error },
      ),
    );
  }
  return Promise.resolve(new DenoSocket(connection));
}

class DenoSocket implements DatagramSocket {
  readonly engine = "deno";
  readonly localAddress: SocketAddress;
  readonly #connection: Deno.DatagramConn;
  #closed = false;

  constructor(connection: Deno.DatagramConn) {
    this.#connection = connection;
    const local = connection.addr as Deno.NetAddr;
    this.localAddress = { hostname: local.hostname, port: local.port };
  }

  async receive(batch: DatagramBatch): Promise<number> {
    let received: [Uint8Array, Deno.Addr];
    try {
      received = await this.#connection.receive(batch.slots[0]);
    } catch (error) {
      throw this.#closed
        ? new SocketError("socket closed", { operation: "closed", cause: error })
        : new SocketError(`receive failed: ${(error as Error).message}`, {
          operation: "receive",
          code: errorCode(error),
          cause: error,
        });
    }
    batch.receivedAt[0] = performance.now();
    batch.timestampSource = "userspace";
    batch.lengths[0] = received[0].length;
    batch.addresses[0] = received[1] as Deno.NetAddr;
    batch.tos[0] = -1;
    batch.ttl[0] = -1;
    return 1;
  }

  send(batch: DatagramBatch, count: number): Promise<number> {
    // Every send is issued before any is awaited: the send times are stamped synchronously, and
    // a batch costs one turn of the event loop rather than one per datagram.
    const sends: Promise<number>[] = [];
    for (let index = 0; index < count; index++) {
      const length = batch.lengths[index];
      if (length === 0) continue;
      const address = batch.addresses[index];
      // Addresses filled by receive are Deno's own NetAddr objects: reuse them as they are.
      const target = "transport" in address
        ? address as Deno.NetAddr
        : { transport: "udp" as const, hostname: address.hostname, port: address.port };
      batch.sentAt[index] = performance.now();
      sends.push(this.#connection.send(batch.slots[index].subarray(0, length), target));
    }
    return this.#settle(sends);
  }

  async #settle(sends: Promise<number>[]): Promise<number> {
    const results = await Promise.allSettled(sends);
    let sent = 0;
    let failure: unknown;
    for (const result of results) {
      if (result.status === "fulfilled") sent++;
      else failure ??= result.reason;
    }
    if (failure !== undefined) {
      if (this.#closed) {
        throw new SocketError("socket closed", { operation: "closed", cause: failure });
      }
      throw new SocketError(
        `send failed for ${results.length - sent} of ${results.length} datagrams: ${
          (failure as Error).message
        }`,
        { operation: "send", code: errorCode(failure), cause: failure },
      );
    }
    return sent;
  }

  now(): number {
    return performance.now();
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#connection.close();
  }

  [Symbol.asyncDispose](): Promise<void> {
    this.close();
    return Promise.resolve();
  }
}

/** The errno name Deno gives an OS error (`EADDRINUSE`), if it gave one. */
function errorCode(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | undefined)?.code;
  return typeof code === "string" ? code : undefined;
}
