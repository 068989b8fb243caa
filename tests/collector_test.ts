import assert from "node:assert/strict";
import { startReflector } from "@llama/reflector";
import { nativeEngineStatus, type OpenSocket, selectEngine, SocketError } from "@llama/core";
import { collectorYaml, startRecordingCollector } from "./_collector.ts";
import { parsePrometheusText } from "./_prometheus.ts";
import { requirement } from "./_requirements.ts";
import { runProgram, startProgram } from "./_process.ts";

const fixture = JSON.parse(
  await Deno.readTextFile(new URL("./fixtures/original/influxdata_response.json", import.meta.url)),
);

for (const engine of ["deno", "native"] as const) {
  Deno.test(
    `[${engine}] collector: a healthy path shows 0% loss and a target nobody answers 100%`,
    {
      ignore: engine === "native" && !nativeEngineStatus().available &&
        Deno.env.get("CI") !== "true",
    },
    async () => {
      await using reflector = await startReflector({ hostname: "127.0.0.1", port: 0, maxPps: 0 });
      const port = reflector.address.port;
      await using run = await startRecordingCollector(
        collectorYaml({
          targets: [["127.0.0.1", port, { dst_hostname: "localhost" }], ["127.0.0.3", port, {
            dst_hostname: "nobody-home",
          }]],
          sockets: 4,
          cps: 20,
        }),
        { engine },
      );
      await run.next(1); // the first interval began before the collector did
      const summary = await run.next(1);
      assert.equal(summary.intervalSeconds, 1);
      assert.equal(summary.timestampSource, engine === "native" ? "kernel" : "userspace");
      assert.equal(summary.sendTimestampSource, engine === "native" ? "kernel" : "userspace");
      const health = run.collector.health();
      if (engine === "native") {
        // Every probe but those sent since the last read of the error queue: the kernel's time.
        assert.ok(
          health.kernelSendTimes >= health.sent - 16,
          `${health.kernelSendTimes} of ${health.sent} sends timed by the kernel`,
        );
        assert.equal(health.sendTimeMismatches, 0);
      } else {
        assert.equal(health.kernelSendTimes, 0);
      }
      assert.equal(Date.parse(summary.end) - Date.parse(summary.start), 1000);
      assert.equal(Date.parse(summary.start) % 1000, 0, "aligned to wall-clock seconds");
      const [healthy, dead] = summary.paths;
      assert.equal(healthy.dstIp, "127.0.0.1");
      assert.equal(healthy.srcIp, "127.0.0.1", "the real source address, not the bind address");
      assert.equal(dead.dstIp, "127.0.0.3");
      // 20 cycles per second × 4 sockets, spread evenly: 80 probes per second, give or take one.
      assert.ok(Math.abs(healthy.sent - 80) <= 1, `sent ${healthy.sent}`);
      assert.equal(healthy.lost, 0);
      assert.equal(healthy.lossPercent, 0);
      assert.equal(
        healthy.dwellCorrected,
        healthy.sent,
        "the llama reflector reported its dwell time",
      );
      assert.ok(healthy.rtt !== null && healthy.rtt.min > 0 && healthy.rtt.p50 < 50);
      assert.equal(healthy.flows.length, 4);
      assert.equal(new Set(healthy.flows.map((flow) => flow.srcPort)).size, 4, "four source ports");
      assert.equal(dead.lossPercent, 100);
      assert.equal(dead.lost, dead.sent);
      assert.equal(dead.rtt, null);
      assert.deepEqual(dead.tags, { dst_hostname: "nobody-home" });
    },
  );
}

