import assert from "node:assert/strict";
import { Summarizer } from "./summarizer.ts";
import type { FlowSummary, PathSummary } from "@llama/core";

function flowOf(summarizer: Summarizer, dstIp: string, srcPort: number, tags = {}): number {
  return summarizer.flows.addFlow({
    srcIp: "10.0.0.1",
    srcPort,
    dstIp,
    dstPort: 8100,
    tos: 0,
    tags,
  });
}

Deno.test("summarizer counts an outcome in the interval its probe was sent in, however late", async () => {
  const summarizer = new Summarizer(1);
  const flow = flowOf(summarizer, "10.0.0.2", 5000, { a: "b" });
  summarizer.book.sent(flow, 0);
  summarizer.book.sent(flow, 0);
  summarizer.book.sent(flow, 1000);
  // Outcomes of interval 0 arrive while interval 1000 is under way.
  summarizer.book.answered(flow, 0, 0, 2, true);
  summarizer.book.answered(flow, 1000, 2, 3, false);
  summarizer.book.lost(flow, 0);
  const first = (await summarizer.finish(0)).summary()!;
  assert.equal(first.start, "1970-01-01T00:00:00.000Z");
  assert.equal(first.paths[0].sent, 2);
  assert.equal(first.paths[0].lost, 1);
  assert.equal(first.paths[0].rtt?.mean, 2);
  assert.deepEqual(first.paths[0].tags, { a: "b" });
  assert.equal((await summarizer.finish(1000)).summary()!.paths[0].rtt?.mean, 3);
});

Deno.test("summarizer ignores outcomes for intervals it has already published", async () => {
  const summarizer = new Summarizer(1);
  const flow = flowOf(summarizer, "10.0.0.2", 5000);
  summarizer.book.sent(flow, 0);
  await summarizer.finish(0);
  summarizer.book.lost(flow, 0);
  summarizer.book.answered(flow, 0, 1, 1, false);
  summarizer.book.stray(flow, 0, "late");
  assert.equal(summarizer.book.openIntervals, 0, "a published interval must not come back");
});

Deno.test("summarizer groups flows into paths by source and destination address, sorted", async () => {
  const summarizer = new Summarizer(1);
  const flows = [
    ["10.0.0.9", 1],
    ["10.0.0.10", 2],
    ["10.0.0.9", 3],
  ].map(([dstIp, srcPort]) => flowOf(summarizer, dstIp as string, srcPort as number));
  for (const flow of flows) summarizer.book.sent(flow, 0);
  const summary = (await summarizer.finish(0)).summary()!;
  assert.deepEqual(
    summary.paths.map((path) => [path.dstIp, path.flows.map((flow) => flow.srcPort)]),
    [
      ["10.0.0.9", [1, 3]],
      ["10.0.0.10", [2]],
    ],
  );
});

/** What a flow or a path should say, computed the plain way: every sample in one sorted array. */
function expected(answers: number[][], sent: number, lost: number) {
  const all = answers.flat().sort((a, b) => a - b);
  const rank = (p: number) => {
    const at = (p / 100) * (all.length - 1);
    return all[Math.floor(at)] + (all[Math.ceil(at)] - all[Math.floor(at)]) * (at % 1);
  };
  const mean = all.reduce((sum, value) => sum + value, 0) / all.length;
  let differences = 0, count = 0;
  for (const flow of answers) {
    for (let index = 1; index < flow.length; index++) {
      differences += Math.abs(flow[index] - flow[index - 1]);
      count++;
    }
  }
  return {
    sent,
    lost,
    rtt: all.length === 0 ? null : {
      min: all[0],
      max: all.at(-1),
      mean,
      p50: rank(50),
      p90: rank(90),
      p99: rank(99),
      stddev: all.length === 1
        ? 0
        : Math.sqrt(all.reduce((sum, value) => sum + (value - mean) ** 2, 0) / (all.length - 1)),
    },
    jitter: count === 0 ? null : differences / count,
  };
}

/** Equal to what a summary keeps: float32 (7 significant digits), rounded to the nanosecond. */
function close(actual: number | null | undefined, wanted: number | null | undefined, what: string) {
  if (wanted === null || wanted === undefined) return assert.equal(actual, wanted, what);
  assert.ok(
    Math.abs(actual! - wanted) <= 5e-7 + 1.2e-7 * Math.abs(wanted),
    `${what}: ${actual} vs ${wanted}`,
  );
}

function assertStatistics(actual: PathSummary | FlowSummary, wanted: ReturnType<typeof expected>) {
  assert.equal(actual.sent, wanted.sent);
  assert.equal(actual.lost, wanted.lost);
  close(actual.jitter, wanted.jitter, "jitter");
  if (wanted.rtt === null) return assert.equal(actual.rtt, null);
  for (const key of ["min", "max", "mean", "p50", "p90", "p99", "stddev"] as const) {
    close(actual.rtt?.[key], wanted.rtt[key], key);
  }
}

