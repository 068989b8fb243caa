// Helpers of the STAMP tests: the Python reference reflector (tests/stamp_reference.py, written
// from RFC 8762, not from llama's code) as a subprocess, and a collector started from a config
// file the way the program loads it (key files read).
import type { IntervalSummary, PathSummary } from "@llama/core";
import { type Collector, loadCollectorConfig, startCollector } from "@llama/collector";
import { ROOT } from "./_process.ts";

/** A running reference reflector. */
export interface ReferenceReflector extends AsyncDisposable {
  /** The UDP port it answers on. */
  port: number;
}

/** Starts `stamp_reference.py reflect` on `host` (inside a namespace with `wrap`). */
export async function startReferenceReflector(options: {
  host?: string;
  port?: number;
  stateful?: boolean;
  keyFile?: string;
  wrap?: readonly string[];
}): Promise<ReferenceReflector> {
  const args = [
    new URL("tests/stamp_reference.py", ROOT).pathname,
    "reflect",
    "--host",
    options.host ?? "127.0.0.1",
    "--port",
    String(options.port ?? 0),
    ...(options.stateful ? ["--stateful"] : []),
    ...(options.keyFile === undefined ? [] : ["--key-file", options.keyFile]),
  ];
  const [program, ...prefix] = [...(options.wrap ?? []), "python3"];
  const child = new Deno.Command(program, {
    args: [...prefix, ...args],
    stdin: "null",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  let port = -1;
  while (port < 0) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`the reference reflector exited before listening: ${text}`);
    text += value;
    const match = /"event": "listening", "port": (\d+)/.exec(text);
    if (match !== null) port = Number(match[1]);
  }
  // Keep reading (one line a packet), or its pipe fills and it blocks.
  const draining = (async () => {
    while (!(await reader.read()).done) { /* discard */ }
  })().catch(() => {});
  return {
    port,
    async [Symbol.asyncDispose]() {
      try {
        child.kill("SIGTERM");
      } catch { /* already gone */ }
      await child.status;
      await draining;
    },
  };
}

/** A collector loaded from `yaml` written to `directory`, recording its summaries. */
export async function startFileCollector(
  directory: string,
  yaml: string,
): Promise<{ collector: Collector; summaries: IntervalSummary[] } & AsyncDisposable> {
  const file = `${directory}/collector.yaml`;
  await Deno.writeTextFile(file, yaml);
  const config = await loadCollectorConfig(file);
  const summaries: IntervalSummary[] = [];
  const collector = await startCollector(config, {
    serveApi: false,
    onSummary: (summary) => summaries.push(summary),
  });
  return { collector, summaries, [Symbol.asyncDispose]: () => collector.close() };
}

/** Waits until `summaries` has `count` entries (or fails after `timeoutMs`). */
export async function summariesOf(
  summaries: IntervalSummary[],
  count: number,
  timeoutMs = 30_000,
): Promise<IntervalSummary[]> {
  const deadline = Date.now() + timeoutMs;
  while (summaries.length < count) {
    if (Date.now() > deadline) throw new Error(`${summaries.length} summaries, not ${count}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return summaries.slice(0, count);
}

/** A one-test config probing `targets` (YAML flow maps) from 2 sockets. */
export function stampYaml(
  targets: string[],
  options: { cps?: number; test?: string } = {},
): string {
  return `summarization: {interval: 1, handlers: 2}
api: {bind: "127.0.0.1:0"}
ports: {p: {ip: "0.0.0.0", port: 0, tos: 0, timeout: 300}}
port_groups: {g: [{port: p, count: 2}]}
rate_limits: {r: {cps: ${options.cps ?? 50}}}
tests: [{targets: t, port_group: g, rate_limit: r${options.test ?? ""}}]
targets:
  t:
${targets.map((target) => `    - ${target}`).join("\n")}
`;
}

/** The summed counts of `path` over `summaries`. */
export function totals(
  summaries: IntervalSummary[],
  dstIp: string,
): { sent: number; lost: number; lostForward: number; lostBackward: number; paths: PathSummary[] } {
  const paths = summaries.flatMap((summary) => summary.paths.filter((p) => p.dstIp === dstIp));
  const sum = (pick: (path: PathSummary) => number | undefined) =>
    paths.reduce((total, path) => total + (pick(path) ?? 0), 0);
  return {
    sent: sum((path) => path.sent),
    lost: sum((path) => path.lost),
    lostForward: sum((path) => path.lostForward),
    lostBackward: sum((path) => path.lostBackward),
    paths,
  };
}
