import { ConfigError } from "@llama/core";

/**
 * Reads a plugin's options from the config, throwing `ConfigError`s that name the plugin, the
 * option's path and what was expected. Call `done()` last: it rejects unknown options.
 *
 * @example
 * ```ts
 * import { OptionsReader } from "@llama/plugins";
 * const options = new OptionsReader({ format: "json" }, "outputs[0].options", "stdout");
 * const format = options.oneOf("format", ["line", "json"], "line");
 * options.done();
 * console.assert(format === "json");
 * ```
 */
export class OptionsReader {
  readonly #raw: Record<string, unknown>;
  readonly #path: string;
  readonly #plugin: string;
  readonly #read = new Set<string>();

  /** Wraps `raw` (an object, or nothing for no options). */
  constructor(raw: unknown, path: string, plugin: string) {
    this.#path = path;
    this.#plugin = plugin;
    if (raw === undefined || raw === null) this.#raw = {};
    else if (typeof raw === "object" && !Array.isArray(raw)) {
      this.#raw = raw as Record<string, unknown>;
    } else throw this.#error(path, `expected a map of options, got ${describe(raw)}`);
  }

  /** A string option. */
  string(key: string, fallback?: string): string | undefined {
    const value = this.#take(key);
    if (value === undefined || value === null) return fallback;
    if (typeof value === "number" || typeof value === "boolean") return String(value);
    if (typeof value !== "string") {
      throw this.#error(this.#at(key), `expected text, got ${describe(value)}`);
    }
    return value;
  }

  /** A string option that must be given. */
  required(key: string, expected: string): string {
    const value = this.string(key);
    if (value === undefined || value === "") {
      throw this.#error(this.#at(key), `missing: expected ${expected}`);
    }
    return value;
  }

  /** A number option in `min..max`. */
  number(
    key: string,
    options: { min: number; max: number; integer?: boolean; fallback: number },
  ): number {
    const value = this.#take(key);
    if (value === undefined || value === null) return options.fallback;
    const what = options.integer ? "a whole number" : "a number";
    if (
      typeof value !== "number" || !Number.isFinite(value) || value < options.min ||
      value > options.max ||
      (options.integer && !Number.isInteger(value))
    ) {
      throw this.#error(
        this.#at(key),
        `expected ${what} from ${options.min} to ${options.max}, got ${describe(value)}`,
      );
    }
    return value;
  }

  /** A boolean option. */
  boolean(key: string, fallback: boolean): boolean {
    const value = this.#take(key);
    if (value === undefined || value === null) return fallback;
    if (typeof value !== "boolean") {
      throw this.#error(this.#at(key), `expected true or false, got ${describe(value)}`);
    }
    return value;
  }

  /** One of a few words. */
  oneOf<T extends string>(key: string, allowed: readonly T[], fallback: T): T {
    const value = this.string(key, fallback)!;
    if (!(allowed as readonly string[]).includes(value)) {
      throw this.#error(
        this.#at(key),
        `expected one of ${allowed.join(", ")}, got ${JSON.stringify(value)}`,
      );
    }
    return value as T;
  }

  /** A URL with one of `protocols` (`http:`, `https:`). */
  url(key: string, protocols: readonly string[], fallback?: string): URL | undefined {
    const text = this.string(key, fallback);
    if (text === undefined) return undefined;
    let url: URL;
    try {
      url = new URL(text);
    } catch {
      throw this.#error(
        this.#at(key),
        `expected a URL like http://127.0.0.1:8086, got ${JSON.stringify(text)}`,
      );
    }
    if (!protocols.includes(url.protocol)) {
      throw this.#error(
        this.#at(key),
        `expected a ${protocols.join(" or ")} URL, got ${JSON.stringify(text)}`,
      );
    }
    return url;
  }

  /** A map of strings (tags, headers). */
  strings(key: string): Record<string, string> {
    const value = this.#take(key);
    if (value === undefined || value === null) return {};
    if (typeof value !== "object" || Array.isArray(value)) {
      throw this.#error(this.#at(key), `expected a map of text, got ${describe(value)}`);
    }
    return Object.fromEntries(
      Object.entries(value).map(([name, item]) => {
        if (typeof item !== "string" && typeof item !== "number" && typeof item !== "boolean") {
          throw this.#error(`${this.#at(key)}.${name}`, `expected text, got ${describe(item)}`);
        }
        return [name, String(item)];
      }),
    );
  }

  /** A list of names: a YAML list, or text separated by commas (`src_ip, dst_ip`). */
  list(key: string): string[] | undefined {
    const value = this.#take(key);
    if (value === undefined || value === null) return undefined;
    const items = typeof value === "string" ? value.split(",") : value;
    if (!Array.isArray(items)) {
      throw this.#error(
        this.#at(key),
        `expected a list, or text separated by commas, got ${describe(value)}`,
      );
    }
    return items.map((item, index) => {
      if (typeof item !== "string" && typeof item !== "number") {
        throw this.#error(`${this.#at(key)}[${index}]`, `expected text, got ${describe(item)}`);
      }
      return String(item).trim();
    }).filter((item) => item !== "");
  }

  /** Rejects options that no reader asked for (typos). */
  done(): void {
    for (const key of Object.keys(this.#raw)) {
      if (!this.#read.has(key)) {
        const known = [...this.#read];
        throw this.#error(
          this.#at(key),
          `unknown option "${key}"` +
            (known.length === 0 ? "; this plugin takes none" : `; known: ${known.join(", ")}`),
        );
      }
    }
  }

  #take(key: string): unknown {
    this.#read.add(key);
    // Own options only: an option named like an Object.prototype member is simply not given.
    return Object.hasOwn(this.#raw, key) ? this.#raw[key] : undefined;
  }

  #at(key: string): string {
    return `${this.#path}.${key}`;
  }

  #error(path: string, detail: string): ConfigError {
    return new ConfigError(`${this.#plugin}: ${detail}`, { path });
  }
}

function describe(value: unknown): string {
  if (Array.isArray(value)) return "a list";
  if (value !== null && typeof value === "object") return "a map";
  // JSON.stringify would show YAML's .inf and .nan as null.
  if (typeof value === "number") return String(value);
  return JSON.stringify(value);
}