Deno.test("collector: /influxdata has the original's shape, number format and a real time", async () => {
  await using reflector = await startReflector({ hostname: "127.0.0.1", port: 0, maxPps: 0 });
  await using run = await startRecordingCollector(
    collectorYaml({
      targets: [["127.0.0.1", reflector.address.port, {
        dst_hostname: "localhost",
        dst_region: "west",
      }], [
        "127.0.0.3",
        reflector.address.port,
        { dst_hostname: "nobody-home" },
      ]],
    }),
    { serveApi: true },
  );
  const address = run.collector.apiAddress!;
  const empty = await fetch(`http://127.0.0.1:${address.port}/influxdata`);
  assert.equal(await empty.text(), "[]", "no interval yet");
  await run.next(2);
  const response = await fetch(`http://127.0.0.1:${address.port}/influxdata`);
  assert.equal(response.headers.get("content-type"), "application/json");
  const body = await response.text();
  const points = JSON.parse(body);
  assert.equal(points.length, 2);
  for (const [index, point] of points.entries()) {
    // Same keys in the same order as the original's, field by field.
    assert.deepEqual(Object.keys(point), Object.keys(fixture[0]));
    assert.deepEqual(Object.keys(point.fields), Object.keys(fixture[0].fields));
    assert.equal(point.measurement, "raw_stats");
    assert.deepEqual(Object.keys(point.tags), Object.keys(point.tags).sort(), "tags sorted by key");
    assert.match(point.time, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    assert.notEqual(point.time, "0001-01-01T00:00:00Z");
    assert.equal(point.tags.src_ip, "127.0.0.1");
    assert.equal(point.tags.dst_ip, index === 0 ? "127.0.0.1" : "127.0.0.3");
  }
  // Every number is written with six decimals, as Go's %f does, so InfluxDB stores floats.
  const numbers = [...body.matchAll(/"(loss|lost|rtt|sent)":([^,}]+)/g)].map((match) => match[2]);
  assert.equal(numbers.length, 8);
  for (const number of numbers) assert.match(number, /^\d+\.\d{6}$/);
  assert.equal(points[1].fields.loss, 100);
  assert.equal(points[1].fields.rtt, 0);
});

Deno.test("collector: /metrics parses as Prometheus text with per-path and health series", async () => {
  await using reflector = await startReflector({ hostname: "127.0.0.1", port: 0, maxPps: 0 });
  await using run = await startRecordingCollector(
    collectorYaml({ targets: [["127.0.0.1", reflector.address.port, { "dst-region": "west" }]] }),
    { serveApi: true },
  );
  await run.next(1);
  const response = await fetch(`http://127.0.0.1:${run.collector.apiAddress!.port}/metrics`);
  assert.match(response.headers.get("content-type") ?? "", /^text\/plain; version=0\.0\.4/);
  const text = await response.text();
  const metrics = parsePrometheusText(text);
  const labels = 'dst_region="west",src_ip="127.0.0.1",dst_ip="127.0.0.1"';
  assert.ok(metrics.get(`llama_path_probes_sent{${labels}}`)! > 0);
  assert.equal(metrics.get(`llama_path_loss_ratio{${labels}}`), 0);
  assert.ok(metrics.get(`llama_path_rtt_p50_seconds{${labels}}`)! > 0);
  assert.ok(metrics.get("llama_collector_probes_sent_total")! > 0);
  assert.equal(metrics.get("llama_collector_sockets"), 4);
  assert.equal(metrics.get("llama_collector_scheduled_probes_per_second"), 80);
  const promtool = requirement({ commands: ["promtool"] });
  if (!promtool.ignore) {
    const check = new Deno.Command("promtool", {
      args: ["check", "metrics"],
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
    })
      .spawn();
    const writer = check.stdin.getWriter();
    await writer.write(new TextEncoder().encode(text));
    await writer.close();
    const output = await check.output();
    const said = new TextDecoder().decode(output.stdout) + new TextDecoder().decode(output.stderr);
    assert.equal(output.code, 0, `promtool check metrics: ${said}`);
  }
});

