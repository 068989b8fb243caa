import assert from "node:assert/strict";
import { findHighestRate, judge, type LadderPlan, type LoadReport } from "./_rate_ladder.ts";

const PLAN: LadderPlan = {
  rates: [10_000, 20_000, 40_000, 80_000],
  trialSeconds: 1,
  trialsPerRate: 3,
  bisect: true,
};

/** A reflector that answers everything up to `limit` packets/s and 90% above it. */
function reflectorUpTo(limit: number, tried: number[]) {
  return (rate: number, seconds: number) => {
    tried.push(rate);
    const sent = rate * seconds;
    const result: LoadReport = {
      sent,
      received: rate <= limit ? sent : sent * 0.9,
      achievedRate: rate,
    };
    return Promise.resolve({ rate, seconds, result, ...judge(result, rate) });
  };
}

Deno.test("judge: a trial passes with 99.9% answered, fails below, and blames a slow generator", () => {
  assert.equal(judge({ sent: 1000, received: 999, achievedRate: 1000 }, 1000).verdict, "pass");
  assert.equal(judge({ sent: 1000, received: 998, achievedRate: 1000 }, 1000).verdict, "fail");
  assert.equal(
    judge({ sent: 900, received: 900, achievedRate: 900 }, 1000).verdict,
    "generator-limited",
  );
  assert.equal(judge({ sent: 0, received: 0, achievedRate: 0 }, 1000).verdict, "fail");
});

Deno.test("findHighestRate stops at the first failing rate and tries once halfway back", async () => {
  const tried: number[] = [];
  const search = await findHighestRate(PLAN, reflectorUpTo(30_000, tried));
  assert.equal(search.highest, 30_000);
  assert.equal(search.endedBy, "reflector");
  assert.equal(search.firstFailure?.rate, 40_000);
  // two agreeing trials decide a rate; 80k is never tried
  assert.deepEqual(tried, [10_000, 10_000, 20_000, 20_000, 40_000, 40_000, 30_000, 30_000]);
});

Deno.test("findHighestRate says when every rate passed", async () => {
  const search = await findHighestRate({ ...PLAN, trialsPerRate: 1 }, reflectorUpTo(1e9, []));
  assert.deepEqual([search.highest, search.endedBy], [80_000, "ladder"]);
});
