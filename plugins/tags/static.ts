import { extname, resolve } from "node:path";
import { ConfigError, type ConfigNode, parseYamlConfig } from "@llama/core";
import type { TagResolverPlugin } from "../contract.ts";
import { PLUGIN_CONTRACT_VERSION } from "../contract.ts";
import { OptionsReader } from "../options.ts";
import { parsePrefix, PrefixTable } from "./_prefix.ts";
import { parseCsvRecord } from "../_csv.ts";
import { lineProtocolTextProblem } from "../line_protocol.ts";

/** Options of the `static` tag resolver. */
export interface StaticTagsOptions {
  /** The file, relative to the config's folder: `.yaml`/`.yml`, `.json` or `.csv`. */
  file: string;
  /** How often to look for changes to the file, in milliseconds. */
  checkEveryMs: number;
}

/**
 * Tags from a file mapping an IP address or a CIDR prefix to tags; the longest matching prefix
 * wins. YAML or JSON: `{"10.1.0.0/16": {region: west}, "10.1.2.3": {hostname: db-1}}`. CSV: a
 * header `address,tag,tag…` and one row per address or prefix. The file is read again when it
 * changes; a version that does not parse is logged and the previous one kept.
 */
export const staticTags: TagResolverPlugin<StaticTagsOptions> = {
  kind: "tags",
  name: "static",
  contract: PLUGIN_CONTRACT_VERSION,
  parseOptions(raw, path) {
    const options = new OptionsReader(raw, path, "static");
    const file = options.required(
      "file",
      "a YAML, JSON or CSV file mapping addresses or prefixes to tags",
    );
    if (![".yaml", ".yml", ".json", ".csv"].includes(extname(file).toLowerCase())) {
      throw new ConfigError(
        `static: expected a .yaml, .yml, .json or .csv file, got ${JSON.stringify(file)}`,
        {
          path: `${path}.file`,
        },
      );
    }
    const parsed = {
      file,
      checkEveryMs: options.number("check_every_ms", { min: 100, max: 3_600_000, fallback: 5000 }),
    };
    options.done();
    return parsed;
  },
  async check(options, context) {
    // What create() reads, read the same way: a file --check passes is one the start can use.
    await readTable(resolve(context.configDirectory, options.file));
  },
  async create(options, context) {
    const path = resolve(context.configDirectory, options.file);
    let table = await readTable(path);
    let modified = versionOf(await Deno.stat(path));
    let checkedAt = Date.now();
    let checking: Promise<void> | undefined;
    let reported: string | undefined;
    const check = async () => {
      try {
        const stat = await Deno.stat(path);
        if (versionOf(stat) === modified) return;
        table = await readTable(path);
        modified = versionOf(stat);
        reported = undefined;
        context.logger.info("Reloaded {file}", { file: path });
      } catch (error) {
        // Tried again at every check (an editor may still be writing), but logged once.
        const message = (error as Error).message;
        if (message === reported) return;
        reported = message;
        context.logger.error("Cannot reload {file}, keeping the tags read before: {error}", {
          file: path,
          error,
        });
      }
    };
    return {
      resolve(address) {
        if (Date.now() - checkedAt >= options.checkEveryMs && checking === undefined) {
          checkedAt = Date.now();
          checking = check().finally(() => (checking = undefined));
        }
        return table.lookup(address) ?? {};
      },
      async [Symbol.asyncDispose]() {
        await checking;
      },
    };
  },
};

