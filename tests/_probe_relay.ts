// A man in the middle for authenticated-probe tests: a collector probes the relay's address; the
// relay passes probes on to a reflector (or echoes them, as the original reflector does) and
// hands each reply to a policy that may forward it, drop it, replay it or send forgeries.

/** What a relay policy may do with one reply. */
export interface RelayActions {
  /** Sends `bytes` to the collector socket the reply is for, from the target's address. */
  send(bytes: Uint8Array): void;
}

/** Decides the fate of reply number `index` (from 0). */
export type RelayPolicy = (reply: Uint8Array, index: number, actions: RelayActions) => void;

/** A relay on loopback. */
export interface ProbeRelay extends AsyncDisposable {
  /** The port collectors should probe. */
  port: number;
  /** Replies handed to the policy so far. */
  readonly replies: number;
  /** Stops passing anything on (probes and replies are dropped from now on). */
  pause(): void;
}

const signatureKey = (bytes: Uint8Array) => bytes.subarray(2, 12).join(",");

/**
 * Starts a relay in front of the reflector at `127.0.0.1:reflectorPort`; with `reflectorPort`
 * undefined it echoes every probe unchanged instead, like the original reflector.
 */
export function startProbeRelay(
  reflectorPort: number | undefined,
  policy: RelayPolicy,
): ProbeRelay {
  const socket = Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port: 0 });
  const collectors = new Map<string, Deno.NetAddr>();
  let replies = 0;
  let paused = false;
  const reply = (bytes: Uint8Array, to: Deno.NetAddr) => {
    policy(bytes, replies++, { send: (out) => void socket.send(out, to).catch(() => {}) });
  };
  const loop = (async () => {
    for (;;) {
      let datagram: [Uint8Array, Deno.Addr];
      try {
        datagram = await socket.receive();
      } catch {
        return;
      }
      if (paused) continue;
      const [bytes, from] = datagram as [Uint8Array, Deno.NetAddr];
      if (reflectorPort === undefined) {
        reply(bytes, from);
      } else if (from.port === reflectorPort) {
        const to = collectors.get(signatureKey(bytes));
        if (to !== undefined) reply(bytes, to);
      } else {
        collectors.set(signatureKey(bytes), from);
        if (collectors.size > 100_000) collectors.clear();
        await socket.send(bytes, { transport: "udp", hostname: "127.0.0.1", port: reflectorPort });
      }
    }
  })();
  return {
    port: (socket.addr as Deno.NetAddr).port,
    get replies() {
      return replies;
    },
    pause: () => paused = true,
    [Symbol.asyncDispose]: async () => {
      socket.close();
      await loop;
    },
  };
}
