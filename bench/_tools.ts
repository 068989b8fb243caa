/**
 * Helpers shared by the benchmarks: the benchmark contract, building the reference tools of
 * `shared/tools`, running `probeblast`, starting a server and waiting for its ready line, and
 * describing the machine and recording results.
 *
 * @module
 */

import { type FlagSpec, parseFlags, UsageError } from "@llama/core";

/** What `bench/main.ts` hands to a benchmark. */
export interface BenchmarkContext {
  /** The arguments after the benchmark's name. */
  args: readonly string[];
  /** The repository root, as a path. */
  repositoryRoot: string;
  /** The folder holding the reference tools' sources (`shared/tools` or `$LLAMA_TOOLS_DIR`). */
  toolsDirectory: string;
  /** Writes one progress line for the person waiting (stderr). */
  progress: (line: string) => void;
  /** Aborted on SIGINT or SIGTERM; every process a benchmark starts must honour it. */
  signal: AbortSignal;
}

/** What a benchmark produces. */
export interface BenchmarkReport {
  /** A plain-text summary for the terminal. */
  summary: string;
  /** Markdown for `bench/RESULTS.md`, or `undefined` when this run should not be recorded. */
  record?: string;
}

/** A benchmark: the default export of each `bench/*_bench.ts` module. */
export interface Benchmark {
  /** One line saying what it measures. */
  description: string;
  /** Its usage text, printed for `--help` and after a usage error. */
  usage: string;
  /** Runs it; throws `UsageError` for bad flags and `PrerequisiteError` for missing tools. */
  run(context: BenchmarkContext): Promise<BenchmarkReport>;
}

/** The flags every benchmark takes: `--quick` (described per benchmark) and `--record`. */
export function planFlags(quickDescription: string) {
  return {
    quick: { type: "boolean", description: quickDescription },
    record: {
      type: "boolean",
      description: "With --quick, still append the results to bench/RESULTS.md",
    },
  } as const satisfies Record<string, FlagSpec>;
}

/**
 * Reads `planFlags` from the benchmark's arguments: the plan to run (`quick` with `--quick`) and
 * whether its results go to bench/RESULTS.md (always, except a `--quick` run without `--record`).
 * Throws `UsageError` for anything else.
 */
export function choosePlan<P>(
  context: BenchmarkContext,
  flags: ReturnType<typeof planFlags>,
  plans: { full: P; quick: P },
): { plan: P; record: boolean } {
  const { values, positionals } = parseFlags(context.args, flags);
  if (positionals.length > 0) throw new UsageError(`Unexpected argument "${positionals[0]}"`);
  return {
    plan: values.quick ? plans.quick : plans.full,
    record: !values.quick || values.record,
  };
}

/** Something a benchmark needs is missing from this machine: no numbers can be produced. */
export class PrerequisiteError extends Error {
  /** Creates a prerequisite error. */
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "PrerequisiteError";
  }
}

/** Resolves after `milliseconds`, or rejects as soon as `signal` is aborted. */
export function delay(milliseconds: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, milliseconds);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

/** The median of the numbers among `values` (the mean of the middle two for an even count); null for none. */
export function median(values: readonly (number | null | undefined)[]): number | null {
  const numbers = values.filter((value): value is number =>
    typeof value === "number" && Number.isFinite(value)
  ).sort((a, b) => a - b);
  if (numbers.length === 0) return null;
  const middle = Math.floor(numbers.length / 2);
  return numbers.length % 2 === 1 ? numbers[middle] : (numbers[middle - 1] + numbers[middle]) / 2;
}

// ---- reference tools ---------------------------------------------------------------------------

/** The reference tools built in a temporary folder, removed on dispose. */
export interface ReferenceTools extends AsyncDisposable {
  /** Path of the `probeblast` load generator. */
  probeblast: string;
  /** Path of the `refl_c` reference reflector. */
  reflectorC: string;
}

const REQUIRED_SOURCES = ["Makefile", "probeblast.c", "refl_c.c"];

