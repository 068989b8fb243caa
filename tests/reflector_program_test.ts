import assert from "node:assert/strict";
import { nativeEngineStatus, ProbeWriter } from "@llama/core";
import { runProgram, startProgram } from "./_process.ts";
import { UdpClient } from "./_udp.ts";
import { fuzzDatagrams, referenceAnswer } from "./_fuzz.ts";
import { parsePrometheusText } from "./_prometheus.ts";

const READY = /Reflecting probes on udp:\/\/(\S+):(\d+)/;
const original = Deno.readFileSync(new URL("./fixtures/original/probe_tos0.bin", import.meta.url));

/** The reflection body of an answer, zeroed, so an answer compares equal to its probe. */
function withoutReflection(bytes: Uint8Array): string {
  const copy = bytes.slice();
  for (let at = 0; at + 30 <= copy.length; at++) {
    // The reflection field is tag 0x4a, length 28, then tag 0x09: clear its 28-byte body.
    if (
      copy[at] === 0x4a && copy[at + 1] === 28 && copy[at + 2] === 0x09 && at + 30 === copy.length
    ) {
      copy.fill(0, at + 3, at + 11);
      copy.fill(0, at + 12, at + 20);
      copy.fill(0, at + 21, at + 25);
      copy.fill(0, at + 26, at + 30);
    }
  }
  return Array.from(copy, (byte) => byte.toString(16).padStart(2, "0")).join("");
}

for (const engine of ["deno", "native"]) {
  Deno.test({
    name:
      `[${engine}] reflector survives 100,000 fuzzed datagrams: no crash, no answer to a non-probe, none longer`,
    // The native engine needs Linux and FFI: skipped where it cannot run, except in CI.
    ignore: engine === "native" && !nativeEngineStatus().available && Deno.env.get("CI") !== "true",
    async fn() {
      await using reflector = await startProgram(
        "reflector/main.ts",
        [
          "--host",
          "127.0.0.1",
          "--port",
          "0",
          "--max-pps",
          "0",
          "--metrics",
          "127.0.0.1:0",
          // Through the abuse limits, which must let all of it by: a prefix, and a rate no fuzz reaches.
          "--allow",
          "127.0.0.0/8",
          "--per-source-pps",
          "100000000",
          "--engine",
          engine,
        ],
        { readyPattern: /Serving metrics on http:\/\/(\S+)\/metrics/ },
      );
      const port = Number(READY.exec(reflector.stderr())![2]);
      const metricsUrl = `http://${reflector.ready[1]}/metrics`;
      using client = new UdpClient();
      const answers: Uint8Array[] = [];
      let stopped = false;
      const receiving = (async () => {
        while (!stopped) {
          const answer = await client.receive(200);
          if (answer !== undefined) answers.push(answer);
        }
      })();
      const total = 100_000;
      const window = 100;
      let valid = 0;
      let windowIndex = 0;
      let pending = new Map<string, number>();
      let checked = 0;
      const sentinel = new ProbeWriter({ paddingLength: 0 });
      const checkWindow = async () => {
        sentinel.signature.set(new TextEncoder().encode("SENTINEL"));
        sentinel.setSequence(windowIndex);
        await client.send(sentinel.bytes, "127.0.0.1", port);
        const sentinelKey = withoutReflection(sentinel.bytes);
        const deadline = performance.now() + 5000;
        for (;;) {
          const index = answers.findIndex((answer) => withoutReflection(answer) === sentinelKey);
          if (index >= 0) {
            for (const answer of answers.splice(0, index + 1).slice(0, index)) {
              const key = withoutReflection(answer);
              const left = pending.get(key);
              assert.ok(
                left !== undefined && left > 0,
                `an answer matches no probe sent: ${key.slice(0, 80)}`,
              );
              pending.set(key, left - 1);
              checked++;
            }
            break;
          }
          assert.ok(performance.now() < deadline, "the window's sentinel was not answered");
          await new Promise((resolve) => setTimeout(resolve, 1));
        }
        const missing = [...pending.values()].reduce((sum, left) => sum + left, 0);
        assert.equal(missing, 0, `${missing} probes of window ${windowIndex} were not answered`);
        pending = new Map();
        windowIndex++;
      };
      let sent = 0;
      try {
        for (const datagram of fuzzDatagrams(total, 0x9e3779b9, original)) {
          const expected = referenceAnswer(datagram);
          if (expected !== undefined) {
            valid++;
            const key = withoutReflection(expected);
            pending.set(key, (pending.get(key) ?? 0) + 1);
          }
          await client.send(datagram, "127.0.0.1", port);
          if (++sent % window === 0) await checkWindow();
        }
      } finally {
        stopped = true;
        await receiving;
      }
      assert.equal(checked, valid);
      assert.ok(valid > 20_000 && valid < 80_000, `${valid} valid probes: the mix is off`);
      const metrics = parsePrometheusText(await (await fetch(metricsUrl)).text());
      const sentinels = total / window;
      assert.equal(metrics.get("llama_reflector_received_total"), total + sentinels);
      assert.equal(metrics.get("llama_reflector_answered_total"), valid + sentinels);
      const invalid = [...metrics.entries()]
        .filter(([name]) =>
          name.startsWith("llama_reflector_invalid_total") ||
          name.startsWith("llama_reflector_refused_total")
        )
        .reduce((sum, [, value]) => sum + value, 0);
      assert.equal(invalid, total - valid);
      const status = await reflector.stop("SIGTERM");
      assert.equal(status.code, 0, reflector.stderr());
    },
  });
}

