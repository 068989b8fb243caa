// Sends UDP datagrams from fixed source ports inside a namespace (the test process cannot enter
// one), optionally as llama probes whose answers it counts. On Deno's own API: independent of
// the code under test. Run as a program by `sendDatagrams`.
import { ProbeReader, ProbeWriter } from "@llama/core";
import { ROOT } from "./_process.ts";

/** What `sendDatagrams` sends. */
export interface SendOptions {
  /** The destination address. */
  to: string;
  /** The destination port, or ports (each port's datagrams go to each in turn). */
  port: number | number[];
  /** The source ports, one socket each (bound to any address). */
  sourcePorts: number[];
  /** Datagrams sent from each port to each destination port, interleaved across ports. */
  count: number;
  /** Send llama probes and count the answers (from a reflector) each port gets. */
  probes?: boolean;
}

/** What `sendDatagrams` saw, by source port. */
export interface SendResult {
  /** Datagrams sent from each port. */
  sent: Record<number, number>;
  /** Answers to each port's probes (each probe counted once); zeros without `probes`. */
  answered: Record<number, number>;
}

const delay = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function send(options: SendOptions): Promise<SendResult> {
  const sockets = options.sourcePorts.map((port) =>
    Deno.listenDatagram({ transport: "udp", hostname: "0.0.0.0", port })
  );
  const writer = new ProbeWriter({ paddingLength: 64 });
  const reader = new ProbeReader();
  const sent: Record<number, number> = {};
  const answered: Record<number, number> = {};
  const outstanding = options.sourcePorts.map(() => new Set<string>());
  const hex = (bytes: Uint8Array) => Array.from(bytes, (byte) => byte.toString(16)).join(",");
  for (const port of options.sourcePorts) sent[port] = answered[port] = 0;
  let stopped = false;
  const receiving = sockets.map(async (socket, index) => {
    const port = options.sourcePorts[index];
    const buffer = new Uint8Array(2048);
    try {
      while (!stopped) {
        const [bytes] = await socket.receive(buffer);
        if (!reader.read(bytes)) continue;
        const signature = hex(bytes.subarray(reader.signatureStart, reader.signatureEnd));
        if (outstanding[index].delete(signature)) answered[port]++;
      }
    } catch { /* closed */ }
  });
  const plain = new Uint8Array(64);
  const addresses = [options.port].flat().map((port) => ({
    transport: "udp" as const,
    hostname: options.to,
    port,
  }));
  let total = 0;
  for (let round = 0; round < options.count; round++) {
    for (const [index, socket] of sockets.entries()) {
      for (const address of addresses) {
        if (options.probes === true) {
          crypto.getRandomValues(writer.signature);
          outstanding[index].add(hex(writer.signature));
          await socket.send(writer.bytes, address);
        } else {
          await socket.send(plain, address);
        }
        sent[options.sourcePorts[index]]++;
        if (++total % 50 === 0) await delay(2);
      }
    }
  }
  // Wait until no answer has arrived for 300 ms (or until 10 s have passed).
  const deadline = performance.now() + 10_000;
  const sum = () => Object.values(answered).reduce((a, b) => a + b, 0);
  for (let last = -1; options.probes === true && performance.now() < deadline;) {
    if (sum() === last) break;
    last = sum();
    await delay(300);
  }
  // Unanswered datagrams still cross the links: give the kernel time to finish counting them.
  if (options.probes !== true) await delay(200);
  stopped = true;
  for (const socket of sockets) socket.close();
  await Promise.all(receiving);
  return { sent, answered };
}

/**
 * Runs the sender inside the namespace that `execPrefix` enters and returns what it saw.
 *
 * @example
 * ```ts
 * const result = await sendDatagrams(topology.execPrefix("C"), {
 *   to: topology.targets.T1, port: 8100, sourcePorts: [40000], count: 10, probes: true,
 * });
 * ```
 */
export async function sendDatagrams(
  execPrefix: readonly string[],
  options: SendOptions,
): Promise<SendResult> {
  const [program, ...prefix] = [...execPrefix, Deno.execPath()];
  const output = await new Deno.Command(program, {
    args: [...prefix, "run", "-A", "tests/_datagram_sender.ts", JSON.stringify(options)],
    cwd: ROOT,
    stdin: "null",
    env: { NO_COLOR: "1", DENO_NO_UPDATE_CHECK: "1" },
  }).output();
  const decoder = new TextDecoder();
  if (output.code !== 0) {
    throw new Error(
      `The datagram sender in ${execPrefix.join(" ")} failed with exit code ${output.code}: ` +
        decoder.decode(output.stderr),
    );
  }
  return JSON.parse(decoder.decode(output.stdout)) as SendResult;
}

if (import.meta.main) {
  console.log(JSON.stringify(await send(JSON.parse(Deno.args[0]) as SendOptions)));
}