Deno.test("summarizer: every flow's and path's statistics match sorting all their samples at once", async () => {
  let state = 12345;
  const random = () => (state = (state * 1103515245 + 12345) % 2147483648) / 2147483648;
  const summarizer = new Summarizer(10);
  const paths = Array.from({ length: 20 }, (_, path) =>
    Array.from(
      { length: 1 + Math.floor(random() * 5) },
      (_, port) => flowOf(summarizer, `10.0.1.${path + 1}`, 40_000 + port),
    ));
  for (let round = 0; round < 3; round++) {
    const start = round * 10_000;
    // Answers arrive interleaved across flows, as they do from the sockets.
    const answers = new Map<number, number[]>();
    const sent = new Map<number, number>();
    for (let event = 0; event < 3000; event++) {
      const flows = paths[Math.floor(random() * paths.length)];
      const flow = flows[Math.floor(random() * flows.length)];
      summarizer.book.sent(flow, start);
      sent.set(flow, (sent.get(flow) ?? 0) + 1);
      if (random() < 0.1) summarizer.book.lost(flow, start);
      else {
        const list = answers.get(flow) ?? [];
        list.push(Math.round(random() * 10_000) / 100);
        answers.set(flow, list);
        summarizer.book.answered(flow, start, event, list.at(-1)!, false);
      }
    }
    const summary = (await summarizer.finish(start)).summary()!;
    assert.equal(summary.paths.length, paths.length);
    for (const path of summary.paths) {
      const flows = paths[Number(path.dstIp.split(".")[3]) - 1];
      const lost = (flow: number) => (sent.get(flow) ?? 0) - (answers.get(flow)?.length ?? 0);
      assertStatistics(
        path,
        expected(
          flows.map((flow) => answers.get(flow) ?? []),
          flows.reduce((sum, flow) => sum + (sent.get(flow) ?? 0), 0),
          flows.reduce((sum, flow) => sum + lost(flow), 0),
        ),
      );
      for (const [index, flow] of flows.entries()) {
        if (!sent.has(flow)) continue;
        const summaryFlow = path.flows.find((candidate) => candidate.srcPort === 40_000 + index)!;
        assertStatistics(
          summaryFlow,
          expected([answers.get(flow) ?? []], sent.get(flow)!, lost(flow)),
        );
      }
    }
  }
});

Deno.test("summarizer: reordering counts answers below the highest sequence seen on the flow", async () => {
  const summarizer = new Summarizer(1);
  const flow = flowOf(summarizer, "10.0.0.2", 5000);
  for (const sequence of [0, 2, 1, 3, 5, 4]) {
    summarizer.book.sent(flow, 0);
    summarizer.book.answered(flow, 0, sequence, 1, sequence % 2 === 0);
  }
  const path = (await summarizer.finish(0)).summary()!.paths[0];
  assert.equal(path.reordered, 2);
  assert.equal(path.dwellCorrected, 3);
});

Deno.test("summarizer: reordering survives the prober's 32-bit sequence numbers wrapping", async () => {
  const summarizer = new Summarizer(1);
  const flow = flowOf(summarizer, "10.0.0.2", 5000);
  // Answers a quarter of the sequence space apart, then 2^32 - 1 before 0 are in order; 1 after
  // 2, and 2^32 - 1 after 0, are reordered. After a silence of 2^31 + 6 probes the flow starts
  // again from its next answer: nothing reordered.
  const quarter = 2 ** 30;
  for (
    const sequence of [
      0,
      quarter,
      2 * quarter,
      3 * quarter,
      2 ** 32 - 1,
      0,
      2,
      1,
      3,
      2 ** 32 - 1,
      4,
      2 ** 31 + 10,
      2 ** 31 + 11,
    ]
  ) {
    summarizer.book.sent(flow, 0);
    summarizer.book.answered(flow, 0, sequence, 1, true);
  }
  assert.equal((await summarizer.finish(0)).summary()!.paths[0].reordered, 2);
});

Deno.test("summarizer: nothing answered gives null RTT and jitter", async () => {
  const summarizer = new Summarizer(1);
  const flow = flowOf(summarizer, "10.0.0.2", 5000);
  summarizer.book.sent(flow, 0);
  summarizer.book.lost(flow, 0);
  const { flows: _, tos: __, ...path } = (await summarizer.finish(0)).summary()!.paths[0];
  assert.deepEqual(path, {
    srcIp: "10.0.0.1",
    dstIp: "10.0.0.2",
    tags: {},
    sent: 1,
    lost: 1,
    lossPercent: 100,
    late: 0,
    duplicates: 0,
    reordered: 0,
    rtt: null,
    jitter: null,
    dwellCorrected: 0,
  });
  assert.deepEqual((await summarizer.finish(1000)).summary()!.paths, [], "an empty interval");
});

