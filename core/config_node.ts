/**
 * Reading a YAML config with its positions, so every config error can name the file, line,
 * column and path of the value at fault.
 *
 * @module
 */
import { isMap, isScalar, isSeq, LineCounter, type Node, type Pair, parseDocument } from "yaml";
import { ConfigError } from "./errors.ts";

/** Where a config came from, shared by every node read from it. */
interface Source {
  /** The file name for messages. */
  file: string | undefined;
  /** Maps offsets to lines and columns. */
  lines: LineCounter;
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
  private readonly node: Node | null;
  /** Path inside the config, such as `outputs[1].options.url`. */
  readonly path: string;
  readonly #source: Source;
  readonly #offset: number;

  /** Parses YAML text into the node for its root; see `parseYamlConfig`. */
  static parse(text: string, file?: string): ConfigNode {
    const lines = new LineCounter();
    const document = parseDocument(text, {
      lineCounter: lines,
      prettyErrors: false,
      // Repeated keys are reported by ConfigNode.entries, which knows their path.
      uniqueKeys: false,
    });
    if (document.errors.length > 0) {
      const first = document.errors[0];
      const { line, col } = lines.linePos(first.pos[0]);
      throw new ConfigError(
        `invalid YAML: ${first.message}${yamlHint(first.code, text, first.pos[0])}`,
        {
          file,
          line,
          column: col,
        },
      );
    }
    return new ConfigNode(document.contents, "", { file, lines }, 0);
  }

  /** Wraps a node; `offset` locates it when it has no range of its own (an absent value). */
  private constructor(node: Node | null, path: string, source: Source, offset: number) {
    this.node = node;
    this.path = path;
    this.#source = source;
    this.#offset = node?.range?.[0] ?? offset;
  }

  /** A config error located at this node. */
  error(detail: string): ConfigError {
    const { line, col } = this.#source.lines.linePos(this.#offset);
    return new ConfigError(detail, { file: this.#source.file, path: this.path, line, column: col });
  }

  /** Path, line and column of this node. */
  location(): { path: string; line: number; column: number } {
    const { line, col } = this.#source.lines.linePos(this.#offset);
    return { path: this.path, line, column: col };
  }

  /** What this node holds, for "got …" in messages. */
  describe(): string {
    if (this.node === null) return "nothing";
    if (isMap(this.node)) return "a map";
    if (isSeq(this.node)) return "a list";
    if (isScalar(this.node)) {
      return this.node.value === null ? "nothing" : JSON.stringify(this.node.value);
    }
    return "an alias";
  }

  /** Whether the value is absent or null. */
  get isMissing(): boolean {
    return this.node === null || (isScalar(this.node) && this.node.value === null);
  }

  /**
   * The entries of a map, in order, as key, value and the key's own node (errors about a key
   * point at the key, not its value); throws unless this is a map, or at a repeated key.
   */
  entries(expected: string): [string, ConfigNode, ConfigNode][] {
    if (!isMap(this.node)) throw this.error(`expected ${expected}, got ${this.describe()}`);
    // Duplicates are found here rather than by the YAML parser so the error can name the path.
    const seen = new Map<string, ConfigNode>();
    return this.node.items.map((pair: Pair) => {
      const key = isScalar(pair.key) ? String(pair.key.value) : String(pair.key);
      const keyOffset = (pair.key as Node | null)?.range?.[0] ?? this.#offset;
      const path = join(this.path, key);
      const keyNode = new ConfigNode(pair.key as Node | null, path, this.#source, keyOffset);
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
        new ConfigNode(pair.value as Node | null, path, this.#source, keyOffset),
        keyNode,
      ];
    });
  }

  /** The items of a list; throws unless this is a list. */
  items(expected: string): ConfigNode[] {
    if (!isSeq(this.node)) throw this.error(`expected ${expected}, got ${this.describe()}`);
    return this.node.items.map((item, index) =>
      new ConfigNode(item as Node | null, `${this.path}[${index}]`, this.#source, this.#offset)
    );
  }

  /** The plain JavaScript value of this node (maps become objects, lists arrays). */
  value(): unknown {
    return this.node === null ? undefined : (this.node as Node & { toJSON(): unknown }).toJSON();
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
    if (part.startsWith("[") && isSeq(this.node)) {
      next = this.items("a list")[Number(part.slice(1, -1))];
    } else if (isMap(this.node)) {
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
    return isScalar(this.node) ? this.node.value : undefined;
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
