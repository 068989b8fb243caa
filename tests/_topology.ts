// A multi-router network of namespaces for path-tracing tests, with loss and route faults
// injected per directed link by nftables and `ip route`. Its plan (addresses, routes, links)
// is tests/_topology_layout.ts. Needs root, ip, nft and sysctl.
import { deleteNamespace, deleteStaleNamespaces, runCommand } from "./_commands.ts";
import { createTestNetwork, type TestNetwork } from "./_netns.ts";
import {
  ADDRESSES,
  type Branch,
  BRANCH_HOPS,
  BRIDGE,
  COMMON_SYSCTLS,
  expectedHops,
  LINK_NAMES,
  type LinkName,
  type LinkPlan,
  LINKS,
  NAMESPACE_NODES,
  type NamespaceNode,
  type NodeName,
  PREFIX_LENGTH,
  REVERSE_HOPS,
  ROUTER_SYSCTLS,
  ROUTERS,
  ROUTES,
  type TargetName,
  VETHS,
} from "./_topology_layout.ts";

export type { Branch, LinkName, LinkPlan, NamespaceNode, NodeName, TargetName };

/** What a link's counters have seen since the topology was created. */
export interface LinkCounters {
  /** Forward packets that reached the link (dropped ones included). */
  crossed: number;
  /** Of those, packets a fault dropped. */
  dropped: number;
}

/** Options of `createTopology`. */
export interface TopologyOptions {
  /**
   * Called once every namespace exists, before any is wired: a test that throws here checks
   * that a creation failing half-way leaves nothing behind.
   */
  afterNamespaces?: (names: Readonly<Record<NamespaceNode, string>>) => void | Promise<void>;
}

/** The network of `createTopology`; dispose it to delete every namespace. */
export interface Topology extends AsyncDisposable {
  /** Each node's namespace name (C's is `llama-test-<pid>-<slot>`, the others' `llama-topo-…`). */
  readonly namespaces: Readonly<Record<NamespaceNode, string>>;
  /** C's address on the path: the source address of everything C sends towards the targets. */
  readonly collectorAddress: string;
  /** C's end of its management veth pair, reachable from the root namespace (an API's host). */
  readonly managementAddress: string;
  /** The targets' addresses. */
  readonly targets: Readonly<Record<TargetName, string>>;
  /** Every directed forward link, with the (from, to) address pair a trace shows for it. */
  readonly links: Readonly<Record<LinkName, LinkPlan>>;
  /** Routers between a target and C on the way back: a target's reply arrives with TTL 61. */
  readonly reverseHops: number;
  /** The addresses a trace from C to `target` shows when it crosses `via`, hop by hop. */
  expectedHops(target: TargetName, via: Branch): string[];
  /** The prefix that runs a program inside `node`'s namespace. */
  execPrefix(node: NamespaceNode): string[];
  /** A command that runs `args` inside `node`'s namespace. */
  command(
    node: NamespaceNode,
    args: string[],
    options?: Omit<Deno.CommandOptions, "args">,
  ): Deno.Command;
  /** Drops `percent` (0–100, steps of 0.01) of the link's forward packets; replaces its fault. */
  dropOnLink(link: LinkName, percent: number): Promise<void>;
  /** Drops every forward packet of the link. */
  blackholeLink(link: LinkName): Promise<void>;
  /** Pins r1's route to `target` to one branch (the other targets keep both). */
  routeChange(target: TargetName, via: Branch): Promise<void>;
  /** Removes every pin `routeChange` made. */
  restoreRoutes(): Promise<void>;
  /** Removes every drop and every route pin. */
  clearFaults(): Promise<void>;
  /** A link's counters. */
  linkCounters(link: LinkName): Promise<LinkCounters>;
  /** Every node's nftables tables, for a failing test's message. */
  nftCounters(): Promise<string>;
}

const PREFIX = "llama-topo-";
const TABLE = ["ip", "llama_topology"];

const run = (command: string[], input?: string) => runCommand(command, { input });
/** Deletes `llama-topo-<pid>-*` namespaces whose process has died. */
const deleteStale = () => deleteStaleNamespaces(/^(llama-topo-(\d+)-\S+)/);

/** A link's name as nftables identifiers allow: `r1>r2a` → `r1_r2a`. */
const ident = (link: LinkName) => link.replace(">", "_");

function countingRule(link: LinkName): string {
  return `add rule ${TABLE.join(" ")} link_${ident(link)} counter name crossed_${ident(link)}`;
}

