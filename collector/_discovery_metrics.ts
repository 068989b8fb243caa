/**
 * `/metrics` of target discovery: `llama_discovery_*`, one series per discovered target list.
 *
 * @module
 */
import type { MetricFamily } from "@llama/core";
import type { DiscoveredListStatus } from "./_discovered_list.ts";

/** The `llama_discovery_*` families of `lists`. */
export function discoveryMetrics(lists: readonly DiscoveredListStatus[]): MetricFamily[] {
  const labels = (list: DiscoveredListStatus) => ({ list: list.list, kind: list.kind });
  return [
    {
      name: "llama_discovery_targets",
      help: "Targets in a discovered list now (the last good read's while its source fails).",
      type: "gauge",
      samples: lists.map((list) => ({ labels: labels(list), value: list.targets })),
    },
    {
      name: "llama_discovery_up",
      help: "1 when the last read of the list's source succeeded, 0 while it fails.",
      type: "gauge",
      samples: lists.map((list) => ({ labels: labels(list), value: list.ok ? 1 : 0 })),
    },
    {
      name: "llama_discovery_refreshes_total",
      help: "Reads of a list's source, by result: changed, unchanged or failed.",
      type: "counter",
      samples: lists.flatMap((list) =>
        (["changed", "unchanged", "failed"] as const).map((result) => ({
          labels: { ...labels(list), result },
          value: list.refreshes[result],
        }))
      ),
    },
    {
      name: "llama_discovery_last_success_timestamp_seconds",
      help: "When a read of the list's source last succeeded (0: never).",
      type: "gauge",
      samples: lists.map((list) => ({
        labels: labels(list),
        value: list.lastSuccess === null ? 0 : Date.parse(list.lastSuccess) / 1000,
      })),
    },
  ];
}
