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
  formatUsage,
  hasDenoDatagramApi,
  LOG_LEVELS,
  type LogFormat,
  type LogLevel,
  parseFlags,
  parseHostPort,
  serveMetrics,
  setupLogging,
  UsageError,
} from "@llama/core";
import { startReflector } from "./reflector.ts";
import { reflectorMetrics, totalInvalid } from "./metrics.ts";

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
    description: "Most answers per second; above it answers wait (0 = unlimited)",
  },
  backlog: {
    type: "number",
    default: 1024,
    description: "Answers that may wait for --max-pps before new ones are dropped",
  },
  metrics: {
    type: "string",
    placeholder: "HOST:PORT",
    description: "Serve Prometheus metrics at http://HOST:PORT/metrics",
  },
  "log-level": { type: "string", default: "info", description: `One of ${LOG_LEVELS.join(", ")}` },
  "log-format": {
    type: "string",
    default: "text",
    description: "text or json (one object per line)",
  },
} as const;

const COUNTER_LOG_INTERVAL_MS = 60_000;

/** Runs the reflector until SIGINT or SIGTERM; returns the exit code. */
export async function main(args: readonly string[]): Promise<number> {
  let flags;
  try {
    flags = parseFlags(args, FLAGS);
    if (flags.help) {
      console.log(formatUsage("llama-reflector", FLAGS));
      return 0;
    }
    if (flags.positionals.length > 0) {
      throw new UsageError(`Unexpected argument "${flags.positionals[0]}"`);
    }
    if (!LOG_LEVELS.includes(flags.values["log-level"] as LogLevel)) {
      throw new UsageError(
        `--log-level takes one of ${LOG_LEVELS.join(", ")}, got "${flags.values["log-level"]}"`,
      );
    }
    if (!["text", "json"].includes(flags.values["log-format"])) {
      throw new UsageError(`--log-format takes text or json, got "${flags.values["log-format"]}"`);
    }
    for (
      const [name, max] of [["port", 65535], ["max-pps", 100_000_000], [
        "backlog",
        10_000_000,
      ]] as const
    ) {
      const value = flags.values[name];
      if (!Number.isInteger(value) || value < 0 || value > max) {
        throw new UsageError(`--${name} takes a whole number from 0 to ${max}, got ${value}`);
      }
    }
    if (flags.values.metrics !== undefined) parseHostPort(flags.values.metrics, "--metrics");
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    console.error(`llama-reflector: ${error.message}\n\n${formatUsage("llama-reflector", FLAGS)}`);
    return 2;
  }
  if (!hasDenoDatagramApi()) {
    console.error(
      "llama-reflector: Deno's UDP API is disabled. Add --unstable-net, for example:\n" +
        "  deno run -A --unstable-net jsr:@llama/reflector",
    );
    return 2;
  }

  await using _logging = await setupLogging({
    level: flags.values["log-level"] as LogLevel,
    format: flags.values["log-format"] as LogFormat,
  });
  const log = getLogger(["llama", "reflector"]);
  let reflector;
  try {
    reflector = await startReflector({
      hostname: flags.values.host,
      port: flags.values.port,
      maxPps: flags.values["max-pps"],
      backlog: flags.values.backlog,
    });
  } catch (error) {
    log.fatal("Cannot start: {message}", { message: (error as Error).message });
    return 1;
  }
  await using _reflector = reflector;
  const metrics = flags.values.metrics === undefined ? undefined : await serveMetrics(
    parseHostPort(flags.values.metrics, "--metrics"),
    () => reflectorMetrics(reflector.counters()),
  ).catch((error) => {
    log.fatal("Cannot serve metrics on {address}: {message}", {
      address: flags.values.metrics,
      message: (error as Error).message,
    });
    return null;
  });
  if (metrics === null) return 1;
  await using _metrics = metrics;

  const logCounters = () => {
    const counters = reflector.counters();
    log.info(
      "Counters: {received} received, {answered} answered, {invalidTotal} invalid, " +
        "{throttled} throttled, {dropped} dropped",
      { ...counters, invalidTotal: totalInvalid(counters) },
    );
  };
  const timer = setInterval(logCounters, COUNTER_LOG_INTERVAL_MS);
  const stop = Promise.withResolvers<string>();
  const signals = ["SIGINT", "SIGTERM"] as const;
  const handlers = signals.map((signal) => {
    const handler = () => stop.resolve(signal);
    Deno.addSignalListener(signal, handler);
    return handler;
  });
  try {
    const outcome = await Promise.race([stop.promise, reflector.finished.then(() => "finished")]);
    log.info("Stopping ({reason})", { reason: outcome });
  } catch (error) {
    log.fatal("Reflector failed: {message}", { message: (error as Error).message });
    return 1;
  } finally {
    clearInterval(timer);
    signals.forEach((signal, index) => Deno.removeSignalListener(signal, handlers[index]));
    await reflector.close();
    logCounters();
  }
  return 0;
}

if (import.meta.main) {
  Deno.exit(await main(Deno.args));
}
