/**
 * The scraper's fleet view of flow traces: every collector's latest traces, the suspect links
 * ranked over all of them, and the events (path changes, suspects) they make as points.
 *
 * @module
 */
import {
  firstDifference,
  type FlowTrace,
  linkKey,
  rankSuspects,
  type SuspectLink,
  type SuspectsResponse,
  type TracedFlow,
  traceLinks,
} from "@llama/core";
import type { Point } from "@llama/plugins";

/** A suspect link of the fleet: core's `SuspectLink` and how many collectors see it. */
export interface FleetSuspect extends SuspectLink {
  /** Collectors with lossy flows crossing it: more vantage points, a sharper answer. */
  collectors: number;
}

/** The scraper's `GET /api/v1/suspects`: the ranking over every collector's traces. */
export interface FleetSuspectsResponse extends SuspectsResponse {
  /** Suspects, highest score first, each with its `collectors`. */
  suspects: FleetSuspect[];
}

/** One trace in the scraper's `GET /api/v1/traces`: a collector's, named. */
export interface CollectorTrace extends FlowTrace {
  /** The collector's name, as in the scraper's config. */
  collector: string;
}

/** Options of `FleetTraces`. */
export interface FleetTracesOptions {
  /** Suspects scoring this or more become `llama_suspect` points each round. Default 0.5. */
  suspectScore?: number;
  /** Most `llama_suspect` points a round. Default 10. */
  mostSuspectPoints?: number;
}

/** A flow losing this share of its probes or more is lossy (`rankSuspects`' `lossyPercent`). */
const LOSSY_PERCENT = 1;

/** A flow of a collector: its 5-tuple and TOS. */
function flowKey(collector: string, trace: FlowTrace): string {
  return `${collector} ${trace.source} ${trace.srcPort} ${trace.target} ${trace.dstPort} ${trace.tos}`;
}

/** What is remembered of a flow's traces: the last seen, and the last path change written. */
interface FlowMemory {
  last: FlowTrace;
  /** When the last path change written started, ms since 1970 (0: none yet). */
  changeWritten: number;
}

/**
 * Every collector's latest traces, and what they mean for the fleet. Not safe to share between
 * scrapers; each round replaces a collector's traces with what it answered.
 *
 * @example
 * ```ts ignore
 * const fleet = new FleetTraces();
 * const changes = fleet.update("c1", traces); // llama_path_change points
 * const suspects = fleet.suspectPoints(Date.now()); // llama_suspect points
 * ```
 */
export class FleetTraces {
  readonly #latest = new Map<string, readonly FlowTrace[]>();
  readonly #flows = new Map<string, FlowMemory>();
  readonly #suspectScore: number;
  readonly #mostSuspectPoints: number;

  /** Starts with no traces. */
  constructor(options: FleetTracesOptions = {}) {
    this.#suspectScore = options.suspectScore ?? 0.5;
    this.#mostSuspectPoints = options.mostSuspectPoints ?? 10;
  }

  /**
   * Takes `collector`'s latest traces (an empty list for one that stopped tracing) and returns a
   * `llama_path_change` point for each trace that says its path changed and is newer than the
   * last such trace of its flow written.
   */
  update(collector: string, traces: readonly FlowTrace[]): Point[] {
    const points: Point[] = [];
    const current = new Set<string>();
    for (const trace of traces) {
      const key = flowKey(collector, trace);
      current.add(key);
      const memory = this.#flows.get(key);
      const started = Date.parse(trace.startedAt);
      const written = memory?.changeWritten ?? 0;
      const changed = trace.pathChanged && started > written;
      if (changed) points.push(pathChangePoint(trace, memory?.last));
      this.#flows.set(key, { last: trace, changeWritten: changed ? started : written });
    }
    // Flows the collector no longer traces are forgotten with its old traces.
    for (const key of this.#flows.keys()) {
      if (key.startsWith(`${collector} `) && !current.has(key)) this.#flows.delete(key);
    }
    if (traces.length === 0) this.#latest.delete(collector);
    else this.#latest.set(collector, traces);
    return points;
  }

  /** Every collector's latest traces, each naming its collector, collectors in name order. */
  traces(): CollectorTrace[] {
    return [...this.#latest.keys()].sort().flatMap((collector) =>
      this.#latest.get(collector)!.map((trace) => ({ collector, ...trace }))
    );
  }

  /**
   * `rankSuspects` over every collector's traces (each with its `flowLossPercent` as the flow's
   * loss; traces without one are left out), each suspect with its `collectors`.
   */
  suspects(): FleetSuspectsResponse {
    const flows: TracedFlow[] = [];
    const owners: string[] = [];
    for (const [collector, traces] of this.#latest) {
      for (const trace of traces) {
        if (trace.flowLossPercent === null) continue;
        flows.push({ trace, lossPercent: trace.flowLossPercent });
        owners.push(collector);
      }
    }
    const ranked = rankSuspects(flows, { lossyPercent: LOSSY_PERCENT });
    const seenBy = new Map<string, Set<string>>();
    for (const suspect of ranked.suspects) seenBy.set(linkKey(suspect.from, suspect.to), new Set());
    for (const [index, flow] of flows.entries()) {
      if (flow.lossPercent < LOSSY_PERCENT) continue;
      for (const link of traceLinks(flow.trace)) {
        seenBy.get(linkKey(link.from, link.to))?.add(owners[index]);
      }
    }
    return {
      ...ranked,
      suspects: ranked.suspects.map((suspect) => ({
        ...suspect,
        collectors: seenBy.get(linkKey(suspect.from, suspect.to))!.size,
      })),
    };
  }

  /** A `llama_suspect` point, dated `time`, for each top suspect scoring at least the threshold. */
  suspectPoints(time: number): Point[] {
    return this.suspects().suspects
      .filter((suspect) => suspect.score >= this.#suspectScore)
      .slice(0, this.#mostSuspectPoints)
      .map((suspect) => ({
        measurement: "llama_suspect",
        tags: { from: suspect.from, to: suspect.to ?? NO_HOP },
        fields: {
          score: suspect.score,
          lossy_flows: suspect.lossyFlows,
          clean_flows: suspect.cleanFlows,
          onset_flows: suspect.onsetFlows,
          collectors: suspect.collectors,
        },
        time,
      }));
  }
}

/** The `to` tag of a suspect past which nothing answers (InfluxDB drops an empty tag). */
export const NO_HOP = "none";

/** The point of a path change, dated when its trace started. */
function pathChangePoint(trace: FlowTrace, previous: FlowTrace | undefined): Point {
  const fields: Record<string, number> = {
    hops: trace.hops.length,
    reached_target: trace.reachedTarget ? 1 : 0,
  };
  const changed = previous === undefined ? null : firstDifference(previous, trace);
  if (changed !== null) fields.changed_ttl = changed;
  if (trace.reverseHops !== null) fields.reverse_hops = trace.reverseHops;
  return {
    measurement: "llama_path_change",
    tags: {
      src_ip: trace.source,
      dst_ip: trace.target,
      src_port: String(trace.srcPort),
      dst_port: String(trace.dstPort),
      tos: String(trace.tos),
    },
    fields,
    time: Date.parse(trace.startedAt),
  };
}
