/**
 * The shapes of flow-preserving path traces and suspect links, as the collector's
 * `/api/v1/traces` and `/api/v1/suspects` serve them and the scraper combines them (camelCase,
 * RTT in milliseconds, like `/api/v1/summaries`).
 *
 * @module
 */

/** Why a trace was taken. */
export type TraceReason = "baseline" | "loss" | "control" | "request";

/** What answered the probes of one hop. */
export type HopKind = "time-exceeded" | "unreachable" | "destination" | "silent";

/** One address that answered probes of a hop, and how many of them. */
export interface HopAddress {
  /** The address that answered (a router's, or the target's). */
  address: string;
  /** Probes it answered. */
  replies: number;
}

/** One hop of a trace: what answered the probes sent with IP TTL (IPv6 hop limit) `ttl`. */
export interface TraceHop {
  /** The IP TTL / hop limit the probes were sent with: 1 is the first router. */
  ttl: number;
  /** The address that answered most probes; null when none answered (a silent hop). */
  address: string | null;
  /** Every address that answered, most replies first (more than one: a path change mid-trace). */
  addresses: HopAddress[];
  /** Probes sent with this TTL. */
  sent: number;
  /** Probes answered (by a time-exceeded, an unreachable, or the target's reply). */
  received: number;
  /** Share of this hop's probes that got no answer, 0–100. */
  lossPercent: number;
  /** Median round trip of the answers, ms; null when none came. */
  rtt: number | null;
  /** What answered. */
  kind: HopKind;
}

/** The latest trace of one flow: its 5-tuple (and TOS) and what each hop answered. */
export interface FlowTrace {
  /** The target's address, as `dstIp` in summaries. */
  target: string;
  /** The collector's source address of the flow. */
  source: string;
  /** The flow's source port (the probing socket's). */
  srcPort: number;
  /** The target's port. */
  dstPort: number;
  /** TOS byte of the flow's probes (the trace's too). */
  tos: number;
  /** Why this trace was taken. */
  reason: TraceReason;
  /** When its first probe left, RFC 3339. */
  startedAt: string;
  /** When its last probe was answered or timed out, RFC 3339. */
  finishedAt: string;
  /** Whether the target itself answered (the hops then end with its `destination` hop). */
  reachedTarget: boolean;
  /** One entry per TTL sent, from 1, up to the target's hop or the last one tried. */
  hops: TraceHop[];
  /**
   * The flow's loss in the latest published interval (updated every interval, not only when the
   * trace is taken), 0–100; null when the flow has no interval yet.
   */
  flowLossPercent: number | null;
  /** Whether the responding hops differ from the flow's baseline trace. */
  pathChanged: boolean;
  /** Hops from the target back to the collector, read off the replies' TTL; null when unknown. */
  reverseHops: number | null;
}

/** A link (or, with `to` null, the hop `from` and what lies past it) that lossy flows cross. */
export interface SuspectLink {
  /** The address on the near side (the collector's source address for the first link). */
  from: string;
  /** The address on the far side; null where nothing answers past `from`. */
  to: string | null;
  /** How strongly the evidence points here, 0–1 (1: every lossy flow crosses it, no clean one does). */
  score: number;
  /** Lossy flows whose trace crosses it. */
  lossyFlows: number;
  /** Clean flows whose trace crosses it. */
  cleanFlows: number;
  /** Lossy flows whose trace starts losing (or stops answering) right past `from`. */
  onsetFlows: number;
  /** Up to 10 of the lossy flows, as `source:srcPort>target:dstPort`. */
  examples: string[];
}

/** A flow's trace with whether the flow is losing probes: the input of `rankSuspects`. */
export interface TracedFlow {
  /** The flow's latest trace. */
  trace: FlowTrace;
  /** The flow's loss in its last interval, 0–100. */
  lossPercent: number;
}

/** `GET /api/v1/traces`. */
export interface TracesResponse {
  /** Whether this collector can trace (the native engine), and if not, why not. */
  tracing: { available: boolean; reason?: string };
  /** The latest trace of each traced flow. */
  traces: FlowTrace[];
}

/** `GET /api/v1/suspects`. */
export interface SuspectsResponse {
  /** Suspects, highest score first; empty when no flow is lossy. */
  suspects: SuspectLink[];
  /** Lossy flows considered. */
  lossyFlows: number;
  /** Clean flows considered. */
  cleanFlows: number;
}