Deno.test("collector: API errors are JSON with the right status", async () => {
  await using run = await startRecordingCollector(
    collectorYaml({ targets: [["127.0.0.1", 9, {}]] }),
  );
  const api = run.collector.api;
  const cases: [string, RequestInit, number, RegExp][] = [
    ["/nope", {}, 404, /no route \/nope; routes: \/status/],
    ["/influxdata", { method: "POST" }, 405, /POST is not allowed on \/influxdata/],
    ["/api/v1/summaries?colour=red", {}, 400, /unknown query parameter "colour"/],
    ["/api/v1/summaries?flows=maybe", {}, 400, /"flows" takes true or false, got "maybe"/],
    ["/api/v1/summaries?src_ip=a&src_ip=b", {}, 400, /"src_ip" given 2 times/],
  ];
  for (const [path, init, status, message] of cases) {
    const response = await api.request(path, init);
    assert.equal(response.status, status, path);
    assert.match(response.headers.get("content-type") ?? "", /application\/json/);
    assert.match((await response.json()).error, message);
  }
  const status = await api.request("/status");
  assert.equal(await status.text(), "ok");
  const summaries = await (await api.request("/api/v1/summaries")).json();
  assert.deepEqual(summaries, {
    start: null,
    end: null,
    intervalSeconds: null,
    timestampSource: null,
    sendTimestampSource: null,
    paths: [],
  });
});

Deno.test("collector: a reload changes targets without losing probes in flight or the interval", async () => {
  // Bound to every address, so the target the reload adds (127.0.0.2) is answered too.
  await using reflector = await startReflector({ hostname: "0.0.0.0", port: 0, maxPps: 0 });
  const port = reflector.address.port;
  const before = collectorYaml({
    targets: [["127.0.0.1", port, { name: "a" }]],
    cps: 50,
    timeout: 500,
  });
  await using run = await startRecordingCollector(before);
  await run.next(1);
  // Reload in the middle of an interval, with probes in flight on the sockets being kept.
  await new Promise((resolve) => setTimeout(resolve, 1000 - (Date.now() % 1000) + 400));
  const { parseCollectorConfig, resolveTargets } = await import("@llama/collector");
  // The new target first: the test's flow ids are then not consecutive (the kept ones are lower).
  const after = collectorYaml({
    targets: [["127.0.0.2", port, { name: "b" }], ["127.0.0.1", port, { name: "a" }]],
    cps: 50,
    timeout: 500,
  });
  await run.collector.reload(await resolveTargets(parseCollectorConfig(after)));
  const reloadedAt = Date.now();
  // The next summary is the interval before the reload; the one after it holds the reload.
  const during = await run.next(2);
  assert.ok(Date.parse(during.start) < reloadedAt && reloadedAt < Date.parse(during.end));
  const kept = during.paths.find((path) => path.dstIp === "127.0.0.1")!;
  assert.equal(kept.lost, 0, "no probe lost across the reload");
  // The reload starts a new cycle of 8 probes 2.5 ms apart, the new target's first: the kept
  // target's next probe comes up to 10 ms later than its old schedule said (2 of its probes).
  assert.ok(
    kept.sent >= 200 - 4 && kept.sent <= 200 + 2,
    `sent ${kept.sent} in the reload's interval`,
  );
  const added = during.paths.find((path) => path.dstIp === "127.0.0.2");
  assert.ok(added !== undefined && added.sent > 0 && added.lost === 0, "the new target is probed");
  assert.deepEqual(added.tags, { name: "b" });
});

