// Real time-series databases for integration tests: Debian's influxd (InfluxDB 1.x) and
// victoria-metrics, each in its own temporary folder, listening on loopback only, on ports that
// stay the same across stop() and start() so a test can take the database down for a while.

/** A database server process that a test owns. */
export interface ManagedServer extends AsyncDisposable {
  /** Its HTTP base URL, such as `http://127.0.0.1:41234`. */
  readonly url: string;
  /** Where it keeps its data; it stays across `stop()` and `start()`. */
  readonly dataDirectory: string;
  /** The last part of what it printed (stdout and stderr), for error messages. */
  output(): string;
  /** Stops it (SIGTERM) and waits until it has exited; the data stays. */
  stop(): Promise<void>;
  /** Starts it again on the same ports and data, and waits until it answers. */
  start(): Promise<void>;
}

/** One statement's result from InfluxDB's `/query`. */
export interface InfluxStatementResult {
  statement_id: number;
  series?: {
    name: string;
    tags?: Record<string, string>;
    columns: string[];
    /** Left out when there are none. */
    values?: unknown[][];
  }[];
  error?: string;
}

/** A running influxd. */
export interface InfluxServer extends ManagedServer {
  /** The `authorization` header of the admin user, when auth is enabled. */
  readonly authorization: string | undefined;
  /**
   * Runs InfluxQL through `POST /query` (as the admin user, when auth is enabled), with times as
   * milliseconds since the epoch (`epoch=ms`, the unit of `Point.time`). Throws on HTTP errors.
   */
  query(statement: string, database?: string): Promise<{ results: InfluxStatementResult[] }>;
  /**
   * The rows of a single statement's result as objects (column → value, series tags included);
   * throws when the statement failed.
   */
  rows(statement: string, database?: string): Promise<Record<string, unknown>[]>;
}

/** A series as VictoriaMetrics' `/api/v1/export` returns it. */
export interface ExportedSeries {
  /** `__name__` and the labels. */
  metric: Record<string, string>;
  values: number[];
  /** Milliseconds since the epoch. */
  timestamps: number[];
}

/** A running VictoriaMetrics. */
export interface VictoriaServer extends ManagedServer {
  /**
   * Makes everything ingested so far searchable (`/internal/force_flush`), then returns the raw
   * samples of the series matching `match` (a series selector such as `{__name__=~"raw_stats_.*"}`)
   * from `/api/v1/export`, sorted by their labels.
   */
  exportSeries(match: string): Promise<ExportedSeries[]>;
}

/** Options of `startInfluxd`. */
export interface InfluxdOptions {
  /** Keep the data here instead of in the temporary folder (which is all that is removed). */
  dataDirectory?: string;
  /** Turn on authentication and create this admin user. */
  auth?: { username: string; password: string };
}

const READY_TIMEOUT_MS = 20_000;
const STOP_TIMEOUT_MS = 15_000;
const OUTPUT_LIMIT = 64 * 1024;
// A port picked by `freePort` may be taken by someone else before the server binds it.
const START_ATTEMPTS = 3;

/**
 * Starts influxd with a config that listens on loopback only (HTTP and the backup RPC service on
 * free ports, every other listener off, no usage reporting, quiet logs), and waits for `/ping`.
 */
