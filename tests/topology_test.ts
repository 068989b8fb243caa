// The path-tracing test network checked against independent references: TTLs set by nftables
// on C's way out and the ICMP answers counted by source address on its way in (no ping on the
// machine, and no code under test), per-port nftables counters on the branches, a reflector's
// answers and the TTL they arrive with.
import assert from "node:assert/strict";
import { createTopology, type LinkName, type TargetName, type Topology } from "./_topology.ts";
import { pathLinks } from "./_topology_layout.ts";
import { sendDatagrams } from "./_datagram_sender.ts";
import { type RunningProgram, startProgram } from "./_process.ts";
import { assertRequirement, requirement } from "./_requirements.ts";

const needs = requirement({ root: true, commands: ["ip", "nft", "sysctl", "bridge"] });
const REFLECTOR_PORT = 8100;
// Probes to 33434 + k leave C with TTL k + 1 (C's reference rules set it).
const TRACE_PORT = 33434;
const TTLS = [1, 2, 3, 4];
const SOURCE_PORTS = Array.from({ length: 64 }, (_, index) => 40000 + index);
// Two-sided 99.999% quantile of the standard normal distribution (see netns_test.ts).
const Z_99999 = 4.4172;

async function nft(topology: Topology, node: "C" | "r2a" | "r2b", script: string): Promise<void> {
  const child = topology.command(node, ["nft", "-f", "-"], { stdin: "piped", stderr: "piped" })
    .spawn();
  const writer = child.stdin.getWriter();
  await writer.write(new TextEncoder().encode(script));
  await writer.close();
  const output = await child.output();
  assert.equal(output.code, 0, new TextDecoder().decode(output.stderr));
}

async function nftJson(topology: Topology, node: "C" | "r2a" | "r2b", args: string[]) {
  const output = await topology.command(node, ["nft", "-j", ...args]).output();
  assert.equal(output.code, 0, new TextDecoder().decode(output.stderr));
  return JSON.parse(new TextDecoder().decode(output.stdout)).nftables as Record<string, unknown>[];
}

/**
 * C's reference table: probes to TRACE_PORT + k leave with TTL k + 1; the ICMP errors coming
 * back are counted by (source address, ICMP type, the probe's destination port read from the
 * quoted header), and datagrams from the reflector by (source address, TTL).
 */
async function installReference(topology: Topology): Promise<void> {
  const table = "ip llama_reference";
  await nft(
    topology,
    "C",
    [
      `add table ${table}`,
      `add chain ${table} output { type filter hook output priority -300 ; policy accept ; }`,
      ...TTLS.map((ttl) =>
        `add rule ${table} output udp dport ${TRACE_PORT + ttl - 1} ip ttl set ${ttl}`
      ),
      // The quoted probe's UDP destination port: 8 bytes of ICMP header, 20 of IP header, +2.
      `add set ${table} answers { typeof ip saddr . icmp type . @th,240,16 ; flags dynamic ; counter ; }`,
      `add set ${table} replies { typeof ip saddr . ip ttl ; flags dynamic ; counter ; }`,
      `add chain ${table} input { type filter hook input priority -300 ; policy accept ; }`,
      `add rule ${table} input icmp type { time-exceeded, destination-unreachable } ` +
      `update @answers { ip saddr . icmp type . @th,240,16 }`,
      `add rule ${table} input udp sport ${REFLECTOR_PORT} update @replies { ip saddr . ip ttl }`,
    ].join("\n") + "\n",
  );
}

type Elements = Map<string, number>;

/** A reference set's elements as `a b c` → packets; the set is emptied. */
async function takeSet(topology: Topology, name: "answers" | "replies"): Promise<Elements> {
  const listing = await nftJson(topology, "C", ["list", "set", "ip", "llama_reference", name]);
  const elements = new Map<string, number>();
  for (const entry of listing) {
    const set = entry.set as {
      elem?: { elem: { val: { concat: unknown[] }; counter: { packets: number } } }[];
    } | undefined;
    for (const { elem } of set?.elem ?? []) {
      elements.set(elem.val.concat.join(" "), elem.counter.packets);
    }
  }
  await nft(topology, "C", `flush set ip llama_reference ${name}\n`);
  return elements;
}

/** Which TTLs were answered by whom: `ttl → "address type"` with its count. */
async function traceFromC(topology: Topology, target: TargetName, probes: number) {
  await sendDatagrams(topology.execPrefix("C"), {
    to: topology.targets[target],
    port: TTLS.map((ttl) => TRACE_PORT + ttl - 1),
    sourcePorts: [41000],
    count: probes,
  });
  const answers = await takeSet(topology, "answers");
  const byTtl = new Map<number, string[]>();
  for (const [key, packets] of answers) {
    const [address, type, port] = key.split(" ");
    const ttl = Number(port) - TRACE_PORT + 1;
    byTtl.set(ttl, [...byTtl.get(ttl) ?? [], `${address} ${type} ×${packets}`]);
  }
  return TTLS.map((ttl) => (byTtl.get(ttl) ?? []).sort().join(", "));
}

