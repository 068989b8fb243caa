import assert from "node:assert/strict";
import { rankSuspects } from "./suspects.ts";
import { linkKey } from "./trace_path.ts";
import type { SuspectLink, TracedFlow } from "./trace.ts";
import { type HopSpec, tracedFlow } from "./testdata/trace_fixtures.ts";

const R1 = "10.0.1.1";
const R2A = "10.0.2.1";
const R2B = "10.0.2.2";
const R3 = "10.0.3.1";
const T1 = "10.0.9.1";
const T2 = "10.0.9.2";

const name = (link: SuspectLink) => linkKey(link.from, link.to);

/**
 * Flows from 10.0.0.1 to `target` over r1, then r2a or r2b (even ports: r2a), then r3: each
 * hop's loss from `loss(via, hop)`, the flow's the target's.
 */
function parallelFlows(
  target: string,
  count: number,
  loss: (via: string, hop: string) => number,
  firstPort = 33000,
): TracedFlow[] {
  return Array.from({ length: count }, (_, index) => {
    const via = index % 2 === 0 ? R2A : R2B;
    const hops: HopSpec[] = [R1, via, R3, target].map((hop) => [hop, loss(via, hop)]);
    return tracedFlow(loss(via, target), { target, hops, srcPort: firstPort + index });
  });
}

Deno.test("rankSuspects finds no suspect when no flow is lossy", () => {
  const flows = parallelFlows(T1, 8, () => 0);
  assert.deepEqual(rankSuspects(flows), { suspects: [], lossyFlows: 0, cleanFlows: 8 });
  assert.deepEqual(rankSuspects([]), { suspects: [], lossyFlows: 0, cleanFlows: 0 });
});

Deno.test("rankSuspects puts the link into the parallel router that starts losing first", () => {
  // Loss on r1>r2a: r2a>r3 is crossed by the same lossy flows only; the onset tells them apart.
  const flows = parallelFlows(T1, 8, (via, hop) => via === R2A && hop !== R1 ? 20 : 0);
  const { suspects, lossyFlows, cleanFlows } = rankSuspects(flows);
  assert.equal(lossyFlows, 4);
  assert.equal(cleanFlows, 4);
  assert.deepEqual(suspects.slice(0, 2).map(name), [`${R1}>${R2A}`, `${R2A}>${R3}`]);
  assert.deepEqual(
    { ...suspects[0], examples: suspects[0].examples.length },
    { from: R1, to: R2A, score: 1, lossyFlows: 4, cleanFlows: 0, onsetFlows: 4, examples: 4 },
  );
  assert.equal(suspects[1].score, 0.5);
  assert.equal(suspects[0].examples[0], `10.0.0.1:33000>${T1}:8100`);
  assert.ok(suspects.every((suspect) => suspect.lossyFlows > 0));
});

Deno.test("rankSuspects puts the link to one target first when flows to another are clean", () => {
  const flows = [
    ...parallelFlows(T1, 6, (_, hop) => hop === T1 ? 30 : 0),
    ...parallelFlows(T2, 6, () => 0, 34000),
  ];
  const { suspects } = rankSuspects(flows);
  assert.equal(name(suspects[0]), `${R3}>${T1}`);
  assert.equal(suspects[0].score, 1);
  assert.ok(suspects[1].score <= 0.5, `the next one scores ${suspects[1].score}`);
});

Deno.test("rankSuspects puts the first link first when every flow loses from it", () => {
  const flows = [
    ...parallelFlows(T1, 6, () => 10),
    ...parallelFlows(T2, 6, () => 10, 34000),
  ];
  const { suspects, lossyFlows } = rankSuspects(flows);
  assert.equal(lossyFlows, 12);
  assert.equal(name(suspects[0]), `10.0.0.1>${R1}`);
  assert.equal(suspects[0].score, 1);
  assert.equal(suspects[0].onsetFlows, 12);
  assert.ok(suspects[1].score <= 0.5);
});

Deno.test("rankSuspects puts (r1, null) first for a blackhole past r1", () => {
  const flows = parallelFlows(T1, 8, () => 0).map((flow, index) =>
    index % 2 === 0
      ? tracedFlow(100, { target: T1, hops: [R1, null, null, null], srcPort: 33000 + index })
      : flow
  );
  const { suspects } = rankSuspects(flows);
  assert.deepEqual(
    { ...suspects[0], examples: [] },
    { from: R1, to: null, score: 1, lossyFlows: 4, cleanFlows: 0, onsetFlows: 4, examples: [] },
  );
  const first = suspects.find((suspect) => name(suspect) === `10.0.0.1>${R1}`)!;
  assert.equal(first.cleanFlows, 4);
  assert.equal(first.score, 0.25);
});