export async function startInfluxd(options: InfluxdOptions = {}): Promise<InfluxServer> {
  const directory = await Deno.makeTempDir({ prefix: "llama-influxd-" });
  const dataDirectory = options.dataDirectory ?? directory;
  const configFile = `${directory}/influxdb.conf`;
  const authorization = options.auth === undefined
    ? undefined
    : `Basic ${btoa(`${options.auth.username}:${options.auth.password}`)}`;
  let process: ServerProcess | undefined;
  try {
    for (let attempt = 1;; attempt++) {
      const httpPort = freePort();
      await Deno.writeTextFile(
        configFile,
        influxdConfig({
          dataDirectory,
          httpPort,
          rpcPort: freePort(),
          auth: options.auth !== undefined,
        }),
      );
      const candidate = new ServerProcess({
        name: "influxd",
        command: "influxd",
        args: ["-config", configFile],
        readyUrl: `http://127.0.0.1:${httpPort}/ping`,
        readyStatus: 204,
      });
      try {
        await candidate.start();
        process = candidate;
        break;
      } catch (error) {
        if (attempt === START_ATTEMPTS || !/address already in use/.test(candidate.output())) {
          throw error;
        }
      }
    }
  } catch (error) {
    await Deno.remove(directory, { recursive: true });
    throw error;
  }
  const running = process;
  const url = new URL(running.readyUrl).origin;
  const query = async (statement: string, database?: string) => {
    const target = new URL("/query", url);
    target.searchParams.set("q", statement);
    target.searchParams.set("epoch", "ms");
    if (database !== undefined) target.searchParams.set("db", database);
    const response = await fetch(target, {
      method: "POST",
      headers: authorization === undefined ? {} : { authorization },
    });
    const text = await response.text();
    if (!response.ok) {
      throw new Error(`influxd: ${statement} answered HTTP ${response.status}: ${text}`);
    }
    return JSON.parse(text) as { results: InfluxStatementResult[] };
  };
  const server: InfluxServer = {
    url,
    dataDirectory,
    authorization,
    output: () => running.output(),
    stop: () => running.stop(),
    start: () => running.start(),
    query,
    async rows(statement, database) {
      const { results } = await query(statement, database);
      if (results.length !== 1) throw new Error(`influxd: expected one result for ${statement}`);
      const [result] = results;
      if (result.error !== undefined) throw new Error(`influxd: ${statement}: ${result.error}`);
      return (result.series ?? []).flatMap((series) =>
        (series.values ?? []).map((row) => ({
          ...series.tags,
          ...Object.fromEntries(series.columns.map((column, index) => [column, row[index]])),
        }))
      );
    },
    async [Symbol.asyncDispose]() {
      await running.stop();
      await Deno.remove(directory, { recursive: true });
    },
  };
  if (options.auth !== undefined) {
    // With auth on and no user yet, influxd accepts only the creation of an admin user.
    const { username, password } = options.auth;
    try {
      await query(
        `CREATE USER "${username}" WITH PASSWORD '${password}' WITH ALL PRIVILEGES`,
      );
    } catch (error) {
      await server[Symbol.asyncDispose]();
      throw error;
    }
  }
  return server;
}

function influxdConfig(
  settings: { dataDirectory: string; httpPort: number; rpcPort: number; auth: boolean },
): string {
  const quoted = (text: string) => JSON.stringify(text);
  return `reporting-enabled = false
bind-address = "127.0.0.1:${settings.rpcPort}"

[meta]
  dir = ${quoted(`${settings.dataDirectory}/meta`)}
  logging-enabled = false

[data]
  dir = ${quoted(`${settings.dataDirectory}/data`)}
  wal-dir = ${quoted(`${settings.dataDirectory}/wal`)}
  query-log-enabled = false

[monitor]
  store-enabled = false

[http]
  bind-address = "127.0.0.1:${settings.httpPort}"
  auth-enabled = ${settings.auth}
  log-enabled = false

[logging]
  level = "warn"

# Off: services a test does not use, and every other listener (ifql binds :8082 by default).
[ifql]
  enabled = false
[subscriber]
  enabled = false
[continuous_queries]
  enabled = false
[[graphite]]
  enabled = false
[[collectd]]
  enabled = false
[[opentsdb]]
  enabled = false
[[udp]]
  enabled = false
`;
}

/**
 * Starts VictoriaMetrics on a loopback port with its data in a temporary folder, and waits for
 * `/health`.
 */
