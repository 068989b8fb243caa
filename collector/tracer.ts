/**
 * The tracer: traces flows hop by hop from their own sockets (so each trace follows its flow's
 * ECMP path), within a budget of probes per second: every flow once at start and again when its
 * trace is `refresh` old, at once when an interval's loss crosses the threshold (with a clean flow
 * of the same target as a control), and on request.
 *
 * @module
 */
import { getLogger } from "@logtape/logtape";
import {
  type Clock,
  type FlowTrace,
  type PeerAddress,
  samePath,
  type TraceReason,
} from "@llama/core";
import type { TracingConfig } from "./_tracing_config.ts";
import { type TraceAnswer, type TracedFlowIdentity, TraceRun } from "./trace_run.ts";
import type { ReverseHops } from "./reverse_hops.ts";

/** Trace probe ids start here: a regular probe's id is below 2^30 (`ID_MASK`). */
export const TRACE_ID_BASE = 2 ** 30;
/** How often the tracer turns: refills its budget, sends, expires. */
const TICK_MS = 20;
/** A lossy flow is traced again while it stays lossy, at most this often. */
const LOSS_RETRACE_MS = 60_000;
/** Refresh candidates are looked for at most this often (a scan of every flow)… */
const REFRESH_SCAN_MS = 1000;
/** …and at least four times a refresh, so a short one is kept to within a quarter. */
const SCANS_PER_REFRESH = 4;

/** What the tracer needs of a probing socket. */
export interface TraceSocket {
  /**
   * Sends one trace probe to `target` with IP TTL `ttl`, signed `id` and `nonce`; returns its
   * send time on the socket's receive-time scale, or NaN when it could not be sent.
   */
  sendTrace(target: PeerAddress, ttl: number, id: number, nonce: number): number;
}

/** A flow the tracer may trace. */
export interface TraceableFlow extends TracedFlowIdentity {
  /** The flow's id (as the interval book counts it). */
  flow: number;
  /** The flow's own socket. */
  socket: TraceSocket;
  /** The target, as the socket sends to it. */
  address: PeerAddress;
}

/** Where probe sockets hand what comes back for trace probes. */
export interface TraceReceiver {
  /** The target answered trace probe `id` (signature nonce `nonce`) at `receivedAt`. */
  reply(id: number, nonce: number, receivedAt: number): void;
  /** `offender` sent an ICMP error about trace probe `id` at `receivedAt`. */
  icmpError(
    id: number,
    nonce: number,
    answer: Exclude<TraceAnswer, "destination">,
    offender: string,
    receivedAt: number,
  ): void;
}

/** The tracer's counters, cumulative. */
export interface TracerCounters {
  /** Trace probes sent. */
  probesSent: number;
  /** Trace probes answered (ICMP errors and target replies). */
  probesAnswered: number;
  /** Answers that matched no trace probe in flight, or had the wrong nonce. */
  probesUnmatched: number;
  /** Traces finished, by reason. */
  traces: Record<TraceReason, number>;
  /** Traces that differed from the flow's baseline. */
  pathChanges: number;
}

/** Which flows a request asks to trace. */
export interface TraceRequest {
  /** Target address. */
  target: string;
  /** Only the flow from this source port. */
  srcPort?: number;
  /** Only flows to this target port. */
  dstPort?: number;
}

/** A path change: the flow's trace before and after. */
export interface PathChange {
  /** The baseline the new trace differs from. */
  before: FlowTrace;
  /** The new trace. */
  after: FlowTrace;
}

interface FlowState {
  flow: TraceableFlow;
  latest: FlowTrace | undefined;
  baseline: FlowTrace | undefined;
  /** Monotonic time of the last trace's start; -Infinity before the first. */
  tracedAt: number;
  lossTracedAt: number;
  queued: TraceReason | undefined;
  running: TraceRun | undefined;
  lossPercent: number | null;
}

interface InFlightTrace {
  state: FlowState;
  run: TraceRun;
  ttl: number;
  nonce: number;
  sentAt: number;
  /** Monotonic time after which it is lost. */
  deadline: number;
}

