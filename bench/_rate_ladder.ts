/**
 * The search for the highest rate a reflector answers: rates tried in order, each until a
 * majority of its trials agree, stopping at the first that fails (then, optionally, once more
 * halfway between the last pass and it). Independent of the load generator: a trial is any
 * function that sends at a rate and reports what was sent and answered.
 *
 * @module
 */

/** What a trial found: enough answered, not, or the generator could not send that fast. */
export type Verdict = "pass" | "fail" | "generator-limited";

/** What the ladder needs of a load generator's report. */
export interface LoadReport {
  /** Packets sent. */
  sent: number;
  /** Packets answered. */
  received: number;
  /** Packets per second actually sent. */
  achievedRate: number;
}

/** One run of the load generator at one rate. */
export interface LadderTrial<R extends LoadReport> {
  rate: number;
  seconds: number;
  result: R;
  /** Fraction of the packets sent that came back. */
  answered: number;
  verdict: Verdict;
}

/** One rate, tried until a majority of its trials agree. */
export interface Rung<R extends LoadReport> {
  rate: number;
  trials: LadderTrial<R>[];
  /** The verdict a majority of the trials reached; `fail` when there is none. */
  verdict: Verdict;
}

/** The outcome of the search. */
export interface RateSearch<R extends LoadReport> {
  /** The highest rate that passed, 0 if none did. */
  highest: number;
  /** What ended it: a failing rate, the generator's own limit, or the top of the ladder. */
  endedBy: "reflector" | "generator" | "ladder";
  /** The first rate that failed, if one did. */
  firstFailure?: Rung<R>;
  rungs: Rung<R>[];
}

/** How the search runs. */
export interface LadderPlan {
  /** Rates tried in order. */
  rates: readonly number[];
  /** Seconds of load per trial. */
  trialSeconds: number;
  /** Trials per rate at most; a rate passes when a majority of them pass. */
  trialsPerRate: number;
  /** Whether to try once between the last rate that passed and the first that failed. */
  bisect: boolean;
}

/** The fraction of packets that must come back for a trial to pass. */
export const REQUIRED_ANSWERED = 0.999;
/** Below this fraction of the rate asked for, the generator rather than the reflector was the limit. */
export const REQUIRED_ACHIEVED = 0.97;

/** Judges one report against the rate asked for. */
export function judge(result: LoadReport, rate: number): { answered: number; verdict: Verdict } {
  const answered = result.sent === 0 ? 0 : result.received / result.sent;
  const verdict = answered < REQUIRED_ANSWERED
    ? "fail"
    : result.achievedRate < REQUIRED_ACHIEVED * rate
    ? "generator-limited"
    : "pass";
  return { answered, verdict };
}

async function runRung<R extends LoadReport>(
  rate: number,
  plan: LadderPlan,
  trial: (rate: number, seconds: number) => Promise<LadderTrial<R>>,
): Promise<Rung<R>> {
  const majority = Math.floor(plan.trialsPerRate / 2) + 1;
  const trials: LadderTrial<R>[] = [];
  const count = (verdict: Verdict) => trials.filter((each) => each.verdict === verdict).length;
  while (trials.length < plan.trialsPerRate) {
    trials.push(await trial(rate, plan.trialSeconds));
    const decided = (["pass", "fail", "generator-limited"] as const).find((verdict) =>
      count(verdict) >= majority
    );
    if (decided !== undefined) return { rate, trials, verdict: decided };
  }
  return { rate, trials, verdict: "fail" };
}

/** Climbs `plan.rates` with `trial` until a rate fails or the generator is the limit. */
export async function findHighestRate<R extends LoadReport>(
  plan: LadderPlan,
  trial: (rate: number, seconds: number) => Promise<LadderTrial<R>>,
): Promise<RateSearch<R>> {
  const rungs: Rung<R>[] = [];
  let highest = 0;
  for (const rate of plan.rates) {
    const rung = await runRung(rate, plan, trial);
    rungs.push(rung);
    if (rung.verdict === "generator-limited") return { highest, endedBy: "generator", rungs };
    if (rung.verdict === "fail") {
      const middle = Math.round((highest + rate) / 2 / 1000) * 1000;
      if (plan.bisect && middle > highest && middle < rate) {
        const between = await runRung(middle, plan, trial);
        rungs.push(between);
        if (between.verdict === "pass") highest = middle;
      }
      return { highest, endedBy: "reflector", firstFailure: rung, rungs };
    }
    highest = rate;
  }
  return { highest, endedBy: "ladder", rungs };
}
