import assert from "node:assert/strict";
import type { FlowTrace } from "@llama/core";
import { createCollectorApi } from "./api.ts";
import type { TracingView } from "./_trace_api.ts";
import type { TraceRequest } from "./tracer.ts";

const TRACE: FlowTrace = {
  target: "10.9.0.2",
  source: "10.9.1.1",
  srcPort: 33000,
  dstPort: 8100,
  tos: 0,
  reason: "baseline",
  startedAt: "2026-12-07T12:00:00.000Z",
  finishedAt: "2026-12-07T12:00:00.100Z",
  reachedTarget: true,
  hops: [{
    ttl: 1,
    address: "10.9.0.2",
    addresses: [{ address: "10.9.0.2", replies: 3 }],
    sent: 3,
    received: 3,
    lossPercent: 0,
    rtt: 0.2,
    kind: "destination",
  }],
  flowLossPercent: 0,
  pathChanged: false,
  reverseHops: 0,
};

/** A tracing view that records the requests it gets. */
function view(available = true): TracingView & { requests: TraceRequest[] } {
  const requests: TraceRequest[] = [];
  return {
    requests,
    status: () => available ? { available } : { available, reason: "no native engine" },
    traces: () => [TRACE, { ...TRACE, target: "10.9.0.3" }],
    suspects: () => ({ suspects: [], lossyFlows: 0, cleanFlows: 1 }),
    request: (request) => {
      requests.push(request);
      return request.target === "10.9.0.2" ? 4 : 0;
    },
  };
}

function post(body: string, headers: Record<string, string> = {}): RequestInit {
  return { method: "POST", body, headers };
}

Deno.test("GET /api/v1/traces serves every trace, or one target's", async () => {
  const api = createCollectorApi({ latest: () => undefined, metrics: () => "", tracing: view() });
  const all = await (await api.request("/api/v1/traces")).json();
  assert.deepEqual(all.tracing, { available: true });
  assert.equal(all.traces.length, 2);
  const one = await (await api.request("/api/v1/traces?target=10.9.0.3")).json();
  assert.deepEqual(one.traces.map((trace: FlowTrace) => trace.target), ["10.9.0.3"]);
  const bad = await api.request("/api/v1/traces?targte=10.9.0.3");
  assert.equal(bad.status, 400);
  assert.match((await bad.json()).error, /unknown query parameter "targte"; known: target/);
});

Deno.test("POST /api/v1/traces queues the flows it names and answers 202 with how many", async () => {
  const tracing = view();
  const api = createCollectorApi({ latest: () => undefined, metrics: () => "", tracing });
  const response = await api.request(
    "/api/v1/traces",
    post(JSON.stringify({ target: "10.9.0.2", srcPort: 33000, dstPort: 8100 })),
  );
  assert.equal(response.status, 202);
  assert.deepEqual(await response.json(), { queued: 4 });
  assert.deepEqual(tracing.requests, [{ target: "10.9.0.2", srcPort: 33000, dstPort: 8100 }]);
  const unknown = await api.request("/api/v1/traces", post('{"target": "10.9.0.7"}'));
  assert.equal(unknown.status, 404);
  assert.match((await unknown.json()).error, /no flow to 10\.9\.0\.7 is probed here/);
});

Deno.test("POST /api/v1/traces refuses bad bodies naming what is wrong, and queues nothing", async () => {
  const tracing = view();
  const api = createCollectorApi({ latest: () => undefined, metrics: () => "", tracing });
  const cases: [string, number, RegExp][] = [
    ["not json", 400, /expected a JSON object/],
    ["[1]", 400, /expected a JSON object with target/],
    ['{"target": "db-1"}', 400, /target must be an IP address, got "db-1"/],
    ['{"target": "10.9.0.2", "srcPort": 70000}', 400, /srcPort must be a port number/],
    ['{"target": "10.9.0.2", "dstPort": "8100"}', 400, /dstPort must be a port number/],
    ['{"target": "10.9.0.2", "ttl": 3}', 400, /unknown field "ttl"/],
    [JSON.stringify({ target: "10.9.0.2", pad: "x".repeat(5000) }), 413, /at most 4096 bytes/],
  ];
  for (const [body, status, message] of cases) {
    const response = await api.request("/api/v1/traces", post(body));
    assert.equal(response.status, status, body.slice(0, 40));
    assert.match((await response.json()).error, message);
  }
  assert.deepEqual(tracing.requests, []);
});

Deno.test("a collector that cannot trace says why, on every tracing route", async () => {
  const api = createCollectorApi({
    latest: () => undefined,
    metrics: () => "",
    tracing: view(false),
  });
  const traces = await (await api.request("/api/v1/traces")).json();
  assert.deepEqual(traces.tracing, { available: false, reason: "no native engine" });
  const posted = await api.request("/api/v1/traces", post('{"target": "10.9.0.2"}'));
  assert.equal(posted.status, 503);
  assert.match((await posted.json()).error, /cannot trace: no native engine/);
  const bare = createCollectorApi({ latest: () => undefined, metrics: () => "" });
  const suspects = await (await bare.request("/api/v1/suspects")).json();
  assert.deepEqual(suspects, { suspects: [], lossyFlows: 0, cleanFlows: 0 });
  const status = await (await bare.request("/status", { headers: { accept: "application/json" } }))
    .json();
  assert.deepEqual(status, {
    status: "ok",
    tracing: { available: false, reason: "tracing is off" },
  });
  assert.equal(await (await bare.request("/status")).text(), "ok");
});
