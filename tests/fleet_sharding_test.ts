// Three collector programs share one target list by rendezvous hashing: each target is probed by
// `replicas` of them, and a collector taken out of the member list (SIGHUP) hands on only its
// own share.
import assert from "node:assert/strict";
import { startReflector } from "@llama/reflector";
import { collectorYaml } from "./_collector.ts";
import { type RunningProgram, startProgram } from "./_process.ts";

const TARGETS = 12;
const NAMES = ["c1", "c2", "c3"];

function configOf(
  identity: string,
  targets: [string, number][],
  members: string[],
  replicas: number,
): string {
  return `source_tags: {src_hostname: ${identity}}\n` +
    `sharding: {members: [${members.join(", ")}], replicas: ${replicas}}\n` +
    collectorYaml({
      targets: targets.map(([ip, port]) => [ip, port, { dst_hostname: ip }]),
      sockets: 1,
      cps: 5,
      interval: 1,
    });
}

async function waitForLog(program: RunningProgram, pattern: RegExp, after = 0): Promise<void> {
  for (let tries = 0; tries < 200; tries++) {
    if (pattern.test(program.stderr().slice(after))) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  assert.fail(`no ${pattern} in:\n${program.stderr().slice(after)}`);
}

/** The targets (IP addresses) the collector probed and heard back from in an interval begun after `since`. */
async function probed(program: RunningProgram, since: number): Promise<Set<string>> {
  for (let tries = 0; tries < 100; tries++) {
    const response = await fetch(`http://${program.ready[1]}/api/v1/summaries?flows=false`);
    const summary = await response.json() as {
      start: string | null;
      paths: { dstIp: string; sent: number; lost: number }[];
    };
    if (summary.start !== null && Date.parse(summary.start) >= since) {
      const paths = summary.paths.filter((path) => path.sent > 0);
      for (const path of paths) assert.ok(path.lost < path.sent, `${path.dstIp} never answered`);
      return new Set(paths.map((path) => path.dstIp));
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error("no interval begun after the reload");
}

Deno.test("sharded collectors probe each target with `replicas` of them, and one leaving moves only its share", async () => {
  const reflectors = await Promise.all(
    Array.from(
      { length: TARGETS },
      (_, index) => startReflector({ hostname: `127.0.1.${index + 1}`, port: 0, maxPps: 0 }),
    ),
  );
  const targets = reflectors.map((reflector) => reflector.address.hostname);
  const directory = await Deno.makeTempDir({ prefix: "llama-sharding-" });
  const collectors: RunningProgram[] = [];
  try {
    const write = (members: string[], replicas: number) =>
      Promise.all(NAMES.map((name) =>
        Deno.writeTextFile(
          `${directory}/${name}.yaml`,
          configOf(
            name,
            reflectors.map(({ address }) => [address.hostname, address.port]),
            members,
            replicas,
          ),
        )
      ));
    /** Reloads every collector and returns what each probes once the new config runs. */
    const reload = async () => {
      const marks = collectors.map((collector) => collector.stderr().length);
      for (const collector of collectors) collector.child.kill("SIGHUP");
      await Promise.all(
        collectors.map((collector, index) => waitForLog(collector, /Reloaded/, marks[index])),
      );
      const since = Date.now() + 1000;
      return Promise.all(collectors.map((collector) => probed(collector, since)));
    };

    await write(NAMES, 2);
    for (const name of NAMES) {
      collectors.push(
        await startProgram("collector/main.ts", ["--config", `${directory}/${name}.yaml`], {
          readyPattern: /Serving the API on http:\/\/(\S+)/,
        }),
      );
    }
    const started = Date.now() + 1000;
    const twice = await Promise.all(collectors.map((collector) => probed(collector, started)));
    for (const target of targets) {
      const count = twice.filter((set) => set.has(target)).length;
      assert.equal(count, 2, `${target} probed by ${count} collectors, not 2`);
    }
    assert.match(collectors[0].stderr(), /Fleet plan: identity "c1"; target list "t": sharded/);

    await write(NAMES, 1);
    const once = await reload();
    assert.equal(once.reduce((sum, set) => sum + set.size, 0), TARGETS, "disjoint");
    assert.deepEqual(new Set(once.flatMap((set) => [...set])), new Set(targets), "all covered");
    for (const set of once) assert.ok(set.size > 0, "each collector has a share");

    // c3 leaves the member list: it stops probing, and only its targets move, each to one other.
    await write(["c1", "c2"], 1);
    const after = await reload();
    assert.equal(after[2].size, 0, "c3 probes nothing");
    for (const index of [0, 1]) {
      for (const target of once[index]) assert.ok(after[index].has(target), `${target} moved`);
    }
    const taken = [...after[0], ...after[1]].filter((target) =>
      !once[0].has(target) && !once[1].has(target)
    );
    assert.deepEqual(new Set(taken), once[2]);
    assert.equal(taken.length, once[2].size, "each of c3's targets went to one collector");
  } finally {
    await Promise.allSettled(collectors.map((collector) => collector.stop("SIGTERM")));
    await Promise.allSettled(reflectors.map((reflector) => reflector.close()));
    await Deno.remove(directory, { recursive: true });
  }
});
