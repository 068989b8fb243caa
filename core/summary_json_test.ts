import assert from "node:assert/strict";
import { ProtocolError } from "./errors.ts";
import { parseIntervalSummary } from "./summary_json.ts";

// What a collector's /api/v1/summaries answered (one path of four flows, one port unanswered).
const collectorBody = JSON.parse(
  await Deno.readTextFile(new URL("./testdata/collector_summaries.json", import.meta.url)),
);

/** A copy of the collector's body with `change` applied to it. */
// deno-lint-ignore no-explicit-any -- the tests break the parsed JSON in every way on purpose
function changed(change: (body: any) => void): unknown {
  const body = structuredClone(collectorBody);
  change(body);
  return body;
}

function assertNames(body: unknown, message: string | RegExp, flows = true): void {
  assert.throws(
    () => parseIntervalSummary(body, { flows }),
    (error: Error) => {
      assert.ok(error instanceof ProtocolError, String(error));
      if (typeof message === "string") assert.equal(error.message, message);
      else assert.match(error.message, message);
      return true;
    },
  );
}

Deno.test("parseIntervalSummary passes a collector's body through as it is", () => {
  const summary = parseIntervalSummary(collectorBody);
  assert.equal(summary, collectorBody);
  assert.equal(summary!.paths[0].flows.length, 4);
  assert.equal(parseIntervalSummary(collectorBody, { flows: false }), collectorBody);
});

Deno.test("parseIntervalSummary answers null for the collector's body before its first interval", () => {
  assert.equal(
    parseIntervalSummary({
      start: null,
      end: null,
      intervalSeconds: null,
      timestampSource: null,
      sendTimestampSource: null,
      paths: [],
    }),
    null,
  );
});

Deno.test("parseIntervalSummary names a body that is not a summary", () => {
  assertNames([], "the body is not an object: got []");
  assertNames("hello", 'the body is not an object: got "hello"');
  assertNames({ start: null }, "paths is missing");
  assertNames(changed((body) => body.paths = {}), "paths is not a list: got {}");
});

Deno.test("parseIntervalSummary names a bad interval header field", () => {
  assertNames(changed((body) => delete body.start), "start is missing");
  assertNames(changed((body) => body.start = 5), "start is not a string: got 5");
  assertNames(
    changed((body) => body.start = "yesterday"),
    'start is not an RFC 3339 time after 1970: got "yesterday"',
  );
  assertNames(
    changed((body) => body.end = "1970-01-01T00:00:00Z"),
    'end is not an RFC 3339 time after 1970: got "1970-01-01T00:00:00Z"',
  );
  assertNames(
    changed((body) => body.end = "-000001-01-01T00:00:00Z"),
    /^end is not an RFC 3339 time after 1970/,
  );
  assertNames(changed((body) => body.end = "2000-01-01T00:00:00Z"), /^end is before start/);
  assertNames(
    changed((body) => body.intervalSeconds = "30"),
    'intervalSeconds is not a number: got "30"',
  );
  assertNames(
    changed((body) => body.intervalSeconds = 0),
    "intervalSeconds is not a positive number: got 0",
  );
  assertNames(
    changed((body) => body.timestampSource = "tsc"),
    'timestampSource is not "kernel" or "userspace": got "tsc"',
  );
  assertNames(changed((body) => delete body.sendTimestampSource), "sendTimestampSource is missing");
});

