import assert from "node:assert/strict";
import { ProtocolError } from "@llama/core";
import { collectorTarget } from "./config.ts";
import { scrapeCollector } from "./scrape.ts";

const collectorBody = JSON.parse(
  await Deno.readTextFile(new URL("../core/testdata/collector_summaries.json", import.meta.url)),
);

/** Scrapes a collector whose /api/v1/summaries answers `body`. */
function scrape(body: unknown, options: { flows?: boolean; keepSummary?: boolean } = {}) {
  return scrapeCollector(collectorTarget("127.0.0.1:5000")!, {
    signal: AbortSignal.timeout(5000),
    flows: options.flows ?? false,
    keepSummary: options.keepSummary,
    fallbackTime: 0,
    fetch: () => Promise.resolve(Response.json(body)),
  });
}

Deno.test("scrapeCollector turns a llama collector's summary into a point per path and per flow", async () => {
  const result = await scrape(collectorBody, { flows: true, keepSummary: true });
  assert.equal(result.intervalStart, Date.parse(collectorBody.start));
  assert.deepEqual(result.points.map((point) => point.measurement), [
    "raw_stats",
    ...Array(4).fill("flow_stats"),
  ]);
  assert.equal(result.summary?.paths[0].flows.length, 4);
  const withoutFlows = await scrape(collectorBody);
  assert.equal(withoutFlows.points.length, 1);
  assert.equal(withoutFlows.summary, undefined);
});

Deno.test("scrapeCollector names the collector and the JSON path of a bad summary field", async () => {
  const body = structuredClone(collectorBody);
  body.paths[0].flows[1].srcPort = "37938";
  await assert.rejects(
    () => scrape(body, { flows: true }),
    (error: Error) => {
      assert.ok(error instanceof ProtocolError);
      assert.equal(
        error.message,
        'collector 127.0.0.1:5000: /api/v1/summaries paths[0].flows[1].srcPort is not a number: got "37938"',
      );
      assert.ok(error.cause instanceof ProtocolError);
      return true;
    },
  );
  // Without flows they are not asked for, so not read.
  assert.equal((await scrape(body)).points.length, 1);
});
