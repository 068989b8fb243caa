import assert from "node:assert/strict";
import { ProtocolError } from "@llama/core";
import { collectorTarget, parseScraperConfig } from "./config.ts";
import { ScrapeRefusedError } from "./errors.ts";
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

Deno.test("scrapeCollector refuses an answer over maxResponseBytes, streamed or declared, and takes one at the cap", async () => {
  const text = JSON.stringify(collectorBody);
  const attempt = (maxResponseBytes: number, headers: Record<string, string> = {}) =>
    scrapeCollector(collectorTarget("127.0.0.1:5000")!, {
      signal: AbortSignal.timeout(5000),
      flows: false,
      fallbackTime: 0,
      maxResponseBytes,
      // A body in small pieces, as a socket gives it; not a byte stream (no BYOB reader).
      fetch: () =>
        Promise.resolve(
          new Response(
            ReadableStream.from(
              text.match(/[^]{1,100}/g)!.map((part) => new TextEncoder().encode(part)),
            ),
            { headers },
          ),
        ),
    });
  const size = new TextEncoder().encode(text).byteLength;
  assert.equal((await attempt(size)).points.length, 1);
  await assert.rejects(
    () => attempt(size - 1),
    (error: Error) => {
      assert.ok(error instanceof ScrapeRefusedError);
      assert.equal(error.reason, "too_large");
      assert.equal(
        error.message,
        `collector 127.0.0.1:5000: GET http://127.0.0.1:5000/api/v1/summaries?flows=false answered more than the ${
          size - 1
        } bytes of max_response_bytes`,
      );
      return true;
    },
  );
  await assert.rejects(
    () => attempt(1024, { "content-length": String(size) }),
    /answered \d+ bytes \(content-length\), more than the 1024 of max_response_bytes/,
  );
});

Deno.test("scrapeCollector asks fetch not to follow redirects, and refuses one naming where it led", async () => {
  let asked: RequestInit | undefined;
  await assert.rejects(
    () =>
      scrapeCollector(collectorTarget("127.0.0.1:5000")!, {
        signal: AbortSignal.timeout(5000),
        flows: false,
        fallbackTime: 0,
        fetch: (_url, init) => {
          asked = init;
          return Promise.resolve(
            new Response(null, { status: 301, headers: { location: "http://elsewhere/" } }),
          );
        },
      }),
    (error: Error) => {
      assert.ok(error instanceof ScrapeRefusedError);
      assert.equal(error.reason, "redirect");
      assert.match(
        error.message,
        /answered HTTP 301, a redirect to http:\/\/elsewhere\/, which is not followed$/,
      );
      return true;
    },
  );
  assert.equal(asked?.redirect, "manual");
});

Deno.test("max_response_bytes: 64 MiB unless set, from 1 KiB to 500 MiB", () => {
  assert.equal(parseScraperConfig("collectors: [a]\n").maxResponseBytes, 64 * 1024 * 1024);
  assert.equal(
    parseScraperConfig("collectors: [a]\nmax_response_bytes: 1048576\n").maxResponseBytes,
    1048576,
  );
  assert.throws(
    () => parseScraperConfig("collectors: [a]\nmax_response_bytes: 10\n", { file: "s.yaml" }),
    /s\.yaml:2:21: max_response_bytes: .*1024/,
  );
});