/** Reads a tag file into a prefix table; throws `ConfigError` naming the file and entry. */
export async function readTable(path: string): Promise<PrefixTable<Record<string, string>>> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (error) {
    throw new ConfigError(`cannot read: ${(error as Error).message}`, { file: path, cause: error });
  }
  const table = new PrefixTable<Record<string, string>>();
  const add = (
    key: string,
    tags: Record<string, string>,
    where: { path?: string; line?: number; column?: number },
  ) => {
    for (const [name, value] of Object.entries(tags)) {
      // Refused here, with the file and line, rather than point by point by every output.
      const nameProblem = lineProtocolTextProblem(name);
      const valueProblem = value === "" ? undefined : lineProtocolTextProblem(value);
      if (nameProblem !== undefined || valueProblem !== undefined) {
        // YAML and JSON name the entry as the error's path; a CSV row only by its line.
        const of = where.path === undefined ? ` of ${JSON.stringify(key)}` : "";
        throw new ConfigError(
          nameProblem !== undefined
            ? `tag name ${JSON.stringify(name)}${of} ${nameProblem}`
            : `tag ${name}${of}: the value ${JSON.stringify(value)} ${valueProblem}`,
          { file: path, ...where },
        );
      }
    }
    const prefix = parsePrefix(key);
    if (prefix === undefined) {
      throw new ConfigError(`expected an IP address or CIDR prefix, got ${JSON.stringify(key)}`, {
        file: path,
        ...where,
      });
    }
    table.set(prefix, tags);
  };
  if (extname(path).toLowerCase() === ".csv") {
    // Numbered before blank lines are dropped, so that errors point at the right line.
    const rows = text.split(/\r?\n/).map((line, index) => ({ line: index + 1, text: line }))
      .filter((row) => row.text.trim() !== "").map((row) => ({
        ...row,
        values: parseCsvRecord(row.text).map((value) => value.trim()),
      }));
    const [header, ...data] = rows;
    if (header === undefined || header.values.length < 2) {
      throw new ConfigError("expected a header row: address,tag,tag…", {
        file: path,
        line: header?.line ?? 1,
      });
    }
    for (const row of data) {
      const tags: Record<string, string> = {};
      header.values.slice(1).forEach((name, column) => {
        const value = row.values[column + 1];
        if (value !== undefined && value !== "") setOwn(tags, name, value);
      });
      add(row.values[0], tags, { line: row.line });
    }
    return table;
  }
  const entries = extname(path).toLowerCase() === ".json"
    ? jsonEntries(text, path)
    : yamlEntries(text, path);
  for (const [key, value, where] of entries) {
    if (value === null || typeof value !== "object" || Array.isArray(value)) {
      throw new ConfigError(`expected a map of tags for ${JSON.stringify(key)}`, {
        file: path,
        ...where,
      });
    }
    const tags: Record<string, string> = {};
    for (const [name, tag] of Object.entries(value)) {
      if (typeof tag !== "string" && typeof tag !== "number" && typeof tag !== "boolean") {
        throw new ConfigError(
          `expected text for tag ${JSON.stringify(name)}, got ${
            tag === null ? "nothing" : Array.isArray(tag) ? "a list" : "a map"
          }`,
          { file: path, ...where },
        );
      }
      setOwn(tags, name, String(tag));
    }
    add(key, tags, where);
  }
  return table;
}

/** Where an entry of a tag file is: its key, and its line and column when YAML tells them. */
type Where = { path: string; line?: number; column?: number };

function jsonEntries(text: string, file: string): [string, unknown, Where][] {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (error) {
    throw new ConfigError(`cannot parse: ${(error as Error).message}`, { file, cause: error });
  }
  if (data === null || typeof data !== "object" || Array.isArray(data)) {
    throw new ConfigError("expected a map of address or prefix to tags", { file });
  }
  return Object.entries(data).map(([key, value]) => [key, value, { path: key }]);
}

/** A YAML tag file's entries, read as configs are (a repeated key is an error, with its line). */
function yamlEntries(text: string, file: string): [string, unknown, Where][] {
  let root: ConfigNode;
  try {
    root = parseYamlConfig(text, file);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    throw new ConfigError(`cannot parse: ${error.detail}`, {
      file,
      line: error.line,
      column: error.column,
      cause: error,
    });
  }
  if (root.isMissing) {
    throw new ConfigError("expected a map of address or prefix to tags", { file });
  }
  return root.entries("a map of address or prefix to tags").map(([key, value, keyNode]) => {
    // Only for its check of repeated tag names; the value itself is read below.
    if (value.describe() === "a map") value.entries("a map of tags");
    const { line, column } = keyNode.location();
    return [key, value.value() ?? null, { path: key, line, column }];
  });
}

/** Sets `tags[name]` as an own property, even for `__proto__` (which `=` would not set). */
function setOwn(tags: Record<string, string>, name: string, value: string): void {
  Object.defineProperty(tags, name, {
    value,
    enumerable: true,
    writable: true,
    configurable: true,
  });
}

/**
 * What tells one version of the file from the next: its modification time alone does not (two
 * writes within a millisecond), its inode changes when an editor renames a new file into place.
 */
function versionOf(stat: Deno.FileInfo): string {
  return `${stat.mtime?.getTime()}|${stat.size}|${stat.ino}`;
}
