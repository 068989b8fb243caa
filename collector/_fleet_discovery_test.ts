import assert from "node:assert/strict";
import { loadCollectorConfig } from "./load.ts";
import { TargetDiscovery } from "./discovery.ts";
import { planResolvedFleet } from "./fleet_plan.ts";
import type { ResolvedConfig } from "./resolve.ts";

/**
 * A collector sharding 12 static targets over the probers an HTTP SD server lists: the plan waits
 * for the discovered member list (cut at load, with no members yet, it would probe nothing), and
 * a prober that leaves the list hands on only its share.
 */
Deno.test("sharding over a discovered member list: the plan is made once the list is read, and follows it", async () => {
  let members = ["prober-1", "prober-2", "prober-3"];
  await using server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    () =>
      Response.json(members.map((name, index) => ({
        targets: [`127.0.9.${index + 1}:8100`],
        labels: { dst_hostname: name },
      }))),
  );
  const targets = Array.from(
    { length: 12 },
    (_, index) => `    - {ip: 127.0.8.${index + 1}, port: 8100}`,
  ).join("\n");
  const yaml = (identity: string) =>
    `source_tags: {src_hostname: ${identity}}
ports: {p: {ip: 0.0.0.0, port: 0}}
port_groups: {g: [{port: p, count: 1}]}
rate_limits: {r: {cps: 1}}
tests: [{targets: hosts, port_group: g, rate_limit: r}]
sharding: {members: {targets: probers}, replicas: 1, target_lists: [hosts]}
targets:
  probers: {http_sd: "http://127.0.0.1:${server.addr.port}/", refresh: 0.2}
  hosts:
${targets}
`;
  const directory = await Deno.makeTempDir();
  try {
    const plans = new Map<string, ResolvedConfig>();
    const discoveries: TargetDiscovery[] = [];
    for (const identity of members) {
      const file = `${directory}/${identity}.yaml`;
      await Deno.writeTextFile(file, yaml(identity));
      const discovery = new TargetDiscovery();
      discoveries.push(discovery);
      const config = planResolvedFleet(await discovery.resolve(await loadCollectorConfig(file)));
      plans.set(identity, config);
    }
    const share = (identity: string) =>
      plans.get(identity)!.targets.hosts.map((target) => target.ip).sort();
    const all = [...members].flatMap(share).sort();
    assert.equal(all.length, 12, "every host probed by exactly one prober");
    assert.equal(new Set(all).size, 12);
    for (const identity of members) assert.ok(share(identity).length > 0, identity);

    // prober-3 leaves: the others keep what they had and split its hosts.
    const before = { one: share("prober-1"), two: share("prober-2"), three: share("prober-3") };
    members = ["prober-1", "prober-2"];
    const applied = new Map<string, ResolvedConfig>();
    ["prober-1", "prober-2"].forEach((identity, index) =>
      discoveries[index].follow((changed) => {
        applied.set(identity, planResolvedFleet(changed));
        return Promise.resolve();
      })
    );
    const deadline = Date.now() + 5000;
    while (applied.size < 2 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    assert.equal(applied.size, 2, "both remaining probers saw the new member list");
    const after = (identity: string) =>
      applied.get(identity)!.targets.hosts.map((target) => target.ip).sort();
    for (const ip of before.one) assert.ok(after("prober-1").includes(ip));
    for (const ip of before.two) assert.ok(after("prober-2").includes(ip));
    const moved = [...after("prober-1"), ...after("prober-2")]
      .filter((ip) => !before.one.includes(ip) && !before.two.includes(ip)).sort();
    assert.deepEqual(moved, before.three);
    for (const discovery of discoveries) await discovery.close();
  } finally {
    await Deno.remove(directory, { recursive: true });
  }
});
