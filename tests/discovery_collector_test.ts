// Discovery feeding a real collector probing a real reflector on loopback: targets an HTTP SD
// server adds and removes are probed (and stop being probed) within one refresh, and no interval
// is lost on the way: consecutive summaries, no gap in their starts, no probe of a kept target lost.
import assert from "node:assert/strict";
import { startReflector } from "@llama/reflector";
import {
  parseCollectorConfig,
  resolveTargets,
  startCollector,
  TargetDiscovery,
} from "@llama/collector";
import type { IntervalSummary } from "@llama/core";
import { parsePrometheusText } from "./_prometheus.ts";
import { runProgram } from "./_process.ts";

const REFRESH_SECONDS = 0.5;

Deno.test("discovery: targets appear and disappear within one refresh, with no summary gap and no probe lost", async () => {
  // Bound to every address, so each 127.0.0.x target is answered.
  await using reflector = await startReflector({ hostname: "0.0.0.0", port: 0, maxPps: 0 });
  const port = reflector.address.port;
  let listed = ["127.0.0.1"];
  let failing = false;
  await using server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    () =>
      failing
        ? new Response("no", { status: 500 })
        : Response.json(listed.map((ip) => ({ targets: [`${ip}:${port}`], labels: { ip } }))),
  );
  const base = await resolveTargets(parseCollectorConfig(`summarization: {interval: 1}
ports: {p: {ip: "0.0.0.0", port: 0, timeout: 300}}
port_groups: {g: [{port: p, count: 2}]}
rate_limits: {r: {cps: 50}}
tests: [{targets: t, port_group: g, rate_limit: r}]
targets:
  t: {http_sd: "http://127.0.0.1:${server.addr.port}/sd", refresh: ${REFRESH_SECONDS}}
`));
  await using discovery = new TargetDiscovery();
  const summaries: IntervalSummary[] = [];
  await using collector = await startCollector(await discovery.resolve(base), {
    serveApi: false,
    discovery,
    onSummary: (summary) => summaries.push(summary),
  });
  discovery.follow((config) => collector.reload(config));
  const until = async (condition: () => boolean, ms: number, what: string) => {
    const deadline = Date.now() + ms;
    while (!condition()) {
      if (Date.now() > deadline) throw new Error(`${what}: not within ${ms} ms`);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    return Date.now();
  };
  const rate = () => collector.health().scheduledRate;
  await until(() => summaries.length >= 1, 5000, "the first summary");
  assert.equal(rate(), 100, "50 cycles a second × 2 sockets × 1 target");

  // Mid-interval, with probes in flight.
  await new Promise((resolve) => setTimeout(resolve, 1000 - (Date.now() % 1000) + 400));
  const addedAt = Date.now();
  listed = ["127.0.0.1", "127.0.0.2"];
  const probedAt = await until(() => rate() === 200, 3000, "the added target probed");
  console.log(`added target probed ${probedAt - addedAt} ms after the SD change`);
  assert.ok(probedAt - addedAt <= REFRESH_SECONDS * 1000 + 500, "within one refresh");
  const addedIn = summaries.length;
  await until(() => summaries.length >= addedIn + 2, 5000, "two more summaries");
  const withBoth = summaries[addedIn + 1];
  const added = withBoth.paths.find((path) => path.dstIp === "127.0.0.2");
  assert.ok(added !== undefined && added.sent > 0, "the new target is in the summaries");
  assert.deepEqual(added.tags, { ip: "127.0.0.2" });

  const status = await (await collector.api.request("/status", {
    headers: { accept: "application/json" },
  })).json();
  assert.equal(status.discovery[0].list, "t");
  assert.equal(status.discovery[0].targets, 2);
  assert.equal(status.discovery[0].ok, true);

  // A failing source keeps the last good list, and says so.
  failing = true;
  await until(() => !discovery.status()[0].ok, 3000, "the failure seen");
  const failedIn = summaries.length;
  await until(() => summaries.length >= failedIn + 1, 5000, "a summary while failing");
  assert.deepEqual(
    summaries[failedIn].paths.filter((path) => path.sent > 0).map((path) => path.dstIp).sort(),
    ["127.0.0.1", "127.0.0.2"],
  );
  const metrics = parsePrometheusText(await (await collector.api.request("/metrics")).text());
  const sample = (name: string) => metrics.get(`${name}{list="t",kind="http_sd"}`);
  assert.equal(sample("llama_discovery_up"), 0);
  assert.equal(sample("llama_discovery_targets"), 2);
  failing = false;

  await new Promise((resolve) => setTimeout(resolve, 1000 - (Date.now() % 1000) + 400));
  const removedAt = Date.now();
  listed = ["127.0.0.2"];
  const stoppedAt = await until(() => rate() === 100, 3000, "the removed target dropped");
  assert.ok(stoppedAt - removedAt <= REFRESH_SECONDS * 1000 + 500, "within one refresh");
  const removedIn = summaries.length;
  await until(() => summaries.length >= removedIn + 2, 5000, "two more summaries");
  const gone = summaries[removedIn + 1].paths.find((path) => path.dstIp === "127.0.0.1");
  assert.ok(gone === undefined || gone.sent === 0, "the removed target is no longer probed");

  // No interval lost: every summary follows the one before, and the target kept throughout
  // lost no probe across the three changes.
  for (let index = 1; index < summaries.length; index++) {
    assert.equal(
      Date.parse(summaries[index].start) - Date.parse(summaries[index - 1].start),
      1000,
      `summary ${index} starts one interval after the one before`,
    );
  }
  for (const summary of summaries.slice(1)) {
    const kept = summary.paths.find((path) => path.dstIp === "127.0.0.2") ??
      summary.paths.find((path) => path.dstIp === "127.0.0.1")!;
    assert.equal(kept.lost, 0, `no probe lost in the interval of ${summary.start}`);
  }
  await discovery.close();
});

Deno.test("collector program: --check reads discovery sources once and prints the targets found", async () => {
  const directory = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(
      `${directory}/web.json`,
      JSON.stringify([{ targets: ["127.0.0.1:9", "127.0.0.2"], labels: { rack: "r1" } }]),
    );
    const config = (list: string) =>
      `ports: {p: {ip: "0.0.0.0", port: 0}}
port_groups: {g: [{port: p, count: 1}]}
rate_limits: {r: {cps: 1}}
tests: [{targets: t, port_group: g, rate_limit: r}]
targets:
  t: ${list}
`;
    await Deno.writeTextFile(`${directory}/good.yaml`, config("{file_sd: web.json, port: 8200}"));
    const good = await runProgram("collector/main.ts", [
      "--config",
      `${directory}/good.yaml`,
      "--check",
    ]);
    assert.equal(good.code, 0, good.stderr);
    assert.match(good.stderr, /is valid \(full format, 2 targets\)/);
    assert.match(good.stdout, /targets\.t: file_sd .*web\.json: 2 targets/);
    assert.match(
      good.stdout,
      / {2}127\.0\.0\.1:9 \{"rack":"r1"\}\n {2}127\.0\.0\.2:8200 \{"rack":"r1"\}/,
    );
    await Deno.writeTextFile(`${directory}/bad.yaml`, config("{file_sd: missing.json}"));
    const bad = await runProgram("collector/main.ts", [
      "--config",
      `${directory}/bad.yaml`,
      "--check",
    ]);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /targets\.t: file_sd .*missing\.json failed: cannot read/);
  } finally {
    await Deno.remove(directory, { recursive: true });
  }
});