/**
 * Copies the reference tools' sources into a fresh temporary folder (the source folder is
 * read-only in CI) and builds them with `make`. Throws `PrerequisiteError` when the folder, a
 * source file, `cc` or `make` is missing.
 */
export async function buildReferenceTools(
  sourceDirectory: string,
  options: { signal?: AbortSignal } = {},
): Promise<ReferenceTools> {
  for (const name of REQUIRED_SOURCES) {
    try {
      await Deno.stat(`${sourceDirectory}/${name}`);
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
      throw new PrerequisiteError(
        `The reference tools are missing: ${sourceDirectory}/${name} does not exist. ` +
          "Set LLAMA_TOOLS_DIR to the folder holding Makefile, probeblast.c and refl_c.c.",
      );
    }
  }
  for (const [program, purpose] of [["cc", "a C compiler"], ["make", "make"]]) {
    try {
      await new Deno.Command(program, { args: ["--version"], stdout: "null", stderr: "null" })
        .output();
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
      throw new PrerequisiteError(
        `Cannot build the reference tools: "${program}" (${purpose}) is not on PATH.`,
      );
    }
  }
  const directory = await Deno.makeTempDir({ prefix: "llama-bench-tools-" });
  const remove = () => Deno.remove(directory, { recursive: true }).catch(() => {});
  try {
    for await (const entry of Deno.readDir(sourceDirectory)) {
      if (entry.isFile) {
        await Deno.copyFile(`${sourceDirectory}/${entry.name}`, `${directory}/${entry.name}`);
      }
    }
    const build = await new Deno.Command("make", {
      args: ["--no-print-directory"],
      cwd: directory,
      stdin: "null",
      signal: options.signal,
    }).output();
    options.signal?.throwIfAborted();
    if (!build.success) {
      const output = new TextDecoder().decode(build.stderr) +
        new TextDecoder().decode(build.stdout);
      throw new Error(`make failed in ${directory} (exit code ${build.code}):\n${output}`);
    }
  } catch (error) {
    await remove();
    throw error;
  }
  return {
    probeblast: `${directory}/probeblast`,
    reflectorC: `${directory}/refl_c`,
    [Symbol.asyncDispose]: remove,
  };
}

/** `command args…`, or `taskset -c CPUS command args…` when `cpus` is given. */
export function onCpus(
  cpus: string | undefined,
  command: string,
  args: readonly string[],
): { command: string; args: string[] } {
  return cpus === undefined
    ? { command, args: [...args] }
    : { command: "taskset", args: ["-c", cpus, command, ...args] };
}

// ---- processes ---------------------------------------------------------------------------------

/** A process started by `spawnUntilReady`; disposing it stops it (SIGTERM, then SIGKILL). */
export interface ReadyProcess extends AsyncDisposable {
  /** Its process id. */
  pid: number;
  /** The match of the ready pattern. */
  ready: RegExpExecArray;
  /** The last lines it wrote on the watched stream. */
  recentOutput(): string;
}

/** Options of `spawnUntilReady`. */
export interface SpawnOptions {
  /** Arguments of the command. */
  args: readonly string[];
  /** A line matching this on `readyStream` means the process is ready. */
  readyPattern: RegExp;
  /** Where the ready line appears; the other stream is discarded. Default: stderr. */
  readyStream?: "stdout" | "stderr";
  /** Working folder. */
  cwd?: string;
  /** Give up and stop the process after this long. Default: 30 s. */
  timeoutMilliseconds?: number;
  /** Stops the process when aborted. */
  signal?: AbortSignal;
  /** Called with every line of `readyStream`, before and after the ready line. */
  onLine?: (line: string) => void;
  /**
   * Run it on these CPUs only, such as `0`, through `taskset -c` (which becomes the command, so
   * the pid is still the command's).
   */
  cpus?: string;
}

const KEPT_LINES = 20;
const STOP_GRACE_MILLISECONDS = 3_000;
const PIPE_GRACE_MILLISECONDS = 500;

