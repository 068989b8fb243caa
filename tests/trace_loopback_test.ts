// Tracing on loopback with real sockets: a local target answers at TTL 1 (loopback does not count
// TTL down), a port nobody listens on answers with the kernel's own ICMP port unreachable, and
// trace probes never count in the flows' statistics. Multi-router traces: trace_network_test.ts.
import assert from "node:assert/strict";
import { startReflector } from "@llama/reflector";
import { nativeEngineStatus } from "@llama/core";
import { collectorYaml, startRecordingCollector } from "./_collector.ts";
import { parsePrometheusText } from "./_prometheus.ts";

const native = nativeEngineStatus().available;

Deno.test({
  name: "[native] collector traces each flow to the target, and to a closed port's unreachable",
  ignore: !native && Deno.env.get("CI") !== "true",
  async fn() {
    await using reflector = await startReflector({ hostname: "127.0.0.1", port: 0, maxPps: 0 });
    const port = reflector.address.port;
    const closed = Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port: 0 });
    const closedPort = (closed.addr as Deno.NetAddr).port;
    closed.close();
    await using run = await startRecordingCollector(
      collectorYaml({
        targets: [["127.0.0.1", port, {}], ["127.0.0.1", closedPort, {}]],
        sockets: 2,
        cps: 10,
        tracing: "{budget: 500, refresh: 3600}",
      }),
      { engine: "native", serveApi: true },
    );
    const api = run.collector.api;
    let traces: { dstPort: number; hops: { kind: string; address: string }[] }[] = [];
    for (let attempt = 0; attempt < 50 && traces.length < 4; attempt++) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      traces = (await (await api.request("/api/v1/traces")).json()).traces;
    }
    assert.equal(traces.length, 4, JSON.stringify(traces));
    for (const trace of traces) {
      assert.equal(trace.hops.length, 1, JSON.stringify(trace));
      const [hop] = trace.hops;
      assert.equal(hop.address, "127.0.0.1");
      assert.equal(hop.kind, trace.dstPort === port ? "destination" : "unreachable");
    }
    // Two intervals of regular probes: trace probes were answered too, but counted nowhere.
    await run.next(2);
    const flows = run.summaries.at(-1)!.paths.flatMap((path) => path.flows)
      .filter((flow) => flow.dstPort === port);
    const metrics = parsePrometheusText(await (await api.request("/metrics")).text());
    const value = (name: string) => metrics.get(name);
    assert.ok(value("llama_trace_probes_sent_total")! >= 4 * 3);
    assert.equal(value("llama_collector_tracing_available"), 1);
    assert.equal(flows.length, 2);
    for (const flow of flows) {
      assert.equal(flow.lost, 0);
      assert.equal(flow.duplicates, 0);
      // 10 cycles a second: trace probes (3 a flow) would show as more.
      assert.ok(flow.sent <= 11, `sent ${flow.sent}`);
    }
    assert.equal(value('llama_collector_replies_total{result="unmatched"}'), 0);
    const status = await (await api.request("/status", { headers: { accept: "application/json" } }))
      .json();
    assert.deepEqual(status, { status: "ok", tracing: { available: true } });
  },
});

Deno.test("[deno] a collector on the Deno engine says it cannot trace, and probes as before", async () => {
  await using reflector = await startReflector({ hostname: "127.0.0.1", port: 0, maxPps: 0 });
  await using run = await startRecordingCollector(
    collectorYaml({ targets: [["127.0.0.1", reflector.address.port, {}]], sockets: 1 }),
    { engine: "deno" },
  );
  const body = await (await run.collector.api.request("/api/v1/traces")).json();
  assert.equal(body.tracing.available, false);
  assert.match(body.tracing.reason, /Deno engine cannot set a probe's TTL/);
  assert.deepEqual(body.traces, []);
  const posted = await run.collector.api.request("/api/v1/traces", {
    method: "POST",
    body: JSON.stringify({ target: "127.0.0.1" }),
  });
  assert.equal(posted.status, 503);
  assert.match((await posted.json()).error, /cannot trace: the Deno engine/);
  const summary = await run.next(2);
  assert.equal(summary.paths[0].lost, 0);
});