Deno.test("reflector takes the original's -port and -max-pps and the --long spellings", async () => {
  for (const args of [["-port", "0", "-max-pps", "0"], ["--port=0", "--max-pps=0"]]) {
    await using reflector = await startProgram("reflector/main.ts", args, { readyPattern: READY });
    assert.match(reflector.stderr(), /max unlimited answers\/s/);
    using client = new UdpClient();
    await client.send(original, "127.0.0.1", Number(reflector.ready[2]));
    assert.deepEqual(await client.receive(3000), referenceAnswer(original));
    assert.equal((await reflector.stop("SIGINT")).code, 0);
    assert.match(reflector.stderr(), /Counters: 1 received, 1 answered, 0 invalid, 0 refused/);
  }
});

Deno.test("reflector takes any rate for -max-pps like the original's float flag; from 1e8 up it is unlimited", async () => {
  const cases: [string, RegExp][] = [
    ["0.5", /max 0\.5 answers\/s/],
    ["2.5e3", /max 2500 answers\/s/],
    ["1e9", /max unlimited answers\/s/],
    ["+Inf", /max unlimited answers\/s/],
  ];
  for (const [rate, log] of cases) {
    await using reflector = await startProgram(
      "reflector/main.ts",
      ["-host", "127.0.0.1", "-port", "0", "-max-pps", rate],
      { readyPattern: READY },
    );
    assert.match(reflector.stderr(), log, rate);
    using client = new UdpClient();
    await client.send(original, "127.0.0.1", Number(reflector.ready[2]));
    assert.deepEqual(await client.receive(3000), referenceAnswer(original), rate);
    assert.equal((await reflector.stop("SIGINT")).code, 0);
  }
});

