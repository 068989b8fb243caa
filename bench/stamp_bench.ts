/**
 * The STAMP benchmark: `deno task bench stamp [--quick [--record]]`.
 *
 * Our reflector (native engine, `--max-pps 0`) runs with its LLAMA port and its STAMP port
 * (`--stamp-port`, issue 18) side by side. For each port it measures the highest rate answered
 * at least 99.9% of the time on loopback, RTT at 1k packets/s and CPU and memory at 20k/s: the
 * LLAMA port with `probeblast` (1,028-byte probes), the STAMP port with `stampblast`
 * (bench/tools, 44-byte packets from 4 source ports; 112-byte authenticated ones too when it is
 * built with libcrypto), in stateless and stateful mode. A reflector without `--stamp-port` is
 * measured on its LLAMA port only, and the report says so.
 *
 * @module
 */
import { formatUsage } from "@llama/core";
import {
  type Benchmark,
  type BenchmarkContext,
  buildReferenceTools,
  choosePlan,
  delay,
  findFreeUdpPort,
  median,
  planFlags,
  type ReadyProcess,
  type ReferenceTools,
  spawnUntilReady,
} from "./_tools.ts";
import { runProbeblast } from "./_probeblast.ts";
import { buildStampblast, runStampblast, type Stampblast } from "./_stampblast.ts";
import { findHighestRate, judge, REQUIRED_ANSWERED } from "./_rate_ladder.ts";
import {
  CPU_SAMPLE_RATE,
  formatNumber,
  formatPercent,
  formatRate,
  formatRecord,
  formatSummary,
  forwardBackward,
  notMeasured,
  type Plan,
  type PortResult,
  type PortUnderTest,
  type ReflectorFeatures,
  type Report,
  RTT_SAMPLE_RATE,
  type Sample,
  STAMP_SOURCE_PORTS,
  type Trial,
  WARM_UP_MILLISECONDS,
} from "./_stamp_report.ts";

const FLAGS = planFlags(
  "3-second single trials and fewer rates: a smoke test of the harness in a few minutes",
);

const FULL_PLAN: Plan = {
  rates: [10, 20, 30, 40, 50, 60, 80, 100, 120, 150, 200, 250].map((thousands) => thousands * 1000),
  trialSeconds: 10,
  trialsPerRate: 3,
  sampleSeconds: 5,
  samples: 3,
  bisect: true,
};

const QUICK_PLAN: Plan = {
  rates: [10_000, 20_000, 50_000, 100_000, 150_000, 200_000],
  trialSeconds: 3,
  trialsPerRate: 1,
  sampleSeconds: 2,
  samples: 1,
  bisect: false,
};

/** A fixed test key (16 bytes, the least RFC 8762 allows); a benchmark protects nothing. */
const BENCH_KEY = "62656e63682d6b65792d31362d627974";

interface Setup {
  tools: ReferenceTools;
  stampblast: Stampblast;
  features: ReflectorFeatures;
  keyFile: string;
  context: BenchmarkContext;
}

async function readFeatures(context: BenchmarkContext): Promise<ReflectorFeatures> {
  const help = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "reflector/main.ts", "--help"],
    cwd: context.repositoryRoot,
    stdin: "null",
    env: { NO_COLOR: "1" },
  }).output();
  const text = new TextDecoder().decode(help.stdout) + new TextDecoder().decode(help.stderr);
  return { stampPort: /--stamp-port\b/.test(text), stampKeyFile: /--stamp-key-file\b/.test(text) };
}

