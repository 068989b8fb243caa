/**
 * Reading a YAML config with its positions, so every config error can name the file, line,
 * column and path of the value at fault.
 *
 * @module
 */
import { parseDocument } from "yaml";
import { ConfigError } from "./errors.ts";
import { parseYamlTree, type YamlNode } from "./_yaml_tree.ts";

/** Where a config came from, shared by every node read from it. */
interface Source {
  /** The file name for messages. */
  file: string | undefined;
  /** Offset of the start of each line. */
  lineStarts: Uint32Array;
  /** The text itself, to quote what was written where a value alone would mislead. */
  text: string;
}

/** Line and column (both from 1) of an offset. */
function linePosition(source: Source, offset: number): { line: number; col: number } {
  const starts = source.lineStarts;
  let low = 0, high = starts.length - 1;
  while (low < high) {
    const middle = (low + high + 1) >> 1;
    if (starts[middle] <= offset) low = middle;
    else high = middle - 1;
  }
  return { line: low + 1, col: offset - starts[low] + 1 };
}

function lineStarts(text: string): Uint32Array {
  let count = 1;
  for (let at = text.indexOf("\n"); at !== -1; at = text.indexOf("\n", at + 1)) count++;
  const starts = new Uint32Array(count);
  let line = 1;
  for (let at = text.indexOf("\n"); at !== -1; at = text.indexOf("\n", at + 1)) {
    starts[line++] = at + 1;
  }
  return starts;
}

/**
 * Parses YAML text into a `ConfigNode` for its root. Throws `ConfigError` with the line and
 * column of a syntax error (with a hint for tabs and unquoted IPv6 addresses).
 *
 * @example
 * ```ts
 * import { parseYamlConfig } from "@llama/core";
 * const root = parseYamlConfig("interval: 30\n", "scraper.yaml");
 * console.assert(root.fields(["interval"], "a map").get("interval")?.number({ min: 1, max: 60 }) === 30);
 * ```
 */
export function parseYamlConfig(text: string, file?: string): ConfigNode {
  return ConfigNode.parse(text, file);
}

/**
 * A syntax error, worded by the `yaml` package (why: see _yaml_tree.ts), with a hint for the most
 * common mistakes; js-yaml's own if only it objects.
 */
function syntaxError(text: string, source: Source, error: unknown): ConfigError {
  const document = parseDocument(text, { prettyErrors: false, uniqueKeys: false });
  const first = document.errors[0];
  if (first !== undefined) {
    const { line, col } = linePosition(source, first.pos[0]);
    return new ConfigError(
      `invalid YAML: ${first.message}${yamlHint(first.code, text, first.pos[0])}`,
      { file: source.file, line, column: col, cause: error },
    );
  }
  const mark = (error as { mark?: { position: number } }).mark;
  const { line, col } = linePosition(source, mark?.position ?? 0);
  const reason = (error as { reason?: string }).reason ?? String(error);
  return new ConfigError(`invalid YAML: ${reason}`, {
    file: source.file,
    line,
    column: col,
    cause: error,
  });
}

/** What to write instead, for the YAML mistakes people make most in these configs. */
function yamlHint(code: string, text: string, offset: number): string {
  if (code === "TAB_AS_INDENT") return "; indent with spaces";
  if (text.startsWith("::", offset)) return '; quote IPv6 addresses that start with ":", like "::"';
  return "";
}

/**
 * A YAML node with its path inside the document, and readers that throw `ConfigError`s naming
 * the file, line, column and path.
 */
export class ConfigNode {
  /** The YAML node, or null for an absent value. */
  private readonly node: YamlNode | null;
  /** Path inside the config, such as `outputs[1].options.url`. */
  readonly path: string;
  readonly #source: Source;
  readonly #offset: number;

  /** Parses YAML text into the node for its root; see `parseYamlConfig`. */
  static parse(text: string, file?: string): ConfigNode {
    // js-yaml drops a byte order mark, and its offsets then count from after it.
    if (text.startsWith("\ufeff")) text = text.slice(1);
    const source = { file, lineStarts: lineStarts(text), text };
    let root: YamlNode | null;
    try {
      root = parseYamlTree(text);
    } catch (error) {
      throw syntaxError(text, source, error);
    }
    return new ConfigNode(root, "", source, 0);
  }

