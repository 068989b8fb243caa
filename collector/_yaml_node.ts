// Reading a parsed YAML document with its positions, so every config error can name the file,
// line, column and path of the value at fault.
import { isMap, isScalar, isSeq, type LineCounter, type Node, type Pair } from "yaml";
import { ConfigError } from "@llama/core";

/** Where a config came from, shared by every node read from it. */
export interface Source {
  file: string | undefined;
  lines: LineCounter;
}

/** A YAML node with its path inside the document. */
export class ConfigNode {
  readonly node: Node | null;
  readonly path: string;
  readonly #source: Source;
  readonly #offset: number;

  constructor(node: Node | null, path: string, source: Source, offset: number) {
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
