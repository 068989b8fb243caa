// One spoofed datagram must never start an endless exchange between two reflectors. Inside a
// network namespace of its own, each test runs two reflectors (two llama ones, or a llama one and
// the C reference, which echoes what it receives like the original LLAMA reflector), sends one
// datagram from a raw socket with the source set to reflector B and the destination reflector A,
// and counts what both received.
import assert from "node:assert/strict";
import { nativeEngineStatus, ProbeWriter } from "@llama/core";
import { createTestNetwork, type TestNetwork } from "./_netns.ts";
import { type RunningProgram, startProgram } from "./_process.ts";
import { assertRequirement, requirement } from "./_requirements.ts";
import { parsePrometheusText } from "./_prometheus.ts";
import { collectorYaml, startRecordingCollector } from "./_collector.ts";

const needs = requirement({ root: true, commands: ["ip", "python3", "gcc"] });
const nativeIgnored = !nativeEngineStatus().available && Deno.env.get("CI") !== "true";
// The C reference reflector's source, kept in the repository (a copy of shared/tools/refl_c.c,
// where the benchmarks find it: bench/main.ts); LLAMA_TOOLS_DIR points elsewhere.
const TOOLS = Deno.env.get("LLAMA_TOOLS_DIR") ??
  new URL("./fixtures/tools/", import.meta.url).pathname.replace(/\/$/, "");
const reflCMissing = (() => {
  try {
    Deno.statSync(`${TOOLS}/refl_c.c`);
    return false;
  } catch {
    return true;
  }
})();
if (reflCMissing && Deno.env.get("CI") !== "true") {
  console.error(`skipping tests that need ${TOOLS}/refl_c.c: LLAMA_TOOLS_DIR has none`);
}
// Ports outside --refuse-source-ports' defaults: what stops the exchange here is the answer's
// mark, not the port filter.
const PORT_A = 9301;
const PORT_B = 9302;
const original = Deno.readFileSync(new URL("./fixtures/original/probe_tos0.bin", import.meta.url));

const delay = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

// Builds the IPv4 and UDP headers itself (IP_HDRINCL), so the source can be anyone's. The UDP
// checksum 0 means "none" over IPv4; the kernel fills in the IP checksum and total length.
const RAW_SENDER = `
import socket, struct, sys
source, sport, destination, dport, payload = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4]), bytes.fromhex(sys.argv[5])
udp = struct.pack("!HHHH", sport, dport, 8 + len(payload), 0) + payload
ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 0, 0, 64, socket.IPPROTO_UDP, 0,
                 socket.inet_aton(source), socket.inet_aton(destination))
raw = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
raw.sendto(ip + udp, (destination, 0))
`;

/** Sends `payload` once from a raw socket inside the namespace, as if from `source`. */
async function sendSpoofed(
  network: TestNetwork,
  source: { hostname: string; port: number },
  destination: { hostname: string; port: number },
  payload: Uint8Array,
): Promise<void> {
  const hex = Array.from(payload, (byte) => byte.toString(16).padStart(2, "0")).join("");
  const output = await network.command([
    "python3",
    "-c",
    RAW_SENDER,
    source.hostname,
    `${source.port}`,
    destination.hostname,
    `${destination.port}`,
    hex,
  ], { stdout: "piped", stderr: "piped" }).output();
  assert.equal(output.code, 0, new TextDecoder().decode(output.stderr));
}

