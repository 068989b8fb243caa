// The collector program's --check prints how many paths each mesh level gives.
import assert from "node:assert/strict";
import { runProgram } from "./_process.ts";

Deno.test("collector --check prints the paths of each mesh level and the targets kept", async () => {
  // 4 clusters × 3 racks × 5 hosts; the collector is c0-r0-h0.
  const targets: string[] = [];
  for (let c = 0; c < 4; c++) {
    for (let r = 0; r < 3; r++) {
      for (let h = 0; h < 5; h++) {
        targets.push(
          `    - { ip: 10.${c}.${r}.${h + 1}, tags: ` +
            `{ dst_hostname: c${c}-r${r}-h${h}, dst_cluster: c${c}, dst_rack: c${c}-r${r} } }`,
        );
      }
    }
  }
  const directory = await Deno.makeTempDir({ prefix: "llama-mesh-check-" });
  try {
    const file = `${directory}/collector.yaml`;
    await Deno.writeTextFile(
      file,
      `source_tags: { src_hostname: c0-r0-h0, src_cluster: c0, src_rack: c0-r0 }
mesh:
  levels:
    - { name: rack, same: [src_cluster, src_rack] }
    - { name: cluster, same: [src_cluster], differ: [src_rack], per_group: 2 }
    - { name: fleet, differ: [src_cluster], per_group: 1 }
ports: { p: {} }
port_groups: { g: [{ port: p }] }
rate_limits: { r: { cps: 1 } }
tests: [{ targets: hosts, port_group: g, rate_limit: r }]
targets:
  hosts:
${targets.join("\n")}
`,
    );
    const { code, stderr } = await runProgram("collector/main.ts", ["--check", "--config", file]);
    assert.equal(code, 0, stderr);
    assert.match(stderr, /is valid \(full format, 11 targets probed by this collector\)/);
    assert.match(stderr, /target list "hosts": mesh, 11 of 60 targets/);
    assert.match(stderr, /mesh level "rack": 4 paths from 1 group\n/);
    assert.match(stderr, /mesh level "cluster": 4 paths from 2 groups/);
    assert.match(stderr, /mesh level "fleet": 3 paths from 3 groups/);
  } finally {
    await Deno.remove(directory, { recursive: true });
  }
});

Deno.test("scraper --check says which share of the collectors this scraper takes", async () => {
  const directory = await Deno.makeTempDir({ prefix: "llama-shard-check-" });
  try {
    const file = `${directory}/scraper.yaml`;
    const collectors = Array.from({ length: 30 }, (_, index) => `c${index}:5000`);
    const shares = [];
    for (const identity of ["s1", "s2"]) {
      await Deno.writeTextFile(
        file,
        `collectors: [${collectors.join(", ")}]\n` +
          `sharding: { identity: ${identity}, members: [s1, s2], replicas: 1 }\n`,
      );
      const { code, stderr } = await runProgram("scraper/main.ts", ["--check", "--config", file]);
      assert.equal(code, 0, stderr);
      const match = /valid: (\d+) collectors \("s\d"'s share of 30, 1 of 2 scrapers each\)/.exec(
        stderr,
      );
      assert.ok(match !== null, stderr);
      shares.push(Number(match[1]));
    }
    assert.equal(shares[0] + shares[1], 30);
  } finally {
    await Deno.remove(directory, { recursive: true });
  }
});

Deno.test("collector --help names identity, mesh and sharding", async () => {
  const { code, stderr } = await runProgram("collector/main.ts", ["--help"]);
  assert.equal(code, 0);
  for (
    const key of ["identity:", "mesh: {target_lists, levels", "sharding: {members", "per_group"]
  ) {
    assert.ok(stderr.includes(key), `--help lacks ${key}`);
  }
});
