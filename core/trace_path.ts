/**
 * What one trace says about its flow's path: the links it crosses, where it starts losing, and
 * whether two traces of a flow show the same path. Pure functions over `FlowTrace` values.
 *
 * @module
 */

import type { FlowTrace, TraceHop } from "./trace.ts";

/** A link a trace crosses: two consecutive answering hops, or `from` and nothing past it. */
export interface TraceLink {
  /** The near side: the flow's source address, or a hop's (most frequent) address. */
  from: string;
  /** The far side; null where nothing answers past `from` (the trace stopped before the target). */
  to: string | null;
}

/** Options of `lossOnset`. */
export interface LossOnsetOptions {
  /**
   * How much loss, in percentage points, must persist from a hop to the last answering one for
   * that hop to be where loss starts. Default 5: with a few dozen probes a hop, one or two lost
   * to chance stay under it.
   */
  marginPercent?: number;
  /**
   * The share of probes, 0–100, each router's answers lose on flows that lose none (ICMP rate
   * limiting), by address: a hop's loss is first corrected for it (as two independent losses:
   * `1 − (1 − seen) / (1 − limited)`), so that a rate-limited router just before the hop where
   * loss starts is not taken for the onset. `rankSuspects` learns it from the clean flows.
   */
  answerLoss?: ReadonlyMap<string, number>;
}

/** Default of `LossOnsetOptions.marginPercent`. */
const ONSET_MARGIN_PERCENT = 5;

/** The hops that answered, in TTL order. */
function answering(trace: FlowTrace): TraceHop[] {
  return trace.hops.filter((hop) => hop.address !== null);
}

/**
 * The links `trace` crosses, in path order and each once: from its `source` to the first
 * answering hop, between consecutive answering hops (a silent hop between two answering ones is
 * stepped over: the link joins the answering ones), and, when the trace stops answering before
 * the target, a last `(lastAnswering, null)` (`(source, null)` when nothing answered). The target
 * is the last link's far end when it answered (its `destination` hop, or added after the last
 * hop when `reachedTarget` is set without one). A hop answering like the one before it (a router
 * answering two TTLs) makes no link.
 *
 * @example Source, one router, the target
 * ```ts
 * import { traceLinks } from "@llama/core";
 * const hop = (ttl: number, address: string | null) => ({
 *   ttl, address, addresses: address ? [{ address, replies: 3 }] : [], sent: 3,
 *   received: address ? 3 : 0, lossPercent: address ? 0 : 100, rtt: address ? 1 : null,
 *   kind: address === null ? "silent" as const : address === "10.0.9.9" ? "destination" as const : "time-exceeded" as const,
 * });
 * const links = traceLinks({
 *   target: "10.0.9.9", source: "10.0.0.1", srcPort: 33000, dstPort: 8100, tos: 0,
 *   reason: "baseline", startedAt: "2026-01-01T00:00:00Z", finishedAt: "2026-01-01T00:00:01Z",
 *   reachedTarget: true, hops: [hop(1, "10.0.1.1"), hop(2, null), hop(3, "10.0.9.9")],
 *   flowLossPercent: 0, pathChanged: false, reverseHops: 3,
 * });
 * console.assert(links.length === 2 && links[1].from === "10.0.1.1" && links[1].to === "10.0.9.9");
 * ```
 */
export function traceLinks(trace: FlowTrace): TraceLink[] {
  const links: TraceLink[] = [];
  const seen = new Set<string>();
  const add = (from: string, to: string | null) => {
    const key = linkKey(from, to);
    if (from === to || seen.has(key)) return;
    seen.add(key);
    links.push({ from, to });
  };
  let previous = trace.source;
  for (const hop of answering(trace)) {
    add(previous, hop.address!);
    previous = hop.address!;
  }
  if (!trace.reachedTarget) add(previous, null);
  else if (previous !== trace.target) add(previous, trace.target);
  return links;
}

/**
 * Where `trace` starts losing: the link whose far end is the first answering hop from which
 * at least `marginPercent` of loss persists to every later answering hop (the target's too), or,
 * when there is none and the trace stops answering before the target, `(lastAnswering, null)`.
 * Null when the trace shows neither.
 *
 * Persisting is what tells loss from ICMP rate limiting: a router that answers few of its
 * time-exceeded probes looks lossy, but the hops past it answer again, so it is not where loss
 * starts. Each hop's loss is taken as the least loss of it and every hop past it (what persists
 * from there), and the first hop where that reaches the margin is the onset. When a rate-limited
 * router is right before that hop, nothing past it shows it was not where loss started:
 * `answerLoss`, what it loses on clean flows, tells.
 *
 * @example A rate-limited first router, then loss from the third router on
 * ```ts
 * import { lossOnset } from "@llama/core";
 * const hop = (ttl: number, address: string, lossPercent: number) => ({
 *   ttl, address, addresses: [{ address, replies: 10 }], sent: 10, received: 10 - lossPercent / 10,
 *   lossPercent, rtt: 1, kind: "time-exceeded" as const,
 * });
 * const onset = lossOnset({
 *   target: "10.0.9.9", source: "10.0.0.1", srcPort: 33000, dstPort: 8100, tos: 0,
 *   reason: "loss", startedAt: "2026-01-01T00:00:00Z", finishedAt: "2026-01-01T00:00:01Z",
 *   reachedTarget: true,
 *   hops: [hop(1, "10.0.1.1", 60), hop(2, "10.0.2.1", 0), hop(3, "10.0.3.1", 30), hop(4, "10.0.9.9", 40)],
 *   flowLossPercent: 30, pathChanged: false, reverseHops: 3,
 * });
 * console.assert(onset?.from === "10.0.2.1" && onset?.to === "10.0.3.1");
 * ```
 */
