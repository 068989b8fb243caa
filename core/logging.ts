/**
 * Logging setup for a program's entry point. Library code only calls
 * `getLogger(["llama", ...])`; a `main.ts` calls `setupLogging` once.
 *
 * @module
 */
import {
  configure,
  dispose,
  getJsonLinesFormatter,
  getStreamSink,
  getTextFormatter,
} from "@logtape/logtape";

/** Log levels, as LogTape names them. */
export type LogLevel = "trace" | "debug" | "info" | "warning" | "error" | "fatal";

/** How log lines look: human text or one JSON object per line. */
export type LogFormat = "text" | "json";

/** Options of `setupLogging`. */
export interface LoggingOptions {
  /** Lowest level written. Default `info`. */
  level?: LogLevel;
  /** Line format. Default `text`. */
  format?: LogFormat;
  /** Where lines go. Default standard error, so standard output stays free for data. */
  stream?: WritableStream<Uint8Array>;
}

/**
 * Sends every `llama` log record to standard error (or `stream`), one line per event.
 *
 * @example
 * ```ts ignore
 * import { setupLogging } from "@llama/core";
 * await using _logging = await setupLogging({ level: "info", format: "json" });
 * ```
 */
export async function setupLogging(options: LoggingOptions = {}): Promise<AsyncDisposable> {
  const formatter = options.format === "json" ? getJsonLinesFormatter() : getTextFormatter({
    timestamp: "date-time-timezone",
    category: ".",
    // Strings read better unquoted in a human log line; JSON lines keep every value typed.
    value: (value, inspect) => typeof value === "string" ? value : inspect(value),
  });
  await configure({
    reset: true,
    sinks: {
      stderr: getStreamSink(options.stream ?? Deno.stderr.writable, { formatter }),
    },
    loggers: [
      { category: ["logtape", "meta"], lowestLevel: "warning", sinks: ["stderr"] },
      { category: ["llama"], lowestLevel: options.level ?? "info", sinks: ["stderr"] },
    ],
  });
  return { [Symbol.asyncDispose]: () => dispose() };
}

/** Log levels accepted by `--log-level`. */
export const LOG_LEVELS: readonly LogLevel[] = [
  "trace",
  "debug",
  "info",
  "warning",
  "error",
  "fatal",
];
