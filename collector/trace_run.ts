/**
 * One trace of one flow while it runs: which TTL to send next, what each TTL's probes brought
 * back, and, once done, the `FlowTrace` it makes.
 *
 * @module
 */
import type { FlowTrace, HopKind, TraceHop, TraceReason } from "@llama/core";

/** How a run sends: from the tracing config. */
export interface TraceRunSettings {
  /** Probes at each TTL. */
  probesPerHop: number;
  /** Highest TTL tried. */
  maxHops: number;
  /** Consecutive silent TTLs past the last answering one after which nothing more is sent. */
  gapLimit: number;
}

/** What answered one trace probe. */
export type TraceAnswer = "time-exceeded" | "unreachable" | "destination";

/** What the probes of one TTL brought back so far. */
interface HopTally {
  sent: number;
  /** Probes resolved: answered or timed out. */
  resolved: number;
  replies: Map<string, number>;
  rtts: number[];
  timeExceeded: number;
  unreachable: number;
  destination: number;
}

/** The flow a run traces, as its result names it. */
export interface TracedFlowIdentity {
  /** The target's address. */
  target: string;
  /** The collector's source address of the flow. */
  source: string;
  /** Source port. */
  srcPort: number;
  /** Target port. */
  dstPort: number;
  /** TOS of the flow's probes. */
  tos: number;
}

/**
 * A trace in progress. Probes go out TTL by TTL (`probesPerHop` each) with at most two TTLs'
 * worth in flight, so a run waits at a silent stretch instead of sending every TTL at once;
 * it sends nothing past the TTL at which the target answered, nor `gapLimit` TTLs past the last
 * one that answered.
 */
export class TraceRun {
  readonly reason: TraceReason;
  readonly flow: TracedFlowIdentity;
  /** Wall-clock time of the first probe, ms. */
  startedAt = NaN;
  readonly #settings: TraceRunSettings;
  readonly #hops: HopTally[] = [];
  #nextTtl = 1;
  #sentAtTtl = 0;
  #inFlight = 0;
  /** Lowest TTL at which the target (or an unreachable) answered: nothing is sent past it. */
  #lastTtl = Infinity;
  /** Highest TTL anything answered at. */
  #highestAnswered = 0;

  /** A run tracing `flow` for `reason`. */
  constructor(flow: TracedFlowIdentity, reason: TraceReason, settings: TraceRunSettings) {
    this.flow = flow;
    this.reason = reason;
    this.#settings = settings;
  }

  /** Probes sent and not yet answered or timed out. */
  get inFlight(): number {
    return this.#inFlight;
  }

  /** The TTL of the probe to send next, or 0 when the run has nothing to send now. */
  nextTtl(): number {
    const { probesPerHop, maxHops, gapLimit } = this.#settings;
    if (this.#inFlight >= 2 * probesPerHop) return 0;
    const ttl = this.#nextTtl;
    if (ttl > maxHops || ttl > this.#lastTtl || ttl > this.#highestAnswered + gapLimit) return 0;
    return ttl;
  }

  /** A probe with `ttl` (from `nextTtl`) left at wall-clock time `now`. */
  sent(ttl: number, now: number): void {
    if (Number.isNaN(this.startedAt)) this.startedAt = now;
    this.#tally(ttl).sent++;
    this.#inFlight++;
    if (++this.#sentAtTtl === this.#settings.probesPerHop) {
      this.#sentAtTtl = 0;
      this.#nextTtl++;
    }
  }

  /** A probe with `ttl` was answered by `address` after `rttMs`. */
  answered(ttl: number, answer: TraceAnswer, address: string, rttMs: number): void {
    const tally = this.#tally(ttl);
    this.#inFlight--;
    tally.resolved++;
    tally.replies.set(address, (tally.replies.get(address) ?? 0) + 1);
    tally.rtts.push(rttMs);
    if (answer === "time-exceeded") tally.timeExceeded++;
    else if (answer === "unreachable") tally.unreachable++;
    else tally.destination++;
    if (ttl > this.#highestAnswered) this.#highestAnswered = ttl;
    if (answer !== "time-exceeded" && ttl < this.#lastTtl) this.#lastTtl = ttl;
  }

  /** A probe with `ttl` got no answer in time. */
  timedOut(ttl: number): void {
    this.#tally(ttl).resolved++;
    this.#inFlight--;
  }

  /** Whether the run is over: nothing in flight and nothing more to send. */
  get done(): boolean {
    return this.#inFlight === 0 && this.nextTtl() === 0;
  }

  /**
   * The trace as the API serves it, at wall-clock time `now` (the fields the tracer owns, such
   * as `pathChanged`, are left for it to set).
   */
  result(now: number): FlowTrace {
    const last = Math.min(this.#lastTtl, this.#hops.length);
    const hops: TraceHop[] = [];
    for (let ttl = 1; ttl <= last; ttl++) hops.push(hopOf(ttl, this.#hops[ttl - 1]));
    // Past the last hop that answered, keep one silent hop: where the trace goes quiet.
    while (hops.length > this.#highestAnswered + 1) hops.pop();
    const end = hops.at(-1);
    const { target, source, srcPort, dstPort, tos } = this.flow;
    return {
      target,
      source,
      srcPort,
      dstPort,
      tos,
      reason: this.reason,
      startedAt: new Date(Number.isNaN(this.startedAt) ? now : this.startedAt).toISOString(),
      finishedAt: new Date(now).toISOString(),
      reachedTarget: end?.kind === "destination",
      hops,
      flowLossPercent: null,
      pathChanged: false,
      reverseHops: null,
    };
  }

  #tally(ttl: number): HopTally {
    while (this.#hops.length < ttl) {
      this.#hops.push({
        sent: 0,
        resolved: 0,
        replies: new Map(),
        rtts: [],
        timeExceeded: 0,
        unreachable: 0,
        destination: 0,
      });
    }
    return this.#hops[ttl - 1];
  }
}

function hopOf(ttl: number, tally: HopTally | undefined): TraceHop {
  if (tally === undefined || tally.sent === 0) {
    return {
      ttl,
      address: null,
      addresses: [],
      sent: 0,
      received: 0,
      lossPercent: 100,
      rtt: null,
      kind: "silent",
    };
  }
  const addresses = [...tally.replies].map(([address, replies]) => ({ address, replies }))
    .sort((a, b) => b.replies - a.replies || (a.address < b.address ? -1 : 1));
  const received = tally.rtts.length;
  const kind: HopKind = tally.destination > 0
    ? "destination"
    : tally.unreachable > 0
    ? "unreachable"
    : tally.timeExceeded > 0
    ? "time-exceeded"
    : "silent";
  return {
    ttl,
    address: addresses[0]?.address ?? null,
    addresses,
    sent: tally.sent,
    received,
    lossPercent: Math.round(((tally.sent - received) / tally.sent) * 10000) / 100,
    rtt: received === 0 ? null : round3(median(tally.rtts)),
    kind,
  };
}

function median(values: number[]): number {
  const sorted = values.toSorted((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

function round3(value: number): number {
  return Math.round(value * 1000) / 1000;
}