export function lossOnset(trace: FlowTrace, options: LossOnsetOptions = {}): TraceLink | null {
  const margin = options.marginPercent ?? ONSET_MARGIN_PERCENT;
  const hops = answering(trace);
  // persisting[i]: the least loss of hop i and every answering hop past it.
  const persisting = new Array<number>(hops.length);
  let least = Infinity;
  for (let index = hops.length - 1; index >= 0; index--) {
    const limited = options.answerLoss?.get(hops[index].address!) ?? 0;
    const seen = hops[index].lossPercent;
    const loss = limited <= 0 || limited >= 100
      ? seen
      : Math.max(0, 100 - (100 - seen) / (100 - limited) * 100);
    least = Math.min(least, loss);
    persisting[index] = least;
  }
  // Loss under the margin is still clear when it is most of what reaches the target (a flow
  // losing 4%, a hop or two reading 3% by chance).
  const threshold = Math.max(Number.MIN_VALUE, Math.min(margin, (persisting.at(-1) ?? 0) / 2));
  for (let index = 0; index < hops.length; index++) {
    if (persisting[index] < threshold) continue;
    // A router answering two TTLs in a row: loss starts on the link into its first TTL.
    let first = index;
    while (first > 0 && hops[first - 1].address === hops[index].address) first--;
    return { from: first === 0 ? trace.source : hops[first - 1].address!, to: hops[index].address };
  }
  if (trace.reachedTarget) return null;
  return { from: hops.length === 0 ? trace.source : hops[hops.length - 1].address!, to: null };
}

/**
 * Whether two traces of a flow show the same path: no TTL at which both got an answer, from
 * different addresses (each hop's most frequent responder), and the target reached at the same
 * TTL when both reached it (or, when one did, no answer past that TTL in the other). A hop silent
 * in one of them is no difference, nor is one stopping short where the other goes on.
 *
 * @example A different second router
 * ```ts
 * import { samePath } from "@llama/core";
 * const hop = (ttl: number, address: string | null) => ({
 *   ttl, address, addresses: address ? [{ address, replies: 3 }] : [], sent: 3,
 *   received: address ? 3 : 0, lossPercent: address ? 0 : 100, rtt: null, kind: "time-exceeded" as const,
 * });
 * const trace = (second: string | null) => ({
 *   target: "10.0.9.9", source: "10.0.0.1", srcPort: 33000, dstPort: 8100, tos: 0,
 *   reason: "baseline" as const, startedAt: "2026-01-01T00:00:00Z", finishedAt: "2026-01-01T00:00:01Z",
 *   reachedTarget: false, hops: [hop(1, "10.0.1.1"), hop(2, second)],
 *   flowLossPercent: 0, pathChanged: false, reverseHops: null,
 * });
 * console.assert(samePath(trace("10.0.2.1"), trace(null)));
 * console.assert(!samePath(trace("10.0.2.1"), trace("10.0.2.2")));
 * ```
 */
export function samePath(a: FlowTrace, b: FlowTrace): boolean {
  return firstDifference(a, b) === null;
}

/**
 * The first TTL at which two traces of a flow differ, as `samePath` tells (for a target reached
 * at different TTLs, the lower one); null when they show the same path.
 *
 * @example
 * ```ts ignore
 * import { firstDifference } from "@llama/core";
 * const changedTtl = firstDifference(baseline, latest);
 * ```
 */
export function firstDifference(a: FlowTrace, b: FlowTrace): number | null {
  const byTtl = new Map<number, string>();
  for (const hop of a.hops) if (hop.address !== null) byTtl.set(hop.ttl, hop.address);
  let first: number | null = null;
  const note = (ttl: number) => {
    if (first === null || ttl < first) first = ttl;
  };
  for (const hop of b.hops) {
    const other = byTtl.get(hop.ttl);
    if (hop.address !== null && other !== undefined && other !== hop.address) note(hop.ttl);
  }
  const reachedAt = (trace: FlowTrace) =>
    trace.reachedTarget && trace.hops.length > 0 ? trace.hops[trace.hops.length - 1].ttl : null;
  const lastAnswer = (trace: FlowTrace) =>
    answering(trace).reduce((last, hop) => Math.max(last, hop.ttl), 0);
  const [reachedA, reachedB] = [reachedAt(a), reachedAt(b)];
  if (reachedA !== null && reachedB !== null && reachedA !== reachedB) {
    note(Math.min(reachedA, reachedB));
  }
  if (reachedA !== null && lastAnswer(b) > reachedA) note(reachedA);
  if (reachedB !== null && lastAnswer(a) > reachedB) note(reachedB);
  return first;
}

/** `from>to` (`from>` for a null `to`): a link's key, for maps and ordering. */
export function linkKey(from: string, to: string | null): string {
  return `${from}>${to ?? ""}`;
}
