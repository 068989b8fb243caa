import { dirname, resolve } from "node:path";
import {
  ConfigError,
  type ConfigNode,
  parseHostPort,
  parseYamlConfig,
  PluginLoadError,
  type SocketAddress,
  UsageError,
} from "@llama/core";
import { loadPlugin, type OutputPlugin, type TagResolverPlugin } from "@llama/plugins";
import { parseScraperSharding, type ScraperSharding, shardCollectors } from "./sharding.ts";
import { parseSecurity, type ScraperSecurityConfig } from "./_security_config.ts";

export type { ScraperSecurityConfig } from "./_security_config.ts";

/** A collector to scrape. */
export interface CollectorTarget {
  /** Name used in logs and metrics: the URL's host and port unless set. */
  name: string;
  /** Base URL of the collector's API. */
  url: URL;
}

/** A plugin named in the config, with its options still raw. */
export interface PluginUse {
  /** Built-in name or module specifier. */
  use: string;
  /** Instance name (defaults to the plugin's name, made unique). */
  name: string | undefined;
  /** The options as written. */
  options: unknown;
  /** Path of this entry in the config (`outputs[1]`). */
  path: string;
}

/** A scraper's configuration, validated. */
export interface ScraperConfig {
  /** The file it came from, if any. */
  file: string | undefined;
  /** Folder that relative paths are resolved against: the file's, or the working directory. */
  directory: string;
  /** Collectors, scraped concurrently: with `sharding`, this scraper's share of those listed. */
  collectors: CollectorTarget[];
  /** Collectors shared with other scrapers (a llama extension), if they are. */
  sharding?: ScraperSharding;
  /** Seconds between scrapes, aligned to wall-clock multiples. */
  intervalSeconds: number;
  /** Seconds after each boundary to scrape, so collectors have published. */
  offsetSeconds: number;
  /** Longest a scrape may take, in seconds: the request and the reading of its whole body. */
  timeoutSeconds: number;
  /**
   * Most bytes of a collector's answer taken, counted after any `Content-Encoding` is undone; a
   * larger answer is refused and the collector tried again next round.
   */
  maxResponseBytes: number;
  /** Also write one `flow_stats` point per flow (source port), from llama collectors. */
  flows: boolean;
  /** Where points wait on disk while an output is down; without it they wait in memory only. */
  dataDirectory: string | undefined;
  /** Where to serve `/metrics`, if anywhere. */
  metrics: SocketAddress | undefined;
  /** Where to serve the loss and latency matrix page (`@llama/ui`), if anywhere. */
  ui: SocketAddress | undefined;
  /** Output queueing: points kept in memory per output before spilling, and points per write. */
  buffer: { memoryPoints: number; batchPoints: number };
  /** Retries of a failed write: first delay and longest delay, in milliseconds (with jitter). */
  retry: { initialMs: number; maxMs: number };
  /** Longest one write may take, in milliseconds. */
  writeTimeoutMs: number;
  /** Outputs; none means line protocol on standard output. */
  outputs: PluginUse[];
  /** Tag resolvers, applied in order (later ones win). */
  tags: PluginUse[];
  /** API tokens and HTTPS of its servers, and of the collectors it scrapes. */
  security: ScraperSecurityConfig;
}

const KEYS = [
  "collectors",
  "interval",
  "offset",
  "timeout",
  "max_response_bytes",
  "flows",
  "data_directory",
  "metrics",
  "ui",
  "buffer",
  "retry",
  "write_timeout_ms",
  "outputs",
  "tags",
  "api",
  "collector_token_file",
  "collector_ca",
  "sharding",
] as const;

/** The largest `max_response_bytes`: 500 MiB, below the longest string JavaScript can hold. */
const MAX_RESPONSE_BYTES = 500 * 1024 * 1024;

/** Defaults of every setting; the collectors list has none. */
export const SCRAPER_DEFAULTS: Omit<ScraperConfig, "file" | "directory" | "collectors"> = {
  intervalSeconds: 30,
  offsetSeconds: 5,
  timeoutSeconds: 10,
  // 64 MiB: about 50,000 paths of four flows each (a real collector's summary with flows is about
  // 1.3 kB a path with three tags, 0.3 kB without flows; measured in docs/scraper.md).
  maxResponseBytes: 64 * 1024 * 1024,
  flows: false,
  dataDirectory: undefined,
  metrics: undefined,
  ui: undefined,
  buffer: { memoryPoints: 100_000, batchPoints: 5000 },
  retry: { initialMs: 1000, maxMs: 60_000 },
  writeTimeoutMs: 10_000,
  outputs: [],
  tags: [],
  security: { api: {}, collectorTokenFile: undefined, collectorCa: undefined },
};

