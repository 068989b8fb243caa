import assert from "node:assert/strict";
import { ConfigError } from "@llama/core";
import type { FleetConfig } from "./_fleet_config.ts";
import { parseCollectorConfig, type TargetConfig } from "./config.ts";
import { planFleet, targetKey } from "./mesh.ts";

interface Host {
  name: string;
  cluster: string;
  rack: string;
}

/** `clusters × racks × hosts` hosts, named c3-r7-h12; the host's address is its index. */
function fleetOf(clusters: number, racks: number, hosts: number): Host[] {
  const fleet: Host[] = [];
  for (let c = 0; c < clusters; c++) {
    for (let r = 0; r < racks; r++) {
      for (let h = 0; h < hosts; h++) {
        fleet.push({ name: `c${c}-r${r}-h${h}`, cluster: `c${c}`, rack: `c${c}-r${r}` });
      }
    }
  }
  return fleet;
}

function targetsOf(hosts: Host[]): TargetConfig[] {
  return hosts.map((host, index) => ({
    host: `10.${index >> 16}.${(index >> 8) & 255}.${index & 255}`,
    port: 8100,
    tags: { dst_hostname: host.name, dst_cluster: host.cluster, dst_rack: host.rack },
    location: { path: `targets.fleet[${index}]` },
  }));
}

const LEVELS: FleetConfig["mesh"] = {
  targetLists: undefined,
  levels: [
    { name: "rack", same: ["src_cluster", "src_rack"], differ: [], perGroup: "all" },
    { name: "cluster", same: ["src_cluster"], differ: ["src_rack"], perGroup: 2 },
    { name: "fleet", same: [], differ: ["src_cluster"], perGroup: 1 },
  ],
};

/** The mesh plan of the collector on `host` over `targets`. */
function meshOf(host: Host, targets: TargetConfig[]) {
  return planFleet({
    sourceTags: { src_hostname: host.name, src_cluster: host.cluster, src_rack: host.rack },
    targets: { fleet: targets },
    fleet: {
      identity: host.name,
      identityTemplate: "{src_hostname}",
      mesh: LEVELS,
      sharding: undefined,
    },
  });
}

const HOSTS = fleetOf(25, 20, 20);
const TARGETS = targetsOf(HOSTS);
/** Collectors examined: every 97th host of the 10,000, so every cluster and many racks. */
const SAMPLE = HOSTS.filter((_, index) => index % 97 === 0);

Deno.test("mesh levels on 10,000 hosts (25 clusters × 20 racks × 20) give the promised paths", () => {
  for (const host of SAMPLE) {
    const plan = meshOf(host, TARGETS);
    // Rack: the 19 others of my rack; cluster: 2 in each of 19 other racks; fleet: 1 in each of
    // 24 other clusters. 81 paths instead of 9,999.
    assert.deepEqual(plan.report!.levels, [
      { name: "rack", groups: 1, paths: 19 },
      { name: "cluster", groups: 19, paths: 38 },
      { name: "fleet", groups: 24, paths: 24 },
    ]);
    assert.deepEqual(plan.report!.lists.fleet, { mode: "mesh", of: 10_000, kept: 81 });
    const chosen = plan.targets.fleet.map((target) => target.tags);
    assert.ok(chosen.every((tags) => tags.dst_hostname !== host.name), "never itself");
    const inRack = chosen.filter((tags) => tags.dst_rack === host.rack);
    assert.equal(inRack.length, 19);
    const perRack = new Map<string, number>();
    const perCluster = new Map<string, number>();
    for (const tags of chosen) {
      if (tags.dst_cluster === host.cluster && tags.dst_rack !== host.rack) {
        perRack.set(tags.dst_rack, (perRack.get(tags.dst_rack) ?? 0) + 1);
      }
      if (tags.dst_cluster !== host.cluster) {
        perCluster.set(tags.dst_cluster, (perCluster.get(tags.dst_cluster) ?? 0) + 1);
      }
    }
    assert.equal(perRack.size, 19);
    assert.ok([...perRack.values()].every((count) => count === 2));
    assert.equal(perCluster.size, 24);
    assert.ok([...perCluster.values()].every((count) => count === 1));
  }
});