Deno.test("reflector rejects bad flags with a clear message and exit code 2", async () => {
  const cases: [string[], RegExp][] = [
    [["-colour"], /Unknown flag -colour/],
    [["--port", "abc"], /: --port takes a number, got "abc"/],
    [["-port", "abc"], /: --port takes a number, got "abc"/],
    [["--host", "999.1.1.1"], /--host takes an IPv4 or IPv6 address, got "999\.1\.1\.1"/],
    [["--host", "localhost"], /--host takes an IPv4 or IPv6 address, got "localhost"/],
    [["--port", "70000"], /--port takes a whole number from 0 to 65535, got 70000/],
    [["-max-pps", "-1"], /--max-pps takes a number of 0 or more \(0 = unlimited\), got -1/],
    [["-max-pps", "NaN"], /--max-pps takes a number, got "NaN"/],
    [["--port"], /: --port needs a value/],
    [["extra"], /Unexpected argument "extra"/],
    [["--log-level", "loud"], /--log-level takes one of/],
    [["--metrics", "nowhere"], /--metrics takes host:port/],
    [
      ["--refuse-source-ports", "7,70000"],
      /--refuse-source-ports takes ports 1\.\.65535 and ranges .*got "70000" in "7,70000"/,
    ],
    [["--refuse-source-ports", "19-7"], /--refuse-source-ports takes ports .*got "19-7"/],
    [
      ["--allow", "10.0.0.0/8", "--allow", "10.0.0.1/8"],
      /--allow takes CIDR prefixes .*"10\.0\.0\.1\/8", which has bits set after its first 8/,
    ],
    [["--allow", "nowhere"], /--allow takes CIDR prefixes .*got "nowhere"/],
    [["--per-source-pps", "-1"], /--per-source-pps takes a whole number/],
    [["--per-source-pps", "5", "--per-source-burst", "0"], /--per-source-burst takes a whole/],
    [["--per-source-table", "4"], /--per-source-table takes a whole number from 8/],
  ];
  for (const [args, message] of cases) {
    const { code, stderr } = await runProgram("reflector/main.ts", args);
    assert.equal(code, 2, `${args.join(" ")}: ${stderr}`);
    assert.match(stderr, message);
    assert.match(stderr, /Usage: llama-reflector/);
  }
});

Deno.test("reflector on the Deno engine without --unstable-net says which flag to add and exits with code 2", async () => {
  // A config with the workspace's imports but without "unstable": ["net"].
  const root = new URL("../", import.meta.url);
  const workspace = JSON.parse(await Deno.readTextFile(new URL("deno.json", root)));
  const directory = await Deno.makeTempDir();
  try {
    const config = `${directory}/deno.json`;
    await Deno.writeTextFile(
      config,
      JSON.stringify({
        imports: { ...workspace.imports, "@llama/core": new URL("core/mod.ts", root).href },
      }),
    );
    const { code, stderr } = await runProgram("reflector/main.ts", ["--engine", "deno"], {
      denoArgs: ["--allow-all", "--config", config],
    });
    assert.equal(code, 2, stderr);
    assert.match(stderr, /Add --unstable-net/);
  } finally {
    await Deno.remove(directory, { recursive: true });
  }
});

Deno.test("reflector exits with code 1 when its port is taken", async () => {
  using holder = new UdpClient("127.0.0.1");
  const { code, stderr } = await runProgram("reflector/main.ts", [
    "--host",
    "127.0.0.1",
    "--port",
    String(holder.port),
  ]);
  assert.equal(code, 1);
  assert.match(
    stderr,
    /Cannot start: (Cannot bind UDP 127\.0\.0\.1:\d+|bind 127\.0\.0\.1:\d+ failed: EADDRINUSE \(98\))/,
  );
});

Deno.test("reflector with --allow answers no source outside it and says so in its log", async () => {
  await using reflector = await startProgram(
    "reflector/main.ts",
    ["--host", "127.0.0.1", "--port", "0", "--allow", "10.0.0.0/8", "--allow", "192.0.2.0/24"],
    { readyPattern: READY },
  );
  assert.match(reflector.stderr(), /sources in 10\.0\.0\.0\/8 192\.0\.2\.0\/24\)/);
  using client = new UdpClient();
  await client.send(original, "127.0.0.1", Number(reflector.ready[2]));
  assert.equal(await client.receive(500), undefined);
  assert.equal((await reflector.stop("SIGINT")).code, 0);
  assert.match(
    reflector.stderr(),
    /Not answered: a \d+-byte datagram from 127\.0\.0\.1:\d+: not-allowed/,
  );
  assert.match(reflector.stderr(), /Counters: 1 received, 0 answered, 0 invalid, 1 refused/);
});