Deno.test("rankSuspects does not blame a rate-limited router that clean flows also cross", () => {
  // r2a answers 70% of its probes unanswered on every flow; the loss is on r3>T1.
  const flows = [
    ...parallelFlows(T1, 8, (via, hop) => hop === T1 ? 20 : via === R2A && hop === R2A ? 70 : 0),
    ...parallelFlows(T2, 8, (via, hop) => via === R2A && hop === R2A ? 70 : 0, 34000),
  ];
  const { suspects } = rankSuspects(flows);
  assert.equal(name(suspects[0]), `${R3}>${T1}`);
  const intoR2a = suspects.find((suspect) => name(suspect) === `${R1}>${R2A}`)!;
  assert.equal(intoR2a.onsetFlows, 0);
  assert.ok(intoR2a.score < 0.25);
});

Deno.test("rankSuspects learns a router's rate limiting from clean flows, right before the fault", () => {
  // r3 answers 40% of the probes of every flow unanswered; the loss is on r3>T1.
  const limit = (hop: string) => hop === R3 ? 40 : 0;
  const flows = [
    ...parallelFlows(T1, 8, (_, hop) => hop === T1 ? 20 : limit(hop)),
    ...parallelFlows(T2, 8, (_, hop) => limit(hop), 34000),
  ];
  const { suspects } = rankSuspects(flows);
  assert.equal(name(suspects[0]), `${R3}>${T1}`);
  assert.equal(suspects[0].onsetFlows, 8);
});

Deno.test("rankSuspects ignores flows between the clean and lossy thresholds", () => {
  const flows = [
    ...parallelFlows(T1, 4, (via, hop) => via === R2A && hop !== R1 ? 20 : 0),
    // Losing 0.5%: neither lossy nor clean evidence.
    ...parallelFlows(T1, 4, () => 0.5, 35000),
  ];
  const { suspects, lossyFlows, cleanFlows } = rankSuspects(flows);
  assert.equal(lossyFlows, 2);
  assert.equal(cleanFlows, 2);
  assert.deepEqual(suspects.map(name).slice(0, 1), [`${R1}>${R2A}`]);
  assert.equal(suspects[0].cleanFlows, 0);
  // With a lossy threshold of 0.5% they are lossy, and the first link explains every loss.
  const lower = rankSuspects(flows, { lossyPercent: 0.5 });
  assert.equal(lower.lossyFlows, 6);
  // With a clean threshold of 0.5% they are clean: r1>r2a is still crossed only by lossy flows.
  const cleaner = rankSuspects(flows, { cleanPercent: 0.5 });
  assert.equal(cleaner.cleanFlows, 6);
  assert.equal(name(cleaner.suspects[0]), `${R1}>${R2A}`);
  assert.throws(() => rankSuspects(flows, { cleanPercent: 1 }), /cleanPercent \(1\) must be below/);
});

Deno.test("rankSuspects steps over silent hops, joining the answering ones around them", () => {
  // r2a never answers its TTL: the traces via it show r1>r3, the link that then starts losing.
  const flows = parallelFlows(T1, 8, (via, hop) => via === R2A && hop !== R1 ? 20 : 0).map(
    (flow) => {
      if (flow.trace.hops[1].address !== R2A) return flow;
      const hops = flow.trace.hops.map((hop) =>
        hop.address === R2A
          ? { ...hop, address: null, addresses: [], kind: "silent" as const }
          : hop
      );
      return { ...flow, trace: { ...flow.trace, hops } };
    },
  );
  const { suspects } = rankSuspects(flows);
  assert.equal(name(suspects[0]), `${R1}>${R3}`);
  assert.equal(suspects[0].score, 1);
  assert.ok(!suspects.some((suspect) => suspect.from === R2A || suspect.to === R2A));
});

