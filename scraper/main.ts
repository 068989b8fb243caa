/**
 * The scraper program: `deno run -A jsr:@llama/scraper --config scraper.yaml`, or with the
 * original LLAMA scraper's flags.
 *
 * Exit codes: 0 after SIGINT/SIGTERM (or `--once` with everything written), 1 when it cannot run
 * or `--once` could not write everything (an output was down, or refused points for good), 2
 * for bad flags or a bad config.
 *
 * @module
 */
import { join } from "node:path";
import { getLogger } from "@logtape/logtape";
import {
  type ApiSecurity,
  type ApiTokens,
  checkWholeNumber,
  ConfigError,
  formatPrometheus,
  httpServerMetrics,
  loadApiSecurity,
  loadCaFile,
  loadTokenFile,
  parseHostPort,
  readProgramFlags,
  serveMetrics,
  setupLogging,
  UsageError,
  waitForSignal,
} from "@llama/core";
import {
  collectorTarget,
  loadScraperPlugins,
  parseScraperConfig,
  SCRAPER_DEFAULTS,
  type ScraperConfig,
} from "./config.ts";
import { startScraper } from "./scraper.ts";
import type { OutputHost } from "./output_host.ts";
import { collectorClient } from "./collector_client.ts";
import { TsdbHistory } from "./tsdb_history.ts";
import { type MatrixServer, serveMatrixUi } from "@llama/ui";
import packageManifest from "./deno.json" with { type: "json" };

const FLAGS = {
  config: { type: "string", placeholder: "FILE", description: "Scraper config (YAML)" },
  "data-dir": {
    type: "string",
    placeholder: "DIR",
    description: "Where points wait on disk (default: ~/.local/state/llama-scraper)",
  },
  metrics: {
    type: "string",
    placeholder: "HOST:PORT",
    description: "Serve Prometheus metrics at http://HOST:PORT/metrics",
  },
  ui: {
    type: "string",
    placeholder: "HOST:PORT",
    description: "Serve the loss and latency matrix of every collector at http://HOST:PORT/",
  },
  "history-from": {
    type: "string",
    placeholder: "URL",
    description:
      "Draw --ui's matrix and history from Prometheus/VictoriaMetrics at URL (PromQL), not memory",
  },
  // API security (issue 19); the same as api.*, collector_token_file and collector_ca in YAML.
  "api-token-file": {
    type: "string",
    placeholder: "FILE",
    description:
      "Bearer tokens, one a line: --ui and --metrics answer 401 without one (not /status)",
  },
  "tls-cert": {
    type: "string",
    placeholder: "FILE",
    description:
      "Serve --ui and --metrics over HTTPS with this PEM certificate chain (with --tls-key)",
  },
  "tls-key": {
    type: "string",
    placeholder: "FILE",
    description: "The PEM private key of --tls-cert",
  },
  "collector-token-file": {
    type: "string",
    placeholder: "FILE",
    description: "Send the first token of FILE to collectors (Authorization: Bearer)",
  },
  "collector-ca": {
    type: "string",
    placeholder: "FILE",
    description: "Trust the PEM CA certificates of FILE for collectors' HTTPS (https:// URLs)",
  },
  once: { type: "boolean", description: "Scrape once, write, and exit" },
  check: {
    type: "boolean",
    description: "Validate the config and its plugins' options, then exit",
  },
  "llama.collector-hosts": {
    type: "string",
    placeholder: "HOSTS",
    description: "Collectors, comma-separated (original flag)",
  },
  "llama.collector-port": {
    type: "number",
    description: "Port of the collectors (original flag; default 5000)",
  },
  "llama.interval": {
    type: "number",
    description: "Seconds between scrapes (original flag; default 30)",
  },
  "llama.influxdb-host": {
    type: "string",
    placeholder: "HOST",
    description: "Write to InfluxDB 1.x on this host (original flag); 127.0.0.1 when another " +
      "-llama.influxdb-* flag is given without it. With none, points go to stdout",
  },
  "llama.influxdb-port": {
    type: "number",
    description: "InfluxDB port (original flag; 5086 when not given)",
  },
  "llama.influxdb-name": {
    type: "string",
    placeholder: "NAME",
    description: "InfluxDB database (original flag; llama when not given)",
  },
  "llama.influxdb-user": {
    type: "string",
    placeholder: "USER",
    description: "InfluxDB user (original flag)",
  },
  "llama.influxdb-pass": {
    type: "string",
    placeholder: "PASSWORD",
    description: "InfluxDB password (original flag)",
  },
} as const;

