/**
 * A stand-in for many llama collectors, for the scraper benchmark: one `Deno.serve` on
 * 127.0.0.1 answers `GET /cN/api/v1/summaries` for N = 1..collectors with a summary of `paths`
 * paths each, built once at startup, and `POST /advance` moves every collector to the next
 * interval (so a scraper sees new points at new times).
 *
 *     deno run -A bench/_collector_double.ts --collectors 100 --paths 10000
 *
 * Collector N's paths go from 10.1.N.1 to 10.2.x.y (distinct series in a time-series database);
 * their statistics and tags are core's `PathSummary` (`core/summary.ts`), with an empty `flows`
 * list. When it serves it prints `Serving N collectors × P paths on
 * http://127.0.0.1:PORT/ (B bytes each)` on stderr.
 *
 * @module
 */
import { formatUsage, parseFlags, type PathSummary, UsageError } from "@llama/core";

const FLAGS = {
  collectors: { type: "number", default: 100, description: "Collectors to stand in for" },
  paths: { type: "number", default: 10_000, description: "Paths in each collector's summary" },
  interval: { type: "number", default: 30, description: "Interval length in seconds" },
} as const;

/** Deterministic pseudo-random numbers (mulberry32), so every run serves the same bodies. */
function randomNumbers(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let value = state;
    value = Math.imul(value ^ (value >>> 15), value | 1);
    value ^= value + Math.imul(value ^ (value >>> 7), value | 61);
    return ((value ^ (value >>> 14)) >>> 0) / 4294967296;
  };
}

const SOURCE_PLACEHOLDER = "@@SOURCE@@";

/** The `paths` list of one collector, with its source address left as a placeholder. */
function pathsTemplate(paths: number, intervalSeconds: number): string {
  const random = randomNumbers(7);
  const round = (value: number) => Math.round(value * 1e6) / 1e6;
  const items: string[] = [];
  // 4 sockets at cps 1: each path has 4 × interval probes.
  const sent = 4 * intervalSeconds;
  for (let index = 0; index < paths; index++) {
    const lost = random() < 0.02 ? 1 + Math.floor(random() * 3) : 0;
    const min = 0.05 + random() * 40;
    const p50 = min * (1.02 + random() * 0.1);
    const p90 = p50 * (1.05 + random() * 0.2);
    const p99 = p90 * (1.05 + random() * 0.5);
    const max = p99 * (1 + random() * 0.3);
    items.push(JSON.stringify(
      {
        srcIp: SOURCE_PLACEHOLDER,
        dstIp: `10.2.${index >> 8}.${index & 255}`,
        tags: {
          dst_hostname: `host-${index}.example.net`,
          dst_cluster: `cluster-${index % 40}`,
        },
        tos: { sent: 0, atReflector: 0, onReturn: 0 },
        sent,
        lost,
        lossPercent: (lost / sent) * 100,
        late: 0,
        duplicates: 0,
        reordered: 0,
        rtt: {
          min: round(min),
          mean: round((p50 + p90) / 2),
          max: round(max),
          stddev: round((p90 - min) / 2),
          p50: round(p50),
          p90: round(p90),
          p99: round(p99),
        },
        jitter: round(random() * 0.2),
        dwellCorrected: sent - lost,
        flows: [],
      } satisfies PathSummary,
    ));
  }
  return items.join(",");
}

async function main(args: readonly string[]): Promise<number> {
  let values;
  try {
    ({ values } = parseFlags(args, FLAGS));
    for (const name of ["collectors", "paths", "interval"] as const) {
      if (!Number.isInteger(values[name]) || values[name] < 1) {
        throw new UsageError(`--${name} must be a positive integer, got ${values[name]}`);
      }
    }
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    console.error(`${error.message}\n\n${formatUsage("bench/_collector_double.ts", FLAGS)}`);
    return 2;
  }
  const { collectors, paths, interval } = values;
  const encoder = new TextEncoder();
  const template = pathsTemplate(paths, interval);
  // Everything after the interval's times: the same for every interval, built once.
  const tails = Array.from(
    { length: collectors },
    (_, index) =>
      encoder.encode(
        `,"intervalSeconds":${interval},"timestampSource":"kernel","sendTimestampSource":"kernel",` +
          `"paths":[` +
          template.replaceAll(SOURCE_PLACEHOLDER, `10.1.${index + 1}.1`) + "]}",
      ),
  );
  const intervalMilliseconds = interval * 1000;
  let start = Math.floor(Date.now() / intervalMilliseconds) * intervalMilliseconds -
    intervalMilliseconds;
  const head = () =>
    encoder.encode(
      `{"start":"${new Date(start).toISOString()}",` +
        `"end":"${new Date(start + intervalMilliseconds).toISOString()}"`,
    );
  let currentHead = head();
  const route = /^\/c(\d+)\/api\/v1\/summaries$/;
  const server = Deno.serve({
    hostname: "127.0.0.1",
    port: 0,
    onListen: ({ port }) => {
      console.error(
        `Serving ${collectors} collectors × ${paths} paths on http://127.0.0.1:${port}/ ` +
          `(${tails[0].length} bytes each)`,
      );
    },
  }, (request) => {
    const url = new URL(request.url);
    if (request.method === "POST" && url.pathname === "/advance") {
      start += intervalMilliseconds;
      currentHead = head();
      return new Response(new Date(start).toISOString());
    }
    const number = Number(route.exec(url.pathname)?.[1]);
    if (request.method !== "GET" || !(number >= 1 && number <= collectors)) {
      return new Response("404 page not found\n", { status: 404 });
    }
    return new Response(new Blob([currentHead, tails[number - 1]]), {
      headers: { "content-type": "application/json" },
    });
  });
  const stopped = Promise.withResolvers<void>();
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    Deno.addSignalListener(signal, () => stopped.resolve());
  }
  await stopped.promise;
  await server.shutdown();
  return 0;
}

if (import.meta.main) Deno.exit(await main(Deno.args));
