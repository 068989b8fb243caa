/**
 * The plugin contract: what a scraper output or tag-resolver module exports. A plugin module's
 * default export (or the export named after `#` in its specifier) is a plugin definition.
 *
 * @module
 */

/** The contract version this package implements; a plugin states the one it was written for. */
export const PLUGIN_CONTRACT_VERSION = 1;

/** One measurement: what a scraper writes. */
export interface Point {
  /** Measurement name, such as `raw_stats`. */
  readonly measurement: string;
  /** Tags: `src_ip`, `dst_ip`, the targets' tags and what tag resolvers add. */
  readonly tags: Readonly<Record<string, string>>;
  /** Numeric fields. */
  readonly fields: Readonly<Record<string, number>>;
  /** The start of the interval the point describes, in milliseconds since the epoch. */
  readonly time: number;
}

/** A structured logger (LogTape's): `{name}` placeholders in the message are filled from `properties`. */
export interface PluginLogger {
  /** Details for debugging. */
  debug(message: string, properties?: Record<string, unknown>): void;
  /** Normal events. */
  info(message: string, properties?: Record<string, unknown>): void;
  /** Something is wrong but the plugin goes on. */
  warn(message: string, properties?: Record<string, unknown>): void;
  /** Something failed. */
  error(message: string, properties?: Record<string, unknown>): void;
}

/** What the host gives a plugin when it creates it. */
export interface PluginContext {
  /** The instance's name: the plugin's, or the one set in the config. */
  readonly name: string;
  /**
   * A logger already named after the instance (`llama.plugin.<name>`), whose lines carry
   * `plugin: <name>` as a property.
   */
  readonly logger: PluginLogger;
  /** The folder of the config file, for relative paths in options. */
  readonly configDirectory: string;
  /** A folder of the scraper's data directory for this instance, if the scraper has one. */
  readonly dataDirectory: string | undefined;
  /** Aborted when the scraper stops. */
  readonly signal: AbortSignal;
}

/** A created output. The host batches, retries, times out and logs around it. */
export interface Output {
  /**
   * Writes points; resolves once they are stored. Throw (ideally a `PluginError`, with
   * `retryable: false` when trying again cannot help) to have the host retry later. Stop when
   * `signal` aborts: the host's timeout.
   */
  write(points: readonly Point[], signal: AbortSignal): Promise<void>;
  /**
   * Optional: given every point one scrape round took (from all of the scraper's collectors),
   * returns points derived from them, such as per-group aggregates, which the host then queues
   * for this output alone like any others (spooled, retried, written in order). Pure and quick.
   */
  aggregate?(points: readonly Point[]): Point[];
  /** Releases connections and files. */
  [Symbol.asyncDispose]?(): Promise<void>;
}

/** A created tag resolver. */
export interface TagResolver {
  /**
   * Tags for an address (`hostname`, `region`, …); the host adds them to points as `src_<tag>`
   * and `dst_<tag>`. Return `{}` when there are none. Stop when `signal` aborts.
   */
  resolve(
    address: string,
    signal: AbortSignal,
  ): Promise<Record<string, string>> | Record<string, string>;
  /** Releases what it holds. */
  [Symbol.asyncDispose]?(): Promise<void>;
}

/** Fields every plugin definition has. */
export interface PluginBase<Options, Kind extends string, Instance> {
  /** `output` or `tags`. */
  readonly kind: Kind;
  /** The plugin's name, used in every message about it. */
  readonly name: string;
  /** The contract version it was written for (`PLUGIN_CONTRACT_VERSION`). */
  readonly contract: number;
  /**
   * Checks the options from the config, before anything connects; pure. Throws `ConfigError`
   * with `path` extended to the option at fault (`outputs[1].options.url`).
   */
  parseOptions(raw: unknown, path: string): Options;
  /** Creates the instance; may connect. */
  create(options: Options, context: PluginContext): Instance | Promise<Instance>;
  /**
   * Optional: checks what the options point at (a file of tags, say) exactly as `create` will
   * read it, without connecting or starting anything. `--check` calls it, so that a config it
   * passes also starts. Throws `ConfigError` naming the file and line at fault.
   */
  check?(options: Options, context: PluginCheckContext): void | Promise<void>;
}

/** What `check` is given: the instance's name and the config's folder. */
export type PluginCheckContext = Pick<PluginContext, "name" | "configDirectory">;

/** An output plugin. */
export type OutputPlugin<Options = unknown> = PluginBase<Options, "output", Output>;

/** A tag-resolver plugin. */
export type TagResolverPlugin<Options = unknown> = PluginBase<Options, "tags", TagResolver>;

/** Any plugin. */
export type Plugin = OutputPlugin | TagResolverPlugin;
