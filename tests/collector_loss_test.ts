// Loss injected by the kernel (nftables in a private network namespace), measured by the
// collector against real reflectors on the other side of a veth pair.
import assert from "node:assert/strict";
import { parseCollectorConfig, resolveTargets } from "@llama/collector";
import { parseIntervalSummary } from "@llama/core";
import { createTestNetwork, type TestNetwork } from "./_netns.ts";
import { assertRequirement, requirement } from "./_requirements.ts";
import { type RunningProgram, startProgram } from "./_process.ts";
import { collectorYaml, startRecordingCollector } from "./_collector.ts";

const needs = requirement({ root: true, commands: ["ip", "nft"] });

async function startRemoteReflectors(
  network: TestNetwork,
  ports: number[],
): Promise<RunningProgram[]> {
  return await Promise.all(ports.map((port) =>
    startProgram(
      "reflector/main.ts",
      ["--host", network.remoteAddress, "--port", String(port), "--max-pps", "0"],
      { readyPattern: /Reflecting probes on udp:\/\//, wrap: [...network.execPrefix] },
    )
  ));
}

/** Packets each `udp dport N` / `udp sport N` rule has dropped, from `nft list table`. */
function dropCounters(listing: string): Map<string, number> {
  const counters = new Map<string, number>();
  for (const match of listing.matchAll(/udp (dport|sport) (\d+) .*?counter packets (\d+)/g)) {
    counters.set(`${match[1]} ${match[2]}`, Number(match[3]));
  }
  return counters;
}

/** Half-width of the two-sided binomial confidence interval for `n` trials at rate `p`. */
function halfWidth(n: number, p: number, z: number): number {
  return z * Math.sqrt(n * p * (1 - p));
}

Deno.test({
  name:
    "collector measures kernel-injected loss of 1%, 5% and 20%: exactly the probes the kernel dropped",
  ignore: needs.ignore,
  async fn() {
    assertRequirement(needs);
    await using network = await createTestNetwork();
    const rates = new Map([[8101, 1], [8102, 5], [8103, 20]]);
    for (const [port, percent] of rates) {
      await network.dropInbound(percent, { udpDestinationPort: port });
    }
    const reflectors = await startRemoteReflectors(network, [...rates.keys()]);
    try {
      const targets = [...rates].map((
        [port, percent],
      ): [string, number, Record<string, string>] => [
        network.remoteAddress,
        port,
        { loss: String(percent) },
      ]);
      // 250 cycles/s × 4 sockets: 1,000 probes per second to each target. Tracing off: the
      // kernel would count the trace probes it drops too, and they count in no flow.
      await using run = await startRecordingCollector(
        collectorYaml({
          targets,
          sockets: 4,
          cps: 250,
          interval: 1,
          timeout: 500,
          tracing: "{mode: off}",
        }),
      );
      await new Promise((resolve) => setTimeout(resolve, 8000));
      // Stop probing the namespace, then wait until every probe sent to it has been published.
      const idle = collectorYaml({
        targets: [["127.0.0.1", 9, {}]],
        sockets: 4,
        cps: 1,
        interval: 1,
        timeout: 500,
        tracing: "{mode: off}",
      });
      await run.collector.reload(await resolveTargets(parseCollectorConfig(idle)));
      await run.next(3);
      const drops = dropCounters(await network.nftCounters());
      for (const [port, percent] of rates) {
        // The three targets share an address, so they are one path (source and destination
        // address, as in the original); each target's probes are the flows to its port.
        let sent = 0, lost = 0, late = 0;
        for (const summary of run.summaries) {
          for (const path of summary.paths) {
            if (path.dstIp !== network.remoteAddress) continue;
            assert.equal(path.srcIp, network.hostAddress, "the real source address");
            for (const flow of path.flows) {
              if (flow.dstPort !== port) continue;
              sent += flow.sent;
              lost += flow.lost;
              late += flow.late;
            }
          }
        }
        const dropped = drops.get(`dport ${port}`);
        assert.ok(dropped !== undefined, `no counter for port ${port}`);
        const p = percent / 100;
        const measured = (lost / sent) * 100;
        console.log(
          `${percent}% injected: ${sent} sent, ${lost} lost (${
            measured.toFixed(3)
          }%), kernel dropped ${dropped}, ` +
            `95% interval ${((p * sent - halfWidth(sent, p, 1.96)) / sent * 100).toFixed(3)}–` +
            `${((p * sent + halfWidth(sent, p, 1.96)) / sent * 100).toFixed(3)}%`,
        );
        assert.ok(sent >= 7000, `only ${sent} probes sent to the ${percent}% target`);
        assert.equal(late, 0);
        // The collector's loss is the kernel's: it invents none and misses none.
        assert.equal(
          lost,
          dropped,
          `collector counted ${lost} lost, the kernel dropped ${dropped}`,
        );
        // And the rule did what it says (99.9% interval, so three checks rarely fail by chance).
        assert.ok(
          Math.abs(lost - p * sent) <= halfWidth(sent, p, 3.29),
          `${lost} of ${sent} lost is outside the 99.9% interval around ${percent}%`,
        );
      }
    } finally {
      await Promise.all(reflectors.map((reflector) => reflector.stop("SIGKILL")));
    }
  },
});

Deno.test({
  name: "collector shows one black-holed ECMP flow at 100% and the path's other flows at 0%",
  ignore: needs.ignore,
  async fn() {
    assertRequirement(needs);
    await using network = await createTestNetwork();
    const [reflector] = await startRemoteReflectors(network, [8100]);
    try {
      await using run = await startRecordingCollector(
        collectorYaml({
          targets: [[network.remoteAddress, 8100, {}]],
          sockets: 4,
          cps: 50,
          interval: 1,
          timeout: 300,
        }),
      );
      const first = await run.next(1);
      const ports = first.paths[0].flows.map((flow) => flow.srcPort);
      assert.equal(ports.length, 4);
      // Probes from one source port vanish on their way in, as on a broken ECMP member link.
      await network.dropInbound(100, { udpSourcePort: ports[2] });
      const installed = Date.now();
      let summary = await run.next(1);
      while (Date.parse(summary.start) < installed) summary = await run.next(1);
      const path = summary.paths[0];
      for (const flow of path.flows) {
        assert.ok(flow.sent >= 45, `flow ${flow.srcPort} sent ${flow.sent}`);
        assert.equal(
          flow.lossPercent,
          flow.srcPort === ports[2] ? 100 : 0,
          `flow from port ${flow.srcPort}`,
        );
      }
      // The path shows the quarter of its probes that one flow loses.
      assert.ok(Math.abs(path.lossPercent - 25) < 2, `path loss ${path.lossPercent}%`);
      const api = await (await run.collector.api.request("/api/v1/summaries")).json();
      const flows = parseIntervalSummary(api)!.paths[0].flows;
      assert.deepEqual(
        flows.filter((flow) => flow.lossPercent === 100).map((flow) => flow.srcPort),
        [ports[2]],
      );
    } finally {
      await reflector.stop("SIGKILL");
    }
  },
});
