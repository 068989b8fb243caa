/**
 * What every llama program's `main.ts` does the same way: flags with logging options, usage
 * errors, and waiting for a stop signal.
 *
 * @module
 */
import { type FlagSpec, type FlagValues, formatUsage, parseFlags } from "./flags.ts";
import { UsageError } from "./errors.ts";
import { LOG_LEVELS, type LogFormat, type LoggingOptions, type LogLevel } from "./logging.ts";

/** The shape of `LOGGING_FLAGS`. */
export interface LoggingFlags {
  /** `--log-level`. */
  readonly "log-level": {
    readonly type: "string";
    readonly default: string;
    readonly description: string;
  };
  /** `--log-format`. */
  readonly "log-format": {
    readonly type: "string";
    readonly default: string;
    readonly description: string;
  };
}

/** The logging flags every program takes. */
export const LOGGING_FLAGS: LoggingFlags = {
  "log-level": { type: "string", default: "info", description: `One of ${LOG_LEVELS.join(", ")}` },
  "log-format": {
    type: "string",
    default: "text",
    description: "text, or json for one object per line",
  },
};

/** Parsed program flags, or the exit code when the program should stop at once. */
export type ProgramFlags<S extends Record<string, FlagSpec>> =
  | { values: FlagValues<S & typeof LOGGING_FLAGS>; logging: LoggingOptions; exitCode?: undefined }
  | { exitCode: number };

/**
 * Parses a program's flags plus the logging flags. `--help` prints the usage and `--version`
 * prints `program version`, both with exit code 0; bad flags, or whatever `validate` throws as `UsageError`, print the message and the
 * usage and give exit code 2.
 *
 * @example
 * ```ts
 * import { readProgramFlags } from "@llama/core";
 * const lines: string[] = [];
 * const flags = readProgramFlags("demo", ["-port", "x"], { port: { type: "number", description: "port" } }, {
 *   print: (text) => lines.push(text),
 * });
 * console.assert(flags.exitCode === 2 && lines[0].includes("-port takes a number"));
 * ```
 */
export function readProgramFlags<S extends Record<string, FlagSpec>>(
  program: string,
  args: readonly string[],
  spec: S,
  options: {
    print: (text: string) => void;
    validate?: (values: FlagValues<S & typeof LOGGING_FLAGS>) => void;
    /** Printed after the flags by `--help` (config keys, examples). */
    notes?: string;
    /** Printed by `--version` after the program's name: its package's `deno.json` version. */
    version?: string;
  },
): ProgramFlags<S> {
  const fullSpec = { ...spec, ...LOGGING_FLAGS } as S & typeof LOGGING_FLAGS;
  try {
    const parsed = parseFlags(args, fullSpec);
    if (parsed.help) {
      const usage = formatUsage(program, fullSpec);
      options.print(options.notes === undefined ? usage : `${usage}\n\n${options.notes}`);
      return { exitCode: 0 };
    }
    if (parsed.version) {
      options.print(`${program} ${options.version ?? "(version unknown)"}`);
      return { exitCode: 0 };
    }
    if (parsed.positionals.length > 0) {
      throw new UsageError(`Unexpected argument "${parsed.positionals[0]}"`);
    }
    const values = parsed.values as Record<string, unknown>;
    const level = values["log-level"] as string;
    const format = values["log-format"] as string;
    if (!(LOG_LEVELS as readonly string[]).includes(level)) {
      throw new UsageError(`--log-level takes one of ${LOG_LEVELS.join(", ")}, got "${level}"`);
    }
    if (format !== "text" && format !== "json") {
      throw new UsageError(`--log-format takes text or json, got "${format}"`);
    }
    options.validate?.(parsed.values);
    return {
      values: parsed.values,
      logging: { level: level as LogLevel, format: format as LogFormat },
    };
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    options.print(`${program}: ${error.message}\n\n${formatUsage(program, fullSpec)}`);
    return { exitCode: 2 };
  }
}

/** Checks that a number flag holds a whole number in `min..max`; throws `UsageError`. */
export function checkWholeNumber(flag: string, value: number, min: number, max: number): void {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new UsageError(`--${flag} takes a whole number from ${min} to ${max}, got ${value}`);
  }
}

/**
 * Resolves with the name of the first of `signals` received, and stops listening. `onSignal`
 * handles other signals without stopping (a collector's SIGHUP reload).
 *
 * @example
 * ```ts ignore
 * import { waitForSignal } from "@llama/core";
 * const signal = await waitForSignal(["SIGINT", "SIGTERM"]);
 * ```
 */
export function waitForSignal(
  signals: readonly Deno.Signal[],
  onSignal: Partial<Record<Deno.Signal, () => void>> = {},
): { stopped: Promise<Deno.Signal>; dispose(): void } {
  const { promise, resolve } = Promise.withResolvers<Deno.Signal>();
  const listeners: [Deno.Signal, () => void][] = [
    ...signals.map((signal): [Deno.Signal, () => void] => [signal, () => resolve(signal)]),
    ...Object.entries(onSignal).map((
      [signal, handler],
    ): [Deno.Signal, () => void] => [signal as Deno.Signal, handler!]),
  ];
  for (const [signal, listener] of listeners) Deno.addSignalListener(signal, listener);
  return {
    stopped: promise,
    dispose: () => {
      for (const [signal, listener] of listeners) Deno.removeSignalListener(signal, listener);
    },
  };
}
