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
  type LogRecord,
  type TextFormatter,
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
 * Library code passes an error as a property (`log.warn("Scrape failed: {error}", { error })`),
 * never flattened into text. A text line shows the error as its message and its causes' on one
 * line; a JSON line shows the same text in `message` and the error itself under `properties` as
 * `{name, message, stack, cause, ...}`, with its own fields such as a `SocketError`'s
 * `operation`.
 *
 * @example
 * ```ts ignore
 * import { setupLogging } from "@llama/core";
 * await using _logging = await setupLogging({ level: "info", format: "json" });
 * ```
 */
export async function setupLogging(options: LoggingOptions = {}): Promise<AsyncDisposable> {
  const formatter = options.format === "json"
    ? errorsInMessageAsText(getJsonLinesFormatter())
    : getTextFormatter({
      timestamp: "date-time-timezone",
      category: ".",
      // Strings read better unquoted in a human log line; JSON lines keep every value typed. An
      // error's inspection is its stack over many lines: its message keeps the event on one.
      value: (value, inspect) =>
        typeof value === "string"
          ? value
          : value instanceof Error
          ? errorText(value)
          : inspect(value),
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

/**
 * An error on one line: its message, then each cause's that the text does not already hold,
 * as `Cannot scrape c1 (cause: Connection refused)`.
 */
function errorText(error: Error): string {
  let text = oneLine(error.message || error.name);
  let cause: unknown = error.cause;
  // A cause chain can loop back on itself; a handful of levels is all a log line needs.
  for (let depth = 0; cause !== undefined && depth < 5; depth++) {
    const causeText = oneLine(cause instanceof Error ? cause.message || cause.name : String(cause));
    if (causeText !== "" && !text.includes(causeText)) text += ` (cause: ${causeText})`;
    cause = cause instanceof Error ? cause.cause : undefined;
  }
  return text;
}

function oneLine(text: string): string {
  return text.replace(/\s*\n\s*/g, " ").trim();
}

/**
 * LogTape's JSON formatter serializes an error among the properties in full, but renders one
 * placed in the message as `{}`: give the message the error's text, and leave the properties
 * alone.
 */
function errorsInMessageAsText(formatter: TextFormatter): TextFormatter {
  return (record: LogRecord): string => {
    const { message } = record;
    let hasError = false;
    for (let index = 1; index < message.length; index += 2) {
      if (message[index] instanceof Error) hasError = true;
    }
    if (!hasError) return formatter(record);
    return formatter({
      ...record,
      message: message.map((part, index) =>
        index % 2 === 1 && part instanceof Error ? errorText(part) : part
      ),
    });
  };
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
