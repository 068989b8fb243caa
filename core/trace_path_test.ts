import assert from "node:assert/strict";
import { firstDifference, lossOnset, samePath, traceLinks } from "./trace_path.ts";
import { type HopSpec, trace } from "./testdata/trace_fixtures.ts";

const T = "10.0.9.9";

Deno.test("traceLinks joins the source, each answering hop and the target in path order", () => {
  const links = traceLinks(trace({ target: T, hops: ["10.0.1.1", "10.0.2.1", T] }));
  assert.deepEqual(links, [
    { from: "10.0.0.1", to: "10.0.1.1" },
    { from: "10.0.1.1", to: "10.0.2.1" },
    { from: "10.0.2.1", to: T },
  ]);
});

Deno.test("traceLinks steps over a silent hop between two answering ones", () => {
  const links = traceLinks(trace({ target: T, hops: ["10.0.1.1", null, "10.0.3.1", T] }));
  assert.deepEqual(links.map(({ from, to }) => `${from}>${to}`), [
    "10.0.0.1>10.0.1.1",
    "10.0.1.1>10.0.3.1",
    "10.0.3.1>10.0.9.9",
  ]);
});

Deno.test("traceLinks ends a trace that stops answering with (last answering, null)", () => {
  const links = traceLinks(trace({ target: T, hops: ["10.0.1.1", null, null] }));
  assert.deepEqual(links, [{ from: "10.0.0.1", to: "10.0.1.1" }, { from: "10.0.1.1", to: null }]);
  assert.deepEqual(traceLinks(trace({ target: T, hops: [null, null] })), [
    { from: "10.0.0.1", to: null },
  ]);
});

Deno.test("traceLinks adds the target when reachedTarget is set without a destination hop", () => {
  const reached = { ...trace({ target: T, hops: ["10.0.1.1"] }), reachedTarget: true };
  assert.deepEqual(traceLinks(reached).at(-1), { from: "10.0.1.1", to: T });
});

Deno.test("traceLinks makes no link of a router answering two TTLs, and lists each link once", () => {
  const links = traceLinks(
    trace({ target: T, hops: ["10.0.1.1", "10.0.1.1", "10.0.2.1", "10.0.1.1", "10.0.2.1", T] }),
  );
  assert.deepEqual(links.map(({ from, to }) => `${from}>${to}`), [
    "10.0.0.1>10.0.1.1",
    "10.0.1.1>10.0.2.1",
    "10.0.2.1>10.0.1.1",
    "10.0.2.1>10.0.9.9",
  ]);
});

Deno.test("lossOnset is the first hop from which loss persists to the target", () => {
  const onset = lossOnset(
    trace({ target: T, hops: ["10.0.1.1", ["10.0.2.1", 30], ["10.0.3.1", 25], [T, 30]] }),
  );
  assert.deepEqual(onset, { from: "10.0.1.1", to: "10.0.2.1" });
});

Deno.test("lossOnset takes a lossy hop followed by clean ones for rate limiting, not onset", () => {
  const limited = trace({ target: T, hops: [["10.0.1.1", 80], "10.0.2.1", [T, 0]] });
  assert.equal(lossOnset(limited), null);
  const limitedThenLoss = trace({
    target: T,
    hops: [["10.0.1.1", 80], "10.0.2.1", ["10.0.3.1", 40], [T, 35]],
  });
  assert.deepEqual(lossOnset(limitedThenLoss), { from: "10.0.2.1", to: "10.0.3.1" });
});

Deno.test("lossOnset of loss on the first link is the link from the source", () => {
  const onset = lossOnset(
    trace({ target: T, hops: [["10.0.1.1", 20], ["10.0.2.1", 20], [T, 20]] }),
  );
  assert.deepEqual(onset, { from: "10.0.0.1", to: "10.0.1.1" });
});