/** What `--help` says of where points go, which differs from the original scraper. */
const OUTPUT_NOTES = `Where points go: to the outputs of --config, else to InfluxDB 1.x when any
-llama.influxdb-* flag is given, else to standard output as line protocol (logs go to stderr).
The original scraper wrote to InfluxDB at 127.0.0.1:5086 with no flag at all: to keep an old
command line writing there, add -llama.influxdb-host 127.0.0.1 (docs/compatibility.md).`;

/** Runs the scraper until SIGINT or SIGTERM (or once, with `--once`); returns the exit code. */
export async function main(args: readonly string[]): Promise<number> {
  const flags = readProgramFlags("llama-scraper", args, FLAGS, {
    print: (text) => console.error(text),
    version: packageManifest.version,
    notes: OUTPUT_NOTES,
    validate: (values) => {
      if (values["llama.collector-port"] !== undefined) {
        checkWholeNumber("llama.collector-port", values["llama.collector-port"], 1, 65535);
      }
      if (values["llama.influxdb-port"] !== undefined) {
        checkWholeNumber("llama.influxdb-port", values["llama.influxdb-port"], 1, 65535);
      }
      if (values["llama.interval"] !== undefined) {
        checkWholeNumber("llama.interval", values["llama.interval"], 1, 86400);
      }
      if (values.metrics !== undefined) parseHostPort(values.metrics, "--metrics");
      if (values.ui !== undefined) parseHostPort(values.ui, "--ui");
      if (values["history-from"] !== undefined) historyUrl(values["history-from"]);
      if (values.config === undefined && values["llama.collector-hosts"] === undefined) {
        throw new UsageError(
          "No collectors: give --config FILE or -llama.collector-hosts HOST[,HOST…]",
        );
      }
    },
  });
  if (flags.exitCode !== undefined) return flags.exitCode;
  const { values } = flags;

  let config: ScraperConfig;
  let text: string | undefined;
  let plugins;
  let security: ApiSecurity;
  let collectorToken: ApiTokens | undefined;
  let collectorCa: string | undefined;
  try {
    if (values.config !== undefined) {
      try {
        text = await Deno.readTextFile(values.config);
      } catch (error) {
        throw new ConfigError(`cannot read the config: ${(error as Error).message}`, {
          file: values.config,
        });
      }
      config = parseScraperConfig(text, { file: values.config });
    } else {
      config = {
        ...structuredClone(SCRAPER_DEFAULTS),
        file: undefined,
        directory: Deno.cwd(),
        collectors: [],
      };
    }
    applyOriginalFlags(config, values);
    if (values["data-dir"] !== undefined) config.dataDirectory = values["data-dir"];
    config.dataDirectory ??= defaultDataDirectory((name) => Deno.env.get(name));
    if (values.metrics !== undefined) config.metrics = parseHostPort(values.metrics, "--metrics");
    if (values.ui !== undefined) config.ui = parseHostPort(values.ui, "--ui");
    plugins = await loadScraperPlugins(config, text);
    // Flags win over the config, file by file.
    const api = config.security.api;
    security = await loadApiSecurity({
      tokenFile: values["api-token-file"] ?? api.tokenFile,
      tlsCert: values["tls-cert"] ?? (values["tls-key"] === undefined ? api.tlsCert : undefined),
      tlsKey: values["tls-key"] ?? (values["tls-cert"] === undefined ? api.tlsKey : undefined),
    });
    const tokenFile = values["collector-token-file"] ?? config.security.collectorTokenFile;
    collectorToken = tokenFile === undefined ? undefined : await loadTokenFile(tokenFile);
    const caFile = values["collector-ca"] ?? config.security.collectorCa;
    collectorCa = caFile === undefined ? undefined : await loadCaFile(caFile);
  } catch (error) {
    if (!(error instanceof ConfigError) && !(error instanceof UsageError)) throw error;
    console.error(`llama-scraper: ${error.message}`);
    return 2;
  }
  if (values.check) {
    try {
      // What start-up would read (a static resolver's tag file): read it the same way now.
      for (const used of [...plugins.outputs, ...plugins.tags]) {
        await used.plugin.check?.(used.options as never, {
          name: used.name,
          configDirectory: config.directory,
        });
      }
    } catch (error) {
      if (!(error instanceof ConfigError)) throw error;
      console.error(`llama-scraper: ${error.message}`);
      return 2;
    }
    const subject = values.config === undefined ? "the flags are" : `${values.config} is`;
    console.error(
      `llama-scraper: ${subject} valid: ${config.collectors.length} collectors` +
        (config.sharding === undefined
          ? ", "
          : ` (${JSON.stringify(config.sharding.identity)}'s share of ${config.sharding.of}, ` +
            `${config.sharding.replicas} of ${config.sharding.members.length} scrapers each), `) +
        `outputs: ${plugins.outputs.map((output) => output.name).join(", ") || "stdout"}` +
        (plugins.tags.length ? `, tags: ${plugins.tags.map((tags) => tags.name).join(", ")}` : ""),
    );
    return 0;
  }

  await using _logging = await setupLogging(flags.logging);
  const log = getLogger(["llama", "scraper"]);
  const plain = config.collectors.filter((collector) => collector.url.protocol === "http:");
  if (collectorToken !== undefined && plain.length > 0) {
    log.warn("The collector token is sent in clear to {count} http:// collectors: {names}", {
      count: plain.length,
      names: plain.slice(0, 3).map((collector) => collector.name).join(", "),
    });
  }
  using client = collectorClient({
    token: collectorToken?.first,
    caCerts: collectorCa === undefined ? undefined : [collectorCa],
  });
  const serverSecurity = { tokens: () => security.tokens, tls: security.tls };
  let scraper;
  try {
    // With --history-from the matrix reads the TSDB: the scraper keeps no history in memory.
    const kept = values["history-from"] === undefined ? config : { ...config, ui: undefined };
    scraper = await startScraper(kept, plugins, { fetch: client.fetch });
  } catch (error) {
    log.fatal("Cannot start: {error}", { error });
    return 1;
  }
  await using _scraper = scraper;
  if (values.once) {
    await scraper.scrapeNow();
    const drained = await scraper.drained(config.writeTimeoutMs * 3);
    if (!drained) {
      log.error(
        "Not every point could be written; they are kept in the data directory if there is one",
      );
    }
    const refused = scraper.outputs().reduce((sum, host) => sum + host.counters.rejected, 0);
    if (refused > 0) {
      log.error("{count} points were refused for good; they are in the dead-letter files", {
        count: refused,
      });
    }
    const damaged = scraper.outputs().reduce((sum, host) => sum + host.counters.damaged, 0);
    if (damaged > 0) {
      log.error("{count} spool files could not be read back; they were moved aside as *.damaged", {
        count: damaged,
      });
    }
    const allUp = scraper.collectors().every((status) => status.up);
    return drained && refused === 0 && damaged === 0 && allUp ? 0 : 1;
  }
  let metrics;
  // The matrix server's own llama_http_* metrics are served beside the scraper's.
  let ui: MatrixServer | undefined;
  const uiMetrics = () => ui === undefined ? "" : formatPrometheus(httpServerMetrics([ui.stats()]));
  try {
    metrics = config.metrics === undefined
      ? undefined
      : await serveMetrics(config.metrics, () => scraper.metrics() + uiMetrics(), {
        security: serverSecurity,
      });
  } catch (error) {
    log.fatal("Cannot serve metrics: {error}", { error });
    return 1;
  }
  await using _metrics = metrics;
  // With --history-from, the matrix reads the TSDB (every interval) instead of this memory.
  const fromUrl = values["history-from"];
  const tsdb = fromUrl === undefined ? undefined : new TsdbHistory({
    url: historyUrl(fromUrl),
    intervals: UI_HISTORY_INTERVALS,
    intervalSeconds: config.intervalSeconds,
    onError: (error) =>
      log.warn("Cannot read the history from {url}: {error}", { url: fromUrl, error }),
  });
  await tsdb?.refresh();
  const refreshTimer = tsdb === undefined
    ? undefined
    : setInterval(() => tsdb.refresh(), config.intervalSeconds * 1000);
  using _refreshTimer = { [Symbol.dispose]: () => clearInterval(refreshTimer) };
  try {
    ui = config.ui === undefined ? undefined : await serveMatrixUi(config.ui, {
      history: () => tsdb?.history() ?? scraper.history(),
      describe: () => describeCollectors(config.collectors.map((collector) => collector.name)),
    }, {
      json: {
        "/api/v1/suspects": () => scraper.suspects(),
        "/api/v1/traces": () => scraper.traces(),
      },
      security: serverSecurity,
    });
  } catch (error) {
    log.fatal("Cannot serve the matrix page: {error}", { error });
    return 1;
  }
  await using _ui = ui;
  log.info("Scraping {count} collectors every {interval} s into {outputs}", {
    count: config.collectors.length,
    interval: config.intervalSeconds,
    outputs: scraper.outputs().map((output) => output.name).join(", "),
  });
  const signals = waitForSignal(["SIGINT", "SIGTERM"]);
  try {
    const outcome = await Promise.race([
      signals.stopped,
      firstClosedOutput(scraper.outputs()),
    ]);
    if (typeof outcome === "string") {
      log.info("Stopping ({signal})", { signal: outcome });
    } else {
      // `… | head`: like a Unix tool, end quietly, once the other outputs wrote what they hold
      // (what they cannot write in time stays in the data directory for the next start).
      log.info("Stopping: {output} is closed; the other outputs write what they hold", {
        output: outcome.name,
      });
      await Promise.all(
        scraper.outputs().filter((host) => host !== outcome)
          .map((host) => host.drained(config.writeTimeoutMs)),
      );
    }
  } finally {
    signals.dispose();
  }
  return 0;
}

