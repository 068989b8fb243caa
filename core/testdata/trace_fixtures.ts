// Hand-built traces for tests of suspects and of what reads traces (the scraper): a path is a
// list of hops, each an address (null: silent) and the share of its probes lost.
import type { FlowTrace, TracedFlow, TraceHop } from "../trace.ts";

/** One hop: its address (null for a silent one) and its loss, 0–100 (default 0). */
export type HopSpec = string | null | readonly [string | null, number];

/** What a test says of a trace; the rest has plain defaults. */
export interface TraceSpec {
  /** The hops from TTL 1; the trace reached its target when the last hop is the target's. */
  hops: readonly HopSpec[];
  target: string;
  source?: string;
  srcPort?: number;
  dstPort?: number;
  flowLossPercent?: number | null;
  pathChanged?: boolean;
  reverseHops?: number | null;
  startedAt?: string;
}

const PROBES = 20;

/** A `TraceHop` as a tracer sending 20 probes a TTL would report it. */
export function hop(ttl: number, spec: HopSpec, target: string): TraceHop {
  const [address, loss] = typeof spec === "string" || spec === null ? [spec, 0] : spec;
  const lossPercent = address === null ? 100 : loss;
  const received = Math.round(PROBES * (1 - lossPercent / 100));
  return {
    ttl,
    address,
    addresses: address === null ? [] : [{ address, replies: received }],
    sent: PROBES,
    received,
    lossPercent,
    rtt: address === null || received === 0 ? null : ttl * 0.5,
    kind: address === null ? "silent" : address === target ? "destination" : "time-exceeded",
  };
}

/** A trace of the flow `spec` names. */
export function trace(spec: TraceSpec): FlowTrace {
  const hops = spec.hops.map((hopSpec, index) => hop(index + 1, hopSpec, spec.target));
  const startedAt = spec.startedAt ?? "2026-01-01T00:00:00.000Z";
  return {
    target: spec.target,
    source: spec.source ?? "10.0.0.1",
    srcPort: spec.srcPort ?? 33000,
    dstPort: spec.dstPort ?? 8100,
    tos: 0,
    reason: "baseline",
    startedAt,
    finishedAt: new Date(Date.parse(startedAt) + 1000).toISOString(),
    reachedTarget: hops.at(-1)?.address === spec.target,
    hops,
    flowLossPercent: spec.flowLossPercent === undefined ? 0 : spec.flowLossPercent,
    pathChanged: spec.pathChanged ?? false,
    reverseHops: spec.reverseHops === undefined ? hops.length : spec.reverseHops,
  };
}

/** A flow losing `lossPercent` of its probes, with the trace `spec` names. */
export function tracedFlow(lossPercent: number, spec: TraceSpec): TracedFlow {
  return { lossPercent, trace: trace({ flowLossPercent: lossPercent, ...spec }) };
}
