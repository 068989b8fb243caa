import { formatPrometheus, type MetricFamily } from "@llama/core";
import type { StampCounters } from "./_stamp_counters.ts";
import type { ReflectorCounters } from "./reflector.ts";

/**
 * Formats a reflector's counters as Prometheus text.
 *
 * @example
 * ```ts
 * import { reflectorMetrics } from "./metrics.ts";
 * import { startReflector } from "./reflector.ts";
 * await using reflector = await startReflector({ hostname: "127.0.0.1", port: 0 });
 * console.assert(reflectorMetrics(reflector.counters()).includes("llama_reflector_received_total 0"));
 * ```
 */
export function reflectorMetrics(counters: ReflectorCounters): string {
  return formatPrometheus([
    {
      name: "llama_reflector_received_total",
      help: "Datagrams received.",
      type: "counter",
      samples: [{ value: counters.received }],
    },
    {
      name: "llama_reflector_answered_total",
      help: "Probes answered.",
      type: "counter",
      samples: [{ value: counters.answered }],
    },
    {
      name: "llama_reflector_invalid_total",
      help: "Datagrams not answered because they are not probes, by reason.",
      type: "counter",
      samples: Object.entries(counters.invalid).map(([reason, value]) => ({
        labels: { reason },
        value,
      })),
    },
    {
      name: "llama_reflector_refused_total",
      help:
        "Datagrams not answered although they may be probes, by reason: not-allowed (source outside --allow), source-port (sent from a port in --refuse-source-ports, the reflector's own or 0), unmarkable (neither a reflection block nor padding, so its answer would be answerable), per-source-rate (the source's --per-source-pps bucket is empty), per-source-table-full (no room for the source in the per-source table, and the overflow bucket is empty); with --auth-key-file: unsigned (no HMAC tag), unknown-key (a tag naming a key not in the file), bad-hmac (a tag that does not verify: altered or forged).",
      type: "counter",
      samples: Object.entries(counters.refused).map(([reason, value]) => ({
        labels: { reason },
        value,
      })),
    },
    {
      name: "llama_reflector_throttled_total",
      help: "Answers delayed by the rate limit (--max-pps).",
      type: "counter",
      samples: [{ value: counters.throttled }],
    },
    {
      name: "llama_reflector_dropped_total",
      help: "Answers dropped because the rate-limit backlog was full.",
      type: "counter",
      samples: [{ value: counters.dropped }],
    },
    {
      name: "llama_reflector_send_errors_total",
      help: "Answers the socket failed to send.",
      type: "counter",
      samples: [{ value: counters.sendErrors }],
    },
    {
      name: "llama_reflector_unsent_total",
      help:
        "Answers left out of a partial batch send: the send buffer stayed full (EAGAIN) through every retry.",
      type: "counter",
      samples: [{ value: counters.unsent }],
    },
    {
      name: "llama_reflector_backlog",
      help: "Answers waiting for the rate limit.",
      type: "gauge",
      samples: [{ value: counters.backlog }],
    },
    {
      name: "llama_reflector_per_source_tracked",
      help:
        "Sources (IPv4 addresses, IPv6 /64s) the per-source table holds, bounded by --per-source-table.",
      type: "gauge",
      samples: [{ value: counters.perSourceTracked }],
    },
    ...stampMetrics(counters.stamp),
  ]);
}

/** Adds up the invalid counters, for log lines. */
export function totalInvalid(counters: ReflectorCounters): number {
  return Object.values(counters.invalid).reduce((sum, value) => sum + value, 0);
}

/** Adds up the refused counters, for log lines. */
export function totalRefused(counters: ReflectorCounters): number {
  return Object.values(counters.refused).reduce((sum, value) => sum + value, 0);
}

function stampMetrics(stamp: StampCounters | undefined): MetricFamily[] {
  if (stamp === undefined) return [];
  return [
    {
      name: "llama_reflector_stamp_received_total",
      help: "Datagrams received on the STAMP port.",
      type: "counter",
      samples: [{ value: stamp.received }],
    },
    {
      name: "llama_reflector_stamp_answered_total",
      help: "STAMP replies sent.",
      type: "counter",
      samples: [{ value: stamp.answered }],
    },
    {
      name: "llama_reflector_stamp_dropped_total",
      help:
        "STAMP datagrams not answered, by reason: too-short (shorter than the base packet of the mode), malformed (a field a reply fills is not zero: a reply, or junk), bad-hmac (authenticated mode, no key verifies), not-allowed (source outside --allow), source-port (see --refuse-source-ports), per-source-rate and per-source-table-full (see --per-source-pps), throttled (--max-pps).",
      type: "counter",
      samples: Object.entries(stamp.dropped).map(([reason, value]) => ({
        labels: { reason },
        value,
      })),
    },
    {
      name: "llama_reflector_stamp_send_errors_total",
      help: "STAMP replies the socket failed to send.",
      type: "counter",
      samples: [{ value: stamp.sendErrors }],
    },
    {
      name: "llama_reflector_stamp_sessions",
      help: "Sessions a stateful STAMP reflector holds (--stamp-mode stateful).",
      type: "gauge",
      samples: [{ value: stamp.sessions }],
    },
    {
      name: "llama_reflector_stamp_per_source_tracked",
      help: "Sources the STAMP port's per-source table holds, bounded by --per-source-table.",
      type: "gauge",
      samples: [{ value: stamp.perSourceTracked }],
    },
  ];
}
