// Starting llama programs as real subprocesses in tests.

/** The repository root. */
export const ROOT = new URL("../", import.meta.url);

/** A program started by `startProgram`. */
export interface RunningProgram extends AsyncDisposable {
  /** The child process. */
  child: Deno.ChildProcess;
  /** The ready pattern's match. */
  ready: RegExpExecArray;
  /** Everything written to stderr so far. */
  stderr(): string;
  /** Everything written to stdout so far. */
  stdout(): string;
  /** Resolves to stdout lines as they arrive (for streaming programs). */
  waitForStdout(pattern: RegExp, timeoutMs?: number): Promise<RegExpExecArray>;
  /** Sends a signal and waits for the exit status. */
  stop(signal?: Deno.Signal): Promise<Deno.CommandStatus>;
}

/**
 * Runs `deno run -A <module> <args>` and waits until stderr matches `readyPattern`. `wrap` is a
 * command prefix, such as `["ip", "netns", "exec", NAME]` to run the program in a namespace.
 */
export async function startProgram(
  module: string,
  args: string[],
  options: {
    readyPattern: RegExp;
    timeoutMs?: number;
    denoArgs?: string[];
    env?: Record<string, string>;
    wrap?: string[];
  },
): Promise<RunningProgram> {
  const [program, ...prefix] = [...(options.wrap ?? []), Deno.execPath()];
  // The scraper keeps its points under $XDG_STATE_HOME unless told otherwise: each program a
  // test starts gets its own (removed when it stops), never the user's, nor another test's.
  const state =
    options.env?.XDG_STATE_HOME === undefined && options.env?.STATE_DIRECTORY === undefined
      ? await Deno.makeTempDir({ prefix: "llama-test-state-" })
      : undefined;
  const child = new Deno.Command(program, {
    args: [...prefix, "run", "-A", ...(options.denoArgs ?? []), module, ...args],
    cwd: ROOT,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    env: {
      NO_COLOR: "1",
      ...(state === undefined ? {} : { XDG_STATE_HOME: state }),
      ...options.env,
    },
  }).spawn();
  const removeState = () =>
    state === undefined
      ? Promise.resolve()
      : Deno.remove(state, { recursive: true }).catch(() => {});
  let stderr = "";
  let stdout = "";
  const waiters = new Set<() => void>();
  const pump = async (stream: ReadableStream<Uint8Array>, append: (text: string) => void) => {
    for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
      append(chunk);
      for (const waiter of waiters) waiter();
    }
  };
  const pumps = Promise.all([
    pump(child.stderr, (text) => (stderr += text)),
    pump(child.stdout, (text) => (stdout += text)),
  ]);
  const waitFor = (read: () => string, pattern: RegExp, timeoutMs: number) =>
    new Promise<RegExpExecArray>((resolve, reject) => {
      const check = () => {
        const match = pattern.exec(read());
        if (match === null) return;
        cleanup();
        resolve(match);
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(
          new Error(`Timed out waiting for ${pattern}; stderr:\n${stderr}\nstdout:\n${stdout}`),
        );
      }, timeoutMs);
      const cleanup = () => {
        clearTimeout(timer);
        waiters.delete(check);
      };
      waiters.add(check);
      child.status.then(() => setTimeout(check, 50));
      check();
    });
  let ready: RegExpExecArray;
  try {
    ready = await waitFor(() => stderr, options.readyPattern, options.timeoutMs ?? 20_000);
  } catch (error) {
    try {
      child.kill("SIGKILL");
    } catch { /* already gone */ }
    await child.status;
    await pumps;
    await removeState();
    throw error;
  }
  let stopped: Promise<Deno.CommandStatus> | undefined;
  const stop = (signal: Deno.Signal = "SIGTERM") => {
    stopped ??= (async () => {
      try {
        child.kill(signal);
      } catch { /* already exited */ }
      const status = await child.status;
      await pumps;
      await removeState();
      return status;
    })();
    return stopped;
  };
  return {
    child,
    ready,
    stderr: () => stderr,
    stdout: () => stdout,
    waitForStdout: (pattern, timeoutMs = 20_000) => waitFor(() => stdout, pattern, timeoutMs),
    stop,
    [Symbol.asyncDispose]: async () => {
      await stop("SIGKILL");
    },
  };
}

/** Runs a program to completion and returns its exit code and output. */
export async function runProgram(
  module: string,
  args: string[],
  options: { denoArgs?: string[]; cwd?: string | URL } = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  // Its own $XDG_STATE_HOME, as `startProgram` gives.
  const state = await Deno.makeTempDir({ prefix: "llama-test-state-" });
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["run", ...(options.denoArgs ?? ["-A"]), module, ...args],
    cwd: options.cwd ?? ROOT,
    stdin: "null",
    env: { NO_COLOR: "1", XDG_STATE_HOME: state },
  }).output().finally(() => Deno.remove(state, { recursive: true }).catch(() => {}));
  const decoder = new TextDecoder();
  return {
    code: output.code,
    stdout: decoder.decode(output.stdout),
    stderr: decoder.decode(output.stderr),
  };
}
