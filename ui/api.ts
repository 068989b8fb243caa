import { type Context, Hono } from "hono";
import { HTTPException } from "hono/http-exception";
import { selectHistory } from "./history.ts";
import { buildMatrix, groupingKeys, MATRIX_LIMITS, type PathMatch } from "./matrix.ts";
import { MatrixPage, METRICS, ORDERS, type ViewState } from "./page.tsx";
import type { IntervalLike, MatrixSource } from "./types.ts";

/** The matrix page and its JSON API, as one HTTP handler to mount beside a program's own routes. */
export interface MatrixUi {
  /** Every path it answers (GET and HEAD), for the host's routing and its 404 and 405 answers. */
  readonly paths: readonly string[];
  /** Answers a request, as `Deno.serve` calls it. */
  fetch(request: Request): Promise<Response>;
  /** Answers a request for `path` (relative to the server), as a test calls it. */
  request(path: string, init?: RequestInit): Promise<Response>;
}

/** Options of `createMatrixUi`. */
export interface MatrixUiOptions {
  /** Most intervals `/api/v1/history` and `/api/v1/matrix` serve. Default 30. */
  maxIntervals?: number;
}

const STATIC_FILES: Record<string, string> = {
  "/ui/matrix.js": "text/javascript; charset=utf-8",
  "/ui/detail.js": "text/javascript; charset=utf-8",
  "/ui/scale.js": "text/javascript; charset=utf-8",
  "/ui/dom.js": "text/javascript; charset=utf-8",
  "/ui/trace.js": "text/javascript; charset=utf-8",
  "/ui/suspects.js": "text/javascript; charset=utf-8",
  "/ui/matrix.css": "text/css; charset=utf-8",
  "/ui/trace.css": "text/css; charset=utf-8",
};
const MATRIX_CACHE_ENTRIES = 32;
const HISTORY_PARAMETERS = ["intervals", "flows", "match", "limit"];
const MATRIX_PARAMETERS = ["rows", "cols", "intervals", "match", "limit"];
// The page runs nothing but its own module: no inline script or style, no third party.
const CONTENT_SECURITY_POLICY = "default-src 'self'; img-src 'self' data:; base-uri 'none'; " +
  "form-action 'self'; frame-ancestors 'none'";

/**
 * The loss and latency matrix: the page at `/`, its browser modules under `/ui/`, and the JSON it
 * reads: `/api/v1/matrix` (paths grouped into cells by any two keys, over the last intervals)
 * and `/api/v1/history` (the last intervals' paths, filtered). Bad query parameters are answered
 * with status 400 and `{"error": "..."}`.
 *
 * @example
 * ```ts
 * import { createMatrixUi } from "@llama/ui";
 * const ui = createMatrixUi({ history: () => [] });
 * const response = await ui.request("/api/v1/matrix?rows=src_ip&cols=dst_region");
 * console.assert(response.status === 200);
 * ```
 */
export function createMatrixUi(source: MatrixSource, options: MatrixUiOptions = {}): MatrixUi {
  const maxIntervals = options.maxIntervals ?? 30;
  const staticText = new Map<string, Promise<string>>();
  const app = new Hono();

  app.get("/", (context) => {
    const history = source.history();
    const keys = groupingKeys(history);
    const query = (name: string) => context.req.query(name)?.trim() || undefined;
    const metric = query("metric");
    const sort = query("sort");
    const state: ViewState = {
      rows: query("rows") ?? "src_ip",
      cols: query("cols") ?? "dst_ip",
      metric: METRICS.find((known) => known === metric) ?? "loss",
      sort: ORDERS.find((known) => known === sort) ?? "name",
    };
    context.header("content-security-policy", CONTENT_SECURITY_POLICY);
    context.header("cache-control", "no-store");
    return context.html(
      "<!doctype html>" +
        MatrixPage({ description: source.describe?.() ?? "llama", keys, state }),
    );
  });

  for (const [path, type] of Object.entries(STATIC_FILES)) {
    app.get(path, async (context) => {
      let text = staticText.get(path);
      if (text === undefined) {
        text = readBrowserFile(path.slice("/ui/".length));
        staticText.set(path, text);
        text.catch(() => staticText.delete(path));
      }
      return context.body(await text, 200, { "content-type": type, "cache-control": "no-cache" });
    });
  }

  app.get("/api/v1/history", (context) => {
    const query = readQuery(context, HISTORY_PARAMETERS);
    return context.json({
      intervals: selectHistory(source.history(), {
        intervals: wholeNumber(query, "intervals", 1, maxIntervals) ?? maxIntervals,
        flows: boolean(query, "flows") ?? false,
        match: matches(query),
        limit: wholeNumber(query, "limit", 1, 100_000),
      }),
    });
  });

  // Every open page asks for the same matrix once per interval: answer from the last interval's
  // cache (a WeakMap, so a new interval lets the old answers go).
  const matrixCache = new WeakMap<IntervalLike, Map<string, string>>();
  app.get("/api/v1/matrix", (context) => {
    const query = readQuery(context, MATRIX_PARAMETERS);
    const history = source.history();
    const intervals = wholeNumber(query, "intervals", 1, maxIntervals) ?? 1;
    const options = {
      rows: key(query, "rows") ?? "src_ip",
      cols: key(query, "cols") ?? "dst_ip",
      match: matches(query),
      limit: wholeNumber(query, "limit", 1, MATRIX_LIMITS.max) ?? MATRIX_LIMITS.default,
    };
    const last = history.at(-1);
    const cacheKey = JSON.stringify([history.length, intervals, options]);
    const cached = last === undefined ? undefined : matrixCache.get(last);
    let body = cached?.get(cacheKey);
    if (body === undefined) {
      const selected = history.slice(Math.max(0, history.length - intervals));
      checkKeys(selected, { rows: options.rows, cols: options.cols });
      body = JSON.stringify(buildMatrix(selected, options));
      if (last !== undefined) {
        const answers = cached ?? new Map<string, string>();
        if (answers.size >= MATRIX_CACHE_ENTRIES) answers.delete(answers.keys().next().value!);
        answers.set(cacheKey, body);
        matrixCache.set(last, answers);
      }
    }
    return context.body(body, 200, { "content-type": "application/json" });
  });

  app.onError((error, context) => {
    if (error instanceof HTTPException) return context.json({ error: error.message }, error.status);
    return context.json({ error: "internal error" }, 500);
  });

  return {
    paths: ["/", ...Object.keys(STATIC_FILES), "/api/v1/history", "/api/v1/matrix"],
    fetch: async (request) => await app.fetch(request),
    request: async (path, init) => await app.request(path, init),
  };
}

