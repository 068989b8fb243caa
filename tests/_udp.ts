// A plain UDP client for tests, on Deno's own API: independent of the code under test.

/** A UDP client bound to an ephemeral port. */
export class UdpClient implements Disposable {
  readonly connection: Deno.DatagramConn;
  readonly #buffer = new Uint8Array(65536);

  constructor(hostname = "127.0.0.1") {
    this.connection = Deno.listenDatagram({ transport: "udp", hostname, port: 0 });
  }

  get port(): number {
    return (this.connection.addr as Deno.NetAddr).port;
  }

  send(bytes: Uint8Array, hostname: string, port: number): Promise<number> {
    return this.connection.send(bytes, { transport: "udp", hostname, port });
  }

  /** The next datagram, or undefined after `timeoutMs`. The bytes are a copy. */
  async receive(timeoutMs: number): Promise<Uint8Array | undefined> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<undefined>((resolve) => {
      timer = setTimeout(() => resolve(undefined), timeoutMs);
    });
    this.#pending ??= this.connection.receive(this.#buffer).then(([bytes]) => bytes.slice());
    const result = await Promise.race([this.#pending, timeout]);
    clearTimeout(timer);
    if (result !== undefined) this.#pending = undefined;
    return result;
  }

  #pending: Promise<Uint8Array> | undefined;

  [Symbol.dispose](): void {
    try {
      this.connection.close();
    } catch { /* closed */ }
    this.#pending?.catch(() => {});
  }
}

/** A UDP port free a moment ago (--stamp-port 0 means no STAMP port, so one must be chosen). */
export function freeUdpPort(): number {
  const socket = Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port: 0 });
  const port = (socket.addr as Deno.NetAddr).port;
  socket.close();
  return port;
}