/** The nftables script that taps every link whose forward packets `node` sees. */
function tapScript(node: NodeName): string | undefined {
  const links = LINK_NAMES.filter((link) => LINKS[link].tap.node === node);
  if (links.length === 0) return undefined;
  const table = TABLE.join(" ");
  const lines = [`add table ${table}`];
  for (const link of links) {
    lines.push(
      `add counter ${table} crossed_${ident(link)}`,
      `add counter ${table} dropped_${ident(link)}`,
      `add chain ${table} link_${ident(link)}`,
      countingRule(link),
    );
  }
  for (const hook of ["prerouting", "forward"] as const) {
    const tapped = links.filter((link) => LINKS[link].tap.hook === hook);
    if (tapped.length === 0) continue;
    // Priority -300: before anything else (conntrack, filters) sees the packet.
    lines.push(
      `add chain ${table} ${hook} { type filter hook ${hook} priority -300 ; policy accept ; }`,
    );
    const match = hook === "prerouting" ? "iifname" : "oifname";
    for (const link of tapped) {
      const { interface: name } = LINKS[link].tap;
      lines.push(`add rule ${table} ${hook} ${match} "${name}" jump link_${ident(link)}`);
    }
  }
  return lines.join("\n") + "\n";
}

/** The namespace names of one topology: C's is the management network's. */
function namespaceNames(management: TestNetwork): Record<NamespaceNode, string> {
  const slot = management.name.split("-").at(-1);
  const names = {} as Record<NamespaceNode, string>;
  for (const node of NAMESPACE_NODES) {
    names[node] = node === "C" ? management.name : `${PREFIX}${Deno.pid}-${slot}-${node}`;
  }
  return names;
}

/** Creates the namespaces (except C's), sets sysctls, wires veths, bridge, addresses, routes. */
async function build(
  names: Record<NamespaceNode, string>,
  created: string[],
  options: TopologyOptions,
): Promise<void> {
  for (const node of NAMESPACE_NODES) {
    if (node === "C") continue;
    await run(["ip", "netns", "add", names[node]]);
    created.push(names[node]);
  }
  await options.afterNamespaces?.(names);
  // Sysctls before the veths exist, so every interface inherits rp_filter=0 from "default".
  await Promise.all(NAMESPACE_NODES.map((node) => {
    const settings = [
      ...COMMON_SYSCTLS,
      ...(ROUTERS.includes(node as NodeName) ? ROUTER_SYSCTLS : []),
    ];
    return run(["ip", "netns", "exec", names[node], "sysctl", "-q", "-w", ...settings]);
  }));
  for (const [[nearNode, nearName], [farNode, farName]] of VETHS) {
    await run([
      ...["ip", "link", "add", nearName, "netns", names[nearNode], "type", "veth"],
      ...["peer", "name", farName, "netns", names[farNode]],
    ]);
  }
  await Promise.all(NAMESPACE_NODES.map((node) => {
    const commands: string[] = [];
    if (node === "core") {
      commands.push(`link add ${BRIDGE.name} type bridge`, `link set ${BRIDGE.name} up`);
      for (const port of BRIDGE.ports) {
        commands.push(`link set ${port} master ${BRIDGE.name}`, `link set ${port} up`);
      }
    } else {
      for (const [name, address] of Object.entries(ADDRESSES[node])) {
        commands.push(`address add ${address}/${PREFIX_LENGTH} dev ${name}`, `link set ${name} up`);
      }
      commands.push(...ROUTES[node]);
    }
    commands.push("link set lo up");
    return run(["ip", "-n", names[node], "-batch", "-"], commands.join("\n") + "\n");
  }));
  await waitForCarrier(names);
  await Promise.all(NAMESPACE_NODES.map((node) => {
    const script = node === "core" ? undefined : tapScript(node);
    return script === undefined
      ? Promise.resolve("")
      : run(["ip", "netns", "exec", names[node], "nft", "-f", "-"], script);
  }));
}

/**
 * Waits until every interface is operationally up and every bridge port forwards: the kernel
 * raises a veth's carrier (and enables a bridge port) up to a second after both ends are up,
 * and until then a bridge port drops what it is given.
 */
