import assert from "node:assert/strict";
import { parseCollectorConfig } from "./config.ts";
import { stampSettings, targetPort } from "./_stamp_config.ts";

const yaml = (target: string, test = "") =>
  `ports: {p: {port: 0}}
port_groups: {g: [{port: p}]}
rate_limits: {r: {cps: 1}}
tests: [{targets: t, port_group: g, rate_limit: r${test}}]
targets:
  t:
    - ${target}
`;

Deno.test("a STAMP target without a port is probed on 862, one with a port on its own", () => {
  const config = parseCollectorConfig(yaml("{ip: 10.0.0.1, protocol: stamp}"), {
    file: "/etc/c.yaml",
  });
  const target = config.targets.t[0];
  assert.equal(target.port, 862);
  assert.equal(targetPort(target, stampSettings(config.tests[0].stamp, target.stamp)), 862);
  const given = parseCollectorConfig(yaml("{ip: 10.0.0.1, port: 4000, protocol: stamp}"));
  assert.equal(given.targets.t[0].port, 4000);
});

Deno.test("protocol: stamp on a test makes its targets STAMP ones on 862 unless a target says llama", () => {
  const config = parseCollectorConfig(
    yaml("{ip: 10.0.0.1}", ", protocol: stamp, stamp_mode: stateful, stamp_key_file: k.txt"),
    { file: "/etc/llama/c.yaml" },
  );
  const target = config.targets.t[0];
  assert.equal(target.port, 8100);
  const settings = stampSettings(config.tests[0].stamp, target.stamp);
  assert.deepEqual(
    { mode: settings?.mode, keyFile: settings?.keyFile },
    { mode: "stateful", keyFile: "/etc/llama/k.txt" },
  );
  assert.equal(targetPort(target, settings), 862);
  const llama = parseCollectorConfig(yaml("{ip: 10.0.0.1, protocol: llama}", ", protocol: stamp"));
  assert.equal(stampSettings(llama.tests[0].stamp, llama.targets.t[0].stamp), undefined);
  assert.equal(
    stampSettings(undefined, parseCollectorConfig(yaml("{ip: 10.0.0.1}")).targets.t[0].stamp),
    undefined,
  );
});

Deno.test("a bad protocol is refused with its place", () => {
  assert.throws(
    () => parseCollectorConfig(yaml("{ip: 10.0.0.1, protocol: twamp}"), { file: "c.yaml" }),
    /c\.yaml:7:\d+: targets\.t\[0\]\.protocol: expected "llama" or "stamp", got "twamp"/,
  );
});
