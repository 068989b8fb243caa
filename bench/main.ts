/**
 * Runs a benchmark: `deno task bench <name> [flags]`, for example `deno task bench reflector`.
 *
 * Each benchmark is a `bench/<name>_bench.ts` module whose default export is a `Benchmark`;
 * adding one takes that file and one entry in `BENCHMARKS`. Results go to stdout and, unless the
 * benchmark says otherwise, are appended to `bench/RESULTS.md`.
 *
 * `--note TEXT` (anywhere after the name, any number of times) adds a line to the recorded
 * section, such as what else the machine was doing; the load average at the start and the end
 * of the run, and the highest one-minute load average seen during it, are recorded anyway.
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
  readLoadAverage,
} from "./_tools.ts";

const BENCHMARKS: Record<string, () => Promise<{ default: Benchmark }>> = {
  collector: () => import("./collector_bench.ts"),
  fleet: () => import("./fleet_bench.ts"),
  probe_auth: () => import("./probe_auth_bench.ts"),
  reflector: () => import("./reflector_bench.ts"),
  scraper: () => import("./scraper_bench.ts"),
  stamp: () => import("./stamp_bench.ts"),
  trace_accuracy: () => import("./trace_accuracy_bench.ts"),
  trace_cost: () => import("./trace_cost_bench.ts"),
};

const REPOSITORY_ROOT = fileURLToPath(new URL("../", import.meta.url));
const RESULTS_FILE = fileURLToPath(new URL("./RESULTS.md", import.meta.url));

/** Runs the benchmark named by `args[0]` with the rest of `args`; returns the exit code. */
export async function main(args: readonly string[]): Promise<number> {
  const [name, ...others] = args;
  let notes: string[];
  let rest: string[];
  try {
    ({ notes, rest } = takeNotes(others));
  } catch (error) {
    console.error(
      `${(error as Error).message}\nUsage: deno task bench <name> [--note TEXT] [flags]`,
    );
    return 2;
  }
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
    const loadAtStart = await readLoadAverage();
    await using load = watchLoad();
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
        command: ["deno task bench", name, ...rest.map(quoteArgument)].join(" "),
        notes: [
          ...notes,
          `Load average (1 / 5 / 15 min) at the start: ${loadAtStart}; at the end: ` +
          `${await readLoadAverage()}; highest one-minute load during the run: ` +
          `${load.highest().toFixed(2)} (the benchmark's own processes count in it).`,
        ],
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

/** Samples the one-minute load average every few seconds until disposed. */
function watchLoad(): AsyncDisposable & { highest(): number } {
  let highest = 0;
  const sample = async () => {
    const text = await Deno.readTextFile("/proc/loadavg").catch(() => "");
    const value = Number(text.split(" ")[0]);
    if (Number.isFinite(value)) highest = Math.max(highest, value);
  };
  sample();
  const timer = setInterval(sample, 5_000);
  return {
    highest: () => highest,
    [Symbol.asyncDispose]: async () => {
      clearInterval(timer);
      await sample();
    },
  };
}

/** Takes every `--note TEXT` and `--note=TEXT` out of `args`. */
function takeNotes(args: readonly string[]): { notes: string[]; rest: string[] } {
  const notes: string[] = [];
  const rest: string[] = [];
  for (let index = 0; index < args.length; index++) {
    const arg = args[index];
    if (arg === "--note") {
      if (index + 1 >= args.length) throw new Error("--note needs a text");
      notes.push(args[++index]);
    } else if (arg.startsWith("--note=")) {
      notes.push(arg.slice("--note=".length));
    } else {
      rest.push(arg);
    }
  }
  return { notes, rest };
}

function quoteArgument(arg: string): string {
  return /^[\w./:=@,-]+$/.test(arg) ? arg : `'${arg.replaceAll("'", "'\\''")}'`;
}

if (import.meta.main) {
  Deno.exit(await main(Deno.args));
}
