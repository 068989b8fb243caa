import { Hono } from "hono";
import { HTTPException } from "hono/http-exception";
import { formatPrometheus, type MetricFamily, PROMETHEUS_CONTENT_TYPE } from "@llama/core";
import { createMatrixUi } from "@llama/ui";
import { formatInfluxdata } from "./influxdata.ts";
import type { IntervalHeader, IntervalSummary, IntervalTrend, PathSummary } from "@llama/core";
import type { PathsJsonOptions } from "./published_interval.ts";
import type { DiscoveredListStatus } from "./_discovered_list.ts";
import { mountTraceRoutes, TRACE_ROUTES, type TracingView } from "./_trace_api.ts";

export type { TracingView } from "./_trace_api.ts";

/** An HTTP handler, testable without a socket through `request()` (Hono's app is one). */
export interface HttpApi {
  /** Answers a request, as `Deno.serve` calls it. */
  fetch(request: Request): Response | Promise<Response>;
  /** Answers a request for `path` (relative to the server), as a test calls it. */
  request(path: string, init?: RequestInit): Response | Promise<Response>;
}

/** An interval that can write its paths as JSON straight from its columns (a `PublishedInterval`). */
export interface StreamableInterval extends IntervalHeader {
  /** The paths as JSON text in chunks, or undefined when they are no longer kept. */
  pathsJson(options: PathsJsonOptions): Generator<string> | undefined;
}

/** What the API reads from a running collector. */
export interface CollectorView {
  /** The last published interval, if any. */
  latest(): IntervalSummary | undefined;
  /** Prometheus text for `/metrics`. */
  metrics(): string;
  /**
   * The last intervals, oldest first, for the matrix page (older ones may keep only each path's
   * trend). Default: the last one.
   */
  history?(): readonly IntervalTrend[];
  /** Names the collector in the matrix page's header. */
  describe?(): string;
  /**
   * The last published interval, for `/api/v1/summaries` to write straight from its columns.
   * Without it, the summary from `latest()` is serialized.
   */
  latestInterval?(): StreamableInterval | undefined;
  /** How many intervals `history()` keeps at most; the matrix serves up to this many (30 at least). */
  historyIntervals?: number;
  /** Traces and suspect links for `/api/v1/traces` and `/api/v1/suspects`; absent: tracing is off. */
  tracing?: TracingView;
  /** Each discovered target list's state, for `/status` in JSON; absent: none is discovered. */
  discovery?: () => readonly DiscoveredListStatus[];
}

/** Options of `createCollectorApi`. */
export interface CollectorApiOptions {
  /**
   * `/api/v1/summaries` bodies written at once; one more is answered 503 with `Retry-After`.
   * Default 4: each is written only as fast as its client reads, and a probe waits for none.
   */
  maxSummaryStreams?: number;
}

const API_ROUTES = ["/status", "/influxdata", "/api/v1/summaries", "/metrics"];
const SUMMARY_PARAMETERS = ["src_ip", "dst_ip", "flows"];

/**
 * The collector's HTTP API: `/status` and `/influxdata` exactly like the original LLAMA's,
 * `/api/v1/summaries` with every statistic and per-flow detail, `/metrics` for Prometheus, and the
 * loss and latency matrix (`@llama/ui`): the page at `/`, `/api/v1/matrix` and `/api/v1/history`.
 * Errors are JSON: `{"error": "..."}` with the right status.
 *
 * @example
 * ```ts
 * import { createCollectorApi } from "@llama/collector";
 * const api = createCollectorApi({ latest: () => undefined, metrics: () => "" });
 * const response = await api.request("/influxdata");
 * console.assert((await response.text()) === "[]");
 * ```
 */