async function waitForCarrier(names: Record<NamespaceNode, string>): Promise<void> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const waiting: string[] = [];
    for (const node of NAMESPACE_NODES) {
      const links = JSON.parse(await run(["ip", "-n", names[node], "-j", "link", "show"])) as {
        ifname: string;
        operstate: string;
      }[];
      for (const link of links) {
        if (link.ifname !== "lo" && link.operstate !== "UP") {
          waiting.push(`${node}/${link.ifname} ${link.operstate}`);
        }
      }
    }
    const ports = JSON.parse(await run(["bridge", "-n", names.core, "-j", "link", "show"])) as {
      ifname: string;
      state: string;
    }[];
    for (const port of ports) {
      if (port.state !== "forwarding") waiting.push(`core/${port.ifname} ${port.state}`);
    }
    if (waiting.length === 0) return;
    if (Date.now() > deadline) {
      throw new Error(
        `Cannot build the topology: after 10 s still waiting for ${waiting.join(", ")}`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/**
 * Builds the network of tests/_topology_layout.ts: C (a test network, so it also has a
 * management veth pair to the root namespace), routers r1, r2a, r2b, r3, the core segment's
 * bridge, and targets T1 and T2, with every link tapped (counted) but no fault.
 *
 * @example
 * ```ts
 * await using topology = await createTopology();
 * await topology.dropOnLink("r1>r2a", 20);
 * ```
 */
export async function createTopology(options: TopologyOptions = {}): Promise<Topology> {
  await deleteStale();
  const management = await createTestNetwork();
  const names = namespaceNames(management);
  const created: string[] = [];
  const remove = async () => {
    for (const name of created.splice(0)) await deleteNamespace(name);
    await management[Symbol.asyncDispose]();
  };
  try {
    await build(names, created, options);
  } catch (error) {
    await remove();
    throw error;
  }
  const inside = (node: NamespaceNode) => ["ip", "netns", "exec", names[node]];
  const nft = (node: NodeName, script: string) => run([...inside(node), "nft", "-f", "-"], script);
  const pinned = new Set<TargetName>();
  const targets = { T1: ADDRESSES.T1.r3, T2: ADDRESSES.T2.r3 };

  const dropOnLink = async (link: LinkName, percent: number) => {
    if (!Object.hasOwn(LINKS, link)) {
      throw new RangeError(`Cannot drop on link "${link}": links are ${LINK_NAMES.join(", ")}`);
    }
    if (!(percent >= 0 && percent <= 100)) {
      throw new RangeError(`Cannot drop on link ${link}: percent must be 0..100, got ${percent}`);
    }
    // numgen gives a fresh random number per packet; mod 10000 allows hundredths of a percent.
    const chance = percent >= 100 ? "" : `numgen random mod 10000 < ${Math.round(percent * 100)} `;
    const table = TABLE.join(" ");
    const lines = [`flush chain ${table} link_${ident(link)}`, countingRule(link)];
    if (percent > 0) {
      lines.push(
        `add rule ${table} link_${ident(link)} ${chance}counter name dropped_${ident(link)} drop`,
      );
    }
    await nft(LINKS[link].tap.node, lines.join("\n") + "\n");
  };
  const restoreRoutes = async () => {
    for (const target of pinned) {
      await run(["ip", "-n", names.r1, "route", "delete", `${targets[target]}/32`]);
      pinned.delete(target);
    }
  };

  return {
    namespaces: names,
    collectorAddress: ADDRESSES.C.r1,
    managementAddress: management.remoteAddress,
    targets,
    links: LINKS,
    reverseHops: REVERSE_HOPS,
    expectedHops,
    execPrefix: inside,
    command: (node, args, options = {}) =>
      new Deno.Command("ip", { ...options, args: ["netns", "exec", names[node], ...args] }),
    dropOnLink,
    blackholeLink: (link) => dropOnLink(link, 100),
    async routeChange(target, via) {
      if (!Object.hasOwn(BRANCH_HOPS, via)) {
        throw new RangeError(`Cannot pin a route via "${via}": branches are r2a, r2b`);
      }
      await run([
        ...["ip", "-n", names.r1, "route", "replace", `${targets[target]}/32`],
        ...["via", BRANCH_HOPS[via].fromR1, "dev", via],
      ]);
      pinned.add(target);
    },
    restoreRoutes,
    async clearFaults() {
      for (const link of LINK_NAMES) await dropOnLink(link, 0);
      await restoreRoutes();
    },
    async linkCounters(link) {
      const listing = JSON.parse(
        await run([...inside(LINKS[link].tap.node), "nft", "-j", "list", "table", ...TABLE]),
      ) as { nftables: { counter?: { name: string; packets: number } }[] };
      const packets = (name: string) => {
        const found = listing.nftables.find((entry) => entry.counter?.name === name);
        if (found === undefined) throw new Error(`No nftables counter ${name} for link ${link}`);
        return found.counter!.packets;
      };
      return {
        crossed: packets(`crossed_${ident(link)}`),
        dropped: packets(`dropped_${ident(link)}`),
      };
    },
    async nftCounters() {
      const tapped = [...new Set(LINK_NAMES.map((link) => LINKS[link].tap.node))];
      const listings = await Promise.all(
        tapped.map((node) => run([...inside(node), "nft", "list", "table", ...TABLE])),
      );
      return tapped.map((node, index) => `# ${node}\n${listings[index]}`).join("\n");
    },
    [Symbol.asyncDispose]: remove,
  };
}
