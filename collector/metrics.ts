import { formatPrometheus, type MetricFamily, sanitizeLabelName } from "@llama/core";
import type { ProberHealth } from "./prober.ts";
import type { IntervalSummary, PathSummary } from "@llama/core";

/** What `/metrics` reports besides the summaries. */
export interface CollectorHealth extends ProberHealth {
  /** Probes per second the config schedules. */
  scheduledRate: number;
  /** End of the last published interval, in seconds since the epoch, or 0. */
  lastIntervalEnd: number;
}

/**
 * Formats the last interval's per-path and per-flow results and the collector's own health as
 * Prometheus text. Path series carry `src_ip`, `dst_ip` and the target's tags as labels; times are
 * in seconds and loss as a ratio, following Prometheus conventions.
 *
 * @example
 * ```ts
 * import { collectorMetrics } from "@llama/collector";
 * const text = collectorMetrics(undefined, {
 *   sent: 0, answered: 0, late: 0, duplicates: 0, unmatched: 0, socketErrors: 0, unsent: 0, skipped: 0,
 *   kernelSendTimes: 0, sendTimeMismatches: 0, inFlight: 0, sockets: 4, maxLagMs: 0,
 *   scheduledRate: 16, lastIntervalEnd: 0,
 * });
 * console.assert(text.includes("llama_collector_sockets 4"));
 * ```
 */