Deno.test("each collector draws its own mesh sample, the same every time", () => {
  const [first, second] = [HOSTS[0], HOSTS[1]];
  const keys = (host: Host) => meshOf(host, TARGETS).targets.fleet.map(targetKey);
  assert.deepEqual(keys(first), keys(first));
  const fleetLevel = (host: Host) =>
    meshOf(host, TARGETS).targets.fleet.filter((target) => target.tags.dst_cluster !== "c0")
      .map(targetKey);
  // Two hosts of one rack pick their 24 hosts of other clusters independently.
  const shared = fleetLevel(first).filter((key) => fleetLevel(second).includes(key));
  assert.ok(shared.length < 6, `${shared.length} of 24 in common`);
});

Deno.test("a host joining changes at most one choice of each collector, to that host", () => {
  // Every collector of a fleet of 1,000 (10 clusters × 10 racks × 10 hosts).
  const hosts = fleetOf(10, 10, 10);
  const targets = targetsOf(hosts);
  const joined: Host = { name: "c7-r3-h10", cluster: "c7", rack: "c7-r3" };
  const grown = [...targets, { ...targetsOf([joined])[0], host: "10.99.0.1" }];
  const changed = { rack: 0, cluster: 0, fleet: 0 };
  for (const host of hosts) {
    const before = new Set(meshOf(host, targets).targets.fleet.map(targetKey));
    const after = new Set(meshOf(host, grown).targets.fleet.map(targetKey));
    const added = [...after].filter((key) => !before.has(key));
    const dropped = [...before].filter((key) => !after.has(key));
    if (added.length === 0 && dropped.length === 0) continue;
    assert.deepEqual(added, ["10.99.0.1:8100"], `${host.name} gained ${added}`);
    if (host.rack === joined.rack) {
      // Every host of its rack probes it, and keeps what it had.
      assert.deepEqual(dropped, []);
      changed.rack++;
      continue;
    }
    // Elsewhere it displaces one host of its own group: its rack, or its cluster.
    assert.equal(dropped.length, 1, `${host.name} dropped ${dropped}`);
    const out = targets.find((target) => targetKey(target) === dropped[0])!;
    if (host.cluster === joined.cluster) {
      assert.equal(out.tags.dst_rack, joined.rack);
      changed.cluster++;
    } else {
      assert.equal(out.tags.dst_cluster, joined.cluster);
      changed.fleet++;
    }
  }
  assert.equal(changed.rack, 10);
  // Expected: 2/11 of the 90 others of c7 (16), 1/101 of the 900 in other clusters (9).
  assert.ok(changed.cluster >= 5 && changed.cluster <= 30, `cluster level: ${changed.cluster}`);
  assert.ok(changed.fleet >= 2 && changed.fleet <= 20, `fleet level: ${changed.fleet}`);
});

Deno.test("a host leaving is replaced only where it had been chosen, and nothing else moves", () => {
  for (const host of SAMPLE.slice(0, 40)) {
    const plan = meshOf(host, TARGETS);
    const gone = plan.targets.fleet.find((target) => target.tags.dst_cluster !== host.cluster)!;
    const after = meshOf(host, TARGETS.filter((target) => target !== gone)).targets.fleet;
    const before = new Set(plan.targets.fleet.map(targetKey));
    const added = after.map(targetKey).filter((key) => !before.has(key));
    assert.equal(after.length, 81);
    assert.equal(added.length, 1);
    const replacement = after.find((target) => targetKey(target) === added[0])!;
    assert.equal(replacement.tags.dst_cluster, gone.tags.dst_cluster);
    assert.deepEqual(
      [...before].filter((key) => key !== targetKey(gone) && !after.map(targetKey).includes(key)),
      [],
    );
    // A host it had not chosen leaves: nothing changes.
    const unchosen = TARGETS.find((target) =>
      target.tags.dst_cluster === gone.tags.dst_cluster && !before.has(targetKey(target))
    )!;
    assert.deepEqual(
      meshOf(host, TARGETS.filter((target) => target !== unchosen)).targets.fleet,
      plan.targets.fleet,
    );
  }
});

Deno.test("targets without the tags a level compares are in no level", () => {
  const host = HOSTS[0];
  const untagged = TARGETS.slice(0, 400).map((target) => ({ ...target, tags: {} }));
  const plan = meshOf(host, untagged);
  assert.equal(plan.targets.fleet.length, 0);
  assert.deepEqual(plan.report!.levels.map((level) => level.paths), [0, 0, 0]);
});

const BASE = `
ports: { p: {} }
port_groups: { g: [{ port: p }] }
rate_limits: { r: { cps: 1 } }
tests: [{ targets: hosts, port_group: g, rate_limit: r }]
`;