Deno.test("lossOnset of a trace that stops answering is (last answering, null)", () => {
  assert.deepEqual(lossOnset(trace({ target: T, hops: ["10.0.1.1", null, null] })), {
    from: "10.0.1.1",
    to: null,
  });
  assert.deepEqual(lossOnset(trace({ target: T, hops: [null] })), { from: "10.0.0.1", to: null });
});

Deno.test("lossOnset ignores loss under the margin when more reaches the target", () => {
  const hops: HopSpec[] = [["10.0.1.1", 4], null, ["10.0.3.1", 4], [T, 20]];
  assert.deepEqual(lossOnset(trace({ target: T, hops })), { from: "10.0.3.1", to: T });
  assert.deepEqual(lossOnset(trace({ target: T, hops }), { marginPercent: 3 }), {
    from: "10.0.0.1",
    to: "10.0.1.1",
  });
});

Deno.test("lossOnset takes loss under the margin that is most of what reaches the target", () => {
  const onset = lossOnset(trace({ target: T, hops: ["10.0.1.1", ["10.0.2.1", 3], [T, 4]] }));
  assert.deepEqual(onset, { from: "10.0.1.1", to: "10.0.2.1" });
  assert.equal(lossOnset(trace({ target: T, hops: ["10.0.1.1", [T, 0]] })), null);
});

Deno.test("lossOnset corrects each hop for what its router's answers lose on clean flows", () => {
  const hops: HopSpec[] = ["10.0.1.1", ["10.0.2.1", 70], ["10.0.3.1", 40], [T, 40]];
  assert.deepEqual(lossOnset(trace({ target: T, hops })), { from: "10.0.1.1", to: "10.0.2.1" });
  const answerLoss = new Map([["10.0.2.1", 70]]);
  assert.deepEqual(lossOnset(trace({ target: T, hops }), { answerLoss }), {
    from: "10.0.2.1",
    to: "10.0.3.1",
  });
});

Deno.test("lossOnset puts loss past a router answering two TTLs on the link into it", () => {
  const onset = lossOnset(
    trace({ target: T, hops: ["10.0.1.1", ["10.0.2.1", 50], ["10.0.2.1", 50], [T, 50]] }),
  );
  assert.deepEqual(onset, { from: "10.0.1.1", to: "10.0.2.1" });
});

Deno.test("samePath sees no difference in a hop silent in one of the traces", () => {
  const a = trace({ target: T, hops: ["10.0.1.1", "10.0.2.1", T] });
  const b = trace({ target: T, hops: ["10.0.1.1", null, T] });
  assert.ok(samePath(a, b) && samePath(b, a));
  assert.equal(firstDifference(a, b), null);
});

Deno.test("samePath tells a different address at the same TTL, and firstDifference names it", () => {
  const a = trace({ target: T, hops: ["10.0.1.1", "10.0.2.1", "10.0.3.1", T] });
  const b = trace({ target: T, hops: ["10.0.1.1", "10.0.2.2", "10.0.3.1", T] });
  assert.ok(!samePath(a, b));
  assert.equal(firstDifference(a, b), 2);
});

Deno.test("samePath tells the target reached at another TTL", () => {
  const a = trace({ target: T, hops: ["10.0.1.1", T] });
  const b = trace({ target: T, hops: ["10.0.1.1", null, T] });
  assert.ok(!samePath(a, b) && !samePath(b, a));
  assert.equal(firstDifference(a, b), 2);
});

Deno.test("samePath takes a trace stopping short of the other's as the same path", () => {
  const a = trace({ target: T, hops: ["10.0.1.1", "10.0.2.1", T] });
  const b = trace({ target: T, hops: ["10.0.1.1", null, null] });
  assert.ok(samePath(a, b) && samePath(b, a));
  const longer = trace({ target: T, hops: ["10.0.1.1", "10.0.2.1", "10.0.3.1", null] });
  assert.ok(!samePath(a, longer) && !samePath(longer, a), "an answer past the target's TTL");
});
