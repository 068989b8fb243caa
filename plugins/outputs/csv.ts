import { resolve } from "node:path";
import { PluginError } from "@llama/core";
import type { OutputPlugin, Point } from "../contract.ts";
import { describePoint } from "../line_protocol.ts";
import { PLUGIN_CONTRACT_VERSION } from "../contract.ts";
import { OptionsReader } from "../options.ts";
import { writeAll } from "./stdout.ts";
import { parseCsvRecord } from "../_csv.ts";

/** Options of the `csv` output. */
export interface CsvOptions {
  /** File to append to (relative to the config's folder), or `-` for standard output. */
  file: string;
  /** Tag columns, in order; by default the tags of the first batch, sorted. */
  tags: string[] | undefined;
  /** Field columns, in order; by default the fields of the first batch, sorted. */
  fields: string[] | undefined;
}

/**
 * Writes points as CSV (RFC 4180: CRLF line ends, fields quoted when they hold a comma, quote or
 * line break). Columns are `time,measurement`, then tags, then fields (each sorted, unless set in
 * the options), fixed by the header, which is written once: appending to an existing file reuses
 * its header. A tag or field the header
 * does not have is left out, with a warning the first time.
 *
 * Text that a spreadsheet would run as a formula (starting with `=`, `+`, `-`, `@`, a tab or a
 * carriage return, as OWASP's "CSV Injection" lists) is written with a single quote in front, and
 * quoted. A point whose tags hold a NUL byte or an empty name is refused for good (the scraper
 * keeps it in the dead-letter file and counts it).
 */
export const csvOutput: OutputPlugin<CsvOptions> = {
  kind: "output",
  name: "csv",
  contract: PLUGIN_CONTRACT_VERSION,
  parseOptions(raw, path) {
    const options = new OptionsReader(raw, path, "csv");
    const parsed = {
      file: options.string("file", "-")!,
      tags: options.list("tags"),
      fields: options.list("fields"),
    };
    options.done();
    return parsed;
  },
  async create(options, context) {
    const encoder = new TextEncoder();
    const path = options.file === "-" ? undefined : resolve(context.configDirectory, options.file);
    let header = path === undefined ? undefined : await readHeader(path);
    const file = path === undefined
      ? undefined
      : await Deno.open(path, { append: true, create: true });
    const sink = file ?? Deno.stdout;
    const warned = new Set<string>();
    return {
      async write(points) {
        if (points.length === 0) return;
        // Before anything is written, so that a refused batch leaves no part of itself behind.
        for (const point of points) {
          const problem = csvPointProblem(point);
          if (problem !== undefined) {
            throw new PluginError(
              context.name,
              `cannot write ${describePoint(point)}: ${problem}`,
              {
                retryable: false,
              },
            );
          }
        }
        let text = "";
        if (header === undefined) {
          header = [
            ...(options.tags ??
              [...new Set(points.flatMap((point) => Object.keys(point.tags)))].sort()),
            ...(options.fields ??
              [...new Set(points.flatMap((point) => Object.keys(point.fields)))].sort()),
          ];
          text += csvLine(["time", "measurement", ...header.map(neutralized)]);
        }
        const columns = new Set(header);
        for (const point of points) {
          for (const key of [...Object.keys(point.tags), ...Object.keys(point.fields)]) {
            if (!columns.has(key) && !warned.has(key)) {
              warned.add(key);
              context.logger.warn("Column {key} is not in the CSV header; it is left out", { key });
            }
          }
          text += csvLine([
            new Date(point.time).toISOString(),
            neutralized(point.measurement),
            ...header.map((column) =>
              // Own properties only: a column named "constructor" is not Object.prototype's.
              Object.hasOwn(point.tags, column)
                ? neutralized(point.tags[column])
                : Object.hasOwn(point.fields, column)
                ? String(point.fields[column])
                : ""
            ),
          ]);
        }
        await writeAll(sink, encoder.encode(text), context.name);
      },
      [Symbol.asyncDispose]() {
        file?.close();
        return Promise.resolve();
      },
    };
  },
};

/** One CSV record, RFC 4180. */
export function csvLine(values: readonly string[]): string {
  return values.map((value) =>
    // A neutralized cell (see below) is quoted too, as OWASP advises; a negative number is not.
    /[",\r\n]/.test(value) || value.startsWith("'") ? `"${value.replace(/"/g, '""')}"` : value
  ).join(",") + "\r\n";
}

/**
 * What a spreadsheet may take for a formula: the first characters OWASP's "CSV Injection" page
 * lists, their full-width forms, and a single quote (so that one we add can be told from one
 * that was there).
 */
const FORMULA_START = /^[=+\-@\t\r'\uFF1D\uFF0B\uFF0D\uFF20]/;

/**
 * Text as a cell a spreadsheet shows and does not run: a single quote in front of one that
 * starts like a formula (`=cmd|' /C calc'!A0` becomes `'=cmd|' /C calc'!A0`); `csvLine` quotes it.
 */
export function neutralized(text: string): string {
  return FORMULA_START.test(text) ? `'${text}` : text;
}

/** Why a point cannot be a CSV row, or undefined. */
function csvPointProblem(point: Point): string | undefined {
  if (point.measurement.includes("\0")) return "its measurement holds a NUL byte";
  for (const [key, value] of Object.entries(point.tags)) {
    if (key === "") return "it has a tag with an empty name";
    if (key.includes("\0")) return `tag name ${JSON.stringify(key)} holds a NUL byte`;
    if (value.includes("\0")) return `tag ${key}'s value ${JSON.stringify(value)} holds a NUL byte`;
  }
  for (const key of Object.keys(point.fields)) {
    if (key === "") return "it has a field with an empty name";
    if (key.includes("\0")) return `field name ${JSON.stringify(key)} holds a NUL byte`;
  }
  return undefined;
}

/** The columns after `time,measurement` of an existing CSV file's header, or undefined when new. */
async function readHeader(path: string): Promise<string[] | undefined> {
  // Only the first line: the file may have grown over months, past what a string can hold.
  let file: Deno.FsFile;
  try {
    file = await Deno.open(path, { read: true });
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return undefined;
    throw error;
  }
  using _file = file;
  const decoder = new TextDecoder();
  const chunk = new Uint8Array(64 * 1024);
  let text = "";
  for (;;) {
    const count = await file.read(chunk);
    if (count === null) break;
    text += decoder.decode(chunk.subarray(0, count), { stream: true });
    if (/[\r\n]/.test(text.replace(/"[^"]*"/g, ""))) break;
  }
  const first = parseCsvRecord(text);
  // Column names were written neutralized: read back as the tag names they are.
  return first.length === 0
    ? undefined
    : first.slice(2).map((name) =>
      FORMULA_START.test(name.slice(1)) && name.startsWith("'") ? name.slice(1) : name
    );
}