/**
 * Resolves with the first output whose destination is gone for good: standard output whose
 * reader closed the pipe. Pending while none is.
 */
function firstClosedOutput(hosts: readonly OutputHost[]): Promise<OutputHost> {
  return Promise.race([
    new Promise<never>(() => {}),
    ...hosts.map((host) => host.destinationClosed.then(() => host)),
  ]);
}

/**
 * Where points wait when neither `data_directory` nor `--data-dir` says: systemd's
 * `$STATE_DIRECTORY` (set by `StateDirectory=`), else `$XDG_STATE_HOME/llama-scraper`, else
 * `~/.local/state/llama-scraper`, else `/var/lib/llama-scraper`. On disk by default, so that a
 * scraper killed during an outage loses nothing.
 */
export function defaultDataDirectory(env: (name: string) => string | undefined): string {
  const state = env("STATE_DIRECTORY")?.split(":")[0];
  if (state) return state;
  const xdg = env("XDG_STATE_HOME");
  if (xdg) return join(xdg, "llama-scraper");
  const home = env("HOME");
  return home ? join(home, ".local", "state", "llama-scraper") : "/var/lib/llama-scraper";
}

/** The intervals the matrix page serves at most (its API's limit). */
const UI_HISTORY_INTERVALS = 30;

/** The URL of `--history-from`, checked. */
function historyUrl(text: string): URL {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new UsageError(`--history-from: "${text}" is not a URL (like http://127.0.0.1:8428)`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new UsageError(`--history-from: "${text}" is not an http:// or https:// URL`);
  }
  return url;
}

