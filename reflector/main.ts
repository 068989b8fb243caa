/**
 * The reflector program: `deno run -A --unstable-net jsr:@llama/reflector`.
 *
 * Exit codes: 0 after SIGINT/SIGTERM, 1 when it cannot run (port in use, …), 2 for bad flags
 * or a Deno started without `--unstable-net`.
 *
 * @module
 */
import { getLogger } from "@logtape/logtape";
import {
  canonicalAddress,
  checkWholeNumber,
  ConfigError,
  ENGINE_CHOICES,
  type EngineChoice,
  hasDenoDatagramApi,
  loadKeyFile,
  nativeEngineStatus,
  parseHostPort,
  readProgramFlags,
  serveMetrics,
  setupLogging,
  type StampMode,
  UsageError,
  waitForSignal,
} from "@llama/core";
import { DEFAULT_REFUSED_SOURCE_PORTS, parseSourcePorts, startReflector } from "./reflector.ts";
import { reflectorMetrics, totalInvalid, totalRefused } from "./metrics.ts";
import {
  checkSourceLimits,
  DEFAULT_PER_SOURCE_ENTRIES,
  MAX_PER_SOURCE_ENTRIES,
  type PerSourceOptions,
} from "./source_limits.ts";
import packageManifest from "./deno.json" with { type: "json" };

const FLAGS = {
  port: { type: "number", default: 8100, description: "UDP port to answer probes on" },
  host: {
    type: "string",
    placeholder: "ADDRESS",
    description: "Address to listen on (default :: for IPv4 and IPv6, or 0.0.0.0 without IPv6)",
  },
  "max-pps": {
    type: "number",
    default: 5000,
    description:
      "Most answers per second, any number (0.5 = one every 2 s); above it answers wait " +
      "(0, inf or 1e8 and more = unlimited; the original answers nothing at 0)",
  },
  backlog: {
    type: "number",
    default: 1024,
    description: "Answers that may wait for --max-pps before new ones are dropped",
  },
  "refuse-source-ports": {
    type: "string",
    default: DEFAULT_REFUSED_SOURCE_PORTS,
    placeholder: "PORTS",
    description:
      "Never answer datagrams from these source ports (comma-separated, ranges a-b, or none); " +
      "the reflector's own port is always refused",
  },
  metrics: {
    type: "string",
    placeholder: "HOST:PORT",
    description: "Serve Prometheus metrics at http://HOST:PORT/metrics",
  },
  engine: {
    type: "string",
    default: "auto",
    description: "UDP engine: native (libc: TOS, kernel timestamps, batches), deno, or auto",
  },
  "stamp-port": {
    type: "number",
    default: 0,
    description:
      "Also answer STAMP (RFC 8762/8972) and TWAMP-Light on this UDP port (0 = off; 862 is STAMP's)",
  },
  "stamp-key-file": {
    type: "string",
    placeholder: "FILE",
    description:
      "STAMP authenticated mode: answer only packets whose HMAC verifies with a key of FILE " +
      "(lines of ID HEX_SECRET, # comments), signed with the same key",
  },
  "stamp-mode": {
    type: "string",
    default: "stateless",
    placeholder: "MODE",
    description:
      "STAMP sequence numbers: stateless (copy the sender's) or stateful (count each session's, " +
      "so senders can tell forward from backward loss)",
  },
  "auth-key-file": {
    type: "string",
    placeholder: "FILE",
    description:
      "Authenticated probes: answer only probes whose HMAC verifies with a key of FILE (lines of " +
      "ID HEX_SECRET, # comments), and sign the answers; unsigned probes are refused",
  },
  "receive-buffer": {
    type: "number",
    default: 2097152,
    placeholder: "BYTES",
    description: "Kernel receive buffer of the native engine",
  },
  // Abuse limits (issue 19): who is answered, and how much per source, on both ports.
  allow: {
    type: "string",
    repeatable: true,
    placeholder: "CIDR",
    description:
      "Answer only sources inside this prefix (10.0.0.0/8, 2001:db8::/32, or one address), on " +
      "the LLAMA and STAMP ports; give it once per prefix (without it, every source is answered)",
  },
  "per-source-pps": {
    type: "number",
    default: 0,
    description:
      "Most answers per second to one source address (one /64 for IPv6) on each port, besides " +
      "--max-pps; a source over it is refused, not delayed (0 = no per-source limit)",
  },
  "per-source-burst": {
    type: "number",
    placeholder: "N",
    description:
      "Answers a source may get at once after a quiet spell (default: --per-source-pps, at least 2)",
  },
  "per-source-table": {
    type: "number",
    default: DEFAULT_PER_SOURCE_ENTRIES,
    placeholder: "ENTRIES",
    description:
      "Most sources the per-source limit tracks at once (~25 bytes each, allocated at start); " +
      "spoofed sources cannot grow it",
  },
} as const;

const COUNTER_LOG_INTERVAL_MS = 60_000;

/** Rates from here up are more than a host answers: they mean no limit, like 0. */
const UNLIMITED_PPS = 100_000_000;

/**
 * `--max-pps` as the reflector takes it: any number of 0 or more, as the original's float flag
 * (fractions too); 0 and rates of `UNLIMITED_PPS` or more (inf included) give 0, no limit.
 */
function maxAnswersPerSecond(value: number): number {
  if (!(value >= 0)) {
    throw new UsageError(`--max-pps takes a number of 0 or more (0 = unlimited), got ${value}`);
  }
  return value >= UNLIMITED_PPS ? 0 : value;
}

