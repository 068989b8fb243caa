/**
 * Command-line flags parsed the way Go's `flag` package does, so the original LLAMA's spellings
 * keep working: `-port 8100`, `--port=8100` and `-llama.dst-port 8100` are all accepted, and
 * each flag can have aliases.
 *
 * @module
 */
import { UsageError } from "./errors.ts";

/** One flag. */
export type FlagSpec =
  | {
    type: "string";
    default?: string;
    description: string;
    aliases?: readonly string[];
    placeholder?: string;
    /** Given any number of times: the value is every one given, in order (`[]` when none). */
    repeatable?: false;
  }
  | {
    type: "string";
    repeatable: true;
    description: string;
    aliases?: readonly string[];
    placeholder?: string;
  }
  | {
    type: "number";
    default?: number;
    description: string;
    aliases?: readonly string[];
    placeholder?: string;
  }
  | { type: "boolean"; default?: boolean; description: string; aliases?: readonly string[] };

/** The values a spec produces: a flag without a default and not given is `undefined`. */
export type FlagValues<S extends Record<string, FlagSpec>> = {
  [K in keyof S]: S[K] extends { type: "string"; repeatable: true } ? string[]
    : S[K] extends { type: "string"; default: string } ? string
    : S[K] extends { type: "string" } ? string | undefined
    : S[K] extends { type: "number"; default: number } ? number
    : S[K] extends { type: "number" } ? number | undefined
    : boolean;
};

/** The result of `parseFlags`. */
export interface ParsedFlags<S extends Record<string, FlagSpec>> {
  /** Flag values by name. */
  values: FlagValues<S>;
  /** Arguments after the flags. */
  positionals: string[];
  /** Whether `-h`, `-help` or `--help` was given. */
  help: boolean;
  /** Whether `-version` or `--version` was given (unless the spec has a flag of that name). */
  version: boolean;
}

/**
 * Parses `args` against `spec`. Throws `UsageError` naming the bad flag or value.
 *
 * @example
 * ```ts
 * import { parseFlags } from "@llama/core";
 * const spec = {
 *   port: { type: "number", default: 8100, description: "UDP port" },
 *   "max-pps": { type: "number", default: 5000, description: "answers per second" },
 * } as const;
 * const { values } = parseFlags(["-port", "9000", "--max-pps=0"], spec);
 * console.assert(values.port === 9000 && values["max-pps"] === 0);
 * ```
 */
export function parseFlags<S extends Record<string, FlagSpec>>(
  args: readonly string[],
  spec: S,
): ParsedFlags<S> {
  const byName = new Map<string, string>();
  for (const [name, flag] of Object.entries(spec)) {
    for (const alias of [name, ...(flag.aliases ?? [])]) byName.set(alias, name);
  }
  const values: Record<string, unknown> = {};
  for (const [name, flag] of Object.entries(spec)) {
    values[name] = flag.type === "string" && flag.repeatable === true
      ? []
      : defaultOf(flag) ?? (flag.type === "boolean" ? false : undefined);
  }
  let help = false;
  let version = false;
  let index = 0;
  for (; index < args.length; index++) {
    const arg = args[index];
    if (arg === "--") {
      index++;
      break;
    }
    if (!arg.startsWith("-") || arg === "-") break;
    const body = arg.replace(/^--?/, "");
    const equals = body.indexOf("=");
    const given = equals < 0 ? body : body.slice(0, equals);
    if (given === "h" || given === "help") {
      help = true;
      continue;
    }
    if (given === "version" && !byName.has("version")) {
      version = true;
      continue;
    }
    const name = byName.get(given);
    if (name === undefined) throw new UsageError(`Unknown flag ${arg.split("=")[0]}`);
    const flag = spec[name];
    let text: string | undefined = equals < 0 ? undefined : body.slice(equals + 1);
    if (flag.type === "boolean") {
      if (text === undefined) {
        values[name] = true;
      } else if (/^(1|t|true|TRUE|True)$/.test(text)) values[name] = true;
      else if (/^(0|f|false|FALSE|False)$/.test(text)) values[name] = false;
      else throw new UsageError(`--${given} takes true or false, got "${text}"`);
      continue;
    }
    if (text === undefined) {
      if (index + 1 >= args.length) throw new UsageError(`--${given} needs a value`);
      text = args[++index];
    }
    if (flag.type === "number") {
      // Go's flag package (the original's) also takes "inf" and "+Inf" for a float.
      const number = text.trim() === ""
        ? NaN
        : /^\+?inf(inity)?$/i.test(text.trim())
        ? Infinity
        : Number(text);
      if (Number.isNaN(number) || number === -Infinity) {
        throw new UsageError(`--${given} takes a number, got "${text}"`);
      }
      values[name] = number;
    } else if (flag.repeatable === true) {
      (values[name] as string[]).push(text);
    } else {
      values[name] = text;
    }
  }
  return { values: values as FlagValues<S>, positionals: args.slice(index), help, version };
}

/**
 * Formats a usage text listing every flag, its aliases and default.
 *
 * @example
 * ```ts
 * import { formatUsage } from "@llama/core";
 * const text = formatUsage("reflector", {
 *   port: { type: "number", default: 8100, description: "UDP port", aliases: ["p"] },
 * });
 * console.assert(text.includes("--port N") && text.includes("default 8100"));
 * ```
 */
export function formatUsage(program: string, spec: Record<string, FlagSpec>): string {
  const lines = [`Usage: ${program} [flags]`, "", "Flags:"];
  for (const [name, flag] of Object.entries(spec)) {
    const placeholder = flag.type === "boolean"
      ? ""
      : ` ${flag.placeholder ?? (flag.type === "number" ? "N" : "VALUE")}`;
    const aliases = (flag.aliases ?? []).map((alias) => `-${alias}`);
    lines.push(
      `  --${name}${placeholder}${aliases.length ? `  (also ${aliases.join(", ")})` : ""}`,
    );
    const fallback = flag.type === "string" && flag.repeatable === true
      ? " (repeatable)"
      : defaultOf(flag) === undefined || defaultOf(flag) === false
      ? ""
      : ` (default ${defaultOf(flag)})`;
    lines.push(`      ${flag.description}${fallback}`);
  }
  lines.push("  --help  (also -h)", "      Print this text and exit");
  if (!("version" in spec)) lines.push("  --version", "      Print the program's version and exit");
  return lines.join("\n");
}

function defaultOf(flag: FlagSpec): string | number | boolean | undefined {
  return "default" in flag ? flag.default : undefined;
}
