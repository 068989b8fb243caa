/**
 * The cost of authenticated probes: `deno task bench probe_auth [--quick [--record]]`.
 *
 * Two readings. First, microseconds per probe of each HMAC step on a default llama probe (1,089
 * bytes with a 3-byte key id): the collector's signing, the reflector's check and re-signing,
 * the collector's check of the reply. Second, the highest rate of probes our reflector answers
 * (native engine, its loop on its own thread) at least 99.9% of the time on loopback, with and
 * without `--auth-key-file`, sent and counted by a native socket in this process.
 *
 * @module
 */
import {
  DatagramBatch,
  formatUsage,
  parseKeyFile,
  ProbeAuthenticator,
  ProbeReader,
  ProbeWriter,
  selectEngine,
} from "@llama/core";
import { startReflector } from "@llama/reflector";
import {
  type Benchmark,
  choosePlan,
  delay,
  markdownTable,
  planFlags,
  PrerequisiteError,
  textTable,
} from "./_tools.ts";

const FLAGS = planFlags("fewer iterations and 2-second rate trials: a smoke test in a minute");

interface Plan {
  iterations: number;
  rates: number[];
  trialSeconds: number;
}

const FULL_PLAN: Plan = {
  iterations: 200_000,
  rates: [10, 20, 30, 40, 50, 60, 80, 100, 120].map((thousands) => thousands * 1000),
  trialSeconds: 5,
};
const QUICK_PLAN: Plan = {
  iterations: 50_000,
  rates: [10_000, 20_000, 40_000, 60_000, 80_000],
  trialSeconds: 2,
};

const KEYS = parseKeyFile("lab 000102030405060708090a0b0c0d0e0f");

/** Microseconds per call of `step`, after a warm-up. */
function timePerCall(iterations: number, step: () => void): number {
  for (let index = 0; index < 5000; index++) step();
  const start = performance.now();
  for (let index = 0; index < iterations; index++) step();
  return (performance.now() - start) * 1000 / iterations;
}

function microbench(iterations: number): [string, number][] {
  const auth = new ProbeAuthenticator(KEYS.keys);
  const writer = new ProbeWriter({ authLength: auth.authLength });
  auth.writeKeyId(writer.bytes, writer.authOffset);
  const bytes = writer.bytes;
  const length = bytes.length;
  const reader = new ProbeReader();
  auth.sign(bytes, length, writer.authOffset, length);
  reader.read(bytes);
  let sequence = 0;
  const sign = timePerCall(iterations, () => {
    writer.setSequence(sequence++);
    auth.sign(bytes, length, writer.authOffset, length);
  });
  const reflect = timePerCall(iterations, () => {
    const key = auth.check(bytes, length, reader.authStart, reader.authEnd);
    auth.sign(bytes, length, reader.authStart, reader.authEnd, key);
  });
  const check = timePerCall(iterations, () => {
    if (auth.check(bytes, length, reader.authStart, reader.authEnd) < 0) throw new Error("bad");
  });
  return [
    [`collector: sign a probe (${length} bytes)`, sign],
    ["reflector: check a probe and sign its answer", reflect],
    ["collector: check a reply", check],
    ["all three, per probe", sign + reflect + check],
  ];
}

/** The share of `rate` probes a second answered by a native reflector, over `seconds`. */
async function trial(rate: number, seconds: number, auth: boolean): Promise<number> {
  const engine = selectEngine("native");
  await using reflector = await startReflector({
    engine: "native",
    hostname: "127.0.0.1",
    port: 0,
    maxPps: 0,
    authKeyring: auth ? KEYS : undefined,
  });
  const socket = await engine.open({
    hostname: "127.0.0.1",
    port: 0,
    receiveBufferBytes: 8 << 20,
  });
  try {
    const signer = new ProbeAuthenticator(KEYS.keys);
    const writer = new ProbeWriter({ authLength: auth ? signer.authLength : 0 });
    if (auth) signer.writeKeyId(writer.bytes, writer.authOffset);
    const batch = new DatagramBatch(64, writer.bytes.length);
    const answers = new DatagramBatch(64, 2048);
    // Probes are signed as the collector signs them: one HMAC each, in the sender's budget.
    const target = reflector.address;
    let sent = 0, received = 0;
    const start = performance.now();
    const end = start + seconds * 1000;
    while (performance.now() < end) {
      const due = Math.min(rate * seconds, Math.floor((performance.now() - start) * rate / 1000));
      while (sent < due) {
        const count = Math.min(64, due - sent);
        for (let slot = 0; slot < count; slot++) {
          const bytes = batch.slots[slot];
          bytes.set(writer.bytes);
          writer.stamp(bytes, batch.view, -1, 0, sent + slot);
          if (auth) signer.sign(bytes, bytes.length, writer.authOffset, bytes.length);
          batch.lengths[slot] = bytes.length;
          batch.addresses[slot] = target;
        }
        sent += socket.sendNow!(batch, count);
      }
      for (;;) {
        const count = socket.receiveQueued!(answers);
        received += count;
        if (count < answers.capacity) break;
      }
      await delay(1);
    }
    const drainUntil = performance.now() + 300;
    while (performance.now() < drainUntil) {
      received += socket.receiveQueued!(answers);
      await delay(5);
    }
    return sent === 0 ? 0 : received / sent;
  } finally {
    socket.close();
  }
}

async function highestRate(plan: Plan, auth: boolean, progress: (line: string) => void) {
  let best = 0;
  for (const rate of plan.rates) {
    const answered = await trial(rate, plan.trialSeconds, auth);
    progress(
      `${auth ? "with" : "without"} auth, ${rate} probes/s: ${
        (answered * 100).toFixed(2)
      }% answered`,
    );
    if (answered < 0.999) break;
    best = rate;
  }
  return best;
}

const probeAuthBenchmark: Benchmark = {
  description: "Per-probe HMAC cost of authenticated probes, and the reflector's top rate with it",
  usage: formatUsage("deno task bench probe_auth", FLAGS),
  async run(context) {
    const { plan, record } = choosePlan(context, FLAGS, { full: FULL_PLAN, quick: QUICK_PLAN });
    if (!(selectEngine("native").name === "native")) {
      throw new PrerequisiteError("the native engine is unavailable (Linux and --allow-ffi)");
    }
    context.progress(`Timing each HMAC step over ${plan.iterations} probes`);
    const steps = microbench(plan.iterations);
    const rows = steps.map(([step, micros]) => [step, micros.toFixed(2)]);
    const plain = await highestRate(plan, false, context.progress);
    const signed = await highestRate(plan, true, context.progress);
    const rateRows = [
      ["unsigned probes", String(plain)],
      ["--auth-key-file, signed probes", String(signed)],
    ];
    const header = ["step", "µs per probe"];
    const rateHeader = [
      "reflector (native, own thread)",
      "highest rate ≥ 99.9% answered (probes/s)",
    ];
    const summary = [textTable(header, rows), "", textTable(rateHeader, rateRows)].join("\n");
    const method = `${plan.iterations} iterations a step; rate trials of ${plan.trialSeconds} s ` +
      `at ${plan.rates.join(", ")} probes/s, stopping at the first below 99.9%; the sender (this ` +
      "process, a native socket) signs each probe as a collector would.";
    return {
      summary,
      record: record
        ? [method, "", markdownTable(header, rows), "", markdownTable(rateHeader, rateRows)].join(
          "\n",
        )
        : undefined,
    };
  },
};

export default probeAuthBenchmark;
