/**
 * A pid file: the running program's process id in a file, so that a reload signal reaches this
 * one process (`kill -HUP "$(cat FILE)"`) even where several of the same program run.
 *
 * @module
 */
/**
 * Writes `Deno.pid` and a newline to `path` (replacing what it held), and removes the file when
 * disposed, unless another process wrote its own pid there since. Throws an `Error` naming the
 * flag and the file when it cannot be written.
 *
 * @example
 * ```ts ignore
 * import { writePidFile } from "@llama/core";
 * await using _pidFile = await writePidFile("/run/llama/collector.pid");
 * ```
 */
export async function writePidFile(path: string): Promise<AsyncDisposable> {
  const text = `${Deno.pid}\n`;
  try {
    await Deno.writeTextFile(path, text);
  } catch (error) {
    const hint = error instanceof Deno.errors.NotCapable
      ? ` (run deno with --allow-write=${path})`
      : "";
    throw new Error(`--pid-file: cannot write ${path}: ${(error as Error).message}${hint}`, {
      cause: error,
    });
  }
  return {
    async [Symbol.asyncDispose]() {
      try {
        if ((await Deno.readTextFile(path)) === text) await Deno.remove(path);
      } catch {
        // Gone already, or no longer readable: nothing of ours to remove.
      }
    },
  };
}