function targetYaml(count: number): string {
  return Array.from(
    { length: count },
    (_, index) =>
      `  - { ip: 10.0.${index >> 8}.${index & 255}, tags: { dst_hostname: h${index} } }`,
  ).join("\n");
}

function sharded(identity: string, members: string, replicas = 1, extra = "") {
  return parseCollectorConfig(
    `${BASE}source_tags: { src_hostname: ${identity} }\n` +
      `sharding: { members: ${members}, replicas: ${replicas} }\n${extra}` +
      `targets:\n  hosts:\n${targetYaml(600)}\n  collectors:\n` +
      "    - { ip: 10.1.0.1, tags: { dst_hostname: c1 } }\n" +
      "    - { ip: 10.1.0.2, tags: { dst_hostname: c2 } }\n" +
      "    - { ip: 10.1.0.3, tags: { dst_hostname: c3 } }\n" +
      "    - { ip: 10.1.0.4 }\n",
  );
}

Deno.test("sharded collectors split a target list, each target probed by `replicas` of them", () => {
  for (const replicas of [1, 2, 3]) {
    const counts = new Map<string, number>();
    for (const identity of ["c1", "c2", "c3"]) {
      const plan = planFleet(sharded(identity, "[c1, c2, c3]", replicas));
      assert.equal(plan.report!.lists.hosts.mode, "sharded");
      for (const target of plan.targets.hosts) {
        counts.set(target.host, (counts.get(target.host) ?? 0) + 1);
      }
    }
    assert.equal(counts.size, 600);
    assert.ok([...counts.values()].every((count) => count === replicas));
  }
});

Deno.test("the member list can be a target list, each entry named by its dst_ tags", () => {
  const fromList = planFleet(sharded("c2", "{ targets: collectors }", 2));
  const written = planFleet(sharded("c2", "[c1, c2, c3]", 2));
  assert.deepEqual(fromList.targets.hosts, written.targets.hosts);
  assert.deepEqual(fromList.report!.sharding, {
    members: 3,
    isMember: true,
    replicas: 2,
    withoutIdentity: 1,
  });
});

Deno.test("a collector that is not a member probes none of the sharded targets", () => {
  const plan = planFleet(sharded("c9", "[c1, c2, c3]"));
  assert.equal(plan.targets.hosts.length, 0);
  assert.equal(plan.report!.sharding!.isMember, false);
});

Deno.test("sharding takes only the lists it names, and keeps the others whole", () => {
  const plan = planFleet(
    parseCollectorConfig(
      `${BASE}source_tags: { src_hostname: c1 }\n` +
        "sharding: { members: [c1, c2], target_lists: [hosts] }\n" +
        `targets:\n  hosts:\n${targetYaml(100)}\n  other:\n${targetYaml(7)}\n`,
    ),
  );
  assert.equal(plan.report!.lists.other.mode, "whole");
  assert.equal(plan.targets.other.length, 7);
  assert.ok(plan.targets.hosts.length > 20 && plan.targets.hosts.length < 80);
});

Deno.test("fleet settings that cannot work are config errors naming their place", () => {
  const cases: [string, RegExp][] = [
    [
      "mesh: { levels: [{ name: a, same: [src_rack] }] }",
      /mesh\.levels\[0\]\.same\[0\].*src_rack.*dst_rack/,
    ],
    [
      "sharding: { members: [c1], target_lists: [nope] }",
      /sharding\.target_lists\[0\].*no target list named "nope"/,
    ],
    ["sharding: { members: [] }", /sharding\.members.*at least one member/],
    ["sharding: { members: { targets: nope } }", /no target list named "nope"/],
    ["sharding: { members: [c1], replicas: 0 }", /sharding\.replicas/],
    ["identity: '{src_zone}'\nsharding: { members: [c1] }", /identity.*src_zone/],
    ["mesh: { levels: [{ name: a }, { name: a }] }", /mesh\.levels\[1\]\.name.*twice/],
    ["mesh: { levels: [{ name: a, per_group: some }] }", /per_group.*whole number/],
    [
      "mesh: { levels: [{ name: a }] }\nsharding: { members: [c1] }",
      /sharding: .*either sampled by the mesh or split/,
    ],
  ];
  for (const [fleet, message] of cases) {
    assert.throws(
      () =>
        parseCollectorConfig(
          `${BASE}source_tags: { src_hostname: c1 }\n${fleet}\ntargets:\n  hosts:\n${
            targetYaml(2)
          }\n`,
        ),
      (error) => error instanceof ConfigError && message.test(error.message),
      fleet,
    );
  }
});
