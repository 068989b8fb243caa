/**
 * The trace contract's JSON shape, checked in one place: what a program reading a collector's
 * `/api/v1/traces` (the scraper) may rely on once the body has passed.
 *
 * @module
 */

import { ProtocolError } from "./errors.ts";
import type { FlowTrace, TraceHop, TracesResponse } from "./trace.ts";

const REASONS: readonly unknown[] = ["baseline", "loss", "control", "request"];
const KINDS: readonly unknown[] = ["time-exceeded", "unreachable", "destination", "silent"];
/** Most hops a trace may have: IP's TTL is a byte. */
const MOST_HOPS = 255;
/** Longest address taken (an IPv6 address with a zone fits). */
const LONGEST_ADDRESS = 64;

type Json = Record<string, unknown>;

function fail(path: string, expected: string, value: unknown): never {
  const shown = JSON.stringify(value);
  throw new ProtocolError(
    `${path} is not ${expected}: got ${
      shown === undefined ? "nothing" : shown.length > 40 ? `${shown.slice(0, 40)}…` : shown
    }`,
  );
}

function object(value: unknown, path: string): Json {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    fail(path, "an object", value);
  }
  return value as Json;
}

function list(value: unknown, path: string, most: number): unknown[] {
  if (!Array.isArray(value)) fail(path, "a list", value);
  if (value.length > most) fail(path, `a list of at most ${most}`, `${value.length} items`);
  return value;
}

function whole(value: unknown, path: string, least: number, most: number): number {
  if (!Number.isInteger(value) || (value as number) < least || (value as number) > most) {
    fail(path, `a whole number from ${least} to ${most}`, value);
  }
  return value as number;
}

function percent(value: unknown, path: string): number {
  if (typeof value !== "number" || !(value >= 0 && value <= 100)) {
    fail(path, "a share from 0 to 100", value);
  }
  return value;
}

function address(value: unknown, path: string): string {
  if (typeof value !== "string" || value === "" || value.length > LONGEST_ADDRESS) {
    fail(path, `an address (a string of 1 to ${LONGEST_ADDRESS} characters)`, value);
  }
  return value;
}

function time(value: unknown, path: string): string {
  if (typeof value !== "string" || !(Date.parse(value) > 0)) fail(path, "an RFC 3339 time", value);
  return value;
}

function boolean(value: unknown, path: string): boolean {
  if (typeof value !== "boolean") fail(path, "true or false", value);
  return value;
}

function hop(value: unknown, path: string): TraceHop {
  const raw = object(value, path);
  const hopAddress = raw.address === null ? null : address(raw.address, `${path}.address`);
  const addresses = list(raw.addresses, `${path}.addresses`, MOST_HOPS).map((entry, index) => {
    const item = object(entry, `${path}.addresses[${index}]`);
    return {
      address: address(item.address, `${path}.addresses[${index}].address`),
      replies: whole(item.replies, `${path}.addresses[${index}].replies`, 0, 2 ** 32),
    };
  });
  const rtt = raw.rtt === null ? null : raw.rtt;
  if (rtt !== null && (typeof rtt !== "number" || !(rtt >= 0 && rtt < 3.6e6))) {
    fail(`${path}.rtt`, "null or milliseconds from 0 to an hour", rtt);
  }
  if (!KINDS.includes(raw.kind)) fail(`${path}.kind`, KINDS.join(", ") + " or", raw.kind);
  return {
    ttl: whole(raw.ttl, `${path}.ttl`, 1, MOST_HOPS),
    address: hopAddress,
    addresses,
    sent: whole(raw.sent, `${path}.sent`, 0, 2 ** 32),
    received: whole(raw.received, `${path}.received`, 0, 2 ** 32),
    lossPercent: percent(raw.lossPercent, `${path}.lossPercent`),
    rtt,
    kind: raw.kind as TraceHop["kind"],
  };
}

function flowTrace(value: unknown, path: string): FlowTrace {
  const raw = object(value, path);
  if (!REASONS.includes(raw.reason)) fail(`${path}.reason`, REASONS.join(", ") + " or", raw.reason);
  return {
    target: address(raw.target, `${path}.target`),
    source: address(raw.source, `${path}.source`),
    srcPort: whole(raw.srcPort, `${path}.srcPort`, 0, 65535),
    dstPort: whole(raw.dstPort, `${path}.dstPort`, 0, 65535),
    tos: whole(raw.tos, `${path}.tos`, 0, 255),
    reason: raw.reason as FlowTrace["reason"],
    startedAt: time(raw.startedAt, `${path}.startedAt`),
    finishedAt: time(raw.finishedAt, `${path}.finishedAt`),
    reachedTarget: boolean(raw.reachedTarget, `${path}.reachedTarget`),
    hops: list(raw.hops, `${path}.hops`, MOST_HOPS).map((entry, index) =>
      hop(entry, `${path}.hops[${index}]`)
    ),
    flowLossPercent: raw.flowLossPercent === null
      ? null
      : percent(raw.flowLossPercent, `${path}.flowLossPercent`),
    pathChanged: boolean(raw.pathChanged, `${path}.pathChanged`),
    reverseHops: raw.reverseHops === null
      ? null
      : whole(raw.reverseHops, `${path}.reverseHops`, 0, MOST_HOPS),
  };
}

/**
 * Checks a parsed `GET /api/v1/traces` body against the trace contract and returns a typed copy
 * holding only the contract's fields. Throws `ProtocolError` naming the JSON path of the first
 * thing wrong, such as `traces[2].hops[0].ttl is not a whole number from 1 to 255: got 0`.
 * Besides types it checks ranges: ports, TOS and TTLs fit their fields, shares are 0–100, at most
 * 255 hops and addresses a hop, and at most `mostTraces` traces.
 *
 * @example A collector that cannot trace, and a body with a bad TTL
 * ```ts
 * import { parseTracesResponse } from "@llama/core";
 * const none = parseTracesResponse({ tracing: { available: false, reason: "no native engine" }, traces: [] });
 * console.assert(!none.tracing.available);
 * try {
 *   parseTracesResponse({ tracing: { available: true }, traces: [{ hops: [{ ttl: 0 }] }] });
 * } catch (error) {
 *   console.assert((error as Error).message.startsWith("traces[0].target is not an address"));
 * }
 * ```
 */
export function parseTracesResponse(body: unknown, mostTraces = 100_000): TracesResponse {
  const raw = object(body, "the body");
  const tracing = object(raw.tracing, "tracing");
  const available = boolean(tracing.available, "tracing.available");
  if (tracing.reason !== undefined && typeof tracing.reason !== "string") {
    fail("tracing.reason", "a string", tracing.reason);
  }
  return {
    tracing: tracing.reason === undefined
      ? { available }
      : { available, reason: (tracing.reason as string).slice(0, 500) },
    traces: list(raw.traces, "traces", mostTraces).map((entry, index) =>
      flowTrace(entry, `traces[${index}]`)
    ),
  };
}
