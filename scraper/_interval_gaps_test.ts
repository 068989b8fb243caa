import assert from "node:assert/strict";
import { IntervalGaps } from "./_interval_gaps.ts";

Deno.test("interval gaps: intervals skipped between two taken are reported, across a restart", async () => {
  const directory = await Deno.makeTempDir({ prefix: "llama-gaps-" });
  try {
    const damaged: string[] = [];
    const gaps = await IntervalGaps.open(directory, (file) => damaged.push(file));
    assert.equal(gaps.taken("a", 10_000, 1), undefined, "nothing before the first");
    assert.equal(gaps.taken("a", 11_000, 1), undefined, "the next one");
    assert.equal(gaps.taken("a", 11_000, 1), undefined, "the same one again");
    assert.deepEqual(gaps.taken("a", 15_000, 1), { count: 3, from: 12_000, to: 14_000 });
    assert.equal(gaps.taken("b", 15_000, 1), undefined, "collectors apart");
    await gaps.save();
    const again = await IntervalGaps.open(directory, (file) => damaged.push(file));
    assert.deepEqual(again.taken("a", 18_000, 1), { count: 2, from: 16_000, to: 17_000 });
    assert.deepEqual(damaged, []);
  } finally {
    await Deno.remove(directory, { recursive: true });
  }
});

Deno.test("interval gaps: a damaged file is reported and started again", async () => {
  const directory = await Deno.makeTempDir({ prefix: "llama-gaps-" });
  try {
    for (const text of ["", "{", "[1]", '"x"']) {
      await Deno.writeTextFile(`${directory}/last-intervals.json`, text);
      const problems: string[] = [];
      const gaps = await IntervalGaps.open(directory, (_file, problem) => problems.push(problem));
      assert.equal(problems.length, 1, `reported: ${JSON.stringify(text)}`);
      assert.equal(gaps.taken("a", 5000, 1), undefined);
    }
  } finally {
    await Deno.remove(directory, { recursive: true });
  }
});