Deno.test("collector program: --check, bad configs exit 2, SIGHUP with a bad config keeps the old one", async () => {
  const directory = await Deno.makeTempDir();
  try {
    const file = `${directory}/collector.yaml`;
    await Deno.writeTextFile(
      file,
      collectorYaml({ targets: [["127.0.0.1", 9, {}]], api: "127.0.0.1:0", interval: 1 }),
    );
    const check = await runProgram("collector/main.ts", ["-llama.config", file, "--check"]);
    assert.equal(check.code, 0, check.stderr);
    assert.match(check.stderr, /is valid \(full format, 1 targets\)/);
    await Deno.writeTextFile(`${directory}/bad.yaml`, "ports:\n  p: {timeout: -1}\n");
    const bad = await runProgram("collector/main.ts", ["--config", `${directory}/bad.yaml`]);
    assert.equal(bad.code, 2);
    assert.match(
      bad.stderr,
      /bad\.yaml:2:\d+: ports\.p\.timeout: expected a whole number \(milliseconds\) from 1 to 600000, got -1/,
    );
    const flags = await runProgram("collector/main.ts", ["--dst-port", "0"]);
    assert.equal(flags.code, 2);
    assert.match(flags.stderr, /--dst-port takes a whole number from 1 to 65535, got 0/);
    const history = await runProgram("collector/main.ts", ["--history", "0"]);
    assert.equal(history.code, 2);
    assert.match(history.stderr, /--history takes a whole number from 1 to 1000, got 0/);

    await using collector = await startProgram("collector/main.ts", ["--config", file], {
      readyPattern: /Serving the API on http:\/\/(\S+)/,
    });
    await Deno.writeTextFile(file, "tests: nonsense\n");
    collector.child.kill("SIGHUP");
    const waitFor = async (pattern: RegExp) => {
      for (let tries = 0; tries < 100 && !pattern.test(collector.stderr()); tries++) {
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      assert.match(collector.stderr(), pattern);
    };
    await waitFor(
      /Reload failed, keeping the running config: .*collector\.yaml:1:1: missing "ports"/,
    );
    const response = await fetch(`http://${collector.ready[1]}/status`);
    assert.equal(await response.text(), "ok");
    await Deno.writeTextFile(
      file,
      collectorYaml({ targets: [["127.0.0.1", 9, {}], ["127.0.0.2", 9, {}]], api: "127.0.0.1:0" }),
    );
    collector.child.kill("SIGHUP");
    await waitFor(/Probing 2 targets from 4 sockets/);
    const status = await collector.stop("SIGTERM");
    assert.equal(status.code, 0);
  } finally {
    await Deno.remove(directory, { recursive: true });
  }
});

Deno.test("collector publishes every interval in order when the timeout is longer than the interval", async () => {
  await using reflector = await startReflector({ hostname: "127.0.0.1", port: 0, maxPps: 0 });
  await using run = await startRecordingCollector(collectorYaml({
    targets: [["127.0.0.1", reflector.address.port, {}], ["127.0.0.3", reflector.address.port, {}]],
    cps: 10,
    interval: 1,
    timeout: 2500,
  }));
  await run.next(4, 30_000);
  const starts = run.summaries.map((summary) => Date.parse(summary.start));
  for (let index = 1; index < starts.length; index++) {
    assert.equal(starts[index] - starts[index - 1], 1000);
  }
  for (const summary of run.summaries.slice(1)) {
    const [healthy, dead] = summary.paths;
    assert.equal(healthy.lost, 0);
    // Every probe to the silent target waited out its 2.5 s timeout before its interval was published.
    assert.equal(dead.lost, dead.sent);
    assert.ok(dead.sent >= 39, `sent ${dead.sent}`);
  }
});

Deno.test(
  "[native] collector marks probes with the port's TOS and shows the TOS seen at the reflector and on return",
  { ignore: !nativeEngineStatus().available && Deno.env.get("CI") !== "true" },
  async () => {
    await using reflector = await startReflector({
      engine: "native",
      hostname: "127.0.0.1",
      port: 0,
      maxPps: 0,
    });
    await using run = await startRecordingCollector(
      collectorYaml({ targets: [["127.0.0.1", reflector.address.port, {}]], tos: 0xb8, cps: 20 }),
      { engine: "native" },
    );
    const summary = await run.next(2);
    const [path] = summary.paths;
    // EF (0xb8) on the wire both ways: the reflector read it from the probe's IP header and
    // answered with it, and the collector read it from the answer's.
    assert.deepEqual(path.tos, { sent: 0xb8, atReflector: 0xb8, onReturn: 0xb8 });
    assert.ok(
      path.flows.every((flow) => flow.tos.atReflector === 0xb8 && flow.tos.onReturn === 0xb8),
    );
    assert.equal(path.lost, 0);
  },
);

Deno.test("collector: after the event loop stalls, it catches up in paced bursts, not in one", async () => {
  await using reflector = await startReflector({ hostname: "127.0.0.1", port: 0, maxPps: 0 });
  const sends: { at: number; count: number }[] = [];
  const engine = selectEngine("auto");
  // The real socket, with every send recorded.
  const openSocket: OpenSocket = async (options) => {
    const socket = await engine.open(options);
    const send = socket.send.bind(socket);
    socket.send = (batch, count) => {
      sends.push({ at: performance.now(), count });
      return send(batch, count);
    };
    // The native engine's sockets are sent on without a promise.
    const sendNow = socket.sendNow?.bind(socket);
    if (sendNow !== undefined) {
      socket.sendNow = (batch, count) => {
        sends.push({ at: performance.now(), count });
        return sendNow(batch, count);
      };
    }
    return socket;
  };
  await using run = await startRecordingCollector(
    collectorYaml({
      targets: [["127.0.0.1", reflector.address.port, {}]],
      sockets: 1,
      cps: 10_000, // a probe every 0.1 ms
    }),
    { openSocket },
  );
  await new Promise((resolve) => setTimeout(resolve, 300));
  const stalled = performance.now();
  while (performance.now() - stalled < 100) {
    // The event loop is stuck: 1,000 probes fall due.
  }
  const resumed = performance.now();
  await new Promise((resolve) => setTimeout(resolve, 300));
  const after = sends.filter((send) => send.at >= resumed);
  let worst = 0;
  for (const send of after) {
    const within = after.filter((other) => other.at >= send.at && other.at < send.at + 1)
      .reduce((sum, other) => sum + other.count, 0);
    worst = Math.max(worst, within);
  }
  // At most 16 ms of this schedule (160 probes) in the first turn after the stall, then twice
  // what fell due since the turn before: unpaced, the whole backlog leaves at once (512 were
  // seen in one millisecond).
  assert.ok(worst <= 300, `${worst} probes within one millisecond after the stall`);
  // Paced, but caught up: the 300 ms after the stall sent its own 3,000 probes and the 1,000
  // that fell due during it.
  const sent = after.reduce((sum, send) => sum + send.count, 0);
  assert.ok(sent >= 3500, `${sent} probes sent in the 300 ms after the stall`);
  assert.equal(run.collector.health().skipped, 0);
});

for (const engine of ["deno", "native"] as const) {
  Deno.test({
    name: `[${engine}] collector counts failed sends as socket errors and their probes as lost`,
    ignore: engine === "native" && !nativeEngineStatus().available,
    fn: async () => {
      await using reflector = await startReflector({ hostname: "127.0.0.1", port: 0, maxPps: 0 });
      const chosen = selectEngine(engine);
      // Sockets whose sends all fail, the way a firewall's EPERM makes them fail.
      const openSocket: OpenSocket = async (options) => {
        const socket = await chosen.open(options);
        const refused = () => new SocketError("sendmmsg failed: EPERM (1)", { operation: "send" });
        socket.send = () => Promise.reject(refused());
        if (socket.sendNow !== undefined) {
          socket.sendNow = () => {
            throw refused();
          };
        }
        return socket;
      };
      await using run = await startRecordingCollector(
        collectorYaml({
          targets: [["127.0.0.1", reflector.address.port, {}]],
          sockets: 2,
          cps: 20,
          interval: 1,
        }),
        { openSocket },
      );
      const summary = await run.next(2);
      const health = run.collector.health();
      assert.ok(health.socketErrors >= 20, `${health.socketErrors} socket errors`);
      assert.equal(summary.paths[0].lossPercent, 100);
      assert.equal(summary.paths[0].sent, summary.paths[0].lost);
      assert.ok(summary.paths[0].sent >= 20, `${summary.paths[0].sent} probes in the interval`);
    },
  });
}

Deno.test("collector: intervals whose columns are reused read right, latest and history, over the API", async () => {
  // No summary listener: each interval's columns are compacted and reused by the next, as in the
  // daemon (a listener's summaries would keep theirs).
  await using reflector = await startReflector({ hostname: "127.0.0.1", port: 0, maxPps: 0 });
  const { parseCollectorConfig, resolveTargets, startCollector } = await import("@llama/collector");
  const yaml = collectorYaml({
    targets: [
      ["127.0.0.1", reflector.address.port, { dst_hostname: "up" }],
      ["127.0.0.3", reflector.address.port, { dst_hostname: "down" }],
    ],
    sockets: 3,
    timeout: 200,
  });
  const config = await resolveTargets(parseCollectorConfig(yaml, { file: "test.yaml" }));
  await using collector = await startCollector(config, { serveApi: true });
  // Intervals that begin once the collector is probing are whole.
  const startedAt = Date.now();
  const base = `http://127.0.0.1:${collector.apiAddress!.port}`;
  /** What each whole interval said of its paths while it was the latest. */
  const seen = new Map<string, { sent: number; lost: number; p50?: number; p99?: number }[]>();
  const skipped = new Set<string>();
  const deadline = Date.now() + 20_000;
  while (seen.size < 4 && Date.now() < deadline) {
    const summary = await (await fetch(`${base}/api/v1/summaries`)).json();
    if (summary.start === null || seen.has(summary.start) || skipped.has(summary.start)) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      continue;
    }
    if (Date.parse(summary.start) < startedAt) {
      skipped.add(summary.start);
      continue;
    }
    const [up, down] = summary.paths;
    assert.deepEqual([up.tags.dst_hostname, down.tags.dst_hostname], ["up", "down"]);
    for (const path of [up, down]) {
      assert.equal(path.flows.length, 3);
      const flowSum = (key: "sent" | "lost") =>
        path.flows.reduce((sum: number, flow: Record<string, number>) => sum + flow[key], 0);
      assert.equal(path.sent, flowSum("sent"));
      assert.equal(path.lost, flowSum("lost"));
    }
    // Whole intervals: 20 cycles a second, one probe a socket and target each.
    assert.ok(up.sent >= 55 && up.sent <= 65, `sent ${up.sent}`);
    assert.equal(up.lost, 0);
    assert.ok(up.rtt.p99 < 100 && up.rtt.min <= up.rtt.p50, JSON.stringify(up.rtt));
    assert.equal(down.lost, down.sent);
    assert.equal(down.rtt, null);
    seen.set(
      summary.start,
      [up, down].map((path) => ({
        sent: path.sent,
        lost: path.lost,
        p50: path.rtt?.p50,
        p99: path.rtt?.p99,
      })),
    );
  }
  assert.equal(seen.size, 4);
  // The history's older intervals, compacted, say what they said as the latest (times to 0.1%).
  const { intervals } = await (await fetch(`${base}/api/v1/history`)).json();
  const older = intervals.slice(0, -1).filter((interval: { start: string }) =>
    seen.has(interval.start)
  );
  assert.ok(older.length >= 3);
  for (const interval of older) {
    const said = seen.get(interval.start)!;
    interval.paths.forEach((path: TrendJson, index: number) => {
      assert.equal(path.sent, said[index].sent);
      assert.equal(path.lost, said[index].lost);
      if (said[index].p50 === undefined) assert.equal(path.rtt, null);
      else {
        for (const key of ["p50", "p99"] as const) {
          const expected = said[index][key]!;
          const got = path.rtt![key];
          assert.ok(Math.abs(got - expected) <= expected * 0.001, `${key} ${got} vs ${expected}`);
        }
      }
    });
  }
});

/** A path of an older interval of `/api/v1/history`. */
interface TrendJson {
  sent: number;
  lost: number;
  rtt: { p50: number; p99: number } | null;
}