export function createCollectorApi(
  view: CollectorView,
  options: CollectorApiOptions = {},
): HttpApi {
  const app = new Hono();
  const maxStreams = options.maxSummaryStreams ?? 4;
  const streams = { open: 0, refused: 0 };
  const ui = createMatrixUi({
    history: () => view.history?.() ?? [view.latest()].filter((summary) => summary !== undefined),
    describe: () => view.describe?.() ?? "collector",
  }, { maxIntervals: Math.max(30, view.historyIntervals ?? 30) });
  const routes = [...API_ROUTES, ...TRACE_ROUTES, ...ui.paths];
  mountTraceRoutes(app, view.tracing);
  for (const path of ui.paths) app.get(path, (context) => ui.fetch(context.req.raw));
  // "ok", as the original's; a client that asks for JSON also learns whether tracing runs.
  app.get(
    "/status",
    (context) =>
      (context.req.header("accept") ?? "").includes("application/json")
        ? context.json({
          status: "ok",
          tracing: view.tracing?.status() ?? { available: false, reason: "tracing is off" },
          ...(view.discovery === undefined ? {} : { discovery: view.discovery() }),
        })
        : context.text("ok"),
  );
  app.get(
    "/influxdata",
    (context) =>
      context.body(formatInfluxdata(view.latest()), 200, { "content-type": "application/json" }),
  );
  app.get(
    "/metrics",
    (context) =>
      context.body(view.metrics() + formatPrometheus(streamMetrics(streams)), 200, {
        "content-type": PROMETHEUS_CONTENT_TYPE,
      }),
  );
  app.get("/api/v1/summaries", (context) => {
    const query = context.req.queries();
    for (const [name, values] of Object.entries(query)) {
      if (!SUMMARY_PARAMETERS.includes(name)) {
        throw new HTTPException(400, {
          message: `unknown query parameter "${name}"; known: ${SUMMARY_PARAMETERS.join(", ")}`,
        });
      }
      if (values.length > 1) {
        throw new HTTPException(400, {
          message: `query parameter "${name}" given ${values.length} times`,
        });
      }
    }
    const flows = context.req.query("flows");
    if (flows !== undefined && flows !== "true" && flows !== "false") {
      throw new HTTPException(400, {
        message: `query parameter "flows" takes true or false, got "${flows}"`,
      });
    }
    const srcIp = context.req.query("src_ip");
    const dstIp = context.req.query("dst_ip");
    // HEAD gets the headers of a GET and its body is dropped, not cancelled: no writer for it.
    const interval = context.req.method === "HEAD" ? undefined : view.latestInterval?.();
    const chunks = interval?.pathsJson({ flows: flows !== "false", srcIp, dstIp });
    if (interval !== undefined && chunks !== undefined) {
      if (streams.open >= maxStreams) {
        chunks.return(undefined);
        streams.refused++;
        return context.json(
          { error: `${maxStreams} summaries are being sent already; retry in a second` },
          503,
          { "retry-after": "1" },
        );
      }
      streams.open++;
      const { start, end, intervalSeconds, timestampSource, sendTimestampSource } = interval;
      const head = JSON.stringify({
        start,
        end,
        intervalSeconds,
        timestampSource,
        sendTimestampSource,
      });
      const body = jsonStream(`${head.slice(0, -1)},"paths":`, chunks, "}", () => streams.open--);
      return context.body(body, 200, {
        "content-type": "application/json",
      });
    }
    const summary = view.latest();
    const paths = (summary?.paths ?? [])
      .filter((path) =>
        (srcIp === undefined || path.srcIp === srcIp) &&
        (dstIp === undefined || path.dstIp === dstIp)
      )
      .map((path): PathSummary | Omit<PathSummary, "flows"> => {
        if (flows !== "false") return path;
        const { flows: _, ...rest } = path;
        return rest;
      });
    return context.json({
      start: summary?.start ?? null,
      end: summary?.end ?? null,
      intervalSeconds: summary?.intervalSeconds ?? null,
      timestampSource: summary?.timestampSource ?? null,
      sendTimestampSource: summary?.sendTimestampSource ?? null,
      paths,
    });
  });
  app.notFound((context) => {
    const path = context.req.path;
    if (routes.includes(path)) {
      return context.json(
        { error: `${context.req.method} is not allowed on ${path}; use GET` },
        405,
        { allow: "GET, HEAD" },
      );
    }
    return context.json({ error: `no route ${path}; routes: ${routes.join(", ")}` }, 404);
  });
  app.onError((error, context) => {
    if (error instanceof HTTPException) return context.json({ error: error.message }, error.status);
    return context.json({ error: "internal error" }, 500);
  });
  return app;
}

/**
 * `head`, every chunk, then `tail`, as a byte stream pulled one chunk at a time (the server pulls
 * only as fast as the client reads); stopping early (a client gone) ends `chunks`. `done` is
 * called once, however it ends.
 */
function jsonStream(
  head: string,
  chunks: Generator<string>,
  tail: string,
  done: () => void,
): ReadableStream<Uint8Array> {
  const encoder = new TextEncoder();
  let started = false;
  let finished = false;
  const finish = () => {
    if (finished) return;
    finished = true;
    done();
  };
  return new ReadableStream({
    pull(controller) {
      if (!started) {
        started = true;
        controller.enqueue(encoder.encode(head));
        return;
      }
      try {
        const next = chunks.next();
        if (next.done) {
          controller.enqueue(encoder.encode(tail));
          controller.close();
          finish();
        } else controller.enqueue(encoder.encode(next.value));
      } catch (error) {
        finish();
        throw error;
      }
    },
    cancel() {
      chunks.return(undefined);
      finish();
    },
  }, { highWaterMark: 0 });
}

function streamMetrics(streams: { open: number; refused: number }): MetricFamily[] {
  return [
    {
      name: "llama_collector_api_streams",
      help: "/api/v1/summaries bodies being written now.",
      type: "gauge",
      samples: [{ value: streams.open }],
    },
    {
      name: "llama_collector_api_streams_refused_total",
      help: "/api/v1/summaries requests answered 503: the most bodies were being written already.",
      type: "counter",
      samples: [{ value: streams.refused }],
    },
  ];
}