/** A llama reflector program inside the namespace, with its metrics served on `metricsPort`. */
async function startLlamaReflector(
  network: TestNetwork,
  port: number,
  engine: "deno" | "native",
): Promise<{ program: RunningProgram; counters: () => Promise<Map<string, number>> }> {
  const metrics = `${network.remoteAddress}:${port + 100}`;
  const program = await startProgram(
    "reflector/main.ts",
    [
      "--host",
      network.remoteAddress,
      "--port",
      `${port}`,
      "--engine",
      engine,
      "--metrics",
      metrics,
    ],
    { readyPattern: /Serving metrics on http:\/\//, wrap: [...network.execPrefix] },
  );
  return {
    program,
    counters: async () =>
      parsePrometheusText(await (await fetch(`http://${metrics}/metrics`)).text()),
  };
}

/** Compiles the C reference reflector into a temporary folder. */
async function buildReflC(directory: string): Promise<string> {
  const binary = `${directory}/refl_c`;
  const output = await new Deno.Command("gcc", {
    args: ["-O2", "-o", binary, `${TOOLS}/refl_c.c`],
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(output.code, 0, new TextDecoder().decode(output.stderr));
  return binary;
}

/** The C reference reflector inside the namespace; `stop()` returns how many it echoed. */
function startReflC(network: TestNetwork, binary: string, port: number) {
  const child = network.command([binary, "-p", `${port}`], {
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const stderr = new Response(child.stderr).text();
  let stopped: Promise<number> | undefined;
  const stop = () =>
    stopped ??= (async () => {
      try {
        child.kill("SIGTERM");
      } catch { /* already gone */ }
      await child.status;
      const text = await stderr;
      const match = /reflected (\d+)/.exec(text);
      assert.ok(match !== null, `refl_c said: ${text}`);
      return Number(match[1]);
    })();
  return {
    /** Waits until it is bound (it says so on stderr only at exit: probe its port). */
    ready: async () => {
      const deadline = Date.now() + 5000;
      for (;;) {
        const output = await network.command(["ss", "-Hlun", `sport = :${port}`], {
          stdout: "piped",
        }).output();
        if (new TextDecoder().decode(output.stdout).includes(`:${port}`)) return;
        assert.ok(Date.now() < deadline, "refl_c did not bind its port");
        await delay(50);
      }
    },
    stop,
    [Symbol.asyncDispose]: async () => {
      await stop().catch(() => {});
    },
  };
}

/** Waits until `read()` gives the same value twice 300 ms apart (or 3 s passed); returns it. */
async function settled(read: () => Promise<number>): Promise<number> {
  let last = await read();
  for (const deadline = Date.now() + 3000; Date.now() < deadline;) {
    await delay(300);
    const now = await read();
    if (now === last) return now;
    last = now;
  }
  return last;
}

// What the attacker sends, and what an original collector's probe looks like: both
// without a reflection block, the one case the filled-reflection guard did not cover.
const SPOOFED = [
  { label: "the 3-byte datagram 0a 01 41", bytes: new Uint8Array([0x0a, 0x01, 0x41]) },
  { label: "an original collector's probe", bytes: original },
];

for (const { label, bytes } of SPOOFED) {
  Deno.test({
    name: `one spoofed datagram (${label}) between two llama reflectors is answered at most once`,
    ignore: needs.ignore || nativeIgnored,
    async fn() {
      assertRequirement(needs);
      await using network = await createTestNetwork();
      // One reflector on each engine.
      const a = await startLlamaReflector(network, PORT_A, "native");
      await using _a = a.program;
      const b = await startLlamaReflector(network, PORT_B, "deno");
      await using _b = b.program;
      await sendSpoofed(
        network,
        { hostname: network.remoteAddress, port: PORT_B },
        { hostname: network.remoteAddress, port: PORT_A },
        bytes,
      );
      const received = () =>
        Promise.all([a.counters(), b.counters()]).then((both) =>
          both.reduce((sum, counters) => sum + counters.get("llama_reflector_received_total")!, 0)
        );
      // Before the fix both reflectors received thousands within a second, and kept on.
      const total = await settled(received);
      const [countersA, countersB] = await Promise.all([a.counters(), b.counters()]);
      assert.ok(total >= 1 && total <= 2, `the reflectors received ${total} datagrams`);
      assert.equal(countersA.get("llama_reflector_received_total"), 1);
      const answeredTotal = countersA.get("llama_reflector_answered_total")! +
        countersB.get("llama_reflector_answered_total")!;
      assert.ok(answeredTotal <= 1, `answered ${answeredTotal}`);
      // What stopped it, by name: the spoof refused as unmarkable, or the marked answer refused.
      const stoppedBy = bytes.length === 3
        ? countersA.get('llama_reflector_refused_total{reason="unmarkable"}')
        : countersB.get('llama_reflector_invalid_total{reason="answer"}');
      assert.equal(stoppedBy, 1);
      assert.match(a.program.stderr() + b.program.stderr(), /Not answered: a \d+-byte datagram/);
    },
  });
}

// The 3-byte datagram with a tos field: the C reference reflector (like the original) echoes it.
// With a reflection block or padding, the llama reflector answers once and refuses the echo.
const SPOOFED_FOR_REFL_C = [
  {
    label: "0a 01 41 12 01 00",
    bytes: new Uint8Array([0x0a, 0x01, 0x41, 0x12, 0x01, 0x00]),
    answered: 0,
  },
  { label: "an original collector's probe", bytes: original, answered: 1 },
  { label: "a llama probe", bytes: new ProbeWriter({ paddingLength: 0 }).bytes, answered: 1 },
];

for (const { label, bytes, answered } of SPOOFED_FOR_REFL_C) {
  Deno.test({
    name:
      `one spoofed datagram (${label}) between a llama reflector and one that echoes everything ends`,
    // refl_c's source is in tests/fixtures/tools (or LLAMA_TOOLS_DIR, which may lack it: then
    // these skip, saying so; in CI they fail below).
    ignore: needs.ignore || nativeIgnored || (reflCMissing && Deno.env.get("CI") !== "true"),
    async fn() {
      assertRequirement(needs);
      const directory = await Deno.makeTempDir({ prefix: "llama-loop-" });
      try {
        const binary = await buildReflC(directory);
        await using network = await createTestNetwork();
        const a = await startLlamaReflector(network, PORT_A, "native");
        await using _a = a.program;
        await using echo = startReflC(network, binary, PORT_B);
        await echo.ready();
        await sendSpoofed(
          network,
          { hostname: network.remoteAddress, port: PORT_B },
          { hostname: network.remoteAddress, port: PORT_A },
          bytes,
        );
        const received = await settled(async () =>
          (await a.counters()).get("llama_reflector_received_total")!
        );
        const counters = await a.counters();
        const echoed = await echo.stop();
        // At most: A answers the spoof, refl_c echoes the answer, A refuses it. Before the fix,
        // both went on at thousands a second.
        assert.equal(received, 1 + answered, `the llama reflector received ${received} datagrams`);
        assert.equal(echoed, answered, `refl_c echoed ${echoed} datagrams`);
        assert.equal(counters.get("llama_reflector_answered_total"), answered);
      } finally {
        await Deno.remove(directory, { recursive: true });
      }
    },
  });
}

Deno.test({
  name:
    "a probe from a refused source port (the reflector's own, 8100, chargen 19) is not answered",
  ignore: needs.ignore || nativeIgnored,
  async fn() {
    assertRequirement(needs);
    await using network = await createTestNetwork();
    const a = await startLlamaReflector(network, PORT_A, "native");
    await using _a = a.program;
    for (const port of [PORT_A, 8100, 19]) {
      await sendSpoofed(
        network,
        { hostname: network.remoteAddress, port },
        { hostname: network.remoteAddress, port: PORT_A },
        original,
      );
    }
    const received = await settled(async () =>
      (await a.counters()).get("llama_reflector_received_total")!
    );
    const counters = await a.counters();
    assert.equal(received, 3);
    assert.equal(counters.get("llama_reflector_answered_total"), 0);
    assert.equal(counters.get('llama_reflector_refused_total{reason="source-port"}'), 3);
    assert.match(
      a.program.stderr(),
      /Not answered: a 1028-byte datagram from \S+:9301: source-port/,
    );
  },
});

for (const engine of ["deno", "native"] as const) {
  Deno.test({
    name:
      `[${engine}] a real collector's probes are all answered by the reflector program inside a test network`,
    ignore: needs.ignore || (engine === "native" && nativeIgnored),
    async fn() {
      assertRequirement(needs);
      await using network = await createTestNetwork();
      const reflector = await startLlamaReflector(network, PORT_A, engine);
      await using _reflector = reflector.program;
      await using run = await startRecordingCollector(
        collectorYaml({
          targets: [[network.remoteAddress, PORT_A, {}]],
          bind: network.hostAddress,
          sockets: 4,
          cps: 20,
        }),
      );
      await run.next(1); // the first interval began before the collector did
      const summary = await run.next(1);
      const [path] = summary.paths;
      assert.ok(path.sent >= 70, `sent ${path.sent}`);
      assert.equal(path.lost, 0);
      assert.equal(path.dwellCorrected, path.sent, "every answer carried the reflection block");
      const counters = await reflector.counters();
      assert.equal(counters.get('llama_reflector_refused_total{reason="source-port"}'), 0);
      assert.equal(counters.get('llama_reflector_refused_total{reason="unmarkable"}'), 0);
      assert.equal(counters.get('llama_reflector_invalid_total{reason="answer"}'), 0);
    },
  });
}