/**
 * Parses and validates a scraper config. Pure: plugins are loaded and their options checked by
 * `loadScraperPlugins`. Throws `ConfigError` naming the file, line, column and path.
 *
 * @example
 * ```ts
 * import { parseScraperConfig } from "@llama/scraper";
 * const config = parseScraperConfig("collectors: [collector-1:5000]\ninterval: 60\n");
 * console.assert(config.collectors[0].url.href === "http://collector-1:5000/" && config.intervalSeconds === 60);
 * ```
 */
export function parseScraperConfig(text: string, options: { file?: string } = {}): ScraperConfig {
  const root = parseYamlConfig(text, options.file);
  if (root.isMissing) {
    throw root.error("the config is empty: expected a map with at least collectors");
  }
  const fields = root.fields(KEYS, "a map");
  const directory = options.file === undefined ? Deno.cwd() : dirname(resolve(options.file));
  const config: ScraperConfig = {
    ...structuredClone(SCRAPER_DEFAULTS),
    file: options.file,
    directory,
    collectors: [],
  };
  const collectors = fields.get("collectors");
  if (collectors === undefined || collectors.isMissing) {
    throw root.error('missing "collectors": expected a list of host:port or URLs');
  }
  config.collectors = parseCollectors(collectors.items("a list of collectors (host:port or URLs)"));
  const sharding = fields.get("sharding");
  if (sharding !== undefined && !sharding.isMissing) {
    const settings = parseScraperSharding(sharding);
    config.sharding = { ...settings, of: config.collectors.length };
    config.collectors = shardCollectors(config.collectors, settings);
  }
  const number = (key: string, min: number, max: number, unit: string) =>
    fields.get(key)?.number({ min, max, unit });
  config.intervalSeconds = number("interval", 1, 86400, "seconds") ?? config.intervalSeconds;
  config.offsetSeconds =
    number("offset", 0, config.intervalSeconds, "seconds after each boundary") ??
      config.offsetSeconds;
  config.timeoutSeconds = number("timeout", 0.1, config.intervalSeconds, "seconds") ??
    config.timeoutSeconds;
  config.maxResponseBytes = fields.get("max_response_bytes")?.number({
    min: 1024,
    max: MAX_RESPONSE_BYTES,
    integer: true,
    unit: "bytes",
  }) ?? config.maxResponseBytes;
  config.writeTimeoutMs = number("write_timeout_ms", 100, 600_000, "milliseconds") ??
    config.writeTimeoutMs;
  const flows = fields.get("flows");
  if (flows !== undefined) {
    if (typeof flows.scalar() !== "boolean") {
      throw flows.error(`expected true or false, got ${flows.describe()}`);
    }
    config.flows = flows.scalar() as boolean;
  }
  const dataDirectory = fields.get("data_directory");
  if (dataDirectory !== undefined) {
    config.dataDirectory = resolve(directory, dataDirectory.text("a folder"));
  }
  const metrics = fields.get("metrics");
  if (metrics !== undefined) config.metrics = hostPort(metrics);
  const ui = fields.get("ui");
  if (ui !== undefined) config.ui = hostPort(ui);
  const buffer = fields.get("buffer");
  if (buffer !== undefined) {
    const values = buffer.fields(
      ["memory_points", "batch_points"],
      "a map with memory_points and batch_points",
    );
    config.buffer = {
      memoryPoints:
        values.get("memory_points")?.number({ min: 0, max: 100_000_000, integer: true }) ??
          config.buffer.memoryPoints,
      batchPoints: values.get("batch_points")?.number({ min: 1, max: 1_000_000, integer: true }) ??
        config.buffer.batchPoints,
    };
  }
  const retry = fields.get("retry");
  if (retry !== undefined) {
    const values = retry.fields(["initial_ms", "max_ms"], "a map with initial_ms and max_ms");
    config.retry = {
      initialMs:
        values.get("initial_ms")?.number({ min: 1, max: 3_600_000, unit: "milliseconds" }) ??
          config.retry.initialMs,
      maxMs: values.get("max_ms")?.number({ min: 1, max: 3_600_000, unit: "milliseconds" }) ??
        config.retry.maxMs,
    };
  }
  config.security = parseSecurity(fields, directory);
  config.outputs = parseUses(fields.get("outputs"));
  config.tags = parseUses(fields.get("tags"));
  return config;
}

