/**
 * Running the C load generator `probeblast` (and the JSON tools like it) and reading its report.
 *
 * @module
 */
import { onCpus } from "./_tools.ts";

/** RTT percentiles in microseconds; `null` when no probe came back. */
export interface RoundTripTimes {
  /** Number of samples. */
  count: number;
  /** Median. */
  p50: number | null;
  /** 99th percentile. */
  p99: number | null;
  /** Largest. */
  max: number | null;
}

/** One `probeblast -j` run, with its fields given full names. */
export interface ProbeblastResult {
  /** Probes per second asked for. */
  targetRate: number;
  /** Probes per second actually sent. */
  achievedRate: number;
  /** Seconds spent sending. */
  durationSeconds: number;
  /** Size of each probe in bytes. */
  probeBytes: number;
  /** Probes sent. */
  sent: number;
  /** Probes answered (each counted once, matched by signature). */
  received: number;
  /** Percentage of probes not answered within the drain time. */
  lossPercent: number;
  /** RTT from the send time to the kernel's receive timestamp. */
  kernelRoundTrip: RoundTripTimes;
  /** RTT from the send time to probeblast's own clock reading after the receive returned. */
  userRoundTrip: RoundTripTimes;
  /** The reflector's CPU use while probes were sent, in percent of one core. */
  reflectorCpuPercent: number | null;
  /** The reflector's resident memory at the end, in KiB. */
  reflectorRssKilobytes: number | null;
  /** Datagrams the kernel dropped at the reflector's socket (its receive buffer was full). */
  reflectorSocketDrops: number;
  /** Datagrams the kernel dropped at probeblast's own socket. */
  generatorSocketDrops: number;
  /** Packets dropped by the kernel's per-CPU backlog. */
  softnetDrops: number;
  /** probeblast's own CPU use, in percent of one core. */
  generatorCpuPercent: number | null;
}

/** Options of `runProbeblast`. */
export interface ProbeblastOptions {
  /** The reflector's address. */
  host?: string;
  /** The reflector's UDP port. */
  port: number;
  /** Probes per second. */
  rate: number;
  /** Seconds to send for. */
  seconds: number;
  /** The reflector's pid, to measure its CPU, memory and socket drops. */
  reflectorPid: number;
  /** Run it on these CPUs only (`taskset -c`), such as `0`. */
  cpus?: string;
  /** Stops probeblast when aborted. */
  signal?: AbortSignal;
}

/** `{n, p50, p99, max}` of a tool's JSON report, as `RoundTripTimes`. */
export function roundTrip(json: Record<string, number | null>): RoundTripTimes {
  return { count: json.n ?? 0, p50: json.p50, p99: json.p99, max: json.max };
}

/**
 * Runs one of the C load generators (`name`, at `path`) with `args`, on `cpus` if given, and
 * returns the JSON object it prints. Throws naming the tool and its command line when it fails
 * or prints something else.
 */
export async function runJsonTool(
  name: string,
  path: string,
  args: readonly string[],
  options: { cpus?: string; signal?: AbortSignal } = {},
): Promise<Record<string, never>> {
  const pinned = onCpus(options.cpus, path, args);
  const output = await new Deno.Command(pinned.command, {
    args: pinned.args,
    stdin: "null",
    signal: options.signal,
  }).output();
  options.signal?.throwIfAborted();
  const stdout = new TextDecoder().decode(output.stdout).trim();
  if (!output.success) {
    const stderr = new TextDecoder().decode(output.stderr).trim();
    throw new Error(`${name} ${args.join(" ")} failed (exit code ${output.code}): ${stderr}`);
  }
  try {
    return JSON.parse(stdout);
  } catch (error) {
    throw new Error(`${name} printed something other than JSON: ${stdout}`, { cause: error });
  }
}

/** Runs `probeblast … -j` against a reflector and returns its report. */
export async function runProbeblast(
  tools: { probeblast: string },
  options: ProbeblastOptions,
): Promise<ProbeblastResult> {
  const args = [
    ...["-a", options.host ?? "127.0.0.1", "-p", `${options.port}`],
    ...["-r", `${options.rate}`, "-d", `${options.seconds}`, "-c", `${options.reflectorPid}`, "-j"],
  ];
  return loadReport(await runJsonTool("probeblast", tools.probeblast, args, options));
}

/** The fields of a `-j` report that probeblast and stampblast print alike. */
export function loadReport(json: Record<string, never>): ProbeblastResult {
  return {
    targetRate: json.target_pps,
    achievedRate: json.achieved_pps,
    durationSeconds: json.duration_s,
    probeBytes: json.pkt_bytes,
    sent: json.sent,
    received: json.received,
    lossPercent: json.loss_pct,
    kernelRoundTrip: roundTrip(json.rtt_us),
    userRoundTrip: roundTrip(json.rtt_user_us),
    reflectorCpuPercent: json.refl_cpu_pct,
    reflectorRssKilobytes: json.refl_rss_kb < 0 ? null : json.refl_rss_kb,
    reflectorSocketDrops: json.refl_sock_drops,
    generatorSocketDrops: json.gen_sock_drops,
    softnetDrops: json.softnet_drops,
    generatorCpuPercent: json.gen_cpu_pct,
  };
}