Deno.test("rankSuspects names at most 10 examples, and orders ties by from and to", () => {
  const flows = [
    ...parallelFlows(T1, 30, (_, hop) => hop === T1 ? 30 : 0),
    ...parallelFlows(T2, 30, (_, hop) => hop === T2 ? 30 : 0, 34000),
    ...parallelFlows("10.0.9.3", 30, () => 0, 35000),
  ];
  const { suspects } = rankSuspects(flows, { limit: 2 });
  assert.deepEqual(suspects.map(name), [`${R3}>${T1}`, `${R3}>${T2}`]);
  assert.equal(suspects[0].lossyFlows, 30);
  assert.equal(suspects[0].examples.length, 10);
  assert.equal(suspects[0].score, 0.5);
  const reversed = rankSuspects(flows.toReversed(), { limit: 2 }).suspects.map(name);
  assert.deepEqual(reversed, suspects.map(name));
});

/** A small seeded generator (mulberry32), so a failing case can be run again. */
function random(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

Deno.test("rankSuspects ranks the faulty link first on random 2-level ECMP fabrics", () => {
  const fabrics = 300;
  let undecided = 0;
  for (let seed = 1; seed <= fabrics; seed++) {
    const next = random(seed);
    const pick = <T>(list: readonly T[]): T => list[Math.floor(next() * list.length)];
    const sources = Array.from({ length: 2 + Math.floor(next() * 3) }, (_, i) => `10.1.${i}.1`);
    const leaves = sources.map((_, i) => `10.2.${i}.1`);
    const spines = Array.from({ length: 2 + Math.floor(next() * 3) }, (_, i) => `10.3.${i}.1`);
    const aggregates = Array.from({ length: 2 + Math.floor(next() * 3) }, (_, i) => `10.4.${i}.1`);
    const targets = Array.from({ length: 2 + Math.floor(next() * 4) }, (_, i) => `10.9.${i}.1`);
    const edges = targets.map((_, i) => `10.5.${i}.1`);
    // Each router rate-limits its own answers, or not, for every flow.
    const limited = new Map([...leaves, ...spines, ...aggregates, ...edges].map((router) => [
      router,
      next() < 0.2 ? 50 + Math.floor(next() * 40) : 0,
    ]));
    const paths = Array.from({ length: 40 + Math.floor(next() * 40) }, () => {
      const from = Math.floor(next() * sources.length);
      const to = Math.floor(next() * targets.length);
      return [
        sources[from],
        leaves[from],
        pick(spines),
        pick(aggregates),
        edges[to],
        targets[to],
      ];
    });
    const [faultFrom, faultTo] = (() => {
      const path = pick(paths);
      const at = Math.floor(next() * (path.length - 1));
      return [path[at], path[at + 1]];
    })();
    const faultLoss = 5 + Math.floor(next() * 60);
    const flows = paths.map((path, index) => {
      const at = path.findIndex((hop, i) => hop === faultFrom && path[i + 1] === faultTo);
      const lossPercent = at === -1 ? 0 : faultLoss;
      const hops: HopSpec[] = path.slice(1).map((hop, i) => {
        const past = at !== -1 && i + 1 > at;
        // 20 probes a hop: each lost past the fault, or its answer lost to rate limiting.
        const keep = (1 - (past ? faultLoss : 0) / 100) * (1 - (limited.get(hop) ?? 0) / 100);
        let lost = 0;
        for (let probe = 0; probe < 20; probe++) if (next() >= keep) lost++;
        return [hop, lost * 5];
      });
      return tracedFlow(lossPercent, {
        source: path[0],
        target: path[path.length - 1],
        hops,
        srcPort: 33000 + index,
      });
    });
    const { suspects } = rankSuspects(flows);
    const top = suspects[0];
    // A rate-limited router right before the faulty link that no clean flow crosses: nothing
    // tells whether loss starts into it or past it, so a link into it may come first.
    const ambiguous = (limited.get(faultFrom) ?? 0) > 0 &&
      !flows.some((flow) =>
        flow.lossPercent === 0 && flow.trace.hops.some((hop) => hop.address === faultFrom)
      );
    if (ambiguous && top.to === faultFrom) {
      undecided++;
      continue;
    }
    assert.equal(
      linkKey(top.from, top.to),
      linkKey(faultFrom, faultTo),
      `seed ${seed}: fault on ${faultFrom}>${faultTo} (${faultLoss}%), ranked ${
        JSON.stringify(suspects.slice(0, 3))
      }`,
    );
  }
  assert.ok(undecided < fabrics * 0.05, `${undecided} of ${fabrics} fabrics undecided`);
});
