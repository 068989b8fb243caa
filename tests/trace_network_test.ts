// Path tracing end to end: llama's collector (native engine, tracing on) in C probes reflectors
// in T1 and T2 across the multi-router network of tests/_topology.ts, whose links lose what
// nftables makes them lose. What /api/v1/traces and /api/v1/suspects say is checked against
// the network's plan and its faults.
import assert from "node:assert/strict";
import type { FlowTrace, TracesResponse } from "@llama/core";
import {
  branchOf,
  flowName,
  hopAddresses,
  rankOf,
  startTraceNetwork,
  type TraceNetwork,
} from "./_trace_network.ts";
import { assertRequirement, requirement } from "./_requirements.ts";

const needs = requirement({ root: true, commands: ["ip", "nft", "sysctl", "bridge"] });
const ignore = needs.ignore;
const SOCKETS = 12;
const FLOWS = SOCKETS * 2;

/** Whether a trace is the full, loss-free path its branch should show. */
function isCompleteTrace(network: TraceNetwork, trace: FlowTrace): boolean {
  const via = branchOf(network.topology, trace);
  if (via === undefined || !trace.reachedTarget) return false;
  const target = trace.target === network.topology.targets.T1 ? "T1" : "T2";
  return JSON.stringify(hopAddresses(trace)) ===
    JSON.stringify(network.topology.expectedHops(target, via));
}

/** Waits until every flow has a complete trace (its baseline); returns the traces. */
async function baselines(network: TraceNetwork): Promise<FlowTrace[]> {
  const { traces } = await network.waitFor(
    `complete traces of all ${FLOWS} flows`,
    () => network.traces(),
    (response: TracesResponse) =>
      response.tracing.available && response.traces.length === FLOWS &&
      response.traces.every((trace) => isCompleteTrace(network, trace)),
  );
  return traces;
}

Deno.test({
  name:
    "without a fault every flow's trace shows its own branch's hops, 3 hops back, and no suspect",
  ignore,
  async fn() {
    assertRequirement(needs);
    await using network = await startTraceNetwork({ sockets: SOCKETS });
    const traces = await baselines(network);
    const branches = new Set(traces.map((trace) => branchOf(network.topology, trace)));
    assert.deepEqual([...branches].sort(), ["r2a", "r2b"], "flows cross both branches");
    for (const trace of traces) {
      assert.equal(trace.reverseHops, network.topology.reverseHops, flowName(trace));
      assert.equal(trace.source, network.topology.collectorAddress, flowName(trace));
    }
    // Two whole intervals after the baselines, still nothing lossy and no suspect.
    await new Promise((resolve) => setTimeout(resolve, 2 * network.intervalMs + 500));
    const suspects = await network.suspects();
    assert.deepEqual(suspects.suspects, [], JSON.stringify(suspects));
    assert.equal(suspects.lossyFlows, 0);
  },
});

Deno.test({
  name:
    "with 20% loss on r1>r2a the top suspect is r1>r2a, and flows through r2b stay clean and unblamed",
  ignore,
  async fn() {
    assertRequirement(needs);
    await using network = await startTraceNetwork({ sockets: SOCKETS });
    const { topology } = network;
    const branch = new Map(
      (await baselines(network)).map((trace) => [flowName(trace), branchOf(topology, trace)]),
    );
    await topology.dropOnLink("r1>r2a", 20);
    const { suspects } = await network.waitFor(
      "r1>r2a to rank first",
      () => network.suspects(),
      (response) => rankOf(topology, response.suspects, "r1>r2a") === 1,
    );
    const r2b = topology.links["r1>r2b"].to;
    for (const suspect of suspects) {
      if (suspect.from === r2b || suspect.to === r2b) {
        assert.equal(suspect.lossyFlows, 0, `r2b blamed: ${JSON.stringify(suspect)}`);
      }
    }
    for (const example of suspects[0].examples) assert.equal(branch.get(example), "r2a", example);
    const { traces } = await network.traces();
    for (const trace of traces) {
      if (branch.get(flowName(trace)) === "r2b") {
        assert.equal(trace.flowLossPercent, 0, `${flowName(trace)} crosses r2b`);
      }
    }
    const counters = await topology.linkCounters("r1>r2a");
    assert.ok(counters.dropped > 0, JSON.stringify(counters));
  },
});

Deno.test({
  name: "a route change shows as a path change of every flow it moved, and of no other, " +
    "within one interval",
  ignore,
  async fn() {
    assertRequirement(needs);
    // Each flow traced again every second (half an interval), within the budget.
    await using network = await startTraceNetwork({ sockets: SOCKETS, refresh: 1 });
    const { topology } = network;
    const before = await baselines(network);
    const moved = new Set(
      before.filter((trace) =>
        trace.target === topology.targets.T1 && branchOf(topology, trace) === "r2a"
      ).map(flowName),
    );
    assert.ok(moved.size > 0, "some flow to T1 crosses r2a");
    const newHops = JSON.stringify(topology.expectedHops("T1", "r2b"));
    const changedAt = new Map<string, number>();
    const wronglyChanged = new Set<string>();
    const pinned = Date.now();
    await topology.routeChange("T1", "r2b");
    await network.waitFor(
      `path changes of the ${moved.size} flows to T1 that crossed r2a`,
      () => network.traces(),
      ({ traces }) => {
        for (const trace of traces) {
          if (!trace.pathChanged || Date.parse(trace.startedAt) < pinned) continue;
          const name = flowName(trace);
          if (!moved.has(name)) wronglyChanged.add(name);
          else if (JSON.stringify(hopAddresses(trace)) === newHops && !changedAt.has(name)) {
            changedAt.set(name, Date.parse(trace.finishedAt) - pinned);
          }
        }
        return changedAt.size === moved.size;
      },
      30_000,
    );
    assert.deepEqual([...wronglyChanged], []);
    const latencies = [...changedAt.values()].sort((a, b) => a - b);
    console.log(`path change reported ${latencies.join(", ")} ms after the route change`);
    // A flow is traced again every `refresh` (half an interval) seconds, so every moved flow
    // reports its new path within one interval.
    assert.ok(latencies.at(-1)! <= network.intervalMs, `latencies ${latencies.join(", ")}`);
  },
});
