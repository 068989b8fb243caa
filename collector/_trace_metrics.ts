/**
 * The tracing part of the collector's `/metrics`: hop counts per flow, trace and path-change
 * counters, and the score of each suspect link.
 *
 * @module
 */
import type { FlowTrace, MetricFamily, MetricSample } from "@llama/core";
import type { TracingState } from "./_tracing_state.ts";

/** The tracing metric families of `tracing`. */
export function tracingMetrics(tracing: TracingState): MetricFamily[] {
  const tracer = tracing.tracer;
  const counters = tracer?.counters;
  const traces = tracing.traces();
  const suspects = tracing.status().available ? tracing.suspects().suspects : [];
  const families: MetricFamily[] = [
    gauge(
      "llama_collector_tracing_available",
      "1 when this collector traces its flows hop by hop (native engine), else 0.",
      [{ value: tracing.status().available ? 1 : 0 }],
    ),
    counter("llama_trace_probes_sent_total", "Trace probes sent.", counters?.probesSent ?? 0),
    counter(
      "llama_trace_probes_answered_total",
      "Trace probes answered, by an ICMP error or the target.",
      counters?.probesAnswered ?? 0,
    ),
    counter(
      "llama_trace_answers_unmatched_total",
      "ICMP errors and replies that matched no trace probe in flight (or carried the wrong nonce).",
      counters?.probesUnmatched ?? 0,
    ),
    {
      name: "llama_traces_total",
      help: "Traces finished, by why they were taken.",
      type: "counter",
      samples: Object.entries(counters?.traces ?? {}).map(([reason, value]) => ({
        labels: { reason },
        value,
      })),
    },
    counter(
      "llama_path_changes_total",
      "Traces whose hops differ from their flow's baseline trace.",
      counters?.pathChanges ?? 0,
    ),
    counter(
      "llama_reverse_hop_changes_total",
      "Times a flow's replies came back across another number of hops.",
      tracing.hops.changes,
    ),
    gauge("llama_traces_queued", "Flows waiting for a trace.", [{ value: tracer?.queued ?? 0 }]),
    gauge("llama_traces_running", "Traces under way.", [{ value: tracer?.running ?? 0 }]),
    {
      name: "llama_flow_hops",
      help: "Hops to the target in the flow's latest trace (when the target answered it).",
      type: "gauge",
      samples: traces.filter((trace) => trace.reachedTarget).map((trace) => ({
        labels: flowLabels(trace),
        value: trace.hops.length - 1,
      })),
    },
    {
      name: "llama_flow_reverse_hops",
      help: "Hops the flow's replies crossed on the way back, read off their IP TTL.",
      type: "gauge",
      samples: traces.filter((trace) => trace.reverseHops !== null).map((trace) => ({
        labels: flowLabels(trace),
        value: trace.reverseHops!,
      })),
    },
    {
      name: "llama_suspect_score",
      help: "How strongly lossy flows point at a link (from, to), 0-1; to is empty where nothing " +
        "answers past from.",
      type: "gauge",
      samples: suspects.map((suspect) => ({
        labels: { from: suspect.from, to: suspect.to ?? "" },
        value: suspect.score,
      })),
    },
  ];
  return families;
}

function flowLabels(trace: FlowTrace): Record<string, string> {
  return {
    src_ip: trace.source,
    src_port: String(trace.srcPort),
    dst_ip: trace.target,
    dst_port: String(trace.dstPort),
  };
}

function counter(name: string, help: string, value: number): MetricFamily {
  return { name, help, type: "counter", samples: [{ value }] };
}

function gauge(name: string, help: string, samples: MetricSample[]): MetricFamily {
  return { name, help, type: "gauge", samples };
}
