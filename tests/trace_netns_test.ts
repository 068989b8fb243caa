// Flow-preserving path tracing through a real router: a client namespace, a router namespace
// that forwards, and a target namespace, joined by veth pairs. A probe with TTL 1 dies at the
// router (time exceeded from its address); with TTL 2 it reaches the target's closed port (port
// unreachable from the target). IPv4 and IPv6, checked against ping where it is installed.
import assert from "node:assert/strict";
import { assertRequirement, requirement } from "./_requirements.ts";
import { runCommand } from "./_commands.ts";

const needs = requirement({ root: true, commands: ["ip"] });
const decoder = new TextDecoder();

/** Runs a command from the repository root; throws with its stderr when it fails. */
const run = (command: string[]) => runCommand(command, { cwd: new URL("../", import.meta.url) });

/** client (10.77.1.2, fd77:1::2) — router (.1 / .1) — target (10.77.2.2, fd77:2::2). */
const CLIENT = { v4: "10.77.1.2", v6: "fd77:1::2" };
const ROUTER = { v4: "10.77.1.1", v6: "fd77:1::1" };
const TARGET = { v4: "10.77.2.2", v6: "fd77:2::2" };

/** Three namespaces in a line, with unique names; dispose to delete them (and their veths). */
async function createLine() {
  const tag = `${Deno.pid}-${Math.floor(Math.random() * 1e6)}`;
  const names = {
    client: `llama-trc-c-${tag}`,
    router: `llama-trc-r-${tag}`,
    target: `llama-trc-t-${tag}`,
  };
  const created: string[] = [];
  const line = {
    names,
    async [Symbol.asyncDispose]() {
      for (const name of created) await run(["ip", "netns", "delete", name]).catch(() => {});
    },
  };
  try {
    for (const name of Object.values(names)) {
      await run(["ip", "netns", "add", name]);
      created.push(name);
    }
    const inside = (name: string, ...args: string[]) => run(["ip", "netns", "exec", name, ...args]);
    await run([
      "ip",
      "link",
      "add",
      "c0",
      "netns",
      names.client,
      "type",
      "veth",
      "peer",
      "name",
      "r0",
      "netns",
      names.router,
    ]);
    await run([
      "ip",
      "link",
      "add",
      "r1",
      "netns",
      names.router,
      "type",
      "veth",
      "peer",
      "name",
      "t0",
      "netns",
      names.target,
    ]);
    const address = async (name: string, device: string, v4: string, v6: string) => {
      await inside(name, "ip", "addr", "add", `${v4}/24`, "dev", device);
      await inside(name, "ip", "-6", "addr", "add", `${v6}/64`, "dev", device, "nodad");
      await inside(name, "ip", "link", "set", device, "up");
      await inside(name, "ip", "link", "set", "lo", "up");
    };
    await address(names.client, "c0", CLIENT.v4, CLIENT.v6);
    await address(names.router, "r0", ROUTER.v4, ROUTER.v6);
    await address(names.router, "r1", "10.77.2.1", "fd77:2::1");
    await address(names.target, "t0", TARGET.v4, TARGET.v6);
    for (
      const [name, via, via6] of [[names.client, "10.77.1.1", "fd77:1::1"], [
        names.target,
        "10.77.2.1",
        "fd77:2::1",
      ]]
    ) {
      await inside(name, "ip", "route", "add", "default", "via", via);
      await inside(name, "ip", "-6", "route", "add", "default", "via", via6);
    }
    for (const setting of ["net.ipv4.ip_forward=1", "net.ipv6.conf.all.forwarding=1"]) {
      await inside(names.router, "sysctl", "-qw", setting);
    }
    // The errors of a trace come in bursts: no ICMP rate limit where they are made.
    for (const name of [names.router, names.target]) {
      await inside(name, "sysctl", "-qw", "net.ipv4.icmp_ratelimit=0");
      await inside(name, "sysctl", "-qw", "net.ipv6.icmp.ratelimit=0");
    }
  } catch (error) {
    await line[Symbol.asyncDispose]();
    throw error;
  }
  return line;
}

interface Hop {
  ttl: number;
  family: number;
  type: number;
  code: number;
  timeExceeded: boolean;
  unreachable: boolean;
  offender: string;
  destination: string;
  payload: string;
}

/** Traces from `local` in the client namespace to a closed port of `target`. */
async function trace(client: string, local: string, target: string): Promise<Hop[]> {
  const stdout = await run([
    "ip",
    "netns",
    "exec",
    client,
    Deno.execPath(),
    "run",
    "-A",
    "--quiet",
    "tests/_trace_probe.ts",
    local,
    target,
    "33434",
  ]);
  return JSON.parse(stdout) as Hop[];
}

function isOnPath(command: string): boolean {
  return (Deno.env.get("PATH") ?? "").split(":").some((directory) => {
    try {
      return Deno.statSync(`${directory}/${command}`).isFile;
    } catch {
      return false;
    }
  });
}

for (
  const { family, local, target, router, expected } of [
    {
      family: 4,
      local: "0.0.0.0",
      target: TARGET.v4,
      router: ROUTER.v4,
      expected: { exceeded: [11, 0], unreachable: [3, 3] },
    },
    {
      family: 6,
      local: "::",
      target: TARGET.v6,
      router: ROUTER.v6,
      expected: { exceeded: [3, 0], unreachable: [1, 4] },
    },
  ]
) {
  Deno.test({
    name:
      `a probe with TTL 1 brings a time exceeded from the router, with TTL 2 it reaches the target (IPv${family})`,
    ignore: needs.ignore,
    async fn() {
      assertRequirement(needs);
      await using line = await createLine();
      const [first, second] = await trace(line.names.client, local, target);
      assert.deepEqual(first, {
        ttl: 1,
        family,
        type: expected.exceeded[0],
        code: expected.exceeded[1],
        timeExceeded: true,
        unreachable: false,
        offender: router,
        destination: `${target}:33434`,
        payload: "probe ttl 1",
      });
      assert.deepEqual(second, {
        ttl: 2,
        family,
        type: expected.unreachable[0],
        code: expected.unreachable[1],
        timeExceeded: false,
        unreachable: true,
        offender: target,
        destination: `${target}:33434`,
        payload: "probe ttl 2",
      });
      // An independent reference: ping with TTL 1 hears from the same router address.
      if (isOnPath("ping")) {
        const output = await new Deno.Command("ip", {
          args: [
            "netns",
            "exec",
            line.names.client,
            "ping",
            `-${family}`,
            "-n",
            "-c",
            "1",
            "-W",
            "2",
            "-t",
            "1",
            target,
          ],
          stdout: "piped",
          stderr: "piped",
        }).output();
        const text = decoder.decode(output.stdout);
        assert.match(
          text,
          new RegExp(
            `From ${router.replaceAll(".", "\\.")}.*(Time to live exceeded|Time exceeded)`,
            "i",
          ),
        );
      } else {
        console.error(
          "trace netns test: ping is not installed (iputils-ping): its cross-check is skipped",
        );
      }
    },
  });
}
