// The collector program's --check refuses targets that are no one host's address, and words
// YAML's .inf and .nan as written, naming where in the file.
import assert from "node:assert/strict";
import { collectorYaml } from "./_collector.ts";
import { runProgram } from "./_process.ts";

const NOT_UNICAST: [target: string, bind: string, problem: string][] = [
  ["255.255.255.255", "0.0.0.0", "the broadcast address (255.255.255.255)"],
  ["224.0.0.1", "0.0.0.0", "a multicast address (224.0.0.0/4)"],
  ["239.255.255.250", "0.0.0.0", "a multicast address (224.0.0.0/4)"],
  ["0.0.0.0", "0.0.0.0", "the unspecified address (0.0.0.0)"],
  ["::", "::", "the unspecified address (::)"],
  ["ff02::1", "::", "a multicast address (ff00::/8)"],
  ["ff05::1:3", "::", "a multicast address (ff00::/8)"],
  ["::ffff:224.0.0.1", "::", "a multicast address (224.0.0.0/4)"],
];

Deno.test("collector --check refuses broadcast, multicast and unspecified targets, naming the target and its place", async () => {
  const directory = await Deno.makeTempDir({ prefix: "llama-check-" });
  try {
    for (const [target, bind, problem] of NOT_UNICAST) {
      const file = `${directory}/collector.yaml`;
      // The second target, on line 12 of collectorYaml's layout.
      await Deno.writeTextFile(
        file,
        collectorYaml({ targets: [["127.0.0.1", 8100, {}], [target, 8100, {}]], bind }),
      );
      const { code, stderr } = await runProgram("collector/main.ts", ["--check", "--config", file]);
      assert.equal(code, 2, `${target}: ${stderr}`);
      assert.ok(
        stderr.includes(
          `collector.yaml:12:11: targets.t[1].ip: expected the unicast address of one reflector, ` +
            `got "${target}", ${problem}`,
        ),
        `${target}: ${stderr}`,
      );
    }
    // The same addresses in the legacy format, and a plain unicast one still passes.
    const legacy = `${directory}/legacy.yaml`;
    await Deno.writeTextFile(legacy, '10.0.0.1: {}\n"ff02::1": {dst_hostname: all-nodes}\n');
    const refused = await runProgram("collector/main.ts", ["--check", "--config", legacy]);
    assert.equal(refused.code, 2, refused.stderr);
    assert.match(refused.stderr, /legacy\.yaml:2:1: "ff02::1": expected the unicast address/);
    await Deno.writeTextFile(legacy, "10.0.0.1: {}\n");
    const passed = await runProgram("collector/main.ts", ["--check", "--config", legacy]);
    assert.equal(passed.code, 0, passed.stderr);
  } finally {
    await Deno.remove(directory, { recursive: true });
  }
});

Deno.test("collector --check words .inf and .nan in a config number as written, not as null", async () => {
  const directory = await Deno.makeTempDir({ prefix: "llama-check-" });
  try {
    const cases: [find: string, replace: string, message: RegExp][] = [
      [
        "cps: 20",
        "cps: .inf",
        /:5:\d+: rate_limits\.r\.cps: expected a number \(cycles per second\) from 0\.001 to 100000, got \.inf$/m,
      ],
      ["cps: 20", "cps: -.Inf", /rate_limits\.r\.cps: .*, got -\.Inf$/m],
      [
        "interval: 1,",
        "interval: .nan,",
        /:1:\d+: summarization\.interval: expected a whole number \(seconds\) from 1 to 86400, got \.nan$/m,
      ],
      ["timeout: 300", "timeout: .NaN", /ports\.p\.timeout: .*, got \.NaN$/m],
    ];
    for (const [find, replace, message] of cases) {
      const file = `${directory}/collector.yaml`;
      const yaml = collectorYaml({ targets: [["127.0.0.1", 8100, {}]] });
      assert.ok(yaml.includes(find), find);
      await Deno.writeTextFile(file, yaml.replace(find, replace));
      const { code, stderr } = await runProgram("collector/main.ts", ["--check", "--config", file]);
      assert.equal(code, 2, `${replace}: ${stderr}`);
      assert.match(stderr, message);
      assert.doesNotMatch(stderr, /got null/);
    }
  } finally {
    await Deno.remove(directory, { recursive: true });
  }
});

Deno.test("collector --check validates STAMP targets: a bad key file is named with its place, and a STAMP target's port defaults to 862", async () => {
  const directory = await Deno.makeTempDir({ prefix: "llama-check-" });
  try {
    const file = `${directory}/collector.yaml`;
    const config = (target: string) =>
      `ports: {p: {port: 0}}
port_groups: {g: [{port: p}]}
rate_limits: {r: {cps: 1}}
tests: [{targets: t, port_group: g, rate_limit: r}]
targets:
  t:
    - ${target}
`;
    await Deno.writeTextFile(`${directory}/keys.txt`, "lab 0011\n");
    await Deno.writeTextFile(
      file,
      config("{ip: 10.0.0.1, protocol: stamp, stamp_key_file: keys.txt}"),
    );
    const short = await runProgram("collector/main.ts", ["--check", "--config", file]);
    assert.equal(short.code, 2, short.stderr);
    assert.match(short.stderr, /collector\.yaml:7:\d+: targets\.t\[0\]\.stamp_key_file: /);
    assert.match(short.stderr, /keys\.txt:1:\d+: the secret of key "lab" is 2 bytes/);
    await Deno.writeTextFile(
      file,
      config("{ip: 10.0.0.1, protocol: stamp, stamp_key_file: none.txt}"),
    );
    const missing = await runProgram("collector/main.ts", ["--check", "--config", file]);
    assert.equal(missing.code, 2, missing.stderr);
    assert.match(missing.stderr, /none\.txt.*cannot read the key file/);
    await Deno.writeTextFile(
      file,
      config("{ip: 10.0.0.1, protocol: stamp, stamp_mode: sometimes}"),
    );
    const mode = await runProgram("collector/main.ts", ["--check", "--config", file]);
    assert.equal(mode.code, 2, mode.stderr);
    assert.match(mode.stderr, /stamp_mode: expected "stateless" or "stateful", got "sometimes"/);
    await Deno.writeTextFile(`${directory}/keys.txt`, `lab ${"ab".repeat(16)}\n`);
    await Deno.writeTextFile(
      file,
      config("{ip: 10.0.0.1, protocol: stamp, stamp_mode: stateful, stamp_key_file: keys.txt}"),
    );
    const passed = await runProgram("collector/main.ts", ["--check", "--config", file]);
    assert.equal(passed.code, 0, passed.stderr);
  } finally {
    await Deno.remove(directory, { recursive: true });
  }
});

Deno.test("collector --help names the config keys llama adds: tracing and STAMP targets", async () => {
  const { code, stderr } = await runProgram("collector/main.ts", ["--help"]);
  assert.equal(code, 0);
  for (
    const key of ["tracing:", "budget", "protocol: llama|stamp", "stamp_mode", "stamp_key_file"]
  ) {
    assert.ok(stderr.includes(key), `--help lacks ${key}`);
  }
});
