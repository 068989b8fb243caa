/**
 * Network tomography over flow traces: which links lossy flows cross and clean flows avoid.
 *
 * @module
 */

import type { SuspectLink, SuspectsResponse, TracedFlow } from "./trace.ts";
import { linkKey, lossOnset, traceLinks } from "./trace_path.ts";

/** Options of `rankSuspects`. */
export interface RankSuspectsOptions {
  /** A flow losing at least this share of its probes, 0–100, is lossy. Default 1. */
  lossyPercent?: number;
  /** A flow losing at most this share, 0–100, is clean. Default 0. */
  cleanPercent?: number;
  /** Loss that must persist past a hop for it to be a trace's onset (`lossOnset`). Default 5. */
  onsetMarginPercent?: number;
  /** Most suspects returned, highest scores first. Default: all. */
  limit?: number;
}

/** Default of `RankSuspectsOptions.lossyPercent`. */
const LOSSY_PERCENT = 1;
/** Default of `RankSuspectsOptions.cleanPercent`. */
const CLEAN_PERCENT = 0;
/** Lossy flows named in a suspect's `examples`. */
const EXAMPLES = 10;

/** `source:srcPort>target:dstPort`, IPv6 addresses in brackets. */
function flowName(flow: TracedFlow): string {
  const { source, srcPort, target, dstPort } = flow.trace;
  const side = (address: string, port: number) =>
    address.includes(":") ? `[${address}]:${port}` : `${address}:${port}`;
  return `${side(source, srcPort)}>${side(target, dstPort)}`;
}

/**
 * The median loss of each router's answers on clean flows' traces: what it loses to ICMP rate
 * limiting, not to the network (those flows lost nothing).
 */
function answerLoss(clean: readonly TracedFlow[]): Map<string, number> {
  const seen = new Map<string, number[]>();
  for (const { trace } of clean) {
    for (const hop of trace.hops) {
      if (hop.address === null || hop.kind === "destination") continue;
      let losses = seen.get(hop.address);
      if (losses === undefined) seen.set(hop.address, losses = []);
      losses.push(hop.lossPercent);
    }
  }
  const medians = new Map<string, number>();
  for (const [address, losses] of seen) {
    losses.sort((a, b) => a - b);
    const middle = losses.length >> 1;
    medians.set(
      address,
      losses.length % 2 === 1 ? losses[middle] : (losses[middle - 1] + losses[middle]) / 2,
    );
  }
  return medians;
}

/** Orders suspects: score, then lossy flows, then onsets (all descending), then from/to. */
function bySuspicion(a: SuspectLink, b: SuspectLink): number {
  return b.score - a.score || b.lossyFlows - a.lossyFlows || b.onsetFlows - a.onsetFlows ||
    compareText(a.from, b.from) || compareText(a.to ?? "", b.to ?? "");
}

