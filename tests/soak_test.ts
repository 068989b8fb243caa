// Soak and chaos: the whole chain (two reflectors, a collector, a scraper, a real InfluxDB) runs
// for about a minute while each piece is killed and started again in turn, InfluxDB is stopped,
// the collector's API is flooded, and junk goes to every port. At the end no daemon died on its
// own, and every interval the collector published is accounted for: written to InfluxDB with
// every path, or named by the scraper as missed (it was down, or the collector was).
import assert from "node:assert/strict";
import { assertRequirement, requirement } from "./_requirements.ts";
import { freePort, startInfluxd } from "./_servers.ts";
import { type RunningProgram, startProgram } from "./_process.ts";
import { parsePrometheusText } from "./_prometheus.ts";
import { collectorYaml } from "./_collector.ts";
import { UdpClient } from "./_udp.ts";

const needs = requirement({ commands: ["influxd"] });
const REFLECTOR_READY = /Reflecting probes on udp:\/\/(\S+):(\d+)/;
const COLLECTOR_READY = /Serving the API on http:\/\/(\S+)/;
const SCRAPER_READY = /Serving metrics on http:\/\/(\S+)\/metrics/;
const INTERVAL_LINE = /Interval (\S+): (\d+) paths/g;
const MISSED_LINE = /Missed (\d+) intervals of collector \S+, (\S+) to (\S+):/g;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A program the test starts again and again; remembers whether it ever exited on its own. */
class Daemon {
  readonly name: string;
  readonly #start: () => Promise<RunningProgram>;
  current: RunningProgram | undefined;
  /** Everything every run wrote to stderr. */
  readonly logs: string[] = [];
  /** Runs that exited without being told to. */
  readonly deaths: string[] = [];
  #stopping = false;

  constructor(name: string, start: () => Promise<RunningProgram>) {
    this.name = name;
    this.#start = start;
  }

  async start(): Promise<void> {
    const program = await this.#start();
    this.current = program;
    this.#stopping = false;
    program.child.status.then((status) => {
      if (!this.#stopping) {
        this.deaths.push(`${this.name} exited (${status.code}): ${program.stderr().slice(-1500)}`);
      }
    });
  }

  /** Stops the current run with `signal`; its log is kept. */
  async stop(signal: Deno.Signal): Promise<Deno.CommandStatus> {
    const program = this.current!;
    this.#stopping = true;
    const status = await program.stop(signal);
    this.logs.push(program.stderr());
    this.current = undefined;
    return status;
  }

  log(): string {
    return [...this.logs, this.current?.stderr() ?? ""].join("\n");
  }
}

/** Junk of every kind at a UDP port: random bytes, empty datagrams, the 3-byte ping-pong starter. */
async function udpJunk(port: number, count: number): Promise<void> {
  using client = new UdpClient();
  for (let index = 0; index < count; index++) {
    const length = index % 10 === 0 ? 0 : 1 + Math.floor(Math.random() * 1400);
    const bytes = index % 7 === 0
      ? new Uint8Array([0x0a, 0x01, 0x41])
      : crypto.getRandomValues(new Uint8Array(length));
    await client.send(bytes, "127.0.0.1", port);
  }
}

/** Junk at an HTTP port: random bytes, half a request, a huge header, odd paths; then closes. */
async function tcpJunk(address: string): Promise<void> {
  const [hostname, port] = [address.slice(0, address.lastIndexOf(":")), address.split(":").at(-1)];
  const requests = [
    crypto.getRandomValues(new Uint8Array(4096)),
    new TextEncoder().encode("GET /api/v1/summaries HTTP/1.1\r\nHost: x\r\n"),
    new TextEncoder().encode(`GET / HTTP/1.1\r\nX: ${"a".repeat(100_000)}\r\n\r\n`),
    new TextEncoder().encode("GET /../../../../etc/passwd HTTP/1.1\r\nHost: x\r\n\r\n"),
    new TextEncoder().encode("POST /api/v1/summaries HTTP/1.1\r\nContent-Length: 99999\r\n\r\nab"),
  ];
  await Promise.all(requests.map(async (bytes) => {
    try {
      const conn = await Deno.connect({ hostname, port: Number(port) });
      try {
        await conn.write(bytes);
        await sleep(200);
      } finally {
        conn.close();
      }
    } catch { /* the server may refuse or reset: that is its right */ }
  }));
}

/** Holds `idle` idle connections and `heavy` summary requests on the collector for `ms`. */
async function apiFlood(address: string, idle: number, heavy: number, ms: number): Promise<void> {
  const [hostname, port] = [address.slice(0, address.lastIndexOf(":")), address.split(":").at(-1)];
  const conns: Deno.Conn[] = [];
  for (let index = 0; index < idle; index++) {
    try {
      conns.push(await Deno.connect({ hostname, port: Number(port) }));
    } catch { /* refused over a cap: fine */ }
  }
  const requests = Array.from(
    { length: heavy },
    () =>
      fetch(`http://${address}/api/v1/summaries`, { signal: AbortSignal.timeout(ms + 5000) })
        .then((response) => response.arrayBuffer())
        .catch(() => undefined),
  );
  await sleep(ms);
  for (const conn of conns) {
    try {
      conn.close();
    } catch { /* closed by the server */ }
  }
  await Promise.all(requests);
}

async function metricsOf(address: string): Promise<Map<string, number>> {
  return parsePrometheusText(await (await fetch(`http://${address}/metrics`)).text());
}

