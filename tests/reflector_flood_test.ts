// The reflector under a spoofed-source flood, inside a network namespace: raw datagrams from
// random sources of 198.18.0.0/15 (131,072 of them, far more than the per-source table holds)
// and a tenth from one "victim" address, at the LLAMA and STAMP ports alike, while a prober
// within its rate probes both from across the veth pair. The namespace routes the spoofed
// sources to veth pairs of its own, which count what they are sent: nothing leaves it.
import assert from "node:assert/strict";
import { nativeEngineStatus, ProbeWriter, StampTestPacketWriter } from "@llama/core";
import { createTestNetwork } from "./_netns.ts";
import { runCommand } from "./_commands.ts";
import { assertRequirement, requirement } from "./_requirements.ts";
import { startProgram } from "./_process.ts";
import { parsePrometheusText } from "./_prometheus.ts";
import { UdpClient } from "./_udp.ts";

const needs = requirement({ root: true, commands: ["ip", "python3"] });
const SPOOFER = new URL("./_spoofer.py", import.meta.url).pathname;
const LLAMA_PAYLOAD = new URL("./fixtures/original/probe_tos0.bin", import.meta.url).pathname;
const PER_SOURCE_PPS = 100;
const TABLE = 32; // fewer than the ~50 sources a port sees in the 10 ms a spoofed datagram's debt lasts
const FLOOD_SECONDS = 3;
// Datagrams a second, both ports together: what the STAMP port (on the event loop) holds on a
// busy 2-core machine while Python spends a core sending, so that what is lost is the table's
// doing, not the kernel's.
const FLOOD_RATE = 10_000;
const VICTIM = "198.18.255.254";

/** Resident memory (KiB) and CPU time (clock ticks) of a process, from /proc. */
function processUse(pid: number): { rssKib: number; cpuTicks: number } {
  const status = Deno.readTextFileSync(`/proc/${pid}/status`);
  const rssKib = Number(/VmRSS:\s+(\d+) kB/.exec(status)![1]);
  const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return { rssKib, cpuTicks: Number(fields[11]) + Number(fields[12]) }; // utime + stime
}