Deno.test("summarizer: a path never published yet that has nothing keeps the others' rows in place", async () => {
  const summarizer = new Summarizer(1);
  const rows = async (start: number) =>
    (await summarizer.finish(start)).paths.map((path) => [path.dstIp, path.tags.name, path.sent]);
  // It sorts first, and is silent in the first interval.
  flowOf(summarizer, "10.0.0.2", 5000, { name: "two" });
  const three = flowOf(summarizer, "10.0.0.3", 5000, { name: "three" });
  const four = flowOf(summarizer, "10.0.0.4", 5000, { name: "four" });
  summarizer.book.sent(three, 0);
  summarizer.book.sent(four, 0);
  summarizer.book.sent(four, 0);
  assert.deepEqual(await rows(0), [["10.0.0.3", "three", 1], ["10.0.0.4", "four", 2]]);
  // A reload adds two paths at the end of the table: the first of them silent.
  flowOf(summarizer, "10.0.0.5", 5000, { name: "five" });
  const six = flowOf(summarizer, "10.0.0.6", 5000, { name: "six" });
  for (const flow of [three, four, six]) summarizer.book.sent(flow, 1000);
  assert.deepEqual(await rows(1000), [
    ["10.0.0.3", "three", 1],
    ["10.0.0.4", "four", 1],
    ["10.0.0.6", "six", 1],
  ]);
});

Deno.test("summarizer: flows added after probing began (a reload) are counted", async () => {
  const summarizer = new Summarizer(1);
  const first = flowOf(summarizer, "10.0.0.2", 5000);
  summarizer.book.sent(first, 0);
  const added = Array.from(
    { length: 100 },
    (_, index) => flowOf(summarizer, "10.0.0.3", index + 1),
  );
  for (const flow of added) {
    summarizer.book.sent(flow, 0);
    summarizer.book.answered(flow, 0, 0, flow, false);
  }
  const summary = (await summarizer.finish(0)).summary()!;
  assert.deepEqual(summary.paths.map((path) => [path.dstIp, path.sent]), [
    ["10.0.0.2", 1],
    ["10.0.0.3", 100],
  ]);
  assert.equal(summary.paths[1].rtt?.max, added.at(-1));
});

Deno.test("summarizer: flows added over several loads keep their paths, ports and reordering state", async () => {
  const summarizer = new Summarizer(1);
  const flows = Array.from(
    { length: 70 },
    (_, index) => flowOf(summarizer, "10.0.0.2", 1000 + index),
  );
  summarizer.flows.doneAddingFlows();
  for (const flow of flows) {
    summarizer.book.sent(flow, 0);
    summarizer.book.answered(flow, 0, 5, 1, false);
  }
  const before = await summarizer.finish(0);
  // A reload: more flows, to a new path and to the old one, then the room they grew into is let go.
  flows.push(
    ...Array.from({ length: 40 }, (_, index) => flowOf(summarizer, "10.0.0.3", 2000 + index)),
  );
  flows.push(flowOf(summarizer, "10.0.0.2", 999));
  assert.equal(summarizer.flows.flowAddresses(flows.at(-1)!), "10.0.0.1 10.0.0.2 8100");
  summarizer.flows.doneAddingFlows();
  for (const flow of flows) {
    summarizer.book.sent(flow, 1000);
    summarizer.book.answered(flow, 1000, 4, 2, false);
  }
  const after = (await summarizer.finish(1000)).summary()!;
  assert.deepEqual(after.paths.map((path) => [path.dstIp, path.flows.length, path.reordered]), [
    ["10.0.0.2", 71, 70],
    ["10.0.0.3", 40, 0],
  ]);
  assert.deepEqual(
    after.paths[0].flows.slice(0, 2).map((flow) => [flow.srcPort, flow.reordered]),
    [[999, 0], [1000, 1]],
  );
  assert.equal(after.paths[1].flows.at(-1)!.srcPort, 2039);
  // The interval before the reload, compacted, still has its one path.
  assert.ok(before.compacted);
  assert.deepEqual(before.paths.map((path) => [path.srcIp, path.dstIp, path.sent]), [
    ["10.0.0.1", "10.0.0.2", 70],
  ]);
});