function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * Ranks the links (consecutive answering hops, or a hop past which nothing answers) that lossy
 * flows cross and clean flows avoid, most suspect first; no lossy flow, no suspect.
 *
 * A flow is lossy at `lossyPercent` or more, clean at `cleanPercent` or less, and neither in
 * between: a link that drops a few probes in a thousand leaves flows through it anywhere from 0
 * to a fraction of a percent in an interval, so such a flow is not clean evidence against a link
 * (it may be crossing the faulty one), nor strong evidence for one.
 *
 * A link's score, 0–1, is the product of
 * - coverage: the share of all lossy flows that cross it (a fault explains the loss of the flows
 *   through it; one explaining every lossy flow is the likelier single cause),
 * - exclusivity: lossy / (lossy + clean) flows crossing it (a clean flow through a link is
 *   evidence that it delivers),
 * - 0.5 + 0.5 × onset share: the share of its lossy flows whose trace starts losing (or stops
 *   answering) right past its near end (`lossOnset`). Every link downstream of a fault is crossed
 *   by the same lossy flows only, and only the traces tell which of them the loss starts on;
 *   a trace too short-lived to show the loss still counts half, so the ranking stays usable
 *   without onsets. A router's answers are first corrected for what they lose on clean flows
 *   (ICMP rate limiting: `LossOnsetOptions.answerLoss`), so that a rate-limited router right
 *   before the faulty link does not take the onset.
 *
 * Ties keep a fixed order: more lossy flows, more onsets, then `from` and `to` as text.
 *
 * @example Two flows from one source: the one through 10.0.2.1 loses, the one through 10.0.2.2 does not
 * ```ts
 * import { rankSuspects, type TraceHop } from "@llama/core";
 * const hop = (ttl: number, address: string, lossPercent: number): TraceHop => ({
 *   ttl, address, addresses: [{ address, replies: 10 }], sent: 10, received: 10 - lossPercent / 10,
 *   lossPercent, rtt: 1, kind: address === "10.0.9.9" ? "destination" : "time-exceeded",
 * });
 * const flow = (srcPort: number, router: string, lossPercent: number) => ({
 *   lossPercent,
 *   trace: {
 *     target: "10.0.9.9", source: "10.0.0.1", srcPort, dstPort: 8100, tos: 0, reason: "loss" as const,
 *     startedAt: "2026-01-01T00:00:00Z", finishedAt: "2026-01-01T00:00:01Z", reachedTarget: true,
 *     hops: [hop(1, "10.0.1.1", 0), hop(2, router, lossPercent), hop(3, "10.0.9.9", lossPercent)],
 *     flowLossPercent: lossPercent, pathChanged: false, reverseHops: 3,
 *   },
 * });
 * const { suspects } = rankSuspects([flow(33000, "10.0.2.1", 20), flow(33001, "10.0.2.2", 0)]);
 * console.assert(suspects[0].from === "10.0.1.1" && suspects[0].to === "10.0.2.1");
 * console.assert(suspects[0].score === 1 && suspects[0].examples[0] === "10.0.0.1:33000>10.0.9.9:8100");
 * ```
 */
export function rankSuspects(
  flows: readonly TracedFlow[],
  options: RankSuspectsOptions = {},
): SuspectsResponse {
  const lossyPercent = options.lossyPercent ?? LOSSY_PERCENT;
  const cleanPercent = options.cleanPercent ?? CLEAN_PERCENT;
  if (!(cleanPercent < lossyPercent)) {
    throw new RangeError(
      `rankSuspects: cleanPercent (${cleanPercent}) must be below lossyPercent (${lossyPercent})`,
    );
  }
  const links = new Map<string, SuspectLink>();
  const clean = flows.filter((flow) => flow.lossPercent <= cleanPercent);
  const onsetOptions = {
    marginPercent: options.onsetMarginPercent,
    answerLoss: answerLoss(clean),
  };
  let lossyFlows = 0;
  let cleanFlows = 0;
  for (const flow of flows) {
    const lossy = flow.lossPercent >= lossyPercent;
    if (!lossy && flow.lossPercent > cleanPercent) continue;
    if (lossy) lossyFlows++;
    else cleanFlows++;
    const onset = lossy ? lossOnset(flow.trace, onsetOptions) : null;
    const onsetKey = onset === null ? undefined : linkKey(onset.from, onset.to);
    for (const { from, to } of traceLinks(flow.trace)) {
      const key = linkKey(from, to);
      let link = links.get(key);
      if (link === undefined) {
        link = { from, to, score: 0, lossyFlows: 0, cleanFlows: 0, onsetFlows: 0, examples: [] };
        links.set(key, link);
      }
      if (!lossy) {
        link.cleanFlows++;
        continue;
      }
      link.lossyFlows++;
      if (key === onsetKey) link.onsetFlows++;
      if (link.examples.length < EXAMPLES) link.examples.push(flowName(flow));
    }
  }
  if (lossyFlows === 0) return { suspects: [], lossyFlows, cleanFlows };
  const suspects: SuspectLink[] = [];
  for (const link of links.values()) {
    if (link.lossyFlows === 0) continue;
    const coverage = link.lossyFlows / lossyFlows;
    const exclusivity = link.lossyFlows / (link.lossyFlows + link.cleanFlows);
    link.score = coverage * exclusivity * (0.5 + 0.5 * link.onsetFlows / link.lossyFlows);
    suspects.push(link);
  }
  suspects.sort(bySuspicion);
  if (options.limit !== undefined) suspects.length = Math.min(suspects.length, options.limit);
  return { suspects, lossyFlows, cleanFlows };
}