export function collectorMetrics(
  summary: IntervalSummary | undefined,
  health: CollectorHealth,
): string {
  const paths = summary?.paths ?? [];
  const pathFamily = (
    name: string,
    help: string,
    value: (path: PathSummary) => number | undefined,
  ): MetricFamily => ({
    name,
    help,
    type: "gauge",
    samples: paths.flatMap((path) => {
      const sample = value(path);
      return sample === undefined ? [] : [{ labels: pathLabels(path), value: sample }];
    }),
  });
  const seconds = (milliseconds: number | undefined) =>
    milliseconds === undefined ? undefined : milliseconds / 1000;
  return formatPrometheus([
    pathFamily(
      "llama_path_probes_sent",
      "Probes sent on the path in the last interval.",
      (path) => path.sent,
    ),
    pathFamily(
      "llama_path_probes_lost",
      "Probes lost on the path in the last interval.",
      (path) => path.lost,
    ),
    pathFamily(
      "llama_path_loss_ratio",
      "Lost / sent on the path in the last interval (0 to 1).",
      (path) => path.lossPercent / 100,
    ),
    pathFamily(
      "llama_path_probes_late",
      "Answers after their timeout in the last interval.",
      (path) => path.late,
    ),
    pathFamily(
      "llama_path_probes_duplicated",
      "Answers received twice in the last interval.",
      (path) => path.duplicates,
    ),
    pathFamily(
      "llama_path_probes_reordered",
      "Answers out of sequence in the last interval.",
      (path) => path.reordered,
    ),
    // Separate gauges, not a `quantile` label: these are one interval's percentiles, not a
    // Prometheus summary with its cumulative _sum and _count.
    pathFamily(
      "llama_path_rtt_p50_seconds",
      "Median round-trip time in the last interval (reflector dwell subtracted).",
      (path) => seconds(path.rtt?.p50),
    ),
    pathFamily(
      "llama_path_rtt_p90_seconds",
      "90th percentile round-trip time in the last interval.",
      (path) => seconds(path.rtt?.p90),
    ),
    pathFamily(
      "llama_path_rtt_p99_seconds",
      "99th percentile round-trip time in the last interval.",
      (path) => seconds(path.rtt?.p99),
    ),
    pathFamily(
      "llama_path_rtt_mean_seconds",
      "Mean round-trip time in the last interval.",
      (path) => seconds(path.rtt?.mean),
    ),
    pathFamily(
      "llama_path_rtt_min_seconds",
      "Smallest round-trip time in the last interval.",
      (path) => seconds(path.rtt?.min),
    ),
    pathFamily(
      "llama_path_rtt_max_seconds",
      "Largest round-trip time in the last interval.",
      (path) => seconds(path.rtt?.max),
    ),
    pathFamily(
      "llama_path_rtt_stddev_seconds",
      "Standard deviation of round-trip times in the last interval.",
      (path) => seconds(path.rtt?.stddev),
    ),
    pathFamily(
      "llama_path_jitter_seconds",
      "Mean absolute difference of consecutive round-trip times (RFC 3550 IPDV).",
      (path) => seconds(path.jitter ?? undefined),
    ),
    pathFamily(
      "llama_path_probes_lost_forward",
      "STAMP, stateful reflector: lost probes that never reached the reflector in the last interval.",
      (path) => path.lostForward,
    ),
    pathFamily(
      "llama_path_probes_lost_backward",
      "STAMP, stateful reflector: lost probes whose reply was lost on the way back in the last interval.",
      (path) => path.lostBackward,
    ),
    pathFamily(
      "llama_path_one_way_delay_forward_seconds",
      "STAMP: mean collector-to-reflector delay (t2 - t1) in the last interval; needs synchronized clocks.",
      (path) => seconds(path.oneWayDelay?.forward.mean),
    ),
    pathFamily(
      "llama_path_one_way_delay_backward_seconds",
      "STAMP: mean reflector-to-collector delay (t4 - t3) in the last interval; needs synchronized clocks.",
      (path) => seconds(path.oneWayDelay?.backward.mean),
    ),
    {
      name: "llama_flow_loss_ratio",
      help:
        "Lost / sent per flow (source port to target) in the last interval: one bad ECMP path shows here.",
      type: "gauge",
      samples: paths.flatMap((path) =>
        path.flows.map((flow) => ({
          labels: {
            src_ip: flow.srcIp,
            src_port: String(flow.srcPort),
            dst_ip: flow.dstIp,
            dst_port: String(flow.dstPort),
          },
          value: flow.lossPercent / 100,
        }))
      ),
    },
    counter("llama_collector_probes_sent_total", "Probes sent.", health.sent),
    {
      name: "llama_collector_replies_total",
      help: "Datagrams received on probe sockets, by what they matched.",
      type: "counter",
      samples: [
        { labels: { result: "answered" }, value: health.answered },
        { labels: { result: "late" }, value: health.late },
        { labels: { result: "duplicate" }, value: health.duplicates },
        { labels: { result: "unmatched" }, value: health.unmatched },
      ],
    },
    counter(
      "llama_collector_probes_skipped_total",
      "Probes skipped because sending fell over a second behind schedule.",
      health.skipped,
    ),
    counter(
      "llama_collector_socket_errors_total",
      "Failed sends and receives on probe sockets.",
      health.socketErrors,
    ),
    counter(
      "llama_collector_probes_unsent_total",
      "Probes left out of a partial batch send: the send buffer stayed full (EAGAIN) through every retry.",
      health.unsent,
    ),
    counter(
      "llama_collector_kernel_send_times_total",
      "Probes timed from the kernel's transmit timestamp (the rest from the clock read before the send).",
      health.kernelSendTimes,
    ),
    counter(
      "llama_collector_send_time_mismatches_total",
      "Kernel transmit timestamps refused as implausible for the probe their key named.",
      health.sendTimeMismatches,
    ),
    gauge(
      "llama_collector_probes_in_flight",
      "Probes sent and not yet answered or expired.",
      health.inFlight,
    ),
    gauge("llama_collector_sockets", "Probe sockets open.", health.sockets),
    gauge(
      "llama_collector_scheduled_probes_per_second",
      "Probes per second the config schedules.",
      health.scheduledRate,
    ),
    gauge(
      "llama_collector_send_lag_seconds",
      "Largest delay of a probe behind its schedule since the last scrape.",
      health.maxLagMs / 1000,
    ),
    gauge(
      "llama_collector_last_interval_end_timestamp_seconds",
      "End of the last published interval.",
      health.lastIntervalEnd,
    ),
  ]);
}

function pathLabels(path: PathSummary): Record<string, string> {
  const labels: Record<string, string> = {};
  for (const [key, value] of Object.entries(path.tags)) {
    const name = sanitizeLabelName(key);
    if (name !== "src_ip" && name !== "dst_ip" && !name.startsWith("__")) {
      labels[name] = value;
    }
  }
  labels.src_ip = path.srcIp;
  labels.dst_ip = path.dstIp;
  return labels;
}

function counter(name: string, help: string, value: number): MetricFamily {
  return { name, help, type: "counter", samples: [{ value }] };
}

function gauge(name: string, help: string, value: number): MetricFamily {
  return { name, help, type: "gauge", samples: [{ value }] };
}
