import assert from "node:assert/strict";
import type { IntervalLike } from "@llama/ui";
import { SummaryHistory } from "./summary_history.ts";

function interval(start: number, srcIp: string): IntervalLike {
  return {
    start: new Date(start).toISOString(),
    end: new Date(start + 1000).toISOString(),
    intervalSeconds: 1,
    paths: [{
      srcIp,
      dstIp: "10.0.0.9",
      tags: {},
      sent: 10,
      lost: 0,
      lossPercent: 0,
      rtt: null,
      flows: [{ srcPort: 1, dstPort: 2, sent: 10, lost: 0, lossPercent: 0, rtt: null }],
    }],
  };
}

const sources = (history: SummaryHistory) =>
  history.merged().map((one) => one.paths.map((path) => path.srcIp));

Deno.test("summary history shows a round's intervals once it is published, merged by start", () => {
  const history = new SummaryHistory(2);
  history.add("a", interval(0, "10.0.0.1"), 1);
  assert.deepEqual(history.merged(), [], "half a round is not shown");
  history.add("b", interval(0, "10.0.0.2"), 1);
  history.publish(1);
  assert.deepEqual(sources(history), [["10.0.0.1", "10.0.0.2"]]);
  history.add("a", interval(1000, "10.0.0.1"), 2);
  assert.deepEqual(sources(history), [["10.0.0.1", "10.0.0.2"]], "the next round, not yet");
  history.add("b", interval(1000, "10.0.0.2"), 2);
  history.add("a", interval(2000, "10.0.0.1"), 3);
  history.publish(2);
  assert.deepEqual(
    sources(history),
    [["10.0.0.1", "10.0.0.2"], ["10.0.0.1", "10.0.0.2"]],
    "round 2, not round 3 that has begun",
  );
  history.publish(3);
  assert.deepEqual(sources(history), [["10.0.0.1", "10.0.0.2"], ["10.0.0.1"]]);
  // Flows only on each collector's newest interval.
  const [older, newest] = history.merged();
  assert.deepEqual(older.paths.map((path) => path.flows === undefined), [true, false]);
  assert.ok(newest.paths[0].flows !== undefined);
});
