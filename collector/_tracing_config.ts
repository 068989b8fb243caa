/**
 * The `tracing` section of a collector config: when flows are traced hop by hop, and how much
 * tracing may send.
 *
 * @module
 */
import type { ConfigNode } from "@llama/core";

/** How the collector traces its flows (see docs/tracing.md). */
export interface TracingConfig {
  /**
   * `auto` (the default): trace where the engine can (the native engine), and say so where it
   * cannot; `on`: the same, but a collector that cannot trace warns at start; `off`: never.
   */
  mode: "auto" | "on" | "off";
  /** Trace probes per second, every flow together: the budget that keeps tracing light. */
  budget: number;
  /** Probes sent at each TTL of a trace (MTR-style: the hop's loss is what they lose). */
  probesPerHop: number;
  /** The highest TTL a trace tries. */
  maxHops: number;
  /** Consecutive silent TTLs after which a trace stops (nothing answers past there). */
  gapLimit: number;
  /** Milliseconds a trace probe waits for its answer. */
  timeoutMs: number;
  /**
   * Seconds between two baseline traces of one flow: with budget to spare, every flow is traced
   * again once its latest trace is this old, oldest first.
   */
  refreshSeconds: number;
  /** A flow losing at least this share of its probes in an interval (0–100) is traced at once. */
  lossThresholdPercent: number;
  /** Traces under way at once. */
  concurrency: number;
}

/** The defaults: on with the native engine, 50 probes/s, a flow re-traced every 10 minutes. */
export const DEFAULT_TRACING: Readonly<TracingConfig> = Object.freeze({
  mode: "auto",
  budget: 50,
  probesPerHop: 3,
  maxHops: 30,
  gapLimit: 4,
  timeoutMs: 1000,
  refreshSeconds: 600,
  lossThresholdPercent: 5,
  concurrency: 16,
});

const KEYS = [
  "mode",
  "budget",
  "probes_per_hop",
  "max_hops",
  "gap_limit",
  "timeout",
  "refresh",
  "loss_threshold",
  "concurrency",
] as const;

/** Reads the `tracing` section (absent: the defaults). Throws `ConfigError` naming the key. */
export function parseTracing(node: ConfigNode | undefined): TracingConfig {
  if (node === undefined || node.isMissing) return { ...DEFAULT_TRACING };
  const values = node.fields(KEYS, `a map with ${KEYS.join(", ")}`);
  const modeNode = values.get("mode");
  let mode = DEFAULT_TRACING.mode;
  if (modeNode !== undefined) {
    const scalar = modeNode.scalar();
    // YAML reads a bare on/off as text here (the core YAML schema), true/false as booleans.
    const text = scalar === true ? "on" : scalar === false ? "off" : scalar;
    if (text !== "auto" && text !== "on" && text !== "off") {
      throw modeNode.error(`expected auto, on or off, got ${modeNode.describe()}`);
    }
    mode = text;
  }
  const number = (
    key: typeof KEYS[number],
    min: number,
    max: number,
    fallback: number,
    unit?: string,
  ) => values.get(key)?.number({ min, max, integer: true, unit }) ?? fallback;
  return {
    mode,
    budget: number("budget", 1, 100_000, DEFAULT_TRACING.budget, "probes per second"),
    probesPerHop: number("probes_per_hop", 1, 100, DEFAULT_TRACING.probesPerHop),
    maxHops: number("max_hops", 1, 255, DEFAULT_TRACING.maxHops),
    gapLimit: number("gap_limit", 1, 255, DEFAULT_TRACING.gapLimit),
    timeoutMs: number("timeout", 10, 60_000, DEFAULT_TRACING.timeoutMs, "milliseconds"),
    refreshSeconds: number("refresh", 1, 7 * 86400, DEFAULT_TRACING.refreshSeconds, "seconds"),
    lossThresholdPercent: values.get("loss_threshold")?.number({ min: 0.01, max: 100 }) ??
      DEFAULT_TRACING.lossThresholdPercent,
    concurrency: number("concurrency", 1, 4096, DEFAULT_TRACING.concurrency),
  };
}
