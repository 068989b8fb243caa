// DNS discovery against a real named (bind9) on a loopback port, with a zone the test rewrites:
// SRV and A/AAAA records with a TTL of 1 s, so changes show within seconds although the
// configured refresh is a minute.
import assert from "node:assert/strict";
import {
  parseCollectorConfig,
  type ResolvedConfig,
  resolveTargets,
  TargetDiscovery,
} from "@llama/collector";
import { startNamed } from "./_named.ts";
import { assertRequirement, requirement } from "./_requirements.ts";

const needs = requirement({ commands: ["named"] });

function config(list: string): Promise<ResolvedConfig> {
  return resolveTargets(parseCollectorConfig(`ports: {p: {ip: "::", port: 0}}
port_groups: {g: [{port: p, count: 1}]}
rate_limits: {r: {cps: 1}}
tests: [{targets: t, port_group: g, rate_limit: r}]
targets:
  t: ${list}
`));
}

async function until(condition: () => boolean, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${ms} ms`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

const addresses = (config: ResolvedConfig) =>
  config.targets.t.map((target) => `${target.ip}:${target.port}`).sort();

Deno.test({
  name:
    "dns_srv: SRV targets and their addresses follow the zone within their TTL, and a dead server keeps the last list",
  ignore: needs.ignore,
  async fn() {
    assertRequirement(needs);
    await using named = await startNamed("fleet.test", [
      "_llama._udp IN SRV 0 0 8100 r1",
      "r1 IN A 127.0.0.2",
      "r1 IN AAAA ::1",
      "r2 IN A 127.0.0.3",
    ]);
    await using discovery = new TargetDiscovery();
    const base = await config(
      `{dns_srv: _llama._udp.fleet.test, name_server: "${named.address}", refresh: 60, tags: {role: reflector}}`,
    );
    const first = await discovery.resolve(base);
    assert.deepEqual(addresses(first), ["127.0.0.2:8100", "::1:8100"]);
    assert.deepEqual(first.targets.t[0].tags, { role: "reflector" });
    const configs: ResolvedConfig[] = [];
    discovery.follow((changed) => Promise.resolve(void configs.push(changed)));

    const changedAt = Date.now();
    await named.setRecords([
      "_llama._udp IN SRV 0 0 8100 r1",
      "_llama._udp IN SRV 0 0 8101 r2",
      "r1 IN A 127.0.0.2",
      "r2 IN A 127.0.0.3",
    ]);
    // The records' TTL is 1 s: re-read within a couple of seconds, not the minute of `refresh`.
    await until(() => configs.length === 1, 5000, "the new SRV target");
    assert.deepEqual(addresses(configs[0]), ["127.0.0.2:8100", "127.0.0.3:8101"]);
    assert.ok(Date.now() - changedAt < 5000);

    await named[Symbol.asyncDispose]();
    await until(() => !discovery.status()[0].ok, 10_000, "the failure");
    const status = discovery.status()[0];
    assert.equal(status.targets, 2, "the last good list is kept");
    assert.match(status.error!, /cannot query the (SRV|A|AAAA) records of .*fleet\.test/);
    assert.equal(configs.length, 1, "a failed read applies nothing");
  },
});

Deno.test({
  name:
    "dns: A and AAAA records of a name, on the configured port, re-read when their TTL runs out",
  ignore: needs.ignore,
  async fn() {
    assertRequirement(needs);
    await using named = await startNamed("fleet.test", ["web IN A 127.0.0.2", "web IN AAAA ::1"]);
    await using discovery = new TargetDiscovery();
    const first = await discovery.resolve(
      await config(
        `{dns: web.fleet.test, port: 9000, name_server: "${named.address}", refresh: 60}`,
      ),
    );
    assert.deepEqual(addresses(first), ["127.0.0.2:9000", "::1:9000"]);
    const configs: ResolvedConfig[] = [];
    discovery.follow((changed) => Promise.resolve(void configs.push(changed)));
    await named.setRecords(["web IN A 127.0.0.2", "web IN A 127.0.0.4"]);
    await until(() => configs.length === 1, 5000, "the changed addresses");
    assert.deepEqual(addresses(configs[0]), ["127.0.0.2:9000", "127.0.0.4:9000"]);
    // A name with no address left is an answer (as in Prometheus), not a failure.
    await named.setRecords(["other IN A 127.0.0.5"]);
    await until(() => configs.length === 2, 5000, "the addresses gone");
    assert.deepEqual(addresses(configs[1]), []);
    assert.equal(discovery.status()[0].ok, true);
  },
});
