/**
 * The collector's tracing routes: `GET /api/v1/traces` (the latest trace of every flow),
 * `POST /api/v1/traces` (trace a target, or one flow, now) and `GET /api/v1/suspects` (the links
 * lossy flows have in common, ranked).
 *
 * @module
 */
import { isIP } from "node:net";
import type { Hono } from "hono";
import { HTTPException } from "hono/http-exception";
import type { FlowTrace, SuspectsResponse, TracesResponse } from "@llama/core";
import type { TraceRequest } from "./tracer.ts";

/** What the tracing routes read from a running collector. */
export interface TracingView {
  /** Whether the collector traces, and if not, why not. */
  status(): TracesResponse["tracing"];
  /** The latest trace of every traced flow. */
  traces(): FlowTrace[];
  /** The suspect links of the latest traces and interval. */
  suspects(): SuspectsResponse;
  /** Queues traces of the flows `request` names; returns how many. */
  request(request: TraceRequest): number;
}

/** The paths these routes answer. */
export const TRACE_ROUTES = ["/api/v1/traces", "/api/v1/suspects"];
/** A trace request is a few dozen bytes: anything much longer is refused unread. */
const MAX_REQUEST_BYTES = 4096;
const REQUEST_KEYS = ["target", "srcPort", "dstPort"];

/** Adds the tracing routes to `app`; without `view`, they say tracing is off. */
export function mountTraceRoutes(app: Hono, view: TracingView | undefined): void {
  const status = () => view?.status() ?? { available: false, reason: "tracing is off" };
  app.get("/api/v1/traces", (context) => {
    const target = singleParameter(context.req.queries(), "target");
    const traces = (view?.traces() ?? []).filter((trace) =>
      target === undefined || trace.target === target
    );
    const body: TracesResponse = { tracing: status(), traces };
    return context.json(body);
  });
  app.get("/api/v1/suspects", (context) => {
    singleParameter(context.req.queries(), undefined);
    const body: SuspectsResponse = view?.suspects() ??
      { suspects: [], lossyFlows: 0, cleanFlows: 0 };
    return context.json(body);
  });
  app.post("/api/v1/traces", async (context) => {
    const tracing = status();
    if (view === undefined || !tracing.available) {
      return context.json({ error: `cannot trace: ${tracing.reason ?? "tracing is off"}` }, 503);
    }
    const length = Number(context.req.header("content-length") ?? "0");
    if (length > MAX_REQUEST_BYTES) {
      throw new HTTPException(413, {
        message: `a trace request is at most ${MAX_REQUEST_BYTES} bytes`,
      });
    }
    const text = await context.req.text();
    if (text.length > MAX_REQUEST_BYTES) {
      throw new HTTPException(413, {
        message: `a trace request is at most ${MAX_REQUEST_BYTES} bytes`,
      });
    }
    const request = parseTraceRequest(text);
    const queued = view.request(request);
    if (queued === 0) {
      return context.json({ error: `no flow to ${describe(request)} is probed here` }, 404);
    }
    return context.json({ queued }, 202);
  });
}

/**
 * A trace request's body: `{"target": "10.0.0.2"}`, optionally with `srcPort` and `dstPort`.
 * Throws a 400 `HTTPException` naming what is wrong.
 */
export function parseTraceRequest(text: string): TraceRequest {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new HTTPException(400, {
      message: 'expected a JSON object such as {"target": "10.0.0.2", "srcPort": 33000}',
    });
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new HTTPException(400, { message: "expected a JSON object with target" });
  }
  const fields = value as Record<string, unknown>;
  for (const key of Object.keys(fields)) {
    if (!REQUEST_KEYS.includes(key)) {
      throw new HTTPException(400, {
        message: `unknown field "${key}"; known: ${REQUEST_KEYS.join(", ")}`,
      });
    }
  }
  const target = fields.target;
  if (typeof target !== "string" || isIP(target) === 0) {
    throw new HTTPException(400, {
      message: `target must be an IP address, got ${JSON.stringify(target ?? null)}`,
    });
  }
  const request: TraceRequest = { target };
  for (const name of ["srcPort", "dstPort"] as const) {
    const port = fields[name];
    if (port === undefined) continue;
    if (typeof port !== "number" || !Number.isInteger(port) || port < 1 || port > 65535) {
      throw new HTTPException(400, {
        message: `${name} must be a port number from 1 to 65535, got ${JSON.stringify(port)}`,
      });
    }
    request[name] = port;
  }
  return request;
}

function describe(request: TraceRequest): string {
  return `${request.target}${request.dstPort === undefined ? "" : ` port ${request.dstPort}`}` +
    (request.srcPort === undefined ? "" : ` from port ${request.srcPort}`);
}

/** The one value of query parameter `name` (the only one allowed); 400 on any other. */
function singleParameter(
  query: Record<string, string[]>,
  name: string | undefined,
): string | undefined {
  for (const [key, values] of Object.entries(query)) {
    if (key !== name) {
      throw new HTTPException(400, {
        message: `unknown query parameter "${key}"${name === undefined ? "" : `; known: ${name}`}`,
      });
    }
    if (values.length > 1) {
      throw new HTTPException(400, {
        message: `query parameter "${key}" given ${values.length} times`,
      });
    }
  }
  return name === undefined ? undefined : query[name]?.[0];
}