Deno.test({
  name: "under a spoofed flood from 131,072 sources a 32-source table stays bounded, the spoofed " +
    "victim gets only its rate and a prober within its rate keeps its answers, on both ports",
  ignore: needs.ignore || (!nativeEngineStatus().available && Deno.env.get("CI") !== "true"),
  async fn() {
    assertRequirement(needs);
    await using network = await createTestNetwork();
    const inside = (...args: string[]) => runCommand([...network.execPrefix, ...args]);
    // Each route's device is one end of a veth pair whose both ends are in the namespace, with
    // ARP off: what is sent to it is counted and crosses to the other end, which does not forward.
    for (const [device, route] of [["sink", "198.18.0.0/15"], ["victim", `${VICTIM}/32`]]) {
      await inside("ip", "link", "add", device, "type", "veth", "peer", "name", `${device}-end`);
      for (const end of [device, `${device}-end`]) {
        await inside("ip", "link", "set", end, "arp", "off", "up");
      }
      await inside("ip", "route", "add", route, "dev", device);
    }
    await inside("sysctl", "-qw", "net.ipv4.ip_forward=0");
    const txPackets = async (device: string) =>
      Number(await inside("cat", `/sys/class/net/${device}/statistics/tx_packets`));
    await using reflector = await startProgram(
      "reflector/main.ts",
      [
        ...["--host", network.remoteAddress, "--port", "8100", "--stamp-port", "8620"],
        ...["--engine", "native", "--max-pps", "0", "--metrics", `${network.remoteAddress}:9100`],
        ...["--per-source-pps", String(PER_SOURCE_PPS), "--per-source-table", String(TABLE)],
      ],
      { readyPattern: /Serving metrics on http:\/\/(\S+)\/metrics/, wrap: [...network.execPrefix] },
    );
    const metrics = async () =>
      parsePrometheusText(await (await fetch(`http://${reflector.ready[1]}/metrics`)).text());
    const directory = await Deno.makeTempDir();
    const stampPayload = `${directory}/stamp.bin`;
    const stampWriter = new StampTestPacketWriter({ ssid: 7 });
    stampWriter.write(1, Date.now());
    await Deno.writeFile(stampPayload, stampWriter.bytes);

    // The prober: 40 probes a second to each port, under the per-source rate, for the flood.
    using llama = new UdpClient(network.hostAddress);
    using stamp = new UdpClient(network.hostAddress);
    const probe = new ProbeWriter({ paddingLength: 16 });
    const sent = { llama: 0, stamp: 0 };
    const answered = { llama: 0, stamp: 0 };
    let flooding = true;
    const receive = async (client: UdpClient, port: "llama" | "stamp") => {
      while (flooding || await client.receive(0) !== undefined) {
        if (await client.receive(100) !== undefined) answered[port]++;
      }
      while (await client.receive(300) !== undefined) answered[port]++;
    };
    const receiving = [receive(llama, "llama"), receive(stamp, "stamp")];
    const probing = (async () => {
      while (flooding) {
        probe.setSequence(sent.llama);
        await llama.send(probe.bytes, network.remoteAddress, 8100);
        sent.llama++;
        stampWriter.write(sent.stamp, Date.now());
        await stamp.send(stampWriter.bytes, network.remoteAddress, 8620);
        sent.stamp++;
        await new Promise((resolve) => setTimeout(resolve, 25));
      }
    })();

    const pid = reflector.child.pid;
    const before = processUse(pid);
    let maxTracked = 0;
    const rssKib: number[] = [];
    const sampling = (async () => {
      while (flooding) {
        rssKib.push(processUse(pid).rssKib);
        const sample = await metrics();
        maxTracked = Math.max(
          maxTracked,
          sample.get("llama_reflector_per_source_tracked")!,
          sample.get("llama_reflector_stamp_per_source_tracked")!,
        );
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
    })();
    let flood: { sent: number; seconds: number };
    try {
      const output = await inside(
        "python3",
        SPOOFER,
        ...["--to", network.remoteAddress, "--port", "8100", "--payload", LLAMA_PAYLOAD],
        ...["--port", "8620", "--payload", stampPayload, "--prefix", "198.18.0.0/15"],
        ...["--victim", VICTIM, "--victim-share", "0.1", "--seconds", String(FLOOD_SECONDS)],
        ...["--count", "1000000", "--rate", String(FLOOD_RATE)],
      );
      flood = JSON.parse(output);
    } finally {
      flooding = false;
      await Promise.all([probing, sampling, ...receiving]);
      await Deno.remove(directory, { recursive: true });
    }
    const after = processUse(pid);
    const final = await metrics();
    const victimAnswers = await txPackets("victim");
    const sinkAnswers = await txPackets("sink");
    const ticks = Number((await runCommand(["getconf", "CLK_TCK"])).trim());
    const cpu = (after.cpuTicks - before.cpuTicks) / ticks / flood.seconds;
    const refused = (reason: string) =>
      final.get(`llama_reflector_refused_total{reason="${reason}"}`)! +
      final.get(`llama_reflector_stamp_dropped_total{reason="${reason}"}`)!;
    console.log(
      `flood: ${flood.sent} datagrams in ${flood.seconds} s (${
        Math.round(flood.sent / flood.seconds)
      }/s); received ${
        final.get("llama_reflector_received_total")! +
        final.get("llama_reflector_stamp_received_total")!
      }; answers to spoofed sources ${sinkAnswers}, to the victim ${victimAnswers}; refused ` +
        `per-source-rate ${refused("per-source-rate")}, per-source-table-full ${
          refused("per-source-table-full")
        }; prober answered ${answered.llama}/${sent.llama} (LLAMA), ${answered.stamp}/${sent.stamp}` +
        ` (STAMP); table at most ${maxTracked}/${TABLE}; RSS ${before.rssKib} KiB before, ` +
        `${rssKib.slice(1).join(" ")} KiB every 200 ms, ${after.rssKib} after; CPU ${
          (cpu * 100).toFixed(0)
        }% of a core`,
    );
    assert.ok(flood.sent >= (FLOOD_RATE * FLOOD_SECONDS) / 2, `only ${flood.sent} were sent`);
    assert.ok(maxTracked <= TABLE, `the table held ${maxTracked} sources`);
    // Each port gives the victim its burst and then its rate, for as long as the flood ran.
    const victimBound = 2 * (PER_SOURCE_PPS + PER_SOURCE_PPS * (flood.seconds + 1));
    assert.ok(victimAnswers <= victimBound, `${victimAnswers} answers to the victim`);
    assert.ok(refused("per-source-rate") > 0, "the victim was refused");
    assert.ok(answered.llama >= sent.llama * 0.9, `${answered.llama}/${sent.llama} answered`);
    assert.ok(answered.stamp >= sent.stamp * 0.9, `${answered.stamp}/${sent.stamp} answered`);
    assert.ok(after.rssKib - before.rssKib < 64 * 1024, "the reflector's memory grew by 64 MiB");
    assert.equal((await reflector.stop("SIGTERM")).code, 0, reflector.stderr());
  },
});