/** Whether `promise` settles within `milliseconds`; leaves no timer behind. */
async function settlesWithin(promise: Promise<unknown>, milliseconds: number): Promise<boolean> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const expired = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), milliseconds);
  });
  try {
    return await Promise.race([promise.then(() => true, () => true), expired]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Starts `command` and resolves once a line of its output matches `readyPattern`. The process
 * is stopped if it exits, times out or the signal aborts first; otherwise the caller owns it and
 * stops it by disposing it (`await using`).
 */
export async function spawnUntilReady(
  command: string,
  options: SpawnOptions,
): Promise<ReadyProcess> {
  const readyStream = options.readyStream ?? "stderr";
  const pinned = onCpus(options.cpus, command, options.args);
  const child = new Deno.Command(pinned.command, {
    args: pinned.args,
    cwd: options.cwd,
    env: { NO_COLOR: "1" },
    stdin: "null",
    stdout: readyStream === "stdout" ? "piped" : "null",
    stderr: readyStream === "stderr" ? "piped" : "null",
    signal: options.signal,
  }).spawn();
  const lines: string[] = [];
  const ready = Promise.withResolvers<RegExpExecArray | undefined>();
  const output = child[readyStream].pipeThrough(new TextDecoderStream()).getReader();
  // Keep reading after the ready line: a full pipe would block the process.
  const pump = (async () => {
    let pending = "";
    const onLine = (line: string) => {
      lines.push(line);
      if (lines.length > KEPT_LINES) lines.shift();
      try {
        options.onLine?.(line);
      } catch { /* a listener's mistake must not stop the reading, or the pipe fills up */ }
      const match = options.readyPattern.exec(line);
      if (match !== null) ready.resolve(match);
    };
    for (let chunk = await output.read(); !chunk.done; chunk = await output.read()) {
      const parts = (pending + chunk.value).split("\n");
      pending = parts.pop() ?? "";
      parts.forEach(onLine);
    }
    if (pending !== "") onLine(pending);
  })().catch(() => {});
  // A grandchild that inherited the pipe could hold it open after the child is gone.
  const finishReading = async (): Promise<void> => {
    if (!await settlesWithin(pump, PIPE_GRACE_MILLISECONDS)) await output.cancel().catch(() => {});
  };
  let exitStatus: Deno.CommandStatus | undefined;
  const exited = child.status.then(async (status) => {
    exitStatus = status;
    await finishReading();
    ready.resolve(undefined);
  });
  const stop = async (): Promise<void> => {
    try {
      child.kill("SIGTERM");
    } catch { /* already exited */ }
    if (!await settlesWithin(exited, STOP_GRACE_MILLISECONDS)) {
      try {
        child.kill("SIGKILL");
      } catch { /* exited meanwhile */ }
    }
    await exited;
  };
  const timeout = options.timeoutMilliseconds ?? 30_000;
  const timer = setTimeout(() => ready.resolve(undefined), timeout);
  const match = await ready.promise;
  clearTimeout(timer);
  const recentOutput = () => lines.join("\n");
  if (match === undefined) {
    const why = exitStatus === undefined
      ? `did not print a line matching ${options.readyPattern} within ${timeout} ms`
      : exitStatus.signal === null
      ? `exited with code ${exitStatus.code} before it was ready`
      : `was stopped by ${exitStatus.signal} before it was ready`;
    await stop();
    options.signal?.throwIfAborted();
    throw new Error(
      `${command} ${options.args.join(" ")} ${why}. Its last output:\n` +
        recentOutput(),
    );
  }
  return { pid: child.pid, ready: match, recentOutput, [Symbol.asyncDispose]: stop };
}

/**
 * Returns a UDP port that was free a moment ago, for programs that cannot be told to pick one
 * themselves. Another process may take it in between; the caller then sees a start failure.
 */
export function findFreeUdpPort(hostname = "0.0.0.0"): number {
  const socket = Deno.listenDatagram({ transport: "udp", hostname, port: 0 });
  try {
    return (socket.addr as Deno.NetAddr).port;
  } finally {
    socket.close();
  }
}

/** A process's CPU time and memory, read from /proc. */
export interface ProcessUsage {
  /** User plus system CPU time consumed so far, in seconds. */
  cpuSeconds: number;
  /** Resident memory now, in KiB. */
  rssKilobytes: number;
}

/** /proc counts CPU time in USER_HZ ticks, 100 per second on every Linux architecture (ABI). */
const CLOCK_TICKS_PER_SECOND = 100;

/** Reads a process's CPU time (/proc/PID/stat: utime + stime) and RSS (/proc/PID/status). */
export async function readProcessUsage(pid: number): Promise<ProcessUsage> {
  const stat = await Deno.readTextFile(`/proc/${pid}/stat`);
  // The command name, in parentheses, may hold spaces: count fields after its closing one.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const ticks = Number(fields[11]) + Number(fields[12]); // fields 14 and 15 of proc(5)
  const status = await Deno.readTextFile(`/proc/${pid}/status`);
  const rss = /^VmRSS:\s+(\d+) kB$/m.exec(status);
  return {
    cpuSeconds: ticks / CLOCK_TICKS_PER_SECOND,
    rssKilobytes: rss === null ? NaN : Number(rss[1]),
  };
}

/**
 * Datagrams the kernel dropped at a process's UDP sockets since they opened (their receive
 * buffer was full), summed over every UDP socket it holds, from /proc/PID/net/udp{,6}.
 */
export async function readUdpSocketDrops(pid: number): Promise<number> {
  const inodes = new Set<string>();
  for await (const entry of Deno.readDir(`/proc/${pid}/fd`)) {
    const target = await Deno.readLink(`/proc/${pid}/fd/${entry.name}`).catch(() => "");
    const inode = /^socket:\[(\d+)\]$/.exec(target)?.[1];
    if (inode !== undefined) inodes.add(inode);
  }
  let drops = 0;
  for (const table of ["udp", "udp6"]) {
    const text = await Deno.readTextFile(`/proc/${pid}/net/${table}`).catch(() => "");
    for (const line of text.split("\n").slice(1)) {
      const columns = line.trim().split(/\s+/);
      // sl local rem st tx:rx tr:when retrnsmt uid timeout inode ref pointer drops
      if (columns.length >= 13 && inodes.has(columns[9])) drops += Number(columns[12]);
    }
  }
  return drops;
}

// ---- tables ------------------------------------------------------------------------------------

/** Formats rows as a markdown table. */
export function markdownTable(header: readonly string[], rows: readonly string[][]): string {
  const line = (cells: readonly string[]) => `| ${cells.join(" | ")} |`;
  return [line(header), line(header.map(() => "---")), ...rows.map(line)].join("\n");
}

/** Formats rows as a plain-text table with aligned columns, for the terminal. */
export function textTable(header: readonly string[], rows: readonly string[][]): string {
  const widths = header.map((_, column) =>
    Math.max(...[header, ...rows].map((row) => row[column].length))
  );
  const line = (cells: readonly string[]) =>
    cells.map((cell, column) => cell.padEnd(widths[column])).join("  ").trimEnd();
  return [line(header), widths.map((width) => "-".repeat(width)).join("  "), ...rows.map(line)]
    .join("\n");
}

// ---- machine and results -----------------------------------------------------------------------

/** The machine a benchmark ran on. */
export interface MachineInfo {
  /** Processing units available (`nproc`). */
  processors: number;
  /** CPU model name from /proc/cpuinfo. */
  cpuModel: string;
  /** Kernel release (`uname -r`). */
  kernel: string;
  /** Deno's version. */
  deno: string;
}

async function commandOutput(command: string, args: string[]): Promise<string | undefined> {
  try {
    const output = await new Deno.Command(command, { args, stdin: "null", stderr: "null" })
      .output();
    return output.success ? new TextDecoder().decode(output.stdout).trim() : undefined;
  } catch {
    return undefined;
  }
}

/** Describes this machine: processors, CPU model, kernel and Deno version. */
export async function describeMachine(): Promise<MachineInfo> {
  const cpuinfo = await Deno.readTextFile("/proc/cpuinfo").catch(() => "");
  const processors = Number(await commandOutput("nproc", []));
  return {
    processors: Number.isInteger(processors) && processors > 0
      ? processors
      : navigator.hardwareConcurrency,
    cpuModel: /^model name\s*:\s*(.+)$/m.exec(cpuinfo)?.[1].trim() ?? "unknown CPU",
    kernel: await commandOutput("uname", ["-r"]) ?? Deno.osRelease(),
    deno: Deno.version.deno,
  };
}

/** The load averages of /proc/loadavg, as `0.52 / 0.31 / 0.20`, or `unknown`. */
export async function readLoadAverage(): Promise<string> {
  const text = await Deno.readTextFile("/proc/loadavg").catch(() => "");
  const fields = text.trim().split(/\s+/);
  return fields.length >= 3 ? fields.slice(0, 3).join(" / ") : "unknown";
}

/** Formats machine information on one line. */
export function formatMachine(machine: MachineInfo): string {
  return `nproc ${machine.processors}, ${machine.cpuModel}, Linux ${machine.kernel}, ` +
    `Deno ${machine.deno}`;
}

const RESULTS_INTRO = `# Benchmark results

Each section below is one run of \`deno task bench <name>\`, appended by \`bench/main.ts\`.
Numbers depend on the machine and on what else it was doing: compare rows within one section,
and treat a single run as a rough figure. The reference tools (\`probeblast\`, \`refl_c\`) are
built from \`shared/tools\`; see its README for what they measure.
`;

/** One run's section in `bench/RESULTS.md`. */
export interface ResultsSection {
  /** The benchmark's name. */
  benchmark: string;
  /** When the run started. */
  startedAt: Date;
  /** How long it took. */
  durationMilliseconds: number;
  /** The machine it ran on. */
  machine: MachineInfo;
  /** The command that produced it. */
  command: string;
  /** Lines about the circumstances, such as other work on the machine. */
  notes?: readonly string[];
  /** The benchmark's own markdown. */
  body: string;
}

/** Formats a duration such as `4 min 12 s`. */
export function formatDuration(milliseconds: number): string {
  const seconds = Math.round(milliseconds / 1000);
  return seconds < 60 ? `${seconds} s` : `${Math.floor(seconds / 60)} min ${seconds % 60} s`;
}

/**
 * Appends a dated section to a results file, creating the file with an introduction, and runs
 * `deno fmt` on it.
 */
export async function appendResults(path: string, section: ResultsSection): Promise<void> {
  const existing = await Deno.readTextFile(path).catch((error) => {
    if (error instanceof Deno.errors.NotFound) return undefined;
    throw error;
  });
  const date = section.startedAt.toISOString().slice(0, 16).replace("T", " ");
  const text = [
    `## ${section.benchmark}, ${date} UTC`,
    "",
    `- Machine: ${formatMachine(section.machine)}`,
    `- Command: \`${section.command}\``,
    `- Duration: ${formatDuration(section.durationMilliseconds)}`,
    ...(section.notes ?? []).map((note) => `- ${note}`),
    "",
    section.body.trimEnd(),
    "",
  ].join("\n");
  const prefix = existing === undefined
    ? `${RESULTS_INTRO}\n`
    : existing.endsWith("\n\n")
    ? existing
    : `${existing.trimEnd()}\n\n`;
  await Deno.writeTextFile(path, prefix + text);
  // `deno fmt --check` covers this file too: leave it as the formatter would.
  const formatted = await new Deno.Command(Deno.execPath(), {
    args: ["fmt", "--quiet", path],
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).output();
  if (!formatted.success) {
    const stderr = new TextDecoder().decode(formatted.stderr).trim();
    throw new Error(`Appended to ${path}, but \`deno fmt\` failed on it: ${stderr}`);
  }
}
