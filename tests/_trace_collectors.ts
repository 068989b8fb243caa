// Collector doubles that trace, for the scraper's fleet-view tests: real HTTP servers on loopback
// answering /api/v1/summaries, /api/v1/traces and /status as a tracing llama collector does.
// (A real tracing collector needs the native engine in a router network, tested elsewhere.)
import type { FlowTrace } from "@llama/core";
import { type HopSpec, trace } from "../core/testdata/trace_fixtures.ts";
import { type FakeCollector, fakeCollector, summaryBody } from "./_hostile.ts";

export const R1 = "10.0.1.1";
export const R2A = "10.0.2.1";
export const R2B = "10.0.2.2";
export const R3 = "10.0.3.1";
export const TARGET = "10.0.9.1";

/** A collector answering its summaries, `/status`, and `traces()` (a body, or a status). */
export function tracingCollector(traces: () => unknown): FakeCollector {
  return fakeCollector((request) => {
    const path = new URL(request.url).pathname;
    if (path === "/api/v1/summaries") return Response.json(summaryBody());
    if (path === "/status") return new Response("ok");
    if (path === "/api/v1/traces") {
      const body = traces();
      return body instanceof Response ? body : Response.json(body);
    }
    return new Response("404 page not found\n", { status: 404 });
  });
}

/** A traces body. */
export function tracesBody(traces: FlowTrace[]): unknown {
  return { tracing: { available: true }, traces };
}

/**
 * Collector A's flows (source 10.1.0.1, first router 10.1.1.1): even ports over r1>r2a>r3,
 * losing 20% (their traces, taken before, show no loss); odd ports over r1>r2b>r3, clean.
 */
export function collectorATraces(count = 8, pathChanged = false): FlowTrace[] {
  return Array.from({ length: count }, (_, index) => {
    const via = index % 2 === 0 ? R2A : R2B;
    const loss = via === R2A ? 20 : 0;
    return trace({
      source: "10.1.0.1",
      target: TARGET,
      srcPort: 33000 + index,
      hops: ["10.1.1.1", R1, via, R3, TARGET],
      flowLossPercent: loss,
      pathChanged: pathChanged && index === 0,
      startedAt: "2026-01-01T00:00:00.000Z",
    });
  });
}

/**
 * Collector B's flows (source 10.2.0.1, first router 10.2.1.1): one over r1>r2a>r3 losing 20%,
 * the others straight into r2a>r3, clean: evidence that r2a>r3 delivers.
 */
export function collectorBTraces(clean = 3): FlowTrace[] {
  const hops = (first: HopSpec[]): HopSpec[] => ["10.2.1.1", ...first, R3, TARGET];
  return [
    trace({
      source: "10.2.0.1",
      target: TARGET,
      srcPort: 34000,
      hops: hops([R1, R2A]),
      flowLossPercent: 20,
    }),
    ...Array.from({ length: clean }, (_, index) =>
      trace({
        source: "10.2.0.1",
        target: TARGET,
        srcPort: 34001 + index,
        hops: hops([R2A]),
        flowLossPercent: 0,
      })),
  ];
}