/**
 * The text of one of the browser modules beside this file: from disk (in a `deno compile`d
 * binary, from the files it embeds with `--include ui/browser`, which `Deno.readTextFile` reads
 * at the same `import.meta` path), or from the registry.
 */
async function readBrowserFile(name: string): Promise<string> {
  const url = new URL(`./browser/${name}`, import.meta.url);
  if (url.protocol === "file:") return await Deno.readTextFile(url);
  const response = await fetch(url);
  if (!response.ok) throw new Error(`Cannot read ${url}: HTTP ${response.status}`);
  return await response.text();
}

type Query = Record<string, string[]>;

function readQuery(context: Context, known: string[]): Query {
  const query = context.req.queries();
  for (const [name, values] of Object.entries(query)) {
    if (!known.includes(name)) {
      throw new HTTPException(400, {
        message: `unknown query parameter "${name}"; known: ${known.join(", ")}`,
      });
    }
    if (values.length > 1 && name !== "match") {
      throw new HTTPException(400, {
        message: `query parameter "${name}" given ${values.length} times`,
      });
    }
  }
  return query;
}

function wholeNumber(query: Query, name: string, min: number, max: number): number | undefined {
  const text = query[name]?.[0];
  if (text === undefined) return undefined;
  const value = Number(text);
  if (!/^\d+$/.test(text) || value < min || value > max) {
    throw new HTTPException(400, {
      message:
        `query parameter "${name}" takes a whole number from ${min} to ${max}, got "${text}"`,
    });
  }
  return value;
}

function boolean(query: Query, name: string): boolean | undefined {
  const text = query[name]?.[0];
  if (text === undefined) return undefined;
  if (text !== "true" && text !== "false") {
    throw new HTTPException(400, {
      message: `query parameter "${name}" takes true or false, got "${text}"`,
    });
  }
  return text === "true";
}

function key(query: Query, name: string): string | undefined {
  const text = query[name]?.[0];
  if (text === undefined) return undefined;
  if (text.trim() === "" || text.length > 200) {
    throw new HTTPException(400, {
      message: `query parameter "${name}" takes src_ip, dst_ip or a tag name, got "${text}"`,
    });
  }
  return text;
}

/**
 * Refuses a grouping key that is neither `src_ip`, `dst_ip` nor a tag of a path of `intervals`
 * (until the first interval there is nothing to group, and every key is let through).
 */
function checkKeys(intervals: readonly IntervalLike[], keys: Record<string, string>): void {
  const wanted = Object.entries(keys).filter(([, key]) => key !== "src_ip" && key !== "dst_ip");
  if (wanted.length === 0) return;
  const known = new Set<string>();
  let paths = 0;
  for (const interval of intervals) {
    for (const path of interval.paths) {
      paths++;
      for (const key of Object.keys(path.tags)) known.add(key);
    }
  }
  if (paths === 0) return;
  for (const [name, key] of wanted) {
    if (known.has(key)) continue;
    const names = ["src_ip", "dst_ip", ...[...known].sort()];
    const shown = names.length > 20 ? [...names.slice(0, 20), "…"] : names;
    throw new HTTPException(400, {
      message: `query parameter "${name}" names ${
        JSON.stringify(key)
      }, which no path has as a tag; known: ${shown.join(", ")}`,
    });
  }
}

function matches(query: Query): PathMatch[] {
  return (query.match ?? []).map((text) => {
    const colon = text.indexOf(":");
    if (colon < 1) {
      throw new HTTPException(400, {
        message: `query parameter "match" takes KEY:VALUE (like dst_region:west), got "${text}"`,
      });
    }
    return [text.slice(0, colon), text.slice(colon + 1)] as const;
  });
}
