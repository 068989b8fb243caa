// Helpers for the plugins' tests: a real LogTape setup that records, and a plugin context.
import { configure, getLogger, type LogRecord, reset } from "@logtape/logtape";
import type { PluginContext } from "./contract.ts";

/** Log records of every `llama` logger, recorded while the returned value is not disposed. */
export async function recordLogs(): Promise<LogRecord[] & AsyncDisposable> {
  const records: LogRecord[] = [];
  await configure({
    reset: true,
    sinks: { memory: (record) => records.push(record) },
    loggers: [
      { category: ["logtape", "meta"], lowestLevel: "error", sinks: [] },
      { category: ["llama"], lowestLevel: "debug", sinks: ["memory"] },
    ],
  });
  return Object.assign(records, { [Symbol.asyncDispose]: () => reset() });
}

/** The text of a record, its properties filled in. */
export function renderRecord(record: LogRecord): string {
  return record.message.map((part) =>
    typeof part === "string" ? part : part instanceof Error ? part.message : String(part)
  ).join("");
}

/** A context like the scraper's for an instance named `name`. */
export function testContext(
  name: string,
  overrides: Partial<PluginContext> = {},
): PluginContext {
  return {
    name,
    logger: getLogger(["llama", "plugin", name]).with({ plugin: name }),
    configDirectory: Deno.cwd(),
    dataDirectory: undefined,
    signal: new AbortController().signal,
    ...overrides,
  };
}

/** Waits until `condition()` holds, or fails after `timeoutMs`. */
export async function waitFor(
  condition: () => boolean | Promise<boolean>,
  what: string,
  timeoutMs = 5000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
