import assert from "node:assert/strict";
import { Summarizer } from "./summarizer.ts";

Deno.test("summarizer counts an outcome in the interval its probe was sent in, however late", async () => {
  const summarizer = new Summarizer(1);
  const flow = summarizer.addFlow({
    srcIp: "10.0.0.1",
    srcPort: 5000,
    dstIp: "10.0.0.2",
    dstPort: 8100,
    tos: 0,
    tags: { a: "b" },
  });
  summarizer.sent(flow, 0);
  summarizer.sent(flow, 0);
  summarizer.sent(flow, 1000);
  // Outcomes of interval 0 arrive while interval 1000 is under way.
  summarizer.answered(flow, 0, 0, 2, true);
  summarizer.answered(flow, 1000, 2, 3, false);
  summarizer.lost(flow, 0);
  const first = await summarizer.finish(0);
  assert.equal(first.start, "1970-01-01T00:00:00.000Z");
  assert.equal(first.paths[0].sent, 2);
  assert.equal(first.paths[0].lost, 1);
  assert.equal(first.paths[0].rtt?.mean, 2);
  assert.deepEqual(first.paths[0].tags, { a: "b" });
  assert.equal((await summarizer.finish(1000)).paths[0].rtt?.mean, 3);
});

Deno.test("summarizer ignores outcomes for intervals it has already published", async () => {
  const summarizer = new Summarizer(1);
  const flow = summarizer.addFlow({
    srcIp: "10.0.0.1",
    srcPort: 5000,
    dstIp: "10.0.0.2",
    dstPort: 8100,
    tos: 0,
    tags: {},
  });
  summarizer.sent(flow, 0);
  await summarizer.finish(0);
  summarizer.lost(flow, 0);
  summarizer.answered(flow, 0, 1, 1, false);
  summarizer.stray(flow, 0, "late");
  assert.equal(summarizer.openIntervals, 0, "a published interval must not come back");
});

Deno.test("summarizer groups flows into paths by source and destination address, sorted", async () => {
  const summarizer = new Summarizer(1);
  const flows = [
    ["10.0.0.9", 1],
    ["10.0.0.10", 2],
    ["10.0.0.9", 3],
  ].map(([dstIp, srcPort]) =>
    summarizer.addFlow({
      srcIp: "10.0.0.1",
      srcPort: srcPort as number,
      dstIp: dstIp as string,
      dstPort: 8100,
      tos: 0,
      tags: {},
    })
  );
  for (const flow of flows) summarizer.sent(flow, 0);
  const summary = await summarizer.finish(0);
  assert.deepEqual(
    summary.paths.map((path) => [path.dstIp, path.flows.map((flow) => flow.srcPort)]),
    [
      ["10.0.0.9", [1, 3]],
      ["10.0.0.10", [2]],
    ],
  );
});
