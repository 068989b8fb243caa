// A real DNS server for discovery tests: Debian's named (bind9), authoritative for one zone,
// listening on a free loopback port, in its own temporary folder. `setRecords` rewrites the zone
// file with a new serial and reloads it (SIGHUP), then waits until named answers with that serial.
import { Resolver } from "node:dns/promises";
import { freePort } from "./_servers.ts";

/** A running named serving `zone`. */
export interface NamedServer extends AsyncDisposable {
  /** The zone it serves, such as `fleet.test`. */
  readonly zone: string;
  /** `127.0.0.1:PORT`, for `name_server:`. */
  readonly address: string;
  /** Replaces the zone's records (lines of a zone file, names relative to the zone). */
  setRecords(records: string[]): Promise<void>;
  /** What named printed, for error messages. */
  output(): string;
}

/** Starts named for `zone` with `records`, and waits until it answers. */
export async function startNamed(zone: string, records: string[]): Promise<NamedServer> {
  const directory = await Deno.makeTempDir({ prefix: "llama-named-" });
  let output = "";
  let serial = 0;
  const port = freePort();
  const address = `127.0.0.1:${port}`;
  await Deno.writeTextFile(
    `${directory}/named.conf`,
    `options {
  directory "${directory}";
  pid-file "${directory}/named.pid";
  listen-on port ${port} { 127.0.0.1; };
  listen-on-v6 { none; };
  recursion no;
  dnssec-validation no;
  notify no;
};
zone "${zone}" { type primary; file "${directory}/zone"; };
`,
  );
  const writeZone = async (lines: string[]) => {
    serial++;
    const zoneText = [
      "$TTL 1",
      `@ IN SOA ns.${zone}. admin.${zone}. ${serial} 60 60 60 1`,
      `@ IN NS ns.${zone}.`,
      "ns IN A 127.0.0.1",
      ...lines,
      "",
    ].join("\n");
    // Atomically: named must never read half a zone.
    await Deno.writeTextFile(`${directory}/zone.tmp`, zoneText);
    await Deno.rename(`${directory}/zone.tmp`, `${directory}/zone`);
  };
  await writeZone(records);
  const child = new Deno.Command("named", {
    args: ["-g", "-u", "root", "-c", `${directory}/named.conf`],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const decoder = new TextDecoder();
  const collect = async (stream: ReadableStream<Uint8Array>) => {
    for await (const chunk of stream) output = (output + decoder.decode(chunk)).slice(-32_768);
  };
  const collecting = Promise.all([collect(child.stdout), collect(child.stderr)]);
  const resolver = new Resolver({ timeout: 300, tries: 1 });
  resolver.setServers([address]);
  const waitForSerial = async (wanted: number) => {
    const deadline = Date.now() + 15_000;
    while (Date.now() < deadline) {
      try {
        if ((await resolver.resolveSoa(zone)).serial === wanted) return;
      } catch {
        // Not up yet.
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    throw new Error(`named did not serve serial ${wanted} of ${zone} in 15 s:\n${output}`);
  };
  let stopped: Promise<void> | undefined;
  const stop = () =>
    stopped ??= (async () => {
      try {
        child.kill("SIGTERM");
      } catch {
        // Exited already.
      }
      await child.status;
      await collecting;
      await Deno.remove(directory, { recursive: true });
    })();
  try {
    await waitForSerial(serial);
  } catch (error) {
    await stop();
    throw error;
  }
  return {
    zone,
    address,
    async setRecords(lines) {
      await writeZone(lines);
      child.kill("SIGHUP");
      await waitForSerial(serial);
    },
    output: () => output,
    [Symbol.asyncDispose]: stop,
  };
}
