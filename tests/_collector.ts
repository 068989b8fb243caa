// Running a collector in-process against real sockets, for tests.
import type { IntervalSummary, Keyring, OpenSocket } from "@llama/core";
import {
  type Collector,
  parseCollectorConfig,
  type ResolvedConfig,
  resolveTargets,
  startCollector,
} from "@llama/collector";

/** A collector that records every summary it publishes. */
export interface RecordingCollector extends AsyncDisposable {
  collector: Collector;
  summaries: IntervalSummary[];
  /** Waits until `count` more summaries have been published. */
  next(count?: number, timeoutMs?: number): Promise<IntervalSummary>;
}

/** Parses `yaml`, resolves it and starts a collector on it, recording its summaries. */
export async function startRecordingCollector(
  yaml: string,
  options: {
    serveApi?: boolean;
    engine?: "deno" | "native" | "auto";
    openSocket?: OpenSocket;
    /** Authenticated probes: what `auth_key_file` would load. */
    authKeyring?: Keyring;
  } = {},
): Promise<RecordingCollector> {
  const resolved: ResolvedConfig = await resolveTargets(
    parseCollectorConfig(yaml, { file: "test.yaml" }),
  );
  const config = options.authKeyring === undefined
    ? resolved
    : { ...resolved, authKeyring: options.authKeyring };
  const summaries: IntervalSummary[] = [];
  const waiters: (() => void)[] = [];
  const collector = await startCollector(config, {
    engine: options.engine,
    serveApi: options.serveApi ?? false,
    onSummary: (summary) => {
      summaries.push(summary);
      for (const waiter of waiters.splice(0)) waiter();
    },
  }, { openSocket: options.openSocket });
  return {
    collector,
    summaries,
    next: async (count = 1, timeoutMs = 20_000) => {
      const target = summaries.length + count;
      const deadline = Date.now() + timeoutMs;
      while (summaries.length < target) {
        if (Date.now() > deadline) throw new Error(`no summary within ${timeoutMs} ms`);
        await new Promise<void>((resolve) => {
          waiters.push(resolve);
          setTimeout(resolve, 200);
        });
      }
      return summaries[target - 1];
    },
    [Symbol.asyncDispose]: () => collector.close(),
  };
}

/** A full-format config probing `targets` ("ip:port" → tags) from `sockets` ports. */
export function collectorYaml(options: {
  targets: [string, number, Record<string, string>][];
  sockets?: number;
  tos?: number;
  cps?: number;
  interval?: number;
  timeout?: number;
  bind?: string;
  api?: string;
  /** The `tracing` section, as YAML flow map text (`{budget: 500}`). */
  tracing?: string;
}): string {
  const targets = options.targets.map(([ip, port, tags]) =>
    `    - ip: "${ip}"\n      port: ${port}\n      tags: ${JSON.stringify(tags)}`
  ).join("\n");
  return `summarization: {interval: ${options.interval ?? 1}, handlers: 2}
api: {bind: "${options.api ?? "127.0.0.1:0"}"}
ports: {p: {ip: "${options.bind ?? "0.0.0.0"}", port: 0, tos: ${options.tos ?? 0}, timeout: ${
    options.timeout ?? 300
  }}}
port_groups: {g: [{port: p, count: ${options.sockets ?? 4}}]}
rate_limits: {r: {cps: ${options.cps ?? 20}}}
tests: [{targets: t, port_group: g, rate_limit: r}]
${options.tracing === undefined ? "" : `tracing: ${options.tracing}\n`}targets:
  t:
${targets}
`;
}
