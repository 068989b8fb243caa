/**
 * The collector under test, and refl_c, as processes: configs, start-up, intervals and the API.
 *
 * @module
 */
import type { SocketAddress } from "@llama/core";
import {
  type BenchmarkContext,
  delay,
  findFreeUdpPort,
  type ReadyProcess,
  type ReferenceTools,
  spawnUntilReady,
} from "./_tools.ts";

/** The collector's UDP engines, each measured in turn. */
export const ENGINES = ["native", "deno"] as const;
export type Engine = typeof ENGINES[number];

/** Sockets in the port group of every run, as in the original's default config. */
export const SOCKETS = 4;
/** The probe timeout of every run (the original's default), milliseconds. */
export const PROBE_TIMEOUT_MILLISECONDS = 1000;

/** What one collector run probes. */
export interface CollectorSetup {
  engine: Engine;
  /** Run it on these CPUs only (`taskset -c`). */
  cpus?: string;
  intervalSeconds: number;
  cps: number;
  /** Address the probe sockets bind. */
  bindIp: string;
  targets: readonly SocketAddress[];
  /** Deno flags before the script, such as `--v8-flags=…`. */
  denoFlags?: readonly string[];
}

/** One `Interval …` log line. */
export interface IntervalLine {
  start: string;
  paths: number;
  sent: number;
  lost: number;
}

/** What `/api/v1/summaries` returns, as far as this benchmark reads it. */
export interface SummariesResponse {
  start: string | null;
  timestampSource: string | null;
  paths: {
    sent: number;
    lost: number;
    late: number;
    dwellCorrected: number;
    rtt: { min: number; p50: number; p99: number } | null;
  }[];
}

/** A running collector; disposing it stops it. */
export interface CollectorProcess extends AsyncDisposable {
  pid: number;
  /** `http://host:port` of its API. */
  api: string;
  /** Waits for the next interval the collector publishes. */
  nextInterval(): Promise<IntervalLine>;
  /** GETs an API path; returns the body and how long the request took. */
  get(path: string): Promise<{ body: string; milliseconds: number }>;
}

/** What every measurement needs. */
export interface RunSetup {
  tools: ReferenceTools;
  context: BenchmarkContext;
  /** A scratch folder for config files. */
  directory: string;
}

const INTERVAL_LINE =
  /Interval (?<start>\S+): (?<paths>\d+) paths, (?<sent>\d+) probes sent, (?<lost>\d+) lost/;
const POLL_MILLISECONDS = 50;
const REQUEST_TIMEOUT_MILLISECONDS = 30_000;

function collectorConfig(setup: CollectorSetup): string {
  return [
    `summarization: {interval: ${setup.intervalSeconds}, handlers: 2}`,
    `api: {bind: "127.0.0.1:0"}`,
    `ports: {p: {ip: "${setup.bindIp}", port: 0, tos: 0, timeout: ${PROBE_TIMEOUT_MILLISECONDS}}}`,
    `port_groups: {g: [{port: p, count: ${SOCKETS}}]}`,
    `rate_limits: {r: {cps: ${setup.cps}}}`,
    "tests: [{targets: t, port_group: g, rate_limit: r}]",
    "targets:",
    "  t:",
    ...setup.targets.map((target) =>
      `    - {ip: "${target.hostname}", port: ${target.port}, tags: {}}`
    ),
    "",
  ].join("\n");
}

/** Starts `collector/main.ts` on a config written for `setup`; resolves once its API serves. */
export async function startCollector(
  setup: CollectorSetup,
  run: RunSetup,
): Promise<CollectorProcess> {
  const { context } = run;
  const file = await Deno.makeTempFile({ dir: run.directory, suffix: ".yaml" });
  await Deno.writeTextFile(file, collectorConfig(setup));
  const intervals: IntervalLine[] = [];
  const child: ReadyProcess = await spawnUntilReady(Deno.execPath(), {
    args: [
      ...["run", "-A", ...setup.denoFlags ?? [], "collector/main.ts"],
      ...["--config", file, "--engine", setup.engine],
    ],
    cwd: context.repositoryRoot,
    readyPattern: /Serving the API on (?<url>http:\/\/\S+)/,
    timeoutMilliseconds: 60_000,
    cpus: setup.cpus,
    signal: context.signal,
    onLine: (line) => {
      const groups = INTERVAL_LINE.exec(line)?.groups;
      if (groups === undefined) return;
      intervals.push({
        start: groups.start,
        paths: Number(groups.paths),
        sent: Number(groups.sent),
        lost: Number(groups.lost),
      });
    },
  });
  const api = child.ready.groups!.url;
  // The first interval may wait for a whole interval, the publishing delay and a slow start.
  const intervalTimeout = 2 * setup.intervalSeconds * 1000 + PROBE_TIMEOUT_MILLISECONDS + 10_000;
  return {
    pid: child.pid,
    api,
    async nextInterval() {
      const deadline = performance.now() + intervalTimeout;
      while (intervals.length === 0) {
        if (performance.now() > deadline) {
          throw new Error(
            `The collector published no interval within ${intervalTimeout / 1000} s. ` +
              `Its last output:\n${child.recentOutput()}`,
          );
        }
        await delay(POLL_MILLISECONDS, context.signal);
      }
      return intervals.shift()!;
    },
    async get(path) {
      const started = performance.now();
      const response = await fetch(`${api}${path}`, {
        signal: AbortSignal.any([
          context.signal,
          AbortSignal.timeout(REQUEST_TIMEOUT_MILLISECONDS),
        ]),
      });
      const body = await response.text();
      const milliseconds = performance.now() - started;
      if (!response.ok) throw new Error(`GET ${api}${path}: ${response.status} ${body}`);
      return { body, milliseconds };
    },
    [Symbol.asyncDispose]: () => child[Symbol.asyncDispose](),
  };
}

/** The summary of the interval a log line announced, read before the next one replaces it. */
export async function readSummaries(
  collector: CollectorProcess,
  line: IntervalLine,
): Promise<SummariesResponse> {
  const summaries = JSON.parse((await collector.get("/api/v1/summaries?flows=false")).body);
  if (summaries.start !== line.start) {
    throw new Error(
      `/api/v1/summaries holds the interval of ${summaries.start}, expected ${line.start}`,
    );
  }
  return summaries;
}

/** The value of one series in Prometheus text, such as `name` or `name{label="value"}`. */
export function metricValue(text: string, series: string): number {
  const line = text.split("\n").find((line) => line.startsWith(`${series} `));
  if (line === undefined) throw new Error(`/metrics has no series ${series}`);
  return Number(line.slice(series.length + 1));
}

/** Starts refl_c on a free port; resolves once it reflects, its port in `ready.groups.port`. */
export function startReflectorC(
  tools: ReferenceTools,
  context: BenchmarkContext,
  cpus?: string,
): Promise<ReadyProcess> {
  return spawnUntilReady(tools.reflectorC, {
    args: ["-p", `${findFreeUdpPort()}`],
    readyPattern: /refl_c: reflecting on \S+:(?<port>\d+)/,
    signal: context.signal,
    cpus,
  });
}
