// A llama collector double for scraper tests: `Deno.serve` on loopback answering
// /api/v1/summaries with a new 1-second interval every second, recording which intervals it served.
import type { IntervalSummary, PathSummary } from "@llama/core";

/** A running collector double. */
export interface IntervalCollector extends AsyncDisposable {
  /** `127.0.0.1:PORT`, as the scraper's config takes it. */
  url: string;
  /** Starts (ms since the epoch) of every interval served so far. */
  served: Set<number>;
  /** From now on, serves the last interval again: the scraper sees nothing new. */
  freeze(): void;
}

/** One path of an interval: to `dstIp`, with the given tags and `lost` as its one varying value. */
export function pathTo(
  dstIp: string,
  tags: Record<string, string> = {},
  lost = 0,
): PathSummary {
  return {
    srcIp: "10.9.0.1",
    dstIp,
    tags,
    tos: { sent: 0, atReflector: null, onReturn: null },
    sent: 100,
    lost,
    lossPercent: lost,
    late: 0,
    duplicates: 0,
    reordered: 0,
    rtt: { min: 0.1, mean: 0.2, max: 0.3, stddev: 0.05, p50: 0.2, p90: 0.25, p99: 0.29 },
    jitter: 0.01,
    dwellCorrected: 100,
    flows: [],
  };
}

/** Serves, for each request, the interval that ended at the last wall-clock second. */
export function intervalCollector(paths: PathSummary[]): IntervalCollector {
  const served = new Set<number>();
  let frozen: number | undefined;
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, (request) => {
    if (new URL(request.url).pathname !== "/api/v1/summaries") {
      return new Response("", { status: 404 });
    }
    const start = frozen ?? Math.floor(Date.now() / 1000) * 1000 - 1000;
    served.add(start);
    return Response.json(
      {
        start: new Date(start).toISOString(),
        end: new Date(start + 1000).toISOString(),
        intervalSeconds: 1,
        timestampSource: "userspace",
        sendTimestampSource: "userspace",
        paths,
      } satisfies IntervalSummary,
    );
  });
  return {
    url: `127.0.0.1:${server.addr.port}`,
    served,
    freeze: () => (frozen = Math.max(...served)),
    [Symbol.asyncDispose]: () => server.shutdown(),
  };
}

/** Waits until `offset` ms past a wall-clock second, when no 1-second scrape is in flight. */
export async function quietMoment(offset = 500): Promise<void> {
  await new Promise((resolve) =>
    setTimeout(resolve, (1000 + offset - (Date.now() % 1000)) % 1000 || 1000)
  );
}

/** Waits until `condition()` holds, or throws `what()` after `timeoutMs`. */
export async function eventually(
  condition: () => boolean | Promise<boolean>,
  what: () => string,
  timeoutMs = 15_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out: ${what()}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
