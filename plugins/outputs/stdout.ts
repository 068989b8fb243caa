import type { OutputPlugin, Point } from "../contract.ts";
import { PLUGIN_CONTRACT_VERSION } from "../contract.ts";
import { OptionsReader } from "../options.ts";
import { PluginError } from "@llama/core";
import { lineProtocolBatchProblem, type Precision, toLineProtocol } from "../line_protocol.ts";

/** Options of the `stdout` output. */
export interface StdoutOptions {
  /** `line` (InfluxDB line protocol) or `json` (one object per line). */
  format: "line" | "json";
  /** Timestamp precision of line protocol. */
  precision: Precision;
}

/**
 * Writes points to standard output, one line per point, flushed per batch, so the scraper can
 * feed another program through a pipe (its logs go to standard error).
 */
export const stdoutOutput: OutputPlugin<StdoutOptions> = {
  kind: "output",
  name: "stdout",
  contract: PLUGIN_CONTRACT_VERSION,
  parseOptions(raw, path) {
    const options = new OptionsReader(raw, path, "stdout");
    const parsed = {
      format: options.oneOf("format", ["line", "json"] as const, "line"),
      precision: options.oneOf("precision", ["s", "ms"] as const, "s"),
    };
    options.done();
    return parsed;
  },
  create(options, context) {
    const encoder = new TextEncoder();
    return {
      async write(points) {
        // A line break in a tag would print a second, made-up point into the pipe.
        const problem = options.format === "line" ? lineProtocolBatchProblem(points) : undefined;
        if (problem !== undefined) {
          throw new PluginError(context.name, `cannot write ${problem}`, { retryable: false });
        }
        const text = options.format === "line"
          ? toLineProtocol(points, options.precision)
          : toJsonLines(points);
        if (text === "") return;
        await writeAll(Deno.stdout, encoder.encode(text + "\n"), context.name);
      },
    };
  },
};

/** One JSON object per point, with the time as RFC 3339. */
export function toJsonLines(points: readonly Point[]): string {
  return points.map((point) =>
    JSON.stringify({
      measurement: point.measurement,
      tags: point.tags,
      fields: point.fields,
      time: new Date(point.time).toISOString(),
    })
  ).join("\n");
}

/**
 * Writes every byte, however many calls it takes. A reader that closed the pipe (`… | head`)
 * is a `PluginError` of `plugin` with `closed: true`: no retry can reach it.
 */
export async function writeAll(
  writer: { write(bytes: Uint8Array): Promise<number> },
  bytes: Uint8Array,
  plugin = "stdout",
): Promise<void> {
  let offset = 0;
  try {
    while (offset < bytes.length) offset += await writer.write(bytes.subarray(offset));
  } catch (error) {
    if (!(error instanceof Deno.errors.BrokenPipe)) throw error;
    throw new PluginError(plugin, "the reader of standard output closed it (broken pipe)", {
      closed: true,
      cause: error,
    });
  }
}
