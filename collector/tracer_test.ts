import assert from "node:assert/strict";
import { type Clock, type FlowTrace, PeerAddress } from "@llama/core";
import { DEFAULT_TRACING, type TracingConfig } from "./_tracing_config.ts";
import { TRACE_ID_BASE, type TraceableFlow, Tracer, type TraceSocket } from "./tracer.ts";
import { ReverseHops } from "./reverse_hops.ts";

/** A clock the test moves by hand. */
class ManualClock implements Clock {
  now = 1000;
  readonly origin = 1_700_000_000_000;
  monotonic(): number {
    return this.now;
  }
  wall(): number {
    return this.origin + this.now;
  }
}

/**
 * A scripted network behind a socket: hop i (1-based) of `routers` answers a probe whose TTL
 * expires there, the target answers past them; `silent` TTLs and `lost` TTLs never answer. The
 * tracer's kernel side is tested for real in tests/trace_network_test.ts; this drives its
 * scheduling without one.
 */
class ScriptedNetwork implements TraceSocket {
  readonly sent: { ttl: number; id: number; at: number }[] = [];
  readonly pending: (() => void)[] = [];
  routers: string[];
  silent = new Set<number>();
  tracer!: Tracer;
  constructor(routers: string[], readonly clock: ManualClock) {
    this.routers = routers;
  }
  sendTrace(_target: PeerAddress, ttl: number, id: number, nonce: number): number {
    this.sent.push({ ttl, id, at: this.clock.now });
    const sentAt = this.clock.now;
    if (this.silent.has(ttl)) return sentAt;
    this.pending.push(() => {
      const receivedAt = sentAt + ttl * 0.5;
      if (ttl <= this.routers.length) {
        this.tracer.receiver.icmpError(
          id,
          nonce,
          "time-exceeded",
          this.routers[ttl - 1],
          receivedAt,
        );
      } else this.tracer.receiver.reply(id, nonce, receivedAt);
    });
    return sentAt;
  }
  /** Delivers every answer due. */
  deliver(): void {
    for (const answer of this.pending.splice(0)) answer();
  }
}

function flowOn(
  socket: TraceSocket,
  srcPort: number,
  target = "10.9.0.2",
  flow = 0,
): TraceableFlow {
  return {
    flow,
    socket,
    address: new PeerAddress(target, 8100),
    source: "10.9.1.1",
    srcPort,
    target,
    dstPort: 8100,
    tos: 0,
  };
}

function settings(overrides: Partial<TracingConfig> = {}): TracingConfig {
  return { ...DEFAULT_TRACING, budget: 1000, ...overrides };
}

/** Turns the tracer until `done()` or `turns` run out, delivering answers after each turn. */
function run(tracer: Tracer, network: ScriptedNetwork, clock: ManualClock, turns = 500): void {
  for (let turn = 0; turn < turns; turn++) {
    tracer.tick();
    network.deliver();
    clock.now += 20;
  }
}

Deno.test("a trace lists each router at its TTL and ends at the target", () => {
  const clock = new ManualClock();
  const network = new ScriptedNetwork(["10.9.1.254", "10.9.2.1", "10.9.3.1"], clock);
  const tracer = new Tracer(settings(), clock);
  network.tracer = tracer;
  tracer.setFlows([flowOn(network, 33000)]);
  run(tracer, network, clock, 50);
  const [trace] = tracer.traces();
  assert.equal(trace.reason, "baseline");
  assert.equal(trace.reachedTarget, true);
  assert.deepEqual(trace.hops.map((hop) => hop.address), [
    "10.9.1.254",
    "10.9.2.1",
    "10.9.3.1",
    "10.9.0.2",
  ]);
  assert.deepEqual(trace.hops.map((hop) => hop.kind), [
    "time-exceeded",
    "time-exceeded",
    "time-exceeded",
    "destination",
  ]);
  for (const hop of trace.hops) {
    assert.equal(hop.sent, 3);
    assert.equal(hop.lossPercent, 0);
    assert.equal(hop.rtt, hop.ttl * 0.5);
  }
  // Nothing was sent past the target's TTL but what was in flight when it answered.
  assert.ok(network.sent.every((probe) => probe.ttl <= 6), JSON.stringify(network.sent));
  assert.ok(network.sent.every((probe) => probe.id >= TRACE_ID_BASE));
});

