/**
 * Building and running `stampblast` (bench/tools/stampblast.c), the STAMP (RFC 8762) load
 * generator: the STAMP counterpart of `probeblast`, with the same JSON fields plus STAMP's own.
 *
 * @module
 */

import { PrerequisiteError } from "./_tools.ts";
import {
  loadReport,
  type ProbeblastResult,
  roundTrip,
  type RoundTripTimes,
  runJsonTool,
} from "./_probeblast.ts";

const SOURCES = ["Makefile", "stampblast.c", "_stampblast_proc.h"];

/** stampblast built in a temporary folder, removed on dispose. */
export interface Stampblast extends AsyncDisposable {
  /** Path of the program. */
  path: string;
  /** Whether it was built with libcrypto, so it can send authenticated (112-byte) packets. */
  authenticated: boolean;
}

/**
 * Copies bench/tools into a fresh temporary folder and builds stampblast there with `make`
 * (with libcrypto when pkg-config finds it). Throws `PrerequisiteError` when `cc` or `make` is
 * missing.
 */
export async function buildStampblast(
  repositoryRoot: string,
  options: { signal?: AbortSignal } = {},
): Promise<Stampblast> {
  for (const program of ["cc", "make"]) {
    try {
      await new Deno.Command(program, { args: ["--version"], stdout: "null", stderr: "null" })
        .output();
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
      throw new PrerequisiteError(`Cannot build stampblast: "${program}" is not on PATH.`);
    }
  }
  const directory = await Deno.makeTempDir({ prefix: "llama-stampblast-" });
  const remove = () => Deno.remove(directory, { recursive: true }).catch(() => {});
  try {
    for (const name of SOURCES) {
      await Deno.copyFile(`${repositoryRoot}/bench/tools/${name}`, `${directory}/${name}`);
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
      throw new Error(
        `make stampblast failed in ${directory} (exit code ${build.code}):\n${output}`,
      );
    }
    const path = `${directory}/stampblast`;
    const capabilities = await new Deno.Command(path, { args: ["-V"], stdin: "null" }).output();
    const { authenticated } = JSON.parse(new TextDecoder().decode(capabilities.stdout));
    return { path, authenticated, [Symbol.asyncDispose]: remove };
  } catch (error) {
    await remove();
    throw error;
  }
}

/** Options of `runStampblast`. */
export interface StampblastOptions {
  /** The reflector's address. Default: 127.0.0.1. */
  host?: string;
  /** The reflector's STAMP port. */
  port: number;
  /** Packets per second, over all sockets. */
  rate: number;
  /** Seconds to send for. */
  seconds: number;
  /** Source ports (sockets), each its own STAMP session. Default: 1. */
  sockets?: number;
  /** Authenticated mode with the first key of this file (or `keyId`). */
  keyFile?: string;
  /** Which key of `keyFile`. */
  keyId?: string;
  /** Report forward and backward loss from a stateful reflector's sequence numbers. */
  stateful?: boolean;
  /** Milliseconds to wait for late replies after the last send. Default: 1000. */
  drainMilliseconds?: number;
  /** The reflector's pid, to measure its CPU, memory and socket drops. */
  reflectorPid?: number;
  /** Run it on these CPUs only (`taskset -c`). */
  cpus?: string;
  /** Stops stampblast when aborted. */
  signal?: AbortSignal;
}

/** One `stampblast` run: probeblast's fields, and what STAMP adds. */
export interface StampblastResult extends ProbeblastResult {
  /** `unauthenticated` (44-byte packets) or `authenticated` (112). */
  mode: "unauthenticated" | "authenticated";
  /** t4 − t1 − (t3 − t2): the RTT without the reflector's dwell, kernel receive timestamp. */
  netRoundTrip: RoundTripTimes;
  /** t3 − t2: how long the reflector held each packet, by its own timestamps. */
  dwell: RoundTripTimes;
  /** Replies matched by sequence but whose echoed sender timestamp was wrong, or unknown. */
  foreign: number;
  /** Replies of the wrong size. */
  bad: number;
  /** Replies counted twice. */
  duplicates: number;
  /** Authenticated replies whose HMAC did not verify (dropped). */
  hmacFailures: number;
  /** Replies whose timestamps broke t1 ≤ t2 ≤ t3 ≤ t4 (meaningful with one clock). */
  orderViolations: number;
  /** Replies that echoed the SSID sent (RFC 8972; an RFC 8762-only reflector sends 0). */
  ssidEchoed: number;
  /** The smallest and largest sender TTL the reflector reported, or null. */
  senderTtl: { min: number; max: number } | null;
  /** With `stateful`: packets lost on the way to the reflector, and on the way back. */
  forwardLost?: number;
  backwardLost?: number;
  /** Packets stampblast could not send (EAGAIN, ENOBUFS). */
  sendErrors: number;
}

/** Runs `stampblast` against a STAMP reflector and returns its report. */
export async function runStampblast(
  tool: Stampblast,
  options: StampblastOptions,
): Promise<StampblastResult> {
  const args = [
    ...["-a", options.host ?? "127.0.0.1", "-p", `${options.port}`],
    ...["-r", `${options.rate}`, "-d", `${options.seconds}`, "-n", `${options.sockets ?? 1}`],
    ...["-w", `${options.drainMilliseconds ?? 1000}`],
    ...(options.keyFile === undefined ? [] : ["-K", options.keyFile]),
    ...(options.keyId === undefined ? [] : ["-I", options.keyId]),
    ...(options.stateful ? ["-S"] : []),
    ...(options.reflectorPid === undefined ? [] : ["-c", `${options.reflectorPid}`]),
  ];
  const json = await runJsonTool("stampblast", tool.path, args, options);
  return {
    ...loadReport(json),
    mode: json.mode,
    netRoundTrip: roundTrip(json.rtt_net_us),
    dwell: roundTrip(json.dwell_us),
    foreign: json.foreign,
    bad: json.bad,
    duplicates: json.dups,
    hmacFailures: json.hmac_failures,
    orderViolations: json.order_violations,
    ssidEchoed: json.ssid_echoed,
    senderTtl: json.sender_ttl_min === null
      ? null
      : { min: json.sender_ttl_min, max: json.sender_ttl_max },
    ...(json.forward_lost === undefined
      ? {}
      : { forwardLost: json.forward_lost, backwardLost: json.backward_lost }),
    sendErrors: json.send_errors,
  };
}