Deno.test({
  name:
    "soak: the chain survives kills, restarts, an InfluxDB outage, an API flood and junk on every port, and accounts for every interval",
  ignore: needs.ignore,
  async fn() {
    assertRequirement(needs);
    await using influx = await startInfluxd();
    const directory = await Deno.makeTempDir({ prefix: "llama-soak-" });
    const reflectorPorts = [freePort(), freePort()];
    const apiPort = freePort();
    const reflectors = reflectorPorts.map((port, index) =>
      new Daemon(
        `reflector ${index}`,
        () =>
          startProgram("reflector/main.ts", ["-port", String(port)], {
            readyPattern: REFLECTOR_READY,
          }),
      )
    );
    await Deno.writeTextFile(
      `${directory}/collector.yaml`,
      collectorYaml({
        targets: reflectorPorts.map((port, index) => ["127.0.0.1", port, { r: `r${index}` }]),
        api: `127.0.0.1:${apiPort}`,
        interval: 1,
        cps: 10,
        sockets: 2,
      }),
    );
    const collector = new Daemon(
      "collector",
      () =>
        startProgram("collector/main.ts", ["--config", `${directory}/collector.yaml`], {
          readyPattern: COLLECTOR_READY,
        }),
    );
    await Deno.writeTextFile(
      `${directory}/scraper.yaml`,
      `collectors: ["127.0.0.1:${apiPort}"]
interval: 1
offset: 0.4
timeout: 0.5
data_directory: ./data
metrics: 127.0.0.1:0
retry: { initial_ms: 100, max_ms: 400 }
write_timeout_ms: 1000
outputs:
  - use: influxdb
    options: { url: "${influx.url}", database: soak }
`,
    );
    const scraper = new Daemon(
      "scraper",
      () =>
        startProgram("scraper/main.ts", ["--config", `${directory}/scraper.yaml`], {
          readyPattern: SCRAPER_READY,
        }),
    );
    const daemons = [...reflectors, collector, scraper];
    try {
      for (const daemon of daemons) await daemon.start();
      const scraperAddress = () => scraper.current!.ready[1];
      await sleep(5000);

      // Junk at every port: both reflectors, the collector's API, the scraper's metrics.
      await Promise.all([
        ...reflectorPorts.map((port) => udpJunk(port, 400)),
        tcpJunk(`127.0.0.1:${apiPort}`),
        tcpJunk(scraperAddress()),
      ]);
      await sleep(2000);

      // The scraper dies without a word, and comes back.
      await scraper.stop("SIGKILL");
      await sleep(2500);
      await scraper.start();
      await sleep(3000);

      // InfluxDB goes away for a few intervals.
      await influx.stop();
      await sleep(4000);
      await influx.start();
      await sleep(2000);

      // A reflector dies and comes back on its port.
      await reflectors[1].stop("SIGKILL");
      await sleep(2500);
      await reflectors[1].start();
      await sleep(2000);

      // The collector is restarted.
      assert.equal((await collector.stop("SIGTERM")).code, 0, collector.log().slice(-2000));
      await sleep(1500);
      await collector.start();
      await sleep(3000);

      // The API is flooded: idle connections and summaries read by many at once.
      await apiFlood(`127.0.0.1:${apiPort}`, 200, 40, 3000);
      await sleep(4000);

      // What the collector has published by now must all be accounted for.
      const published = new Map<number, number>();
      for (const [, start, paths] of collector.log().matchAll(INTERVAL_LINE)) {
        if (Number(paths) > 0) published.set(Date.parse(start), Number(paths));
      }
      await sleep(2500);
      const drained = Date.now() + 20_000;
      for (;;) {
        const metrics = await metricsOf(scraperAddress());
        if (metrics.get('llama_scraper_queue_points{output="influxdb"}') === 0) break;
        assert.ok(Date.now() < drained, `the queue did not drain: ${scraper.log().slice(-2000)}`);
        await sleep(250);
      }
      const reflectorMetrics = reflectors[0].current!.stderr();
      assert.equal((await scraper.stop("SIGTERM")).code, 0, scraper.log().slice(-2000));

      assert.deepEqual(daemons.flatMap((daemon) => daemon.deaths), [], "no daemon died on its own");

      const rows = await influx.rows("SELECT * FROM raw_stats", "soak");
      const written = new Map<number, number>();
      for (const row of rows) {
        written.set(Number(row.time), (written.get(Number(row.time)) ?? 0) + 1);
      }
      const missed: [number, number][] = [];
      for (const [, , from, to] of scraper.log().matchAll(MISSED_LINE)) {
        missed.push([Date.parse(from), Date.parse(to)]);
      }
      const unaccounted: string[] = [];
      let writtenCount = 0;
      for (const [start, paths] of published) {
        if (written.has(start)) {
          writtenCount++;
          assert.equal(
            written.get(start),
            paths,
            `interval ${new Date(start).toISOString()}: every path written once`,
          );
        } else if (!missed.some(([from, to]) => start >= from && start <= to)) {
          unaccounted.push(new Date(start).toISOString());
        }
      }
      assert.deepEqual(
        unaccounted,
        [],
        `intervals neither written nor reported missed (missed: ${JSON.stringify(missed)})`,
      );
      assert.ok(published.size >= 30, `only ${published.size} intervals published`);
      // The scraper was down ~3 s and the collector ~2 s: the rest was written, through the outage.
      assert.ok(
        writtenCount >= published.size - 12,
        `${writtenCount} of ${published.size} intervals written`,
      );
      assert.ok(missed.length >= 1, "the scraper's kill left a gap it reported");
      assert.match(reflectorMetrics, /Reflecting probes/);
    } finally {
      for (const daemon of daemons) {
        if (daemon.current !== undefined) await daemon.stop("SIGKILL").catch(() => {});
      }
      await Deno.remove(directory, { recursive: true });
    }
  },
});