export async function startVictoriaMetrics(): Promise<VictoriaServer> {
  const directory = await Deno.makeTempDir({ prefix: "llama-victoria-metrics-" });
  const dataDirectory = `${directory}/data`;
  let process: ServerProcess | undefined;
  try {
    for (let attempt = 1;; attempt++) {
      const port = freePort();
      const candidate = new ServerProcess({
        name: "victoria-metrics",
        command: "victoria-metrics",
        args: [
          `-httpListenAddr=127.0.0.1:${port}`,
          `-storageDataPath=${dataDirectory}`,
          // Quiet: only errors.
          "-loggerLevel=ERROR",
          // Shut down in about a second rather than waiting up to 7 s for open connections.
          "-http.maxGracefulShutdownDuration=1s",
          // Keep samples of any age (the default, one month, silently drops older ones), so
          // tests may use fixed timestamps.
          "-retentionPeriod=100y",
        ],
        readyUrl: `http://127.0.0.1:${port}/health`,
        readyStatus: 200,
      });
      try {
        await candidate.start();
        process = candidate;
        break;
      } catch (error) {
        if (attempt === START_ATTEMPTS || !/address already in use/.test(candidate.output())) {
          throw error;
        }
      }
    }
  } catch (error) {
    await Deno.remove(directory, { recursive: true });
    throw error;
  }
  const running = process;
  const url = new URL(running.readyUrl).origin;
  return {
    url,
    dataDirectory,
    output: () => running.output(),
    stop: () => running.stop(),
    start: () => running.start(),
    async exportSeries(match) {
      // Ingested samples sit in an in-memory buffer for a second or two before a search sees them.
      const flush = await fetch(new URL("/internal/force_flush", url));
      await flush.body?.cancel();
      if (!flush.ok) throw new Error(`victoria-metrics: force_flush answered ${flush.status}`);
      const target = new URL("/api/v1/export", url);
      target.searchParams.set("match[]", match);
      const response = await fetch(target);
      const text = await response.text();
      if (!response.ok) {
        throw new Error(`victoria-metrics: export answered HTTP ${response.status}: ${text}`);
      }
      return text.split("\n").filter((line) => line !== "")
        .map((line) => JSON.parse(line) as ExportedSeries)
        .sort((a, b) => labelsKey(a.metric).localeCompare(labelsKey(b.metric)));
    },
    async [Symbol.asyncDispose]() {
      await running.stop();
      await Deno.remove(directory, { recursive: true });
    },
  };
}

function labelsKey(metric: Record<string, string>): string {
  return JSON.stringify(Object.entries(metric).sort(([a], [b]) => a < b ? -1 : a > b ? 1 : 0));
}

/** A loopback TCP port that was free a moment ago. */
export function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  listener.close();
  return port;
}

/** One server program: started, watched until ready, stopped, started again with the same args. */
export class ServerProcess {
  readonly name: string;
  readonly readyUrl: string;
  readonly #command: string;
  readonly #args: string[];
  readonly #readyStatus: number;
  #child: Deno.ChildProcess | undefined;
  #pumps: Promise<unknown> = Promise.resolve();
  #output = "";

  constructor(
    settings: {
      name: string;
      command: string;
      args: string[];
      readyUrl: string;
      readyStatus: number;
    },
  ) {
    this.name = settings.name;
    this.readyUrl = settings.readyUrl;
    this.#command = settings.command;
    this.#args = settings.args;
    this.#readyStatus = settings.readyStatus;
  }

  output(): string {
    return this.#output;
  }

  async start(): Promise<void> {
    if (this.#child !== undefined) throw new Error(`${this.name} is already running`);
    const child = new Deno.Command(this.#command, {
      args: this.#args,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    this.#child = child;
    this.#pumps = Promise.all([this.#collect(child.stdout), this.#collect(child.stderr)]);
    let exited = false;
    child.status.then(() => (exited = true));
    const deadline = Date.now() + READY_TIMEOUT_MS;
    while (true) {
      if (await this.#answers()) return;
      if (exited || Date.now() > deadline) break;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const reason = exited
      ? `exited with ${(await child.status).code}`
      : `did not answer ${this.readyUrl} with ${this.#readyStatus} within ${READY_TIMEOUT_MS} ms`;
    await this.#kill("SIGKILL");
    throw new Error(`${this.name} ${reason}; its output ends with:\n${this.#output.slice(-4000)}`);
  }

  async stop(): Promise<void> {
    await this.#kill("SIGTERM");
  }

  async #answers(): Promise<boolean> {
    try {
      const response = await fetch(this.readyUrl, { signal: AbortSignal.timeout(1000) });
      await response.body?.cancel();
      return response.status === this.#readyStatus;
    } catch {
      return false;
    }
  }

  async #kill(signal: Deno.Signal): Promise<void> {
    const child = this.#child;
    if (child === undefined) return;
    try {
      child.kill(signal);
    } catch { /* it has exited already */ }
    let timer: ReturnType<typeof setTimeout> | undefined;
    const exitedInTime = await Promise.race([
      child.status.then(() => true),
      new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), STOP_TIMEOUT_MS))),
    ]);
    clearTimeout(timer);
    if (!exitedInTime) {
      try {
        child.kill("SIGKILL");
      } catch { /* it exited just now */ }
      await child.status;
    }
    await this.#pumps;
    this.#child = undefined;
  }

  async #collect(stream: ReadableStream<Uint8Array>): Promise<void> {
    for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
      this.#output = (this.#output + chunk).slice(-OUTPUT_LIMIT);
    }
  }
}
