/**
 * What tracing costs a collector with 10,000 flows: its CPU and memory with tracing off, at the
 * default budget (50 probes/s) and at a budget 20 times that, each run against the C reference
 * reflector `refl_c` on loopback (10,000 flows: 2,500 targets on 127.1.x.y × 4 sockets, 5,000
 * regular probes a second), with the trace probes actually sent read off `/metrics`.
 *
 * On loopback a trace is one hop (the target answers at TTL 1), so a trace costs the fewest
 * probes it can; the cost per trace probe is what carries over to a real network.
 *
 * @module
 */
import {
  type Benchmark,
  type BenchmarkContext,
  buildReferenceTools,
  choosePlan,
  delay,
  findFreeUdpPort,
  markdownTable,
  planFlags,
  readProcessUsage,
  spawnUntilReady,
  textTable,
} from "./_tools.ts";

const FLAGS = planFlags("10 s windows instead of 30 s");
const TARGETS = 2500;
const SOCKETS = 4;

interface Setup {
  name: string;
  /** The `tracing` section; undefined: off. */
  budget: number | undefined;
}

const SETUPS: readonly Setup[] = [
  { name: "tracing off", budget: undefined },
  { name: "budget 50/s (default)", budget: 50 },
  { name: "budget 1000/s", budget: 1000 },
];

interface Measured {
  setup: Setup;
  cpuPercent: number;
  rssMegabytes: number;
  traceProbesPerSecond: number;
  tracesPerSecond: number;
  regularSent: number;
}

function configYaml(port: number, budget: number | undefined): string {
  const targets = Array.from(
    { length: TARGETS },
    (_, index) =>
      `    - {ip: 127.1.${Math.floor(index / 250)}.${(index % 250) + 1}, port: ${port}}`,
  ).join("\n");
  return `summarization: {interval: 5, handlers: 2}
api: {bind: "127.0.0.1:0"}
ports: {p: {ip: 0.0.0.0, port: 0, tos: 0, timeout: 1000}}
port_groups: {g: [{port: p, count: ${SOCKETS}}]}
rate_limits: {r: {cps: 0.5}}
tests: [{targets: t, port_group: g, rate_limit: r}]
tracing: ${budget === undefined ? "{mode: off}" : `{mode: on, budget: ${budget}, refresh: 1}`}
targets:
  t:
${targets}
`;
}

/** One counter of a Prometheus text, 0 when absent. */
function counter(text: string, name: string): number {
  let total = 0;
  for (const line of text.split("\n")) {
    if (line.startsWith(`${name} `) || line.startsWith(`${name}{`)) {
      total += Number(line.slice(line.lastIndexOf(" ") + 1));
    }
  }
  return total;
}

async function measure(
  context: BenchmarkContext,
  setup: Setup,
  reflectorPort: number,
  windowMs: number,
): Promise<Measured> {
  const file = await Deno.makeTempFile({ prefix: "llama-tracing-bench-", suffix: ".yaml" });
  try {
    await Deno.writeTextFile(file, configYaml(reflectorPort, setup.budget));
    await using child = await spawnUntilReady(Deno.execPath(), {
      args: ["run", "-A", "collector/main.ts", "--config", file, "--engine", "native"],
      cwd: context.repositoryRoot,
      readyPattern: /Serving the API on (?<url>http:\/\/\S+)/,
      timeoutMilliseconds: 60_000,
      signal: context.signal,
    });
    const api = child.ready.groups!.url;
    const metrics = async () => await (await fetch(`${api}/metrics`)).text();
    // Warm up: the first traces of every flow, JIT, the first intervals.
    await delay(10_000, context.signal);
    const before = await readProcessUsage(child.pid);
    const first = await metrics();
    const started = performance.now();
    await delay(windowMs, context.signal);
    const after = await readProcessUsage(child.pid);
    const last = await metrics();
    const seconds = (performance.now() - started) / 1000;
    const rate = (name: string) => (counter(last, name) - counter(first, name)) / seconds;
    return {
      setup,
      cpuPercent: (100 * (after.cpuSeconds - before.cpuSeconds)) / seconds,
      rssMegabytes: after.rssKilobytes / 1024,
      traceProbesPerSecond: rate("llama_trace_probes_sent_total"),
      tracesPerSecond: rate("llama_traces_total"),
      regularSent: rate("llama_collector_probes_sent_total"),
    };
  } finally {
    await Deno.remove(file).catch(() => {});
  }
}

const benchmark: Benchmark = {
  description: "What tracing costs a collector at 10,000 flows (CPU, memory, probes/s)",
  usage: "deno task bench trace_cost [--quick [--record]]\n\n" +
    "Runs refl_c on loopback and a native collector with 10,000 flows three times: tracing\n" +
    "off, at the default budget and at 1000 probes/s. Needs cc and make (LLAMA_TOOLS_DIR).",
  async run(context) {
    const { plan, record } = choosePlan(context, FLAGS, {
      full: { windowMs: 30_000 },
      quick: { windowMs: 10_000 },
    });
    await using tools = await buildReferenceTools(context.toolsDirectory, {
      signal: context.signal,
    });
    const results: Measured[] = [];
    for (const setup of SETUPS) {
      context.progress(`tracing: ${setup.name}`);
      await using reflector = await spawnUntilReady(tools.reflectorC, {
        args: ["-p", `${findFreeUdpPort()}`],
        readyPattern: /refl_c: reflecting on \S+:(?<port>\d+)/,
        signal: context.signal,
      });
      results.push(
        await measure(context, setup, Number(reflector.ready.groups!.port), plan.windowMs),
      );
    }
    const header = [
      "setup",
      "collector CPU",
      "RSS",
      "trace probes/s",
      "traces/s",
      "regular probes/s",
    ];
    const rows = results.map((result) => [
      result.setup.name,
      `${result.cpuPercent.toFixed(1)}%`,
      `${result.rssMegabytes.toFixed(0)} MiB`,
      result.traceProbesPerSecond.toFixed(0),
      result.tracesPerSecond.toFixed(1),
      result.regularSent.toFixed(0),
    ]);
    const off = results[0];
    const high = results[2];
    const perProbe = high.traceProbesPerSecond > 0
      ? ((high.cpuPercent - off.cpuPercent) / 100 / high.traceProbesPerSecond) * 1e6
      : NaN;
    const note = `CPU per trace probe (budget 1000 against off): ${perProbe.toFixed(1)} µs`;
    return {
      summary: `${textTable(header, rows)}\n${note}`,
      record: record
        ? `Tracing cost, 10,000 flows (${TARGETS} targets × ${SOCKETS} sockets, 5,000 probes/s), ` +
          `against refl_c on loopback (a trace is 1 hop there).\n\n${
            markdownTable(header, rows)
          }\n\n${note}.`
        : undefined,
    };
  },
};

export default benchmark;