Deno.test("a silent hop shows as null with full loss, and the trace goes on past it", () => {
  const clock = new ManualClock();
  const network = new ScriptedNetwork(["10.9.1.254", "10.9.2.1", "10.9.3.1"], clock);
  network.silent.add(2);
  const tracer = new Tracer(settings(), clock);
  network.tracer = tracer;
  tracer.setFlows([flowOn(network, 33000)]);
  run(tracer, network, clock, 200);
  const [trace] = tracer.traces();
  assert.deepEqual(trace.hops.map((hop) => hop.address), [
    "10.9.1.254",
    null,
    "10.9.3.1",
    "10.9.0.2",
  ]);
  assert.equal(trace.hops[1].lossPercent, 100);
  assert.equal(trace.hops[1].kind, "silent");
});

Deno.test("a trace into a black hole stops gap_limit TTLs past the last answer", () => {
  const clock = new ManualClock();
  const network = new ScriptedNetwork(["10.9.1.254", "10.9.2.1", "10.9.3.1"], clock);
  for (let ttl = 2; ttl <= 30; ttl++) network.silent.add(ttl);
  const tracer = new Tracer(settings({ gapLimit: 3 }), clock);
  network.tracer = tracer;
  tracer.setFlows([flowOn(network, 33000)]);
  run(tracer, network, clock, 400);
  const [trace] = tracer.traces();
  assert.equal(trace.reachedTarget, false);
  // One silent hop is kept: where the trace goes quiet.
  assert.deepEqual(trace.hops.map((hop) => hop.address), ["10.9.1.254", null]);
  assert.equal(Math.max(...network.sent.map((probe) => probe.ttl)), 4);
});

Deno.test("the budget caps trace probes per second, all flows together", () => {
  const clock = new ManualClock();
  const network = new ScriptedNetwork(["10.9.1.254", "10.9.2.1"], clock);
  // refresh 1 s: there is always a trace due, so only the budget holds tracing back.
  const tracer = new Tracer(settings({ budget: 50, concurrency: 64, refreshSeconds: 1 }), clock);
  network.tracer = tracer;
  tracer.setFlows(Array.from({ length: 40 }, (_, index) => flowOn(network, 33000 + index)));
  // 10 s of turns every 20 ms.
  run(tracer, network, clock, 500);
  const seconds = (clock.now - 1000) / 1000;
  assert.ok(network.sent.length <= 50 * seconds + 5, `${network.sent.length} in ${seconds} s`);
  assert.ok(network.sent.length >= 50 * seconds * 0.9, `${network.sent.length} in ${seconds} s`);
  // No second at all carried more than the budget (plus the 100 ms it may save up).
  const perSecond = new Map<number, number>();
  for (const probe of network.sent) {
    const second = Math.floor(probe.at / 1000);
    perSecond.set(second, (perSecond.get(second) ?? 0) + 1);
  }
  assert.ok(Math.max(...perSecond.values()) <= 55, JSON.stringify([...perSecond]));
});

Deno.test("a flow crossing the loss threshold is traced first, with a clean control of its target", () => {
  const clock = new ManualClock();
  const network = new ScriptedNetwork(["10.9.1.254"], clock);
  const tracer = new Tracer(settings({ refreshSeconds: 3600 }), clock);
  network.tracer = tracer;
  const flows = [0, 1, 2].map((index) => flowOn(network, 33000 + index, "10.9.0.2", index));
  tracer.setFlows(flows);
  run(tracer, network, clock, 100);
  assert.deepEqual(tracer.traces().map((trace) => trace.reason), [
    "baseline",
    "baseline",
    "baseline",
  ]);
  tracer.observeLoss((flow) => [0, 20, 0][flow]);
  run(tracer, network, clock, 100);
  const reasons = tracer.traces().map((trace) => trace.reason);
  assert.equal(reasons[1], "loss");
  assert.equal(reasons.filter((reason) => reason === "control").length, 1);
  assert.equal(tracer.traces()[1].flowLossPercent, 20);
  // Still lossy the next interval: not traced again before LOSS_RETRACE_MS.
  const sent = network.sent.length;
  tracer.observeLoss((flow) => [0, 20, 0][flow]);
  run(tracer, network, clock, 50);
  assert.equal(network.sent.length, sent);
  assert.equal(tracer.counters.traces.loss, 1);
});

