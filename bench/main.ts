/**
 * Runs a benchmark: `deno task bench <name> [flags]`, for example `deno task bench reflector`.
 *
 * Each benchmark is a `bench/<name>_bench.ts` module whose default export is a `Benchmark`;
 * adding one takes that file and one entry in `BENCHMARKS`. Results go to stdout and, unless the
 * benchmark says otherwise, are appended to `bench/RESULTS.md`.
 *
 * Exit codes: 0 on success, 1 when a run fails, 2 for an unknown benchmark, bad flags or a
 * missing prerequisite (no numbers are made up), 130 when interrupted.
 *
 * @module
 */
import { fileURLToPath } from "node:url";
import { resolve } from "node:path";
import { UsageError } from "@llama/core";
import {
  appendResults,
  type Benchmark,
  describeMachine,
  formatDuration,
  formatMachine,
  PrerequisiteError,
} from "./_tools.ts";

const BENCHMARKS: Record<string, () => Promise<{ default: Benchmark }>> = {
  collector: () => import("./collector_bench.ts"),
  reflector: () => import("./reflector_bench.ts"),
};

const REPOSITORY_ROOT = fileURLToPath(new URL("../", import.meta.url));
const RESULTS_FILE = fileURLToPath(new URL("./RESULTS.md", import.meta.url));

/** Runs the benchmark named by `args[0]` with the rest of `args`; returns the exit code. */
export async function main(args: readonly string[]): Promise<number> {
  const [name, ...rest] = args;
  if (name === undefined || !Object.hasOwn(BENCHMARKS, name)) {
    console.error(
      `${name === undefined ? "Name a benchmark" : `Unknown benchmark "${name}"`}. ` +
        `Known: ${Object.keys(BENCHMARKS).join(", ")}.\nUsage: deno task bench <name> [flags]`,
    );
    return 2;
  }
  const benchmark = (await BENCHMARKS[name]()).default;
  if (rest.some((arg) => ["-h", "-help", "--help"].includes(arg))) {
    console.log(`${benchmark.description}\n\n${benchmark.usage}`);
    return 0;
  }

  const stop = new AbortController();
  const signals = ["SIGINT", "SIGTERM"] as const;
  const onSignal = () => stop.abort(new Error("Interrupted"));
  signals.forEach((signal) => Deno.addSignalListener(signal, onSignal));
  try {
    const startedAt = new Date();
    const report = await benchmark.run({
      args: rest,
      repositoryRoot: REPOSITORY_ROOT,
      toolsDirectory: resolve(
        Deno.env.get("LLAMA_TOOLS_DIR") ?? resolve(REPOSITORY_ROOT, "../shared/tools"),
      ),
      progress: (line) => console.error(line),
      signal: stop.signal,
    });
    const durationMilliseconds = Date.now() - startedAt.getTime();
    console.log(`\n${report.summary}`);
    const machine = await describeMachine();
    console.error(`\nTook ${formatDuration(durationMilliseconds)} on ${formatMachine(machine)}.`);
    if (report.record !== undefined) {
      await appendResults(RESULTS_FILE, {
        benchmark: name,
        startedAt,
        durationMilliseconds,
        machine,
        command: ["deno task bench", ...args].join(" "),
        body: report.record,
      });
      console.error(`Appended the results to bench/RESULTS.md.`);
    }
    return 0;
  } catch (error) {
    if (error instanceof UsageError) {
      console.error(`bench ${name}: ${error.message}\n\n${benchmark.usage}`);
      return 2;
    }
    if (error instanceof PrerequisiteError) {
      console.error(`bench ${name}: ${error.message}`);
      return 2;
    }
    if (stop.signal.aborted) {
      console.error(`bench ${name}: interrupted; every process it started has been stopped.`);
      return 130;
    }
    console.error(`bench ${name} failed: ${error instanceof Error ? error.stack : error}`);
    return 1;
  } finally {
    signals.forEach((signal) => Deno.removeSignalListener(signal, onSignal));
  }
}

if (import.meta.main) {
  Deno.exit(await main(Deno.args));
}