Deno.test("parseIntervalSummary names a bad path field by its JSON path", () => {
  assertNames(changed((body) => body.paths.push(null)), "paths[1] is not an object: got null");
  assertNames(changed((body) => body.paths[0].srcIp = 1), "paths[0].srcIp is not a string: got 1");
  assertNames(changed((body) => delete body.paths[0].dstIp), "paths[0].dstIp is missing");
  assertNames(
    changed((body) => body.paths[0].tags = "x"),
    'paths[0].tags is not an object: got "x"',
  );
  assertNames(
    changed((body) => body.paths[0].tags["dst-host"] = 7),
    'paths[0].tags["dst-host"] is not a string: got 7',
  );
  assertNames(
    changed((body) => body.paths[0].sent = "40"),
    'paths[0].sent is not a number: got "40"',
  );
  assertNames(
    changed((body) => body.paths[0].lost = -1),
    "paths[0].lost is not a whole number from 0 to 2^53 − 1: got -1",
  );
  assertNames(
    changed((body) => body.paths[0].late = 0.5),
    "paths[0].late is not a whole number from 0 to 2^53 − 1: got 0.5",
  );
  assertNames(
    changed((body) => body.paths[0].lossPercent = 150),
    "paths[0].lossPercent is not within 0–100: got 150",
  );
  assertNames(
    changed((body) => body.paths[0].rtt = []),
    "paths[0].rtt is neither null nor an object: got []",
  );
  assertNames(changed((body) => delete body.paths[0].rtt.p99), "paths[0].rtt.p99 is missing");
  assertNames(
    changed((body) => body.paths[0].rtt.p99 = Infinity),
    "paths[0].rtt.p99 is not a finite number: got Infinity",
  );
  assertNames(
    changed((body) => body.paths[0].jitter = NaN),
    "paths[0].jitter is not a finite number: got NaN",
  );
  assertNames(changed((body) => delete body.paths[0].tos), "paths[0].tos is missing");
  assertNames(
    changed((body) => body.paths[0].tos.atReflector = 256),
    "paths[0].tos.atReflector is not a whole number within 0–255: got 256",
  );
  assertNames(
    changed((body) => body.paths[0].dwellCorrected = null),
    "paths[0].dwellCorrected is not a number: got null",
  );
});

Deno.test("parseIntervalSummary names a bad flow field by its JSON path, when flows are asked for", () => {
  assertNames(changed((body) => delete body.paths[0].flows), "paths[0].flows is missing");
  assertNames(changed((body) => body.paths[0].flows = {}), "paths[0].flows is not a list: got {}");
  assertNames(
    changed((body) => body.paths[0].flows[2] = 3),
    "paths[0].flows[2] is not an object: got 3",
  );
  assertNames(
    changed((body) => body.paths[0].flows[1].srcPort = "37938"),
    'paths[0].flows[1].srcPort is not a number: got "37938"',
  );
  assertNames(
    changed((body) => body.paths[0].flows[1].dstPort = 70000),
    "paths[0].flows[1].dstPort is not a whole number within 0–65535: got 70000",
  );
  assertNames(
    changed((body) => body.paths[0].flows[3].rtt = { p50: 1 }),
    "paths[0].flows[3].rtt.min is missing",
  );
  assertNames(
    changed((body) => delete body.paths[0].flows[0].dstIp),
    "paths[0].flows[0].dstIp is missing",
  );
  // Without flows (?flows=false) they are neither expected nor read.
  const withoutFlows = changed((body) => delete body.paths[0].flows);
  assert.equal(parseIntervalSummary(withoutFlows, { flows: false }), withoutFlows);
});

Deno.test("parseIntervalSummary cuts a long value short in its message", () => {
  assertNames(
    changed((body) => body.paths[0].srcIp = { long: "x".repeat(100) }),
    `paths[0].srcIp is not a string: got {"long":"${"x".repeat(48)}...`,
  );
});