/** `scraper of 3 collectors: c1, c2, c3` (the first three names only, for a fleet). */
function describeCollectors(names: string[]): string {
  const shown = names.slice(0, 3).join(", ") +
    (names.length > 3 ? `, … (${names.length - 3} more)` : "");
  return `scraper of ${names.length} collector${names.length === 1 ? "" : "s"}: ${shown}`;
}

/**
 * The original scraper's flags: `-llama.collector-hosts` (with `-llama.collector-port`) replaces
 * the config's collectors, `-llama.interval` its interval, and any `-llama.influxdb-*` flag adds
 * an InfluxDB 1.x output with the original's defaults for the others.
 */
function applyOriginalFlags(config: ScraperConfig, values: Record<string, unknown>): void {
  const hosts = values["llama.collector-hosts"] as string | undefined;
  if (hosts !== undefined) {
    const port = (values["llama.collector-port"] as number | undefined) ?? 5000;
    config.collectors = hosts.split(",").map((host) => host.trim()).filter((host) => host !== "")
      .map((host) => {
        const target = collectorTarget(host, port);
        if (target === undefined) {
          throw new UsageError(`-llama.collector-hosts: "${host}" is not a host name or address`);
        }
        return target;
      });
  }
  if (values["llama.interval"] !== undefined) {
    config.intervalSeconds = values["llama.interval"] as number;
  }
  config.offsetSeconds = Math.min(config.offsetSeconds, config.intervalSeconds);
  config.timeoutSeconds = Math.min(config.timeoutSeconds, config.intervalSeconds);
  const influx = ["host", "port", "name", "user", "pass"].some((key) =>
    values[`llama.influxdb-${key}`] !== undefined
  );
  if (influx) {
    const host = (values["llama.influxdb-host"] as string | undefined) ?? "127.0.0.1";
    config.outputs.push({
      use: "influxdb",
      name: undefined,
      path: "-llama.influxdb-*",
      options: {
        version: 1,
        url: `http://${host.includes(":") ? `[${host}]` : host}:${
          (values["llama.influxdb-port"] as number | undefined) ?? 5086
        }`,
        database: (values["llama.influxdb-name"] as string | undefined) ?? "llama",
        username: values["llama.influxdb-user"],
        password: values["llama.influxdb-pass"],
      },
    });
  }
}

if (import.meta.main) {
  Deno.exit(await main(Deno.args));
}
