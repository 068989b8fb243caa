// The topology of tests/_topology.ts with llama running on it: a reflector in each target and a
// tracing collector (native engine, its own program) in C, whose API the root namespace reads
// over C's management veth pair. Shared by tests/trace_network_test.ts and bench/trace_bench.ts.
import {
  type FlowTrace,
  parseTracesResponse,
  type SuspectLink,
  type SuspectsResponse,
  type TracesResponse,
} from "@llama/core";
import { createTopology, type LinkName, type TargetName, type Topology } from "./_topology.ts";
import { type RunningProgram, startProgram } from "./_process.ts";

/** Options of `startTraceNetwork`. */
export interface TraceNetworkOptions {
  /** Probing sockets (flows to each target). Default 12: both branches carry some, surely. */
  sockets?: number;
  /** Probe cycles per second of each socket. Default 25. */
  cps?: number;
  /** Summarization interval, seconds. Default 2. */
  interval?: number;
  /** Trace probes per second, every flow together. Default 2000. */
  budget?: number;
  /** Seconds after which a flow is traced again. Default 2. */
  refresh?: number;
  /** Trace probes per TTL. Default 10. */
  probesPerHop?: number;
}

/** A running trace network; dispose it to stop every program and delete the namespaces. */
export interface TraceNetwork extends AsyncDisposable {
  /** The network and its faults. */
  topology: Topology;
  /** The collector program (its stderr holds its log). */
  collector: RunningProgram;
  /** The collector config the network runs. */
  configYaml: string;
  /** The summarization interval, ms. */
  intervalMs: number;
  /** `GET /api/v1/traces`, checked by `parseTracesResponse`. */
  traces(): Promise<TracesResponse>;
  /** `GET /api/v1/suspects`. */
  suspects(): Promise<SuspectsResponse>;
  /** Polls `read` every 200 ms until `accept` returns true; throws, saying `what`, at `timeoutMs`. */
  waitFor<T>(
    what: string,
    read: () => Promise<T>,
    accept: (value: T) => boolean,
    timeoutMs?: number,
  ): Promise<T>;
}

/** The reflectors' port. */
export const REFLECTOR_PORT = 8100;

/** The collector config: every socket probes both targets, tracing on with a large budget. */
export function traceNetworkYaml(
  topology: Topology,
  options: Required<TraceNetworkOptions>,
): string {
  const target = (name: TargetName) =>
    `    - {ip: "${topology.targets[name]}", port: ${REFLECTOR_PORT}, tags: {node: "${name}"}}`;
  return `summarization: {interval: ${options.interval}, handlers: 2}
api: {bind: "${topology.managementAddress}:0"}
ports: {p: {ip: "0.0.0.0", port: 0, tos: 0, timeout: 500}}
port_groups: {g: [{port: p, count: ${options.sockets}}]}
rate_limits: {r: {cps: ${options.cps}}}
tests: [{targets: t, port_group: g, rate_limit: r}]
tracing:
  mode: on
  budget: ${options.budget}
  probes_per_hop: ${options.probesPerHop}
  max_hops: 8
  gap_limit: 3
  timeout: 500
  refresh: ${options.refresh}
  loss_threshold: 5
  concurrency: 64
targets:
  t:
${target("T1")}
${target("T2")}
`;
}

/** Builds the topology and starts the reflectors and the collector on it. */
export async function startTraceNetwork(options: TraceNetworkOptions = {}): Promise<TraceNetwork> {
  const settings: Required<TraceNetworkOptions> = {
    sockets: 12,
    cps: 25,
    interval: 2,
    budget: 2000,
    refresh: 2,
    probesPerHop: 10,
    ...options,
  };
  const topology = await createTopology();
  const started: AsyncDisposable[] = [];
  const stop = async () => {
    for (const program of started.reverse()) await program[Symbol.asyncDispose]();
    await topology[Symbol.asyncDispose]();
  };
  try {
    for (const target of ["T1", "T2"] as const) {
      started.push(
        await startProgram(
          "reflector/main.ts",
          ["--host", topology.targets[target], "--port", `${REFLECTOR_PORT}`, "--max-pps", "0"],
          { readyPattern: /Reflecting probes on udp:\/\//, wrap: topology.execPrefix(target) },
        ),
      );
    }
    const configYaml = traceNetworkYaml(topology, settings);
    const directory = await Deno.makeTempDir({ prefix: "llama-trace-network-" });
    const configFile = `${directory}/collector.yaml`;
    await Deno.writeTextFile(configFile, configYaml);
    const collector = await startProgram(
      "collector/main.ts",
      ["--config", configFile, "--engine", "native"],
      {
        readyPattern: /Serving the API on http:\/\/(\S+)/,
        wrap: topology.execPrefix("C"),
        env: { DENO_NO_UPDATE_CHECK: "1" },
      },
    );
    started.push(collector, {
      [Symbol.asyncDispose]: () => Deno.remove(directory, { recursive: true }),
    });
    const base = `http://${collector.ready[1]}`;
    const get = async (path: string): Promise<unknown> => {
      const response = await fetch(`${base}${path}`);
      if (!response.ok) {
        throw new Error(`GET ${path} answered ${response.status}: ${await response.text()}`);
      }
      return await response.json();
    };
    return {
      topology,
      collector,
      configYaml,
      intervalMs: settings.interval * 1000,
      traces: async () => parseTracesResponse(await get("/api/v1/traces")),
      suspects: async () => await get("/api/v1/suspects") as SuspectsResponse,
      async waitFor(what, read, accept, timeoutMs = 60_000) {
        const deadline = Date.now() + timeoutMs;
        let last: unknown;
        for (;;) {
          const value = await read();
          if (accept(value)) return value;
          last = value;
          if (Date.now() > deadline) {
            throw new Error(
              `Timed out after ${timeoutMs} ms waiting for ${what}; last seen: ` +
                `${JSON.stringify(last, null, 1).slice(0, 4000)}\ncollector log:\n` +
                collector.stderr().slice(-4000),
            );
          }
          await new Promise((resolve) => setTimeout(resolve, 200));
        }
      },
      [Symbol.asyncDispose]: stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}

/** A flow's name in suspects' `examples`: `source:srcPort>target:dstPort`. */
export function flowName(trace: FlowTrace): string {
  return `${trace.source}:${trace.srcPort}>${trace.target}:${trace.dstPort}`;
}

/** The answering address of each hop (null for silent ones), in TTL order. */
export function hopAddresses(trace: FlowTrace): (string | null)[] {
  return trace.hops.map((hop) => hop.address);
}

/** Which branch a trace crossed, from its second hop; undefined when that hop was silent. */
export function branchOf(topology: Topology, trace: FlowTrace): "r2a" | "r2b" | undefined {
  const second = trace.hops[1]?.address;
  if (second === topology.links["r1>r2a"].to) return "r2a";
  if (second === topology.links["r1>r2b"].to) return "r2b";
  return undefined;
}

/** Where `link` ranks among `suspects` (1 is the top), or null when it is not among them. */
export function rankOf(topology: Topology, suspects: SuspectLink[], link: LinkName): number | null {
  const { from, to } = topology.links[link];
  const index = suspects.findIndex((suspect) => suspect.from === from && suspect.to === to);
  return index === -1 ? null : index + 1;
}