/** Turns `host:port`, `host` (port 5000) or a URL into a collector target. */
export function collectorTarget(text: string, defaultPort = 5000): CollectorTarget | undefined {
  if (text.includes("://") && !/^https?:\/\//.test(text)) return undefined;
  let url: URL;
  try {
    url = new URL(
      /^https?:\/\//.test(text)
        ? text
        : `http://${/:\d+$|^\[.*\]:\d+$/.test(text) ? text : `${text}:${defaultPort}`}`,
    );
  } catch {
    return undefined;
  }
  if ((url.protocol !== "http:" && url.protocol !== "https:") || url.hostname === "") {
    return undefined;
  }
  // Collectors behind one reverse proxy differ only by path, so a path is part of the name.
  const path = url.pathname.replace(/\/+$/, "");
  return {
    name: `${url.host}${path}`,
    url: new URL(url.href.endsWith("/") ? url.href : `${url.href}/`),
  };
}

function parseCollectors(items: ConfigNode[]): CollectorTarget[] {
  const names = new Set<string>();
  return items.map((item) => {
    let target: CollectorTarget | undefined;
    if (typeof item.scalar() === "string") {
      target = collectorTarget(item.text());
      if (target === undefined) {
        throw item.error(`expected host:port or an http(s) URL, got ${item.describe()}`);
      }
    } else {
      const values = item.fields(["url", "name"], "host:port, a URL, or a map with url and name");
      const url = values.get("url");
      if (url === undefined) {
        throw item.error('missing "url": expected host:port or an http(s) URL');
      }
      target = collectorTarget(url.text());
      if (target === undefined) {
        throw url.error(`expected host:port or an http(s) URL, got ${url.describe()}`);
      }
      const name = values.get("name");
      if (name !== undefined) target.name = name.text("a name");
    }
    if (names.has(target.name)) throw item.error(`collector "${target.name}" is listed twice`);
    names.add(target.name);
    return target;
  });
}

function parseUses(node: ConfigNode | undefined): PluginUse[] {
  if (node === undefined || node.isMissing) return [];
  return node.items(`a list of plugins ({use, options})`).map((item) => {
    const values = item.fields(["use", "name", "options"], "a map with use, name and options");
    const use = values.get("use");
    if (use === undefined) {
      throw item.error('missing "use": a built-in plugin name or a module path');
    }
    return {
      use: use.text("a built-in plugin name or a module path"),
      name: values.get("name")?.text("a name"),
      options: values.get("options")?.value(),
      path: item.path,
    };
  });
}

function hostPort(node: ConfigNode): SocketAddress {
  try {
    return parseHostPort(node.text("host:port"), node.path);
  } catch (error) {
    if (error instanceof UsageError) {
      throw node.error(`expected host:port (like 127.0.0.1:9200), got ${node.describe()}`);
    }
    throw error;
  }
}

/** A plugin that is loaded and whose options are valid, ready to create. */
export interface LoadedPlugin<P> {
  /** The definition. */
  plugin: P;
  /** Unique instance name. */
  name: string;
  /** Parsed options. */
  options: unknown;
  /** Path in the config. */
  path: string;
}

/** The plugins of a config, loaded and with their options checked. */
export interface ScraperPlugins {
  /** Outputs, in config order. */
  outputs: LoadedPlugin<OutputPlugin>[];
  /** Tag resolvers, in config order. */
  tags: LoadedPlugin<TagResolverPlugin>[];
}

/**
 * Loads every plugin the config names and checks its options, before anything connects. A
 * module that does not load or is not a plugin, and options the plugin rejects, become
 * `ConfigError`s located in the config file.
 */
export async function loadScraperPlugins(
  config: ScraperConfig,
  text: string | undefined,
): Promise<ScraperPlugins> {
  const root = text === undefined ? undefined : parseYamlConfig(text, config.file);
  const allowRemote = import.meta.url.startsWith("file:");
  const names = new Set<string>();
  const load = async <K extends "output" | "tags">(use: PluginUse, kind: K) => {
    const where = root?.find(`${use.path}.use`);
    let plugin;
    try {
      plugin = await loadPlugin(use.use, kind, { baseDirectory: config.directory, allowRemote });
    } catch (error) {
      if (!(error instanceof PluginLoadError)) throw error;
      throw located(error.message, `${use.path}.use`, where, config.file, error);
    }
    let options: unknown;
    try {
      options = plugin.parseOptions(use.options, `${use.path}.options`);
    } catch (error) {
      if (!(error instanceof ConfigError)) {
        throw located(
          `plugin "${plugin.name}" failed checking its options: ${(error as Error).message}`,
          `${use.path}.options`,
          root?.find(`${use.path}.options`),
          config.file,
          error,
        );
      }
      const path = error.path ?? `${use.path}.options`;
      throw located(error.detail, path, root?.find(path), config.file, error);
    }
    let name = use.name ?? plugin.name;
    for (let index = 2; names.has(name); index++) name = `${use.name ?? plugin.name}-${index}`;
    names.add(name);
    return { plugin, name, options, path: use.path };
  };
  const outputs: LoadedPlugin<OutputPlugin>[] = [];
  for (const use of config.outputs) {
    outputs.push(await load(use, "output") as LoadedPlugin<OutputPlugin>);
  }
  const tags: LoadedPlugin<TagResolverPlugin>[] = [];
  for (const use of config.tags) {
    tags.push(await load(use, "tags") as LoadedPlugin<TagResolverPlugin>);
  }
  return { outputs, tags };
}

function located(
  detail: string,
  path: string,
  node: ConfigNode | undefined,
  file: string | undefined,
  cause: unknown,
): ConfigError {
  const location = node?.location();
  return new ConfigError(detail, {
    file,
    path,
    line: location?.line,
    column: location?.column,
    cause,
  });
}
