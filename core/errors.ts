/**
 * Error types shared by every llama program, one per kind of failure. Programs catch them only
 * at their edges (`main.ts`), where each kind maps to a log line and an exit code.
 *
 * @module
 */

/** Options accepted by every llama error. */
export interface LlamaErrorOptions {
  /** The underlying error, if any. */
  cause?: unknown;
}

/**
 * Bad command-line flags: the program prints the message and its usage and exits with code 2.
 *
 * @example Reject an unknown flag
 * ```ts
 * import { UsageError } from "@llama/core";
 * const error = new UsageError("Unknown flag -colour");
 * console.assert(error.name === "UsageError");
 * ```
 */
export class UsageError extends Error {
  /** Creates a usage error. */
  constructor(message: string, options?: LlamaErrorOptions) {
    super(message, options);
    this.name = "UsageError";
  }
}

/**
 * A configuration that cannot be used. `where` names the file, line and column, and `path`
 * the place inside it, such as `tests[0].rate_limit`.
 *
 * @example
 * ```ts
 * import { ConfigError } from "@llama/core";
 * const error = new ConfigError('"timeout" must be a positive number, got -5', {
 *   file: "collector.yaml",
 *   path: "ports.default.timeout",
 *   line: 4,
 *   column: 14,
 * });
 * console.assert(error.message.startsWith("collector.yaml:4:14: ports.default.timeout:"));
 * ```
 */
export class ConfigError extends Error {
  /** The file the config came from, if any. */
  readonly file: string | undefined;
  /** Where inside the config, as a dotted path (`targets.default[2].ip`). */
  readonly path: string | undefined;
  /** 1-based line in the file, when known. */
  readonly line: number | undefined;
  /** 1-based column in the file, when known. */
  readonly column: number | undefined;
  /** The message without the location prefix. */
  readonly detail: string;

  /** Creates a config error; the message is prefixed with the location. */
  constructor(
    detail: string,
    options: LlamaErrorOptions & {
      file?: string;
      path?: string;
      line?: number;
      column?: number;
    } = {},
  ) {
    const location = [
      options.file === undefined
        ? undefined
        : options.line === undefined
        ? options.file
        : `${options.file}:${options.line}:${options.column ?? 1}`,
      options.path,
    ].filter((part) => part !== undefined && part !== "").join(": ");
    super(location === "" ? detail : `${location}: ${detail}`, { cause: options.cause });
    this.name = "ConfigError";
    this.file = options.file;
    this.path = options.path;
    this.line = options.line;
    this.column = options.column;
    this.detail = detail;
  }
}

/**
 * A datagram or response that does not follow the protocol. Returned, not thrown, by decoders
 * that see untrusted input.
 *
 * @example
 * ```ts
 * import { ProtocolError } from "@llama/core";
 * const error = new ProtocolError("truncated varint at byte 3");
 * console.assert(error instanceof Error);
 * ```
 */
export class ProtocolError extends Error {
  /** Creates a protocol error. */
  constructor(message: string, options?: LlamaErrorOptions) {
    super(message, options);
    this.name = "ProtocolError";
  }
}

/**
 * A socket call that failed: binding, sending or an unavailable socket API. When the system said
 * why, `code` holds the errno name (`EAGAIN`, `ENOBUFS`, `EADDRINUSE`, …) and `errno` its number
 * (Linux numbering): branch on `code`, not on the message, which is for people.
 *
 * @example
 * ```ts
 * import { SocketError } from "@llama/core";
 * const error = new SocketError("bind 0.0.0.0:8100 failed: EADDRINUSE (98)", {
 *   operation: "bind",
 *   code: "EADDRINUSE",
 *   errno: 98,
 * });
 * console.assert(error.operation === "bind" && error.code === "EADDRINUSE");
 * ```
 */
export class SocketError extends Error {
  /** The operation that failed, such as `bind`, `send` or `receive`. */
  readonly operation: string;
  /** The errno name of the failure, such as `EAGAIN`, `ENOBUFS` or `EMFILE`; undefined when unknown. */
  readonly code: string | undefined;
  /** The errno number (Linux numbering) when the native engine read one; undefined otherwise. */
  readonly errno: number | undefined;
  /** Creates a socket error. */
  constructor(message: string, options: SocketErrorOptions) {
    super(message, { cause: options.cause });
    this.name = "SocketError";
    this.operation = options.operation;
    this.code = options.code;
    this.errno = options.errno;
  }
}

/** What a `SocketError` carries besides its message. */
export interface SocketErrorOptions extends LlamaErrorOptions {
  /** The operation that failed, such as `bind`, `send` or `receive`. */
  operation: string;
  /** The errno name, such as `EAGAIN`, when known. */
  code?: string;
  /** The errno number, when known. */
  errno?: number;
}

/**
 * A plugin module that cannot be used: it does not load, or its default export does not describe
 * a plugin. The message names the specifier and what is wrong.
 *
 * @example
 * ```ts
 * import { PluginLoadError } from "@llama/core";
 * const error = new PluginLoadError("./out.ts", "its default export has no create() function");
 * console.assert(error.message.includes("./out.ts"));
 * ```
 */
export class PluginLoadError extends Error {
  /** The module specifier as written in the config. */
  readonly specifier: string;
  /** Creates a plugin load error. */
  constructor(specifier: string, detail: string, options?: LlamaErrorOptions) {
    super(`Cannot load plugin "${specifier}": ${detail}`, options);
    this.name = "PluginLoadError";
    this.specifier = specifier;
  }
}

/**
 * A plugin failed at run time: a write or a lookup. `retryable: false` tells the host that
 * trying the same data again cannot succeed (a 400 from a database), so it is set aside.
 * `closed: true` says the destination is gone for good (standard output's reader closed the
 * pipe): the host stops writing to it, and a program with nothing else to do ends quietly.
 *
 * @example
 * ```ts
 * import { PluginError } from "@llama/core";
 * const error = new PluginError("influxdb", "HTTP 400: field type conflict", { retryable: false });
 * console.assert(error.message === "influxdb: HTTP 400: field type conflict" && !error.retryable);
 * ```
 */
export class PluginError extends Error {
  /** The plugin's name. */
  readonly plugin: string;
  /** Whether the same call may succeed later. */
  readonly retryable: boolean;
  /** Whether the destination is gone for good, so that no later write can reach it. */
  readonly closed: boolean;
  /** Creates a plugin error; retryable unless said otherwise (a closed destination is not). */
  constructor(
    plugin: string,
    detail: string,
    options: LlamaErrorOptions & { retryable?: boolean; closed?: boolean } = {},
  ) {
    super(`${plugin}: ${detail}`, { cause: options.cause });
    this.name = "PluginError";
    this.plugin = plugin;
    this.closed = options.closed ?? false;
    this.retryable = options.retryable ?? !this.closed;
  }
}
