import assert from "node:assert/strict";
import { ProtocolError } from "./errors.ts";
import { parseTracesResponse } from "./trace_json.ts";
import { trace } from "./testdata/trace_fixtures.ts";

const good = trace({ target: "10.0.9.9", hops: ["10.0.1.1", null, ["10.0.9.9", 10]] });

Deno.test("parseTracesResponse takes a collector's body as it is, leaving out unknown fields", () => {
  const body = JSON.parse(JSON.stringify({
    tracing: { available: true },
    traces: [{ ...good, extra: "dropped" }],
  }));
  assert.deepEqual(parseTracesResponse(body), { tracing: { available: true }, traces: [good] });
});

Deno.test("parseTracesResponse names the JSON path of what breaks the contract", () => {
  const cases: [unknown, RegExp][] = [
    [[], /^the body is not an object/],
    [{ traces: [] }, /^tracing is not an object: got nothing/],
    [{ tracing: { available: "yes" }, traces: [] }, /^tracing\.available is not true or false/],
    [{ tracing: { available: true }, traces: {} }, /^traces is not a list/],
    [
      { tracing: { available: true }, traces: [{ ...good, srcPort: 70000 }] },
      /^traces\[0\]\.srcPort is not a whole number from 0 to 65535: got 70000/,
    ],
    [
      { tracing: { available: true }, traces: [{ ...good, hops: [{ ...good.hops[0], ttl: 0 }] }] },
      /^traces\[0\]\.hops\[0\]\.ttl is not a whole number from 1 to 255/,
    ],
    [
      {
        tracing: { available: true },
        traces: [good, { ...good, hops: [{ ...good.hops[0], lossPercent: 101 }] }],
      },
      /^traces\[1\]\.hops\[0\]\.lossPercent is not a share from 0 to 100/,
    ],
    [
      { tracing: { available: true }, traces: [{ ...good, reason: "because" }] },
      /^traces\[0\]\.reason is not baseline, loss, control, request or: got "because"/,
    ],
    [
      { tracing: { available: true }, traces: [{ ...good, source: "x".repeat(65) }] },
      /^traces\[0\]\.source is not an address/,
    ],
    [
      { tracing: { available: true }, traces: [{ ...good, hops: new Array(256).fill(null) }] },
      /^traces\[0\]\.hops is not a list of at most 255: got "256 items"/,
    ],
  ];
  for (const [body, message] of cases) {
    assert.throws(() => parseTracesResponse(body), (error: unknown) => {
      assert.ok(error instanceof ProtocolError);
      assert.match(error.message, message);
      return true;
    });
  }
  assert.throws(
    () => parseTracesResponse({ tracing: { available: true }, traces: [good, good] }, 1),
    { message: /^traces is not a list of at most 1:/ },
  );
});