async function startReflector(port: PortUnderTest, setup: Setup): Promise<{
  process: ReadyProcess;
  llamaPort: number;
  stampPort: number | undefined;
}> {
  const stampPort = setup.features.stampPort ? findFreeUdpPort("127.0.0.1") : undefined;
  const process = await spawnUntilReady(Deno.execPath(), {
    args: [
      ...["run", "-A", "reflector/main.ts", "--host", "127.0.0.1", "--port", "0"],
      ...["--max-pps", "0", "--engine", "native"],
      ...(stampPort === undefined
        ? []
        : ["--stamp-port", `${stampPort}`, "--stamp-mode", port.stampMode]),
      ...(port.authenticated ? ["--stamp-key-file", setup.keyFile] : []),
    ],
    cwd: setup.context.repositoryRoot,
    readyPattern: /Reflecting probes on udp:\/\/(?<host>\S+):(?<port>\d+) \((?<engine>\w+) engine/,
    signal: setup.context.signal,
  });
  if (process.ready.groups?.engine !== "native") {
    await process[Symbol.asyncDispose]();
    throw new Error(`Asked for --engine native, got ${process.ready.groups?.engine}`);
  }
  return { process, llamaPort: Number(process.ready.groups?.port), stampPort };
}

async function runTrial(port: PortUnderTest, rate: number, seconds: number, setup: Setup) {
  const { signal } = setup.context;
  // A fresh reflector per trial: a failed trial may leave a backlog behind.
  const started = await startReflector(port, setup);
  await using _process = started.process;
  await delay(WARM_UP_MILLISECONDS, signal);
  const pid = started.process.pid;
  const result: Report = port.protocol === "llama"
    ? await runProbeblast(setup.tools, {
      port: started.llamaPort,
      rate,
      seconds,
      reflectorPid: pid,
      signal,
    })
    : await runStampblast(setup.stampblast, {
      port: started.stampPort!,
      rate,
      seconds,
      sockets: STAMP_SOURCE_PORTS,
      stateful: port.stampMode === "stateful",
      keyFile: port.authenticated ? setup.keyFile : undefined,
      reflectorPid: pid,
      signal,
    });
  const trial: Trial = { rate, seconds, result, ...judge(result, rate) };
  setup.context.progress(
    `  ${formatRate(rate)}/s for ${seconds} s: answered ${formatPercent(trial.answered)}, ` +
      `sent ${formatNumber(result.achievedRate)}/s, reflector socket drops ` +
      `${formatNumber(result.reflectorSocketDrops)}, CPU ${
        formatNumber(result.reflectorCpuPercent)
      }%${forwardBackward(result)} → ${trial.verdict}`,
  );
  return trial;
}

/** `, forward/backward lost a / b` for a stateful STAMP run. */

async function takeSample(port: PortUnderTest, rate: number, plan: Plan, setup: Setup) {
  const trials: Trial[] = [];
  for (let index = 0; index < plan.samples; index++) {
    trials.push(await runTrial(port, rate, plan.sampleSeconds, setup));
  }
  const of = (read: (result: Report) => number | null | undefined) =>
    median(trials.map((trial) => read(trial.result)));
  return {
    trials,
    p50: of((result) => result.kernelRoundTrip.p50),
    p99: of((result) => result.kernelRoundTrip.p99),
    netP50: of((result) => result.netRoundTrip?.p50),
    netP99: of((result) => result.netRoundTrip?.p99),
    cpuPercent: of((result) => result.reflectorCpuPercent),
    rssKilobytes: of((result) => result.reflectorRssKilobytes),
  } satisfies Sample;
}

async function measurePort(port: PortUnderTest, plan: Plan, setup: Setup): Promise<PortResult> {
  const { progress } = setup.context;
  progress(`${port.name}: RTT at ${formatRate(RTT_SAMPLE_RATE)}/s`);
  const rttSample = await takeSample(port, RTT_SAMPLE_RATE, plan, setup);
  progress(`${port.name}: CPU and memory at ${formatRate(CPU_SAMPLE_RATE)}/s`);
  const cpuSample = await takeSample(port, CPU_SAMPLE_RATE, plan, setup);
  progress(`${port.name}: highest rate with ≥ ${REQUIRED_ANSWERED * 100}% answered`);
  const search = await findHighestRate(
    plan,
    (rate, seconds) => runTrial(port, rate, seconds, setup),
  );
  const packetBytes = rttSample.trials[0].result.probeBytes;
  return { port, packetBytes, rttSample, cpuSample, search };
}

function portsToMeasure(features: ReflectorFeatures, stampblast: Stampblast): PortUnderTest[] {
  const ports: PortUnderTest[] = [
    {
      name: "LLAMA port (probeblast)",
      protocol: "llama",
      stampMode: "stateless",
      authenticated: false,
    },
  ];
  if (!features.stampPort) return ports;
  for (const stampMode of ["stateless", "stateful"] as const) {
    ports.push({
      name: `STAMP port, ${stampMode}`,
      protocol: "stamp",
      stampMode,
      authenticated: false,
    });
  }
  if (features.stampKeyFile && stampblast.authenticated) {
    ports.push({
      name: "STAMP port, stateless, authenticated",
      protocol: "stamp",
      stampMode: "stateless",
      authenticated: true,
    });
  }
  return ports;
}

/** The STAMP benchmark. */
const stampBenchmark: Benchmark = {
  description: "Our reflector's STAMP port beside its LLAMA port: highest rate answered, RTT, " +
    "CPU and memory (stateless, stateful, authenticated)",
  usage: formatUsage("deno task bench stamp", FLAGS),
  async run(context) {
    const { plan, record } = choosePlan(context, FLAGS, { full: FULL_PLAN, quick: QUICK_PLAN });
    context.progress(`Building probeblast from ${context.toolsDirectory} and stampblast`);
    await using tools = await buildReferenceTools(context.toolsDirectory, {
      signal: context.signal,
    });
    await using stampblast = await buildStampblast(context.repositoryRoot, {
      signal: context.signal,
    });
    const features = await readFeatures(context);
    const keyFile = await Deno.makeTempFile({ prefix: "llama-bench-stamp-keys-" });
    try {
      await Deno.writeTextFile(keyFile, `bench ${BENCH_KEY}\n`);
      const setup: Setup = { tools, stampblast, features, keyFile, context };
      const results: PortResult[] = [];
      for (const port of portsToMeasure(features, stampblast)) {
        results.push(await measurePort(port, plan, setup));
      }
      const notes = notMeasured(features, stampblast);
      return {
        summary: formatSummary(results, plan, notes),
        record: record ? formatRecord(results, plan, notes) : undefined,
      };
    } finally {
      await Deno.remove(keyFile).catch(() => {});
    }
  },
};

export default stampBenchmark;