const PRIORITY: readonly TraceReason[] = ["request", "loss", "control", "baseline"];

/** Traces flows within a budget; see the module doc. */
export class Tracer {
  readonly counters: TracerCounters = {
    probesSent: 0,
    probesAnswered: 0,
    probesUnmatched: 0,
    traces: { baseline: 0, loss: 0, control: 0, request: 0 },
    pathChanges: 0,
  };
  readonly receiver: TraceReceiver;
  readonly #settings: TracingConfig;
  readonly #clock: Clock;
  readonly #hops: ReverseHops | undefined;
  readonly #onPathChange: ((change: PathChange) => void) | undefined;
  readonly #log = getLogger(["llama", "collector", "tracing"]);
  #states = new Map<string, FlowState>();
  readonly #queues: Record<TraceReason, FlowState[]> = {
    request: [],
    loss: [],
    control: [],
    baseline: [],
  };
  readonly #running: { state: FlowState; run: TraceRun }[] = [];
  readonly #inFlight = new Map<number, InFlightTrace>();
  readonly #nonces = new Uint32Array(1);
  #nextId = 0;
  #tokens = 0;
  #lastTick = NaN;
  #lastRefreshScan = -Infinity;
  #turn = 0;
  #timer: ReturnType<typeof setInterval> | undefined;

  /** A tracer with `settings`, on `clock`; reply TTLs from `hops` go into the traces. */
  constructor(
    settings: TracingConfig,
    clock: Clock,
    options: { hops?: ReverseHops; onPathChange?: (change: PathChange) => void } = {},
  ) {
    this.#settings = settings;
    this.#clock = clock;
    this.#hops = options.hops;
    this.#onPathChange = options.onPathChange;
    this.receiver = {
      reply: (id, nonce, receivedAt) => this.#answered(id, nonce, "destination", "", receivedAt),
      icmpError: (id, nonce, answer, offender, receivedAt) =>
        this.#answered(id, nonce, answer, offender, receivedAt),
    };
  }

  /** Traces in flight now (runs under way). */
  get running(): number {
    return this.#running.length;
  }

  /** Flows waiting for a trace. */
  get queued(): number {
    return PRIORITY.reduce((sum, reason) => sum + this.#queues[reason].length, 0);
  }

  /** The flows to trace from now on: new ones are queued for a baseline, gone ones forgotten. */
  setFlows(flows: readonly TraceableFlow[]): void {
    const states = new Map<string, FlowState>();
    for (const flow of flows) {
      const key = flowKey(flow);
      const known = this.#states.get(key);
      if (known !== undefined) {
        known.flow = flow;
        states.set(key, known);
        continue;
      }
      const state: FlowState = {
        flow,
        latest: undefined,
        baseline: undefined,
        tracedAt: -Infinity,
        lossTracedAt: -Infinity,
        queued: undefined,
        running: undefined,
        lossPercent: null,
      };
      states.set(key, state);
      this.#enqueue(state, "baseline");
    }
    this.#states = states;
    for (const reason of PRIORITY) {
      this.#queues[reason] = this.#queues[reason].filter((state) =>
        states.get(flowKey(state.flow)) === state
      );
    }
  }

  /**
   * Takes an interval's loss of every flow (`lossOf(flow id)`: 0–100, NaN when the flow sent
   * nothing): a flow at or over the threshold is traced at once, with a clean flow of its target.
   */
  observeLoss(lossOf: (flow: number) => number): void {
    const now = this.#clock.monotonic();
    const threshold = this.#settings.lossThresholdPercent;
    const lossyTargets = new Set<string>();
    for (const state of this.#states.values()) {
      const loss = lossOf(state.flow.flow);
      if (Number.isNaN(loss)) continue;
      const wasLossy = state.lossPercent !== null && state.lossPercent >= threshold;
      state.lossPercent = loss;
      if (state.latest !== undefined) state.latest.flowLossPercent = loss;
      if (loss < threshold) continue;
      if (!wasLossy || now - state.lossTracedAt >= LOSS_RETRACE_MS) {
        state.lossTracedAt = now;
        this.#enqueue(state, "loss");
        lossyTargets.add(`${state.flow.target}|${state.flow.dstPort}`);
      }
    }
    if (lossyTargets.size === 0) return;
    // A control: the cleanest flow of each target, traced beside the lossy ones.
    const controls = new Map<string, FlowState>();
    for (const state of this.#states.values()) {
      const key = `${state.flow.target}|${state.flow.dstPort}`;
      if (!lossyTargets.has(key) || state.lossPercent === null || state.lossPercent > 0) continue;
      const best = controls.get(key);
      if (best === undefined || state.tracedAt < best.tracedAt) controls.set(key, state);
    }
    for (const state of controls.values()) {
      if (now - state.lossTracedAt < LOSS_RETRACE_MS) continue;
      state.lossTracedAt = now;
      this.#enqueue(state, "control");
    }
  }

  /** Queues a trace of the flows `request` names; returns how many. */
  request(request: TraceRequest): number {
    let count = 0;
    for (const state of this.#states.values()) {
      const flow = state.flow;
      if (flow.target !== request.target) continue;
      if (request.srcPort !== undefined && flow.srcPort !== request.srcPort) continue;
      if (request.dstPort !== undefined && flow.dstPort !== request.dstPort) continue;
      this.#enqueue(state, "request");
      count++;
    }
    if (count > 0) this.#wake();
    return count;
  }

  /** The latest trace of every flow traced so far, in the order of their flows. */
  traces(): FlowTrace[] {
    const traces: FlowTrace[] = [];
    for (const state of this.#states.values()) {
      if (state.latest === undefined) continue;
      state.latest.reverseHops = this.#hops?.hopsOf(state.flow.flow) ?? null;
      traces.push(state.latest);
    }
    return traces;
  }

  /** Starts turning. */
  start(): void {
    this.#timer ??= setInterval(() => this.tick(), TICK_MS);
  }

  /** Stops; traces under way are dropped. */
  close(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }

  /** One turn: refills the budget, expires what timed out, finishes, starts and sends. */
  tick(): void {
    const now = this.#clock.monotonic();
    const budget = this.#settings.budget;
    const elapsed = Number.isNaN(this.#lastTick) ? TICK_MS : now - this.#lastTick;
    this.#lastTick = now;
    // At most 100 ms of budget at once: a stalled loop does not burst afterwards.
    this.#tokens = Math.min(Math.max(1, budget / 10), this.#tokens + (budget * elapsed) / 1000);
    this.#expire(now);
    this.#finishDone();
    this.#startRuns(now);
    this.#send(now);
  }

  #wake(): void {
    if (this.#timer !== undefined) queueMicrotask(() => this.tick());
  }

  #enqueue(state: FlowState, reason: TraceReason): void {
    if (state.running !== undefined) return;
    const queued = state.queued;
    if (queued !== undefined) {
      if (PRIORITY.indexOf(reason) >= PRIORITY.indexOf(queued)) return;
      const queue = this.#queues[queued];
      queue.splice(queue.indexOf(state), 1);
    }
    state.queued = reason;
    this.#queues[reason].push(state);
  }

  #startRuns(now: number): void {
    const settings = this.#settings;
    if (this.#running.length < settings.concurrency && this.queued === 0) {
      this.#queueRefreshes(now);
    }
    for (const reason of PRIORITY) {
      const queue = this.#queues[reason];
      while (queue.length > 0 && this.#running.length < settings.concurrency) {
        const state = queue.shift()!;
        state.queued = undefined;
        const run = new TraceRun(state.flow, reason, settings);
        state.running = run;
        state.tracedAt = now;
        this.#running.push({ state, run });
      }
    }
  }

  /** Queues, oldest first, the flows whose latest trace is `refresh` old. */
  #queueRefreshes(now: number): void {
    const refreshMs = this.#settings.refreshSeconds * 1000;
    if (now - this.#lastRefreshScan < Math.min(REFRESH_SCAN_MS, refreshMs / SCANS_PER_REFRESH)) {
      return;
    }
    this.#lastRefreshScan = now;
    const due = now - refreshMs;
    const stale: FlowState[] = [];
    for (const state of this.#states.values()) {
      if (state.running === undefined && state.queued === undefined && state.tracedAt <= due) {
        stale.push(state);
      }
    }
    stale.sort((a, b) => a.tracedAt - b.tracedAt);
    for (const state of stale.slice(0, this.#settings.concurrency * 4)) {
      this.#enqueue(state, "baseline");
    }
  }

  #send(now: number): void {
    const running = this.#running;
    let idle = 0;
    while (this.#tokens >= 1 && running.length > 0 && idle < running.length) {
      const { state, run } = running[this.#turn++ % running.length];
      const ttl = run.nextTtl();
      if (ttl === 0) {
        idle++;
        continue;
      }
      idle = 0;
      const id = TRACE_ID_BASE + this.#nextId;
      this.#nextId = (this.#nextId + 1) % TRACE_ID_BASE;
      crypto.getRandomValues(this.#nonces);
      const nonce = this.#nonces[0];
      const sentAt = state.flow.socket.sendTrace(state.flow.address, ttl, id, nonce);
      this.#tokens--;
      run.sent(ttl, this.#clock.wall());
      this.counters.probesSent++;
      if (Number.isNaN(sentAt)) {
        run.timedOut(ttl);
        continue;
      }
      this.#inFlight.set(id, {
        state,
        run,
        ttl,
        nonce,
        sentAt,
        deadline: now + this.#settings.timeoutMs,
      });
    }
  }

  #answered(
    id: number,
    nonce: number,
    answer: TraceAnswer,
    offender: string,
    receivedAt: number,
  ): void {
    const probe = this.#inFlight.get(id);
    if (probe === undefined || probe.nonce !== nonce) {
      this.counters.probesUnmatched++;
      return;
    }
    this.#inFlight.delete(id);
    this.counters.probesAnswered++;
    const address = answer === "destination" ? probe.state.flow.target : offender;
    probe.run.answered(probe.ttl, answer, address, Math.max(0, receivedAt - probe.sentAt));
  }

  #expire(now: number): void {
    for (const [id, probe] of this.#inFlight) {
      if (probe.deadline > now) continue;
      this.#inFlight.delete(id);
      probe.run.timedOut(probe.ttl);
    }
  }

  #finishDone(): void {
    const running = this.#running;
    for (let index = running.length - 1; index >= 0; index--) {
      const { state, run } = running[index];
      if (!run.done) continue;
      running.splice(index, 1);
      state.running = undefined;
      this.#record(state, run.result(this.#clock.wall()));
    }
  }

  #record(state: FlowState, trace: FlowTrace): void {
    this.counters.traces[trace.reason]++;
    trace.flowLossPercent = state.lossPercent;
    trace.reverseHops = this.#hops?.hopsOf(state.flow.flow) ?? null;
    const answering = trace.hops.some((hop) => hop.address !== null);
    const baseline = state.baseline;
    if (baseline !== undefined && answering && !samePath(baseline, trace)) {
      trace.pathChanged = true;
      this.counters.pathChanges++;
      this.#log.info("Path of {flow} changed: {before} -> {after}", {
        flow: `${trace.source}:${trace.srcPort} > ${trace.target}:${trace.dstPort}`,
        before: describeHops(baseline),
        after: describeHops(trace),
      });
      this.#onPathChange?.({ before: baseline, after: trace });
    }
    if (answering && (baseline === undefined || trace.pathChanged)) state.baseline = trace;
    state.latest = trace;
  }
}

function flowKey(flow: TracedFlowIdentity): string {
  return `${flow.source}|${flow.srcPort}|${flow.target}|${flow.dstPort}|${flow.tos}`;
}

function describeHops(trace: FlowTrace): string {
  return trace.hops.map((hop) => hop.address ?? "*").join(" ");
}