/** What a trace with `probes` probes per TTL shows when everything answers. */
function answered(hops: string[], probes: number): string[] {
  return hops.map((address, index) =>
    `${address} ${
      index === hops.length - 1 ? "destination-unreachable" : "time-exceeded"
    } ×${probes}`
  );
}

function startReflector(topology: Topology, target: TargetName): Promise<RunningProgram> {
  return startProgram(
    "reflector/main.ts",
    ["--host", topology.targets[target], "--port", `${REFLECTOR_PORT}`, "--max-pps", "0"],
    { readyPattern: /Reflecting probes on udp:\/\//, wrap: topology.execPrefix(target) },
  );
}

/** Per-source-port counters of what enters each branch from r1 (independent of the taps). */
async function installPortCounters(topology: Topology): Promise<void> {
  for (const branch of ["r2a", "r2b"] as const) {
    const table = "ip llama_ports";
    await nft(
      topology,
      branch,
      [
        `add table ${table}`,
        `add set ${table} ports { typeof udp sport ; flags dynamic ; counter ; }`,
        `add chain ${table} prerouting { type filter hook prerouting priority -400 ; policy accept ; }`,
        `add rule ${table} prerouting iifname "r1" update @ports { udp sport }`,
      ].join("\n") + "\n",
    );
  }
}

/** Packets each source port sent into each branch since the last call (the sets are emptied). */
async function takePortCounts(topology: Topology): Promise<{ r2a: Elements; r2b: Elements }> {
  const take = async (branch: "r2a" | "r2b") => {
    const listing = await nftJson(topology, branch, ["list", "set", "ip", "llama_ports", "ports"]);
    const counts = new Map<string, number>();
    for (const entry of listing) {
      const set = entry.set as
        | { elem?: { elem: { val: number; counter: { packets: number } } }[] }
        | undefined;
      for (const { elem } of set?.elem ?? []) counts.set(String(elem.val), elem.counter.packets);
    }
    await nft(topology, branch, "flush set ip llama_ports ports\n");
    return counts;
  };
  return { r2a: await take("r2a"), r2b: await take("r2b") };
}

/** The branch each source port took (throws if one took both or neither). */
function branchOfEachPort(counts: { r2a: Elements; r2b: Elements }, each: number) {
  return SOURCE_PORTS.map((port) => {
    const a = counts.r2a.get(String(port)) ?? 0;
    const b = counts.r2b.get(String(port)) ?? 0;
    assert.ok(
      (a === each && b === 0) || (a === 0 && b === each),
      `port ${port}: ${a} via r2a and ${b} via r2b, expected ${each} on one branch only`,
    );
    return a === each ? "r2a" : "r2b";
  });
}

Deno.test({
  name: "a trace from C shows r1, the pinned branch, r3 and the target, each hop by its address",
  ignore: needs.ignore,
  async fn() {
    assertRequirement(needs);
    await using topology = await createTopology();
    await installReference(topology);
    for (const target of ["T1", "T2"] as const) {
      for (const via of ["r2a", "r2b"] as const) {
        await topology.routeChange(target, via);
        assert.deepEqual(
          await traceFromC(topology, target, 3),
          answered(topology.expectedHops(target, via), 3),
          `${target} via ${via}`,
        );
      }
    }
  },
});

Deno.test({
  name: "a blackholed link silences every hop past it, probes expiring at its far node included",
  ignore: needs.ignore,
  async fn() {
    assertRequirement(needs);
    await using topology = await createTopology();
    await installReference(topology);
    const cases: [TargetName, "r2a" | "r2b"][] = [["T1", "r2a"], ["T1", "r2b"], ["T2", "r2a"]];
    for (const [target, via] of cases) {
      await topology.routeChange(target, via);
      const hops = answered(topology.expectedHops(target, via), 2);
      for (const [index, link] of pathLinks(target, via).entries()) {
        await topology.blackholeLink(link);
        const before = await topology.linkCounters(link);
        // Hop index + 1 is the link's far node: it and everything past it go silent, while the
        // ICMP errors of the hops before it (travelling back over the same links) still arrive.
        assert.deepEqual(
          await traceFromC(topology, target, 2),
          [...hops.slice(0, index), ...hops.slice(index).map(() => "")],
          `${link} blackholed, tracing ${target} via ${via}`,
        );
        const after = await topology.linkCounters(link);
        assert.equal(after.dropped - before.dropped, 2 * (4 - index), link);
        await topology.clearFaults();
        await topology.routeChange(target, via);
      }
    }
  },
});

Deno.test({
  name:
    "flows from 64 source ports spread over both branches, each keeping its own, and T1's answers arrive with TTL 61",
  ignore: needs.ignore,
  async fn() {
    assertRequirement(needs);
    await using topology = await createTopology();
    await using _reflector = await startReflector(topology, "T1");
    await installReference(topology);
    await installPortCounters(topology);
    const send = () =>
      sendDatagrams(topology.execPrefix("C"), {
        to: topology.targets.T1,
        port: REFLECTOR_PORT,
        sourcePorts: SOURCE_PORTS,
        count: 5,
        probes: true,
      });
    const first = await send();
    const branches = branchOfEachPort(await takePortCounts(topology), 5);
    assert.ok(branches.includes("r2a") && branches.includes("r2b"), branches.join(" "));
    assert.deepEqual(Object.values(first.answered), SOURCE_PORTS.map(() => 5));
    const replies = await takeSet(topology, "replies");
    assert.deepEqual([...replies], [[`${topology.targets.T1} ${64 - topology.reverseHops}`, 320]]);
    await send();
    assert.deepEqual(branchOfEachPort(await takePortCounts(topology), 5), branches);
  },
});

Deno.test({
  name: "dropOnLink(r1>r2a, 50) drops about half of what crosses it and nothing elsewhere",
  ignore: needs.ignore,
  async fn() {
    assertRequirement(needs);
    await using topology = await createTopology();
    await using _reflector = await startReflector(topology, "T1");
    const links: LinkName[] = ["r1>r2a", "r1>r2b", "r2a>r3", "r2b>r3", "r3>T1"];
    const before = await Promise.all(links.map((link) => topology.linkCounters(link)));
    await topology.dropOnLink("r1>r2a", 50);
    const result = await sendDatagrams(topology.execPrefix("C"), {
      to: topology.targets.T1,
      port: REFLECTOR_PORT,
      sourcePorts: SOURCE_PORTS,
      count: 20,
      probes: true,
    });
    const after = await Promise.all(links.map((link) => topology.linkCounters(link)));
    const [a, b, a3, b3, t1] = after.map((counters, index) => ({
      crossed: counters.crossed - before[index].crossed,
      dropped: counters.dropped - before[index].dropped,
    }));
    const debug = await topology.nftCounters();
    assert.equal(a.crossed + b.crossed, 64 * 20, debug);
    assert.ok(
      Math.abs(a.dropped - a.crossed / 2) <= Z_99999 * Math.sqrt(a.crossed / 4),
      `${a.dropped} of ${a.crossed} dropped\n${debug}`,
    );
    assert.deepEqual([b.dropped, a3.dropped, b3.dropped, t1.dropped], [0, 0, 0, 0], debug);
    // What survived r1>r2a went on to r3; every probe that reached T1 was answered.
    assert.equal(a3.crossed, a.crossed - a.dropped, debug);
    assert.equal(b3.crossed, b.crossed, debug);
    assert.equal(t1.crossed, 64 * 20 - a.dropped, debug);
    const answers = Object.values(result.answered).reduce((sum, count) => sum + count, 0);
    assert.equal(answers, t1.crossed, debug);
  },
});

Deno.test({
  name:
    "routeChange moves every flow to T1 onto one branch, leaves T2's spread, and restoreRoutes undoes it",
  ignore: needs.ignore,
  async fn() {
    assertRequirement(needs);
    await using topology = await createTopology();
    await installPortCounters(topology);
    const send = (target: TargetName) =>
      sendDatagrams(topology.execPrefix("C"), {
        to: topology.targets[target],
        port: 9,
        sourcePorts: SOURCE_PORTS,
        count: 2,
      });
    for (const via of ["r2b", "r2a"] as const) {
      await topology.routeChange("T1", via);
      await send("T1");
      assert.deepEqual(
        branchOfEachPort(await takePortCounts(topology), 2),
        SOURCE_PORTS.map(() => via),
      );
      await send("T2");
      const t2 = branchOfEachPort(await takePortCounts(topology), 2);
      assert.ok(t2.includes("r2a") && t2.includes("r2b"), `T2: ${t2.join(" ")}`);
    }
    await topology.restoreRoutes();
    await send("T1");
    const restored = branchOfEachPort(await takePortCounts(topology), 2);
    assert.ok(restored.includes("r2a") && restored.includes("r2b"), restored.join(" "));
  },
});

async function namespaceList(): Promise<string> {
  const output = await new Deno.Command("ip", { args: ["netns", "list"] }).output();
  return new TextDecoder().decode(output.stdout);
}

Deno.test({
  name:
    "a topology leaves no namespace behind: disposed, failed half-way, or left by a dead process",
  ignore: needs.ignore,
  async fn() {
    assertRequirement(needs);
    const topology = await createTopology();
    const names = Object.values(topology.namespaces);
    assert.equal(names.length, 8);
    await topology[Symbol.asyncDispose]();
    const afterDispose = await namespaceList();
    for (const name of names) assert.ok(!afterDispose.includes(name), name);

    let halfWay: string[] = [];
    await assert.rejects(
      createTopology({
        afterNamespaces(created) {
          halfWay = Object.values(created);
          throw new Error("injected failure");
        },
      }),
      /injected failure/,
    );
    const afterFailure = await namespaceList();
    assert.equal(halfWay.length, 8);
    for (const name of halfWay) assert.ok(!afterFailure.includes(name), name);

    const dead = new Deno.Command("true").spawn();
    await dead.status;
    const stale = `llama-topo-${dead.pid}-1-r1`;
    assert.equal(
      (await new Deno.Command("ip", { args: ["netns", "add", stale] }).output()).code,
      0,
    );
    await using _topology = await createTopology();
    assert.ok(!(await namespaceList()).includes(stale));
  },
});