Deno.test("a trace that differs from the baseline is a path change; the same path is not", () => {
  const clock = new ManualClock();
  const network = new ScriptedNetwork(["10.9.1.254", "10.9.2.1"], clock);
  const changes: { before: FlowTrace; after: FlowTrace }[] = [];
  const tracer = new Tracer(settings({ refreshSeconds: 2 }), clock, {
    onPathChange: (change) => changes.push(change),
  });
  network.tracer = tracer;
  tracer.setFlows([flowOn(network, 33000)]);
  run(tracer, network, clock, 200);
  assert.ok(tracer.counters.traces.baseline >= 2);
  assert.equal(tracer.counters.pathChanges, 0);
  network.routers = ["10.9.1.254", "10.9.2.99"];
  run(tracer, network, clock, 200);
  assert.equal(tracer.counters.pathChanges, 1);
  assert.equal(changes[0].before.hops[1].address, "10.9.2.1");
  assert.equal(changes[0].after.hops[1].address, "10.9.2.99");
  assert.equal(tracer.traces()[0].hops[1].address, "10.9.2.99");
});

Deno.test("answers with a wrong nonce or an unknown id are counted, never believed", () => {
  const clock = new ManualClock();
  const network = new ScriptedNetwork(["10.9.1.254"], clock);
  const tracer = new Tracer(settings(), clock);
  network.tracer = tracer;
  tracer.setFlows([flowOn(network, 33000)]);
  tracer.tick();
  const [first] = network.sent;
  tracer.receiver.icmpError(first.id, 12345, "time-exceeded", "6.6.6.6", clock.now);
  tracer.receiver.reply(TRACE_ID_BASE + 999_999, 1, clock.now);
  assert.equal(tracer.counters.probesUnmatched, 2);
  run(tracer, network, clock, 50);
  assert.ok(!tracer.traces()[0].hops.some((hop) => hop.address === "6.6.6.6"));
});

Deno.test("a request traces the flows it names ahead of the baseline queue", () => {
  const clock = new ManualClock();
  const network = new ScriptedNetwork(["10.9.1.254"], clock);
  const tracer = new Tracer(settings({ concurrency: 1, refreshSeconds: 3600 }), clock);
  network.tracer = tracer;
  tracer.setFlows([
    flowOn(network, 33000, "10.9.0.2", 0),
    flowOn(network, 33001, "10.9.0.3", 1),
    flowOn(network, 33002, "10.9.0.4", 2),
  ]);
  assert.equal(tracer.request({ target: "10.9.0.4" }), 1);
  assert.equal(tracer.request({ target: "10.9.0.4", srcPort: 1 }), 0);
  run(tracer, network, clock, 3);
  const requested = tracer.traces().find((trace) => trace.target === "10.9.0.4")!;
  assert.equal(requested.reason, "request");
  for (const trace of tracer.traces()) assert.ok(requested.finishedAt <= trace.finishedAt);
  assert.ok(tracer.traces().length < 3, "concurrency 1: the others wait their turn");
});

Deno.test("reverse hops are read off the reply TTL against the usual initial TTLs", () => {
  const hops = new ReverseHops();
  assert.equal(hops.hopsOf(3), null);
  hops.observe(3, 61);
  assert.equal(hops.hopsOf(3), 3);
  hops.observe(3, 61);
  assert.equal(hops.changes, 0);
  hops.observe(3, 60);
  assert.equal(hops.changes, 1);
  hops.observe(1000, 250);
  assert.equal(hops.hopsOf(1000), 5);
  hops.observe(7, 120);
  assert.equal(hops.hopsOf(7), 8);
});
