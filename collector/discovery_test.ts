import assert from "node:assert/strict";
import { ConfigError } from "@llama/core";
import { parseCollectorConfig } from "./config.ts";
import { type ResolvedConfig, resolveTargets } from "./resolve.ts";
import { TargetDiscovery } from "./discovery.ts";

/** A full config whose one test probes the list `t`, given as YAML flow text. */
function configYaml(list: string, bind = "0.0.0.0"): string {
  return `ports: {p: {ip: "${bind}", port: 0}}
port_groups: {g: [{port: p, count: 1}]}
rate_limits: {r: {cps: 1}}
tests: [{targets: t, port_group: g, rate_limit: r}]
targets:
  t: ${list}
`;
}

async function resolved(
  list: string,
  file = "/etc/llama/collector.yaml",
  bind = "::",
): Promise<ResolvedConfig> {
  return await resolveTargets(parseCollectorConfig(configYaml(list, bind), { file }));
}

/** Waits until `condition` holds, for at most `ms`. */
async function until(condition: () => boolean, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`not within ${ms} ms`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** Records every config discovery applies. */
function recorder(): {
  configs: ResolvedConfig[];
  apply: (config: ResolvedConfig) => Promise<void>;
} {
  const configs: ResolvedConfig[] = [];
  return { configs, apply: (config) => Promise.resolve(void configs.push(config)) };
}

const addresses = (config: ResolvedConfig) =>
  config.targets.t.map((target) => `${target.ip}:${target.port}`);

Deno.test("config: a target list may be a discovery source, its file relative to the config", () => {
  const config = parseCollectorConfig(configYaml("{file_sd: web.json, refresh: 5, port: 9}"), {
    file: "/etc/llama/collector.yaml",
  });
  assert.deepEqual(config.targets.t, []);
  assert.equal(config.discovery?.t.kind, "file_sd");
  assert.equal(config.discovery?.t.source, "/etc/llama/web.json");
  assert.equal(config.discovery?.t.refreshSeconds, 5);
  assert.equal(config.discovery?.t.port, 9);
  const dns = parseCollectorConfig(
    configYaml('{dns_srv: _llama._udp.example.com, name_server: "127.0.0.1:5353"}'),
  );
  assert.equal(dns.discovery?.t.nameServer, "127.0.0.1:5353");
  assert.equal(parseCollectorConfig(configYaml("[]")).discovery, undefined);
});

Deno.test("config: discovery sources that cannot work are config errors naming the place", () => {
  const cases: [string, RegExp][] = [
    ["{file_sd: a.json, http_sd: http://x/}", /targets\.t: a target list has one source/],
    ["{refresh: 5}", /needs one of file_sd, http_sd, dns_srv, dns/],
    ["{http_sd: ftp://x/}", /targets\.t\.http_sd: expected an http:\/\/ or https:\/\/ URL/],
    ["{dns_srv: _a._udp.x, port: 9}", /targets\.t\.port: "port" applies to file_sd/],
    ["{dns: a.example, name_server: ns.example}", /expected the IP address of a DNS server/],
    ["{dns: a.example, refresh: 0}", /refresh: expected a number \(seconds\) from 0\.1/],
    ["{file_sd: a.json, filesd: b.json}", /unknown key "filesd"/],
  ];
  for (const [list, message] of cases) {
    assert.throws(() => parseCollectorConfig(configYaml(list)), (error: unknown) => {
      assert.ok(error instanceof ConfigError, String(error));
      assert.match(error.message, message);
      return true;
    });
  }
});

Deno.test("file_sd: labels become tags (not __ ones), a rewritten file applies, a broken one keeps the last good list", async () => {
  const directory = await Deno.makeTempDir();
  await using discovery = new TargetDiscovery({
    lookup: (name) =>
      name === "reflector.test" ? Promise.resolve("127.0.0.9") : Promise.reject(new Error("NX")),
  });
  try {
    const file = `${directory}/web.json`;
    const write = async (groups: unknown) => {
      // Atomically, as a deployment tool does: the watched file is replaced, not written over.
      await Deno.writeTextFile(`${file}.tmp`, JSON.stringify(groups));
      await Deno.rename(`${file}.tmp`, file);
    };
    await write([
      {
        targets: ["127.0.0.1:8100", "[::1]:8101", "reflector.test"],
        labels: { rack: "r1", __meta_kind: "x", __address__: "y" },
      },
    ]);
    // A refresh of a minute: a change applied within the test's seconds came from the watch.
    const base = await resolved(
      `{file_sd: web.json, refresh: 60, tags: {dc: d1}}`,
      `${directory}/c.yaml`,
    );
    const first = await discovery.resolve(base);
    assert.deepEqual(addresses(first), ["127.0.0.1:8100", "::1:8101", "127.0.0.9:8100"]);
    assert.deepEqual(first.targets.t[0].tags, { dc: "d1", rack: "r1" });
    assert.equal(first.targets.t[2].host, "reflector.test");
    const { configs, apply } = recorder();
    discovery.follow(apply);

    await write([{ targets: ["127.0.0.2:8100"], labels: { rack: "r2" } }]);
    await until(() => configs.length === 1);
    assert.deepEqual(addresses(configs[0]), ["127.0.0.2:8100"]);
    assert.deepEqual(configs[0].targets.t[0].tags, { dc: "d1", rack: "r2" });

    await write([{ targets: ["127.0.0.3:0"] }]);
    await until(() => !discovery.status()[0].ok);
    const status = discovery.status()[0];
    assert.equal(status.targets, 1, "the last good list is kept");
    assert.match(status.error!, /web\.json\[0\]\.targets\[0\]: expected a port from 1 to 65535/);
    assert.equal(status.refreshes.failed, 1);
    const metrics = discovery.metrics();
    const up = metrics.find((family) => family.name === "llama_discovery_up")!;
    assert.deepEqual(up.samples, [{ labels: { list: "t", kind: "file_sd" }, value: 0 }]);
    assert.equal(configs.length, 1, "a failed read applies nothing");

    await write([{ targets: ["127.0.0.4"] }]);
    await until(() => configs.length === 2);
    assert.deepEqual(addresses(configs[1]), ["127.0.0.4:8100"]);
    assert.equal(discovery.status()[0].ok, true);
  } finally {
    await discovery.close();
    await Deno.remove(directory, { recursive: true });
  }
});

Deno.test("file_sd: a file in a folder made later is found by the periodic re-read", async () => {
  const directory = await Deno.makeTempDir();
  await using discovery = new TargetDiscovery();
  try {
    const base = await resolved(`{file_sd: later/web.yaml, refresh: 0.2}`, `${directory}/c.yaml`);
    const first = await discovery.resolve(base);
    assert.deepEqual(first.targets.t, []);
    assert.match(discovery.status()[0].error!, /cannot read .*later\/web\.yaml/);
    const { configs, apply } = recorder();
    discovery.follow(apply);
    await Deno.mkdir(`${directory}/later`);
    await Deno.writeTextFile(
      `${directory}/later/web.yaml`,
      "- targets: [127.0.0.5:9000]\n  labels: {rack: r5}\n",
    );
    await until(() => configs.length === 1);
    assert.deepEqual(addresses(configs[0]), ["127.0.0.5:9000"]);
  } finally {
    await discovery.close();
    await Deno.remove(directory, { recursive: true });
  }
});

Deno.test("file_sd: addresses the test's ports cannot reach fail the read", async () => {
  const directory = await Deno.makeTempDir();
  await using discovery = new TargetDiscovery();
  try {
    await Deno.writeTextFile(`${directory}/web.json`, '[{"targets": ["[::1]:9"]}]');
    await discovery.resolve(
      await resolved("{file_sd: web.json}", `${directory}/c.yaml`, "0.0.0.0"),
    );
    assert.match(discovery.status()[0].error!, /::1 is IPv6, which the ports of the tests/);
  } finally {
    await discovery.close();
    await Deno.remove(directory, { recursive: true });
  }
});

Deno.test("http_sd: polled with If-None-Match, a 304 changes nothing, an error keeps the last good list", async () => {
  let body = JSON.stringify([{ targets: ["127.0.0.1:8100"], labels: { rack: "r1" } }]);
  let version = 1;
  let failing = false;
  const seen: { ifNoneMatch: string | null; refresh: string | null; status: number }[] = [];
  await using server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (request) => {
    const etag = `"v${version}"`;
    const status = failing ? 503 : request.headers.get("if-none-match") === etag ? 304 : 200;
    seen.push({
      ifNoneMatch: request.headers.get("if-none-match"),
      refresh: request.headers.get("x-prometheus-refresh-interval-seconds"),
      status,
    });
    if (status === 503) return new Response("down for maintenance", { status });
    if (status === 304) return new Response(null, { status, headers: { etag } });
    return new Response(body, { headers: { etag, "content-type": "application/json" } });
  });
  await using discovery = new TargetDiscovery();
  const url = `http://127.0.0.1:${server.addr.port}/targets`;
  const first = await discovery.resolve(await resolved(`{http_sd: "${url}", refresh: 0.2}`));
  assert.deepEqual(addresses(first), ["127.0.0.1:8100"]);
  assert.deepEqual(seen[0], { ifNoneMatch: null, refresh: "0.2", status: 200 });
  const { configs, apply } = recorder();
  discovery.follow(apply);
  await until(() => seen.length >= 3);
  assert.deepEqual(seen.slice(1, 3).map((request) => [request.ifNoneMatch, request.status]), [
    ['"v1"', 304],
    ['"v1"', 304],
  ]);
  assert.equal(configs.length, 0, "an unchanged list applies nothing");
  assert.ok(discovery.status()[0].refreshes.unchanged >= 2);

  body = JSON.stringify([{ targets: ["127.0.0.1:8100", "127.0.0.2:8100"] }]);
  version = 2;
  await until(() => configs.length === 1);
  assert.deepEqual(addresses(configs[0]), ["127.0.0.1:8100", "127.0.0.2:8100"]);
  assert.deepEqual(configs[0].targets.t[0].tags, {});

  failing = true;
  await until(() => !discovery.status()[0].ok);
  assert.match(discovery.status()[0].error!, /answered 503 Service Unavailable: down for maint/);
  assert.equal(discovery.status()[0].targets, 2);
  failing = false;
  await until(() => discovery.status()[0].ok);
  assert.equal(configs.length, 1, "the same list again after the outage applies nothing");
  await discovery.close();
});