Deno.test("parseIntervalSummary refuses the hostile values of issue 16: negative counts, loss 12345.6, sent 1e308, times 0 and year −1", () => {
  // Caught before the issue: negative counts, loss out of range, times at or before 1970.
  assertNames(changed((body) => body.paths[0].lost = -5), /^paths\[0\]\.lost is not a whole/);
  assertNames(changed((body) => body.paths[0].late = -1), /^paths\[0\]\.late is not a whole/);
  assertNames(
    changed((body) => body.paths[0].lossPercent = 12345.6),
    "paths[0].lossPercent is not within 0–100: got 12345.6",
  );
  assertNames(
    changed((body) => body.start = "1970-01-01T00:00:00.000Z"),
    /^start is not an RFC 3339 time after 1970/,
  );
  assertNames(
    changed((body) => body.start = "-000001-01-01T00:00:00Z"),
    /^start is not an RFC 3339 time after 1970/,
  );
  // 1e308 is a whole number to JavaScript; no count gets past 2^53 − 1 (exact integers only).
  assertNames(
    changed((body) => body.paths[0].sent = 1e308),
    "paths[0].sent is not a whole number from 0 to 2^53 − 1: got 1e+308",
  );
  assertNames(
    changed((body) => body.paths[0].flows[2].duplicates = 2 ** 53),
    "paths[0].flows[2].duplicates is not a whole number from 0 to 2^53 − 1: got 9007199254740992",
  );
});

Deno.test("parseIntervalSummary with onInvalid leaves out a bad path or flow and keeps the rest", () => {
  const body = changed((body) => {
    body.paths.push(structuredClone(body.paths[0]), structuredClone(body.paths[0]));
    body.paths[1].dstIp = "10.9.9.2";
    body.paths[1].sent = 1e308;
    body.paths[2].dstIp = "10.9.9.3";
    body.paths[2].flows[1].lost = -1;
  });
  const problems: string[] = [];
  const summary = parseIntervalSummary(body, {
    onInvalid: (error) => problems.push(error.message),
  })!;
  assert.deepEqual(problems, [
    "paths[1].sent is not a whole number from 0 to 2^53 − 1: got 1e+308",
    "paths[2].flows[1].lost is not a whole number from 0 to 2^53 − 1: got -1",
  ]);
  assert.deepEqual(summary.paths.map((path) => path.dstIp), [
    collectorBody.paths[0].dstIp,
    "10.9.9.3",
  ]);
  assert.equal(summary.paths[1].flows.length, 3);
  // The body itself is left as it was.
  assert.equal((body as { paths: unknown[] }).paths.length, 3);
  // A bad header still fails the whole body.
  assert.throws(
    () => parseIntervalSummary(changed((body) => body.start = 0), { onInvalid: () => {} }),
    /^ProtocolError: start is not a string/,
  );
  // Nothing wrong: the body as it is.
  assert.equal(parseIntervalSummary(collectorBody, { onInvalid: () => {} }), collectorBody);
});

Deno.test("parseIntervalSummary accepts a STAMP path's one-way delays and loss split, and names bad ones", () => {
  const stamp = changed((body) => {
    const path = body.paths[0];
    path.oneWayDelay = {
      forward: { min: 0.1, mean: 0.2, max: 0.3 },
      backward: { min: 0.1, mean: 0.2, max: 0.4 },
      clockSynchronized: false,
    };
    path.lostBackward = path.lost;
    path.lostForward = 0;
  });
  assert.equal(parseIntervalSummary(stamp), stamp);
  const stampPath = (stamp as { paths: unknown[] }).paths[0];
  // deno-lint-ignore no-explicit-any -- broken on purpose, as above
  const bad = (change: (path: any) => void) =>
    changed((body) => {
      const path = body.paths[0];
      Object.assign(path, structuredClone(stampPath));
      change(path);
    });
  assertNames(
    bad((path) => path.oneWayDelay.forward.mean = "0.2"),
    'paths[0].oneWayDelay.forward.mean is not a number: got "0.2"',
  );
  assertNames(
    bad((path) => path.oneWayDelay.clockSynchronized = "no"),
    'paths[0].oneWayDelay.clockSynchronized is not a boolean: got "no"',
  );
  assertNames(bad((path) => delete path.lostForward), "paths[0].lostForward is missing");
  assertNames(
    bad((path) => path.lostForward = path.lost + 1),
    /paths\[0\]\.lostForward plus lostBackward is not lost/,
  );
});