  /** Wraps a node; `offset` locates it when it has no position of its own (an absent value). */
  private constructor(node: YamlNode | null, path: string, source: Source, offset: number) {
    this.node = node === null || node.empty ? null : node;
    this.path = path;
    this.#source = source;
    this.#offset = this.node?.start ?? offset;
  }

  /** A config error located at this node. */
  error(detail: string): ConfigError {
    const { line, col } = linePosition(this.#source, this.#offset);
    return new ConfigError(detail, { file: this.#source.file, path: this.path, line, column: col });
  }

  /** Path, line and column of this node. */
  location(): { path: string; line: number; column: number } {
    const { line, col } = linePosition(this.#source, this.#offset);
    return { path: this.path, line, column: col };
  }

  /** What this node holds, for "got …" in messages. */
  describe(): string {
    if (this.node === null) return "nothing";
    if (this.node.kind === "map") return "a map";
    if (this.node.kind === "seq") return "a list";
    if (this.node.kind === "scalar") {
      const value = this.node.value;
      if (value === null) return "nothing";
      // JSON.stringify shows YAML's .inf and .nan as null: quote what was written instead.
      if (typeof value === "number" && !Number.isFinite(value)) return this.#writtenNumber(value);
      return JSON.stringify(value);
    }
    return "an alias";
  }

  /** How a non-finite number was written (`.inf`, `-.Inf`, `.NaN`, …), from the text at this node. */
  #writtenNumber(value: number): string {
    const written = /^[-+]?\.(?:inf|Inf|INF|nan|NaN|NAN)\b/.exec(
      this.#source.text.slice(this.#offset, this.#offset + 8),
    );
    return written?.[0] ?? (Number.isNaN(value) ? ".nan" : value > 0 ? ".inf" : "-.inf");
  }

  /** Whether the value is absent or null. */
  get isMissing(): boolean {
    return this.node === null || (this.node.kind === "scalar" && this.node.value === null);
  }

  /**
   * The entries of a map, in order, as key, value and the key's own node (errors about a key
   * point at the key, not its value); throws unless this is a map, or at a repeated key.
   */
  entries(expected: string): [string, ConfigNode, ConfigNode][] {
    if (this.node?.kind !== "map") {
      throw this.error(`expected ${expected}, got ${this.describe()}`);
    }
    // Duplicates are found here rather than by the YAML parser so the error can name the path.
    const seen = new Map<string, ConfigNode>();
    return this.node.entries.map(([keyYaml, valueYaml]) => {
      const key = keyYaml.kind === "scalar" ? String(keyYaml.value) : JSON.stringify(keyYaml.value);
      const keyOffset = keyYaml.start;
      const path = join(this.path, key);
      const keyNode = new ConfigNode(keyYaml, path, this.#source, keyOffset);
      const first = seen.get(key);
      if (first !== undefined) {
        const { line, column } = first.location();
        throw keyNode.error(
          `duplicate key "${key}", first given at line ${line}, column ${column}; ` +
            `a key may appear only once in a map`,
        );
      }
      seen.set(key, keyNode);
      return [
        key,
        new ConfigNode(valueYaml, path, this.#source, keyOffset),
        keyNode,
      ];
    });
  }

  /** The items of a list; throws unless this is a list. */
  items(expected: string): ConfigNode[] {
    if (this.node?.kind !== "seq") {
      throw this.error(`expected ${expected}, got ${this.describe()}`);
    }
    return this.node.items.map((item, index) =>
      new ConfigNode(item, `${this.path}[${index}]`, this.#source, this.#offset)
    );
  }

  /** The plain JavaScript value of this node (maps become objects, lists arrays). */
  value(): unknown {
    return this.node === null ? undefined : this.node.value;
  }

  /**
   * The node at `path` below this one (`options.url`, `targets[2]`), or the deepest one that
   * exists on the way, to locate an error that a plugin reported by path.
   */
  find(path: string): ConfigNode {
    return this.#walk(path.match(/[^.[\]"]+|\[\d+\]|"[^"]*"/g) ?? [], 0);
  }

  #walk(parts: string[], index: number): ConfigNode {
    if (index === parts.length) return this;
    const part = parts[index];
    let next: ConfigNode | undefined;
    if (part.startsWith("[") && this.node?.kind === "seq") {
      next = this.items("a list")[Number(part.slice(1, -1))];
    } else if (this.node?.kind === "map") {
      const key = part.replace(/^"|"$/g, "");
      next = this.entries("a map").find(([name]) => name === key)?.[1];
    }
    return next === undefined || next.node === null ? this : next.#walk(parts, index + 1);
  }

  /** A map's keys checked against `allowed`, then each value by name. */
  fields(allowed: readonly string[], expected: string): Map<string, ConfigNode> {
    const fields = new Map<string, ConfigNode>();
    for (const [key, value, keyNode] of this.entries(expected)) {
      if (!allowed.includes(key)) {
        const hint = closest(key, allowed);
        throw keyNode.error(
          `unknown key "${key}"${hint === undefined ? "" : ` (did you mean "${hint}"?)`}; ` +
            `expected one of ${allowed.join(", ")}`,
        );
      }
      fields.set(key, value);
    }
    return fields;
  }

  /** A scalar's value. */
  scalar(): unknown {
    return this.node?.kind === "scalar" ? this.node.value : undefined;
  }

  /** A number in `min..max` (whole if `integer`). */
  number(options: { min: number; max: number; integer?: boolean; unit?: string }): number {
    const value = this.scalar();
    const what = options.integer ? "a whole number" : "a number";
    const unit = options.unit === undefined ? "" : ` (${options.unit})`;
    if (typeof value !== "number" || !Number.isFinite(value)) {
      throw this.error(
        `expected ${what}${unit} from ${options.min} to ${options.max}, got ${this.describe()}`,
      );
    }
    if (
      (options.integer && !Number.isInteger(value)) || value < options.min || value > options.max
    ) {
      throw this.error(
        `expected ${what}${unit} from ${options.min} to ${options.max}, got ${value}`,
      );
    }
    return value;
  }

  /** A positive number (greater than 0). */
  positive(unit: string): number {
    const value = this.scalar();
    if (typeof value !== "number" || !Number.isFinite(value) || value <= 0) {
      throw this.error(`expected a positive number (${unit}), got ${this.describe()}`);
    }
    return value;
  }

  /** A non-empty string (numbers and booleans are written as text, as YAML users expect). */
  text(expected = "a string"): string {
    const value = this.scalar();
    if (typeof value === "string" && value !== "") return value;
    if (typeof value === "number" && !Number.isFinite(value)) return this.#writtenNumber(value);
    if (typeof value === "number" || typeof value === "boolean") return String(value);
    throw this.error(`expected ${expected}, got ${this.describe()}`);
  }
}

function join(path: string, key: string): string {
  const part = /^[A-Za-z_][A-Za-z0-9_-]*$/.test(key) ? key : `"${key}"`;
  return path === "" ? part : `${path}.${part}`;
}

/** The allowed word nearest to a typo, if it is near enough to be the one meant. */
function closest(word: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Math.max(2, Math.floor(word.length / 3)) + 1;
  for (const candidate of candidates) {
    const distance = editDistance(word, candidate);
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  return best;
}

function editDistance(a: string, b: string): number {
  const previous = Array.from({ length: b.length + 1 }, (_, index) => index);
  for (let i = 1; i <= a.length; i++) {
    let diagonal = previous[0];
    previous[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const above = previous[j];
      previous[j] = Math.min(
        previous[j] + 1,
        previous[j - 1] + 1,
        diagonal + (a[i - 1] === b[j - 1] ? 0 : 1),
      );
      diagonal = above;
    }
  }
  return previous[b.length];
}