Deno.test("summarizer: reloads that give flows new tag objects keep identities whose tags are the same", async () => {
  const summarizer = new Summarizer(1);
  // A target's flows share its tags object.
  const tagsA = { rack: "a" }, tagsB = { rack: "b" };
  const a = [5000, 5001].map((port) => flowOf(summarizer, "10.0.0.2", port, tagsA));
  const b = [5000, 5001].map((port) => flowOf(summarizer, "10.0.0.3", port, tagsB));
  summarizer.flows.doneAddingFlows();
  let previous: Awaited<ReturnType<Summarizer["finish"]>> | undefined;
  const publish = async (start: number) => {
    for (const flow of [...a, ...b]) summarizer.book.sent(flow, start);
    previous = await summarizer.finish(start);
    return previous.summary()!.paths;
  };
  const [firstA, firstB] = await publish(0);
  // A reload: every target's tags are new objects, equal for one target, changed for the other.
  const sameA = { rack: "a" }, newB = { rack: "c" };
  for (const flow of a) summarizer.flows.setFlowTags(flow, sameA);
  for (const flow of b) summarizer.flows.setFlowTags(flow, newB);
  summarizer.flows.doneAddingFlows();
  const [secondA, secondB] = await publish(1000);
  assert.equal(secondA.tags, firstA.tags, "equal tags keep the identity's object");
  assert.deepEqual(secondB.tags, { rack: "c" });
  assert.deepEqual(firstB.tags, { rack: "b" });
  // Another reload, back to the first tags, and one target's flows split between two tag sets.
  summarizer.flows.setFlowTags(b[0], { rack: "b" });
  summarizer.flows.setFlowTags(b[1], { rack: "b", row: "7" });
  summarizer.flows.doneAddingFlows();
  const [thirdA, thirdB] = await publish(2000);
  assert.equal(thirdA.tags, firstA.tags);
  assert.deepEqual(thirdB.tags, { rack: "b", row: "7" });
});

Deno.test("summarizer: sorting gives the event loop turns, also when idle flows take every 64th place", async () => {
  const turnsDuringFinish = async (idleFirst: boolean) => {
    const summarizer = new Summarizer(10);
    const active: number[] = [];
    for (let path = 0; path < 200; path++) {
      for (let port = 0; port < 8; port++) {
        const id = flowOf(summarizer, `10.1.${path >> 8}.${path & 255}`, 1000 + port);
        // A reload moved the port group from 1000-1003 to 1004-1007: the old flows stay, idle.
        if (!idleFirst || port >= 4) active.push(id);
      }
    }
    summarizer.flows.doneAddingFlows();
    for (const flow of active) {
      for (let index = 0; index < 5; index++) {
        summarizer.book.sent(flow, 0);
        summarizer.book.answered(flow, 0, index, index, false);
      }
    }
    const realNow = performance.now;
    let now = 0;
    let turns = 0;
    let done = false;
    const tick = () => {
      if (done) return;
      turns++;
      setTimeout(tick, 0);
    };
    try {
      // Every look at the clock finds 10 ms gone: the sort should yield at every check.
      performance.now = () => (now += 10);
      setTimeout(tick, 0);
      await summarizer.finish(0);
    } finally {
      done = true;
      performance.now = realNow;
    }
    return turns;
  };
  // 1,600 flows, a check every 64.
  assert.ok(await turnsDuringFinish(false) >= 20);
  assert.ok(await turnsDuringFinish(true) >= 20);
});

Deno.test("summarizer: intervals finished together are summarized one at a time, in order", async () => {
  const summarizer = new Summarizer(1);
  const flow = flowOf(summarizer, "10.0.0.2", 5000);
  summarizer.book.sent(flow, 0);
  for (let index = 0; index < 3; index++) summarizer.book.sent(flow, 1000);
  summarizer.book.answered(flow, 0, 0, 1, false);
  summarizer.book.answered(flow, 1000, 1, 2, false);
  const [first, second] = await Promise.all([summarizer.finish(0), summarizer.finish(1000)]);
  assert.deepEqual([first.totals().sent, second.totals().sent], [1, 3]);
  assert.ok(first.compacted, "the first was published first, and compacted by the second");
  assert.equal(second.summary()!.paths[0].rtt?.p50, 2);
  assert.equal(summarizer.history.latest(), second);
  assert.deepEqual(summarizer.history.intervals(), [first, second]);
});

Deno.test("summarizer lists IPv6 paths in numeric order, not as padded text", async () => {
  const summarizer = new Summarizer(1);
  const flows = ["2001:db8:0:0:1::", "2001:db8::2:1", "10.0.0.10", "10.0.0.9"].map((dstIp) =>
    flowOf(summarizer, dstIp, 5000)
  );
  for (const flow of flows) summarizer.book.sent(flow, 0);
  const summary = (await summarizer.finish(0)).summary()!;
  assert.deepEqual(summary.paths.map((path) => path.dstIp), [
    "10.0.0.9",
    "10.0.0.10",
    "2001:db8::2:1", // 2001:db8:0:0:0:0:2:1
    "2001:db8:0:0:1::", // 2001:db8:0:0:1:0:0:0
  ]);
});
