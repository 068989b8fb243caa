// Hostile collectors for tests of the scraper: tiny HTTP servers on loopback that answer what an
// attacker who controls a collector (or its address) would, and a watch on the scraper's memory.

import { startProgram } from "./_process.ts";
import { parsePrometheusText } from "./_prometheus.ts";

/** A collector stand-in: `handler` answers its requests. */
export interface FakeCollector extends AsyncDisposable {
  /** `127.0.0.1:PORT`, as the scraper's config names it. */
  readonly address: string;
  /** Requests answered so far. */
  requests(): number;
}

/** Serves `handler` on a free loopback port. */
export function fakeCollector(
  handler: (request: Request) => Response | Promise<Response>,
): FakeCollector {
  let requests = 0;
  const server = Deno.serve(
    {
      hostname: "127.0.0.1",
      port: 0,
      onListen: () => {},
      onError: () => new Response("", { status: 500 }),
    },
    (request) => {
      requests++;
      return handler(request);
    },
  );
  return {
    address: `127.0.0.1:${server.addr.port}`,
    requests: () => requests,
    async [Symbol.asyncDispose]() {
      await server.shutdown();
    },
  };
}

/** A one-path `/api/v1/summaries` body of the interval that started `ageMs` ago. */
export function summaryBody(options: { ageMs?: number; paths?: number } = {}): {
  start: string;
  paths: Record<string, unknown>[];
  [key: string]: unknown;
} {
  const start = Math.floor((Date.now() - (options.ageMs ?? 1000)) / 1000) * 1000;
  const statistics = {
    sent: 40,
    lost: 0,
    lossPercent: 0,
    late: 0,
    duplicates: 0,
    reordered: 0,
    dwellCorrected: 0,
    rtt: { min: 0.1, mean: 0.2, max: 0.4, stddev: 0.05, p50: 0.2, p90: 0.3, p99: 0.4 },
    jitter: 0.01,
    tos: { sent: 0, atReflector: null, onReturn: null },
  };
  return {
    start: new Date(start).toISOString(),
    end: new Date(start + 1000).toISOString(),
    intervalSeconds: 1,
    timestampSource: "userspace",
    sendTimestampSource: "userspace",
    paths: Array.from({ length: options.paths ?? 1 }, (_, index) => ({
      ...structuredClone(statistics),
      srcIp: "127.0.0.1",
      dstIp: `127.0.1.${index + 1}`,
      tags: { dst_hostname: `target-${index + 1}` },
      flows: [{
        ...structuredClone(statistics),
        srcIp: "127.0.0.1",
        srcPort: 33000,
        dstIp: `127.0.1.${index + 1}`,
        dstPort: 8100,
      }],
    })),
  };
}

/** Answers `/api/v1/summaries` with `body()` and 404 elsewhere: a well-behaved llama collector. */
export function llamaCollector(body: () => unknown): FakeCollector {
  return fakeCollector((request) =>
    new URL(request.url).pathname === "/api/v1/summaries"
      ? Response.json(body())
      : new Response("404 page not found\n", { status: 404 })
  );
}

/** The highest and the current resident set size of a process, in bytes (/proc/PID/status). */
export async function memoryOf(pid: number): Promise<{ rss: number; peak: number }> {
  const status = await Deno.readTextFile(`/proc/${pid}/status`);
  const read = (name: string) => {
    const match = new RegExp(`^${name}:\\s+(\\d+) kB$`, "m").exec(status);
    if (match === null) throw new Error(`/proc/${pid}/status has no ${name}`);
    return Number(match[1]) * 1024;
  };
  return { rss: read("VmRSS"), peak: read("VmHWM") };
}

/** The scraper's `/metrics`, parsed. */
export async function scraperMetrics(address: string): Promise<Map<string, number>> {
  return parsePrometheusText(await (await fetch(`http://${address}/metrics`)).text());
}

/** Waits until `condition` holds, checking every 100 ms; throws `message()` after `timeoutMs`. */
export async function waitUntil(
  condition: () => boolean | Promise<boolean>,
  timeoutMs: number,
  message: () => string,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(message());
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** Writes `text` as scraper.yaml in a fresh folder and starts the scraper on it, with metrics. */
export async function startScraper(text: string) {
  const directory = await Deno.makeTempDir({ prefix: "llama-scraper-hostile-" });
  await Deno.writeTextFile(`${directory}/scraper.yaml`, `metrics: 127.0.0.1:0\n${text}`);
  try {
    const program = await startProgram("scraper/main.ts", [
      "--config",
      `${directory}/scraper.yaml`,
    ], { readyPattern: /Serving metrics on http:\/\/(\S+)\/metrics/ });
    return Object.assign(program, {
      metrics: () => scraperMetrics(program.ready[1]),
      async [Symbol.asyncDispose]() {
        await program.stop("SIGKILL");
        await Deno.remove(directory, { recursive: true });
      },
    });
  } catch (error) {
    await Deno.remove(directory, { recursive: true });
    throw error;
  }
}
