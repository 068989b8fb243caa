/**
 * The scraper's own metrics, in Prometheus' text format.
 *
 * @module
 */
import { formatPrometheus, type MetricFamily } from "@llama/core";
import type { OutputHost } from "./output_host.ts";
import type { CollectorStatus } from "./collector_status.ts";
import { REFUSAL_REASONS } from "./errors.ts";

/** The metrics of a scraper whose collectors are doing as `statuses` say, writing to `hosts`. */
export function scraperMetrics(
  statuses: readonly CollectorStatus[],
  hosts: readonly OutputHost[],
): string {
  const perCollector = (
    name: string,
    help: string,
    type: MetricFamily["type"],
    value: (status: CollectorStatus) => number,
  ) => ({
    name,
    help,
    type,
    samples: statuses.map((status) => ({
      labels: { collector: status.collector.name },
      value: value(status),
    })),
  });
  const perOutput = (
    name: string,
    help: string,
    type: MetricFamily["type"],
    value: (host: OutputHost) => number,
  ) => ({
    name,
    help,
    type,
    samples: hosts.map((host) => ({ labels: { output: host.name }, value: value(host) })),
  });
  return formatPrometheus([
    {
      name: "llama_scraper_scrapes_total",
      help: "Scrapes by collector and result (stale: no new interval since the last one).",
      type: "counter",
      samples: statuses.flatMap((status) =>
        (["ok", "failed", "stale"] as const).map((result) => ({
          labels: { collector: status.collector.name, result },
          value: status[result],
        }))
      ),
    },
    perCollector(
      "llama_scraper_collector_up",
      "Whether the last scrape of the collector succeeded.",
      "gauge",
      (status) => status.up ? 1 : 0,
    ),
    perCollector(
      "llama_scraper_scrape_duration_seconds",
      "Duration of the last scrape.",
      "gauge",
      (status) => status.lastDurationMs / 1000,
    ),
    perCollector(
      "llama_scraper_points_scraped_total",
      "Points scraped from the collector.",
      "counter",
      (status) => status.points,
    ),
    perCollector(
      "llama_scraper_intervals_missed_total",
      "Intervals the collector published that were never scraped (see the log for which).",
      "counter",
      (status) => status.missed,
    ),
    perCollector(
      "llama_scraper_points_invalid_total",
      "Paths, flows and points of the collector left out because they broke the contract " +
        "(a value out of range, an unknown measurement, field or tag name).",
      "counter",
      (status) => status.invalid,
    ),
    {
      name: "llama_scraper_responses_refused_total",
      help: "Answers of the collector refused: a redirect (never followed), a body over " +
        "max_response_bytes, one far denser in objects and lists than a summary, or " +
        "/api/v1/traces breaking the trace contract (invalid_traces); or none: HTTP 401 or 403 " +
        "(unauthorized: no API token, or a wrong one), an HTTPS certificate not trusted (tls).",
      type: "counter",
      samples: statuses.flatMap((status) =>
        REFUSAL_REASONS.map((reason) => ({
          labels: { collector: status.collector.name, reason },
          value: status.refused[reason],
        }))
      ),
    },
    perOutput(
      "llama_scraper_points_written_total",
      "Points the output stored.",
      "counter",
      (host) => host.counters.written,
    ),
    perOutput(
      "llama_scraper_points_rejected_total",
      "Points the output refused for good, kept in the spool's dead-letter.jsonl.",
      "counter",
      (host) => host.counters.rejected,
    ),
    perOutput(
      "llama_scraper_dead_letter_full_points_total",
      "Points refused for good but not kept, the dead-letter file having reached 256 MiB.",
      "counter",
      (host) => host.counters.unkept,
    ),
    perOutput(
      "llama_scraper_spool_damaged_files_total",
      "Spool files that could not be read back, moved aside as *.damaged.",
      "counter",
      (host) => host.counters.damaged,
    ),
    perOutput(
      "llama_scraper_points_dropped_total",
      "Points dropped: memory full and no data directory.",
      "counter",
      (host) => host.counters.dropped,
    ),
    perOutput(
      "llama_scraper_write_failures_total",
      "Failed writes, each retried.",
      "counter",
      (host) => host.counters.failures,
    ),
    perOutput(
      "llama_scraper_queue_points",
      "Points waiting for the output, in memory and on disk.",
      "gauge",
      (host) => host.counters.queued,
    ),
    perOutput(
      "llama_scraper_spool_points",
      "Points waiting for the output on disk.",
      "gauge",
      (host) => host.counters.spooled,
    ),
    perOutput(
      "llama_scraper_last_write_timestamp_seconds",
      "Time of the output's last successful write.",
      "gauge",
      (host) => host.counters.lastSuccess / 1000,
    ),
  ]);
}