/** Runs the reflector until SIGINT or SIGTERM; returns the exit code. */
export async function main(args: readonly string[]): Promise<number> {
  const flags = readProgramFlags("llama-reflector", args, FLAGS, {
    print: (text) => console.error(text),
    version: packageManifest.version,
    validate: (values) => {
      checkWholeNumber("port", values.port, 0, 65535);
      maxAnswersPerSecond(values["max-pps"]);
      if (values.host !== undefined && canonicalAddress(values.host) === undefined) {
        throw new UsageError(`--host takes an IPv4 or IPv6 address, got "${values.host}"`);
      }
      checkWholeNumber("backlog", values.backlog, 0, 10_000_000);
      if (values.metrics !== undefined) parseHostPort(values.metrics, "--metrics");
      if (!(ENGINE_CHOICES as readonly string[]).includes(values.engine)) {
        throw new UsageError(`--engine takes ${ENGINE_CHOICES.join(", ")}, got "${values.engine}"`);
      }
      checkWholeNumber("receive-buffer", values["receive-buffer"], 4096, 1 << 30);
      sourcePorts(values["refuse-source-ports"]);
      checkWholeNumber("stamp-port", values["stamp-port"], 0, 65535);
      if (values["stamp-mode"] !== "stateless" && values["stamp-mode"] !== "stateful") {
        throw new UsageError(
          `--stamp-mode takes stateless or stateful, got "${values["stamp-mode"]}"`,
        );
      }
      if (values["stamp-key-file"] !== undefined && values["stamp-port"] === 0) {
        throw new UsageError("--stamp-key-file needs --stamp-port");
      }
      checkWholeNumber("per-source-pps", values["per-source-pps"], 0, 100_000_000);
      if (values["per-source-burst"] !== undefined) {
        checkWholeNumber("per-source-burst", values["per-source-burst"], 1, 100_000_000);
      }
      checkWholeNumber("per-source-table", values["per-source-table"], 8, MAX_PER_SOURCE_ENTRIES);
      try {
        checkSourceLimits({ allow: values.allow }, "--allow");
      } catch (error) {
        throw new UsageError((error as Error).message);
      }
    },
  });
  if (flags.exitCode !== undefined) return flags.exitCode;
  const { values } = flags;
  if (
    values.engine !== "native" && !hasDenoDatagramApi() &&
    (values.engine === "deno" || !nativeEngineStatus().available)
  ) {
    console.error(
      "llama-reflector: Deno's UDP API is disabled. Add --unstable-net, for example:\n" +
        "  deno run -A --unstable-net jsr:@llama/reflector",
    );
    return 2;
  }

  await using _logging = await setupLogging(flags.logging);
  const log = getLogger(["llama", "reflector"]);
  let reflector;
  try {
    const stampKeyFile = values["stamp-key-file"];
    const stamp = values["stamp-port"] === 0 ? undefined : {
      port: values["stamp-port"],
      mode: values["stamp-mode"] as StampMode,
      keyring: stampKeyFile === undefined ? undefined : await loadKeyFile(stampKeyFile),
    };
    const authKeyFile = values["auth-key-file"];
    const authKeyring = authKeyFile === undefined ? undefined : await loadKeyFile(authKeyFile);
    reflector = await startReflector({
      hostname: values.host,
      port: values.port,
      maxPps: maxAnswersPerSecond(values["max-pps"]),
      backlog: values.backlog,
      engine: values.engine as EngineChoice,
      receiveBufferBytes: values["receive-buffer"],
      refusedSourcePorts: sourcePorts(values["refuse-source-ports"]),
      stamp,
      authKeyring,
      allow: values.allow,
      perSource: perSourceOptions(values),
    });
  } catch (error) {
    if (error instanceof UsageError || error instanceof ConfigError) {
      console.error(`llama-reflector: ${error.message}`);
      return 2;
    }
    log.fatal("Cannot start: {error}", { error });
    return 1;
  }
  await using _reflector = reflector;
  let metrics;
  try {
    metrics = values.metrics === undefined
      ? undefined
      : await serveMetrics(parseHostPort(values.metrics, "--metrics"), () =>
        reflectorMetrics(reflector.counters()));
  } catch (error) {
    log.fatal("Cannot serve metrics on {address}: {error}", { address: values.metrics, error });
    return 1;
  }
  await using _metrics = metrics;

  const logCounters = () => {
    const counters = reflector.counters();
    log.info(
      "Counters: {received} received, {answered} answered, {invalidTotal} invalid, " +
        "{refusedTotal} refused, {throttled} throttled, {dropped} dropped, " +
        "{sendErrors} send errors, {unsent} unsent",
      { ...counters, invalidTotal: totalInvalid(counters), refusedTotal: totalRefused(counters) },
    );
  };
  const timer = setInterval(logCounters, COUNTER_LOG_INTERVAL_MS);
  const signals = waitForSignal(["SIGINT", "SIGTERM"]);
  try {
    const outcome = await Promise.race([
      signals.stopped,
      reflector.finished.then(() => "finished"),
    ]);
    log.info("Stopping ({reason})", { reason: outcome });
  } catch (error) {
    log.fatal("Reflector failed: {error}", { error });
    return 1;
  } finally {
    clearInterval(timer);
    signals.dispose();
    await reflector.close();
    logCounters();
  }
  return 0;
}

function perSourceOptions(
  values: { "per-source-pps": number; "per-source-burst"?: number; "per-source-table": number },
): PerSourceOptions | undefined {
  if (values["per-source-pps"] === 0) return undefined;
  return {
    pps: values["per-source-pps"],
    burst: values["per-source-burst"],
    entries: values["per-source-table"],
  };
}

function sourcePorts(text: string): number[] {
  try {
    return parseSourcePorts(text, "--refuse-source-ports");
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
}

if (import.meta.main) {
  Deno.exit(await main(Deno.args));
}
