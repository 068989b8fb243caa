import assert from "node:assert/strict";
import { ConfigError } from "@llama/core";
import { parseCollectorConfig } from "./config.ts";
import { DEFAULT_TRACING } from "./_tracing_config.ts";

const BASE = `
ports:
  p: { ip: 0.0.0.0, port: 0, tos: 0, timeout: 1000 }
port_groups:
  g: [{ port: p, count: 2 }]
rate_limits:
  r: { cps: 4 }
tests:
  - { targets: t, port_group: g, rate_limit: r }
targets:
  t: [{ ip: 127.0.0.1, port: 8100 }]
`;

Deno.test("a config without a tracing section traces with the defaults", () => {
  assert.deepEqual(parseCollectorConfig(BASE).tracing, DEFAULT_TRACING);
  assert.deepEqual(parseCollectorConfig("127.0.0.1:\n  a: b\n").tracing, DEFAULT_TRACING);
});

Deno.test("the tracing section sets every knob by its snake_case key", () => {
  const config = parseCollectorConfig(
    BASE + `
tracing:
  mode: on
  budget: 200
  probes_per_hop: 5
  max_hops: 16
  gap_limit: 2
  timeout: 500
  refresh: 60
  loss_threshold: 2.5
  concurrency: 4
`,
  );
  assert.deepEqual(config.tracing, {
    mode: "on",
    budget: 200,
    probesPerHop: 5,
    maxHops: 16,
    gapLimit: 2,
    timeoutMs: 500,
    refreshSeconds: 60,
    lossThresholdPercent: 2.5,
    concurrency: 4,
  });
  assert.equal(parseCollectorConfig(BASE + "tracing:\n  mode: off\n").tracing.mode, "off");
  assert.equal(parseCollectorConfig(BASE + "tracing:\n  mode: false\n").tracing.mode, "off");
});

Deno.test("bad tracing values are refused naming the key, the line and what was expected", () => {
  const cases: [string, RegExp][] = [
    ["tracing:\n  budget: 0\n", /tracing\.budget.*from 1 to 100000.*got 0/],
    ["tracing:\n  mode: sometimes\n", /tracing\.mode.*auto, on or off/],
    ["tracing:\n  probes_per_hop: 2.5\n", /tracing\.probes_per_hop.*whole number/],
    ["tracing:\n  refresh: -1\n", /tracing\.refresh/],
    ["tracing:\n  budgett: 10\n", /unknown key "budgett".*did you mean "budget"/],
    ["tracing: 5\n", /tracing/],
  ];
  for (const [yaml, message] of cases) {
    assert.throws(() => parseCollectorConfig(BASE + yaml, { file: "c.yaml" }), (error) => {
      assert.ok(error instanceof ConfigError, String(error));
      assert.match(error.message, message);
      assert.match(error.message, /c\.yaml/);
      return true;
    });
  }
});
