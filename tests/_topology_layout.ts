// The fixed plan of the path-tracing test network: nodes, interfaces, addresses, routes and the
// directed links a trace from C can cross. Pure data; tests/_topology.ts builds it.
//
//   C --c/r1-- r1 ==r2a== r2a \
//                 ==r2b== r2b --[core: a bridge in the "core" namespace]-- r3 --t1-- T1
//                                                                          r3 --t2-- T2
//
// Every topology is a closed island of namespaces (only C also has a management veth to the
// root namespace), so every topology can use the same addresses: 10.214.0.0/16, which no other
// test uses.

/** A node of the network that has an IP address (the bridge does not). */
export type NodeName = "C" | "r1" | "r2a" | "r2b" | "r3" | "T1" | "T2";

/** A node that has a namespace: the IP nodes and the core segment's bridge. */
export type NamespaceNode = NodeName | "core";

/** A trace target. */
export type TargetName = "T1" | "T2";

/** One of the two equal-cost second hops. */
export type Branch = "r2a" | "r2b";

/** A directed forward link a trace from C can cross. */
export type LinkName =
  | "C>r1"
  | "r1>r2a"
  | "r1>r2b"
  | "r2a>r3"
  | "r2b>r3"
  | "r3>T1"
  | "r3>T2";

/** Every link, in the order a trace crosses them. */
export const LINK_NAMES: readonly LinkName[] = [
  "C>r1",
  "r1>r2a",
  "r1>r2b",
  "r2a>r3",
  "r2b>r3",
  "r3>T1",
  "r3>T2",
];

/** Every namespace node, routers first so their sysctls are set before traffic can flow. */
export const NAMESPACE_NODES: readonly NamespaceNode[] = [
  "C",
  "r1",
  "r2a",
  "r2b",
  "r3",
  "core",
  "T1",
  "T2",
];

/** The routers (forwarding, answering time-exceeded). */
export const ROUTERS: readonly NodeName[] = ["r1", "r2a", "r2b", "r3"];

/**
 * The answering address of each IP node's interfaces, by interface name (named after the peer).
 * With `icmp_errors_use_inbound_ifaddr`, a router answers from the interface a probe came in on.
 */
export const ADDRESSES: Readonly<Record<NodeName, Readonly<Record<string, string>>>> = {
  C: { r1: "10.214.1.1" },
  r1: { c: "10.214.1.2", r2a: "10.214.2.1", r2b: "10.214.3.1" },
  r2a: { r1: "10.214.2.2", core: "10.214.4.1" },
  r2b: { r1: "10.214.3.2", core: "10.214.4.2" },
  r3: { core: "10.214.4.3", t1: "10.214.5.1", t2: "10.214.6.1" },
  T1: { r3: "10.214.5.2" },
  T2: { r3: "10.214.6.2" },
};

/** Every node interface's prefix length: each segment is a /24. */
export const PREFIX_LENGTH = 24;

/** A veth pair: `[namespace, interface]` at each end. */
export type Veth = readonly [readonly [NamespaceNode, string], readonly [NamespaceNode, string]];

/** The veth pairs; the core segment's routers plug into ports of the bridge `br0` in "core". */
export const VETHS: readonly Veth[] = [
  [["C", "r1"], ["r1", "c"]],
  [["r1", "r2a"], ["r2a", "r1"]],
  [["r1", "r2b"], ["r2b", "r1"]],
  [["r2a", "core"], ["core", "r2a"]],
  [["r2b", "core"], ["core", "r2b"]],
  [["r3", "core"], ["core", "r3"]],
  [["r3", "t1"], ["T1", "r3"]],
  [["r3", "t2"], ["T2", "r3"]],
];

/** The bridge of the core segment and its ports (interfaces of the "core" namespace). */
export const BRIDGE = { name: "br0", ports: ["r2a", "r2b", "r3"] } as const;

/** The targets' segments, which r1 reaches over both branches. */
export const TARGET_PREFIXES = ["10.214.5.0/24", "10.214.6.0/24"] as const;

/** C's segment, which r3 reaches over both branches. */
export const COLLECTOR_PREFIX = "10.214.1.0/24";

/** The next hop of each branch, from r1 (forward) and from r3 (reverse). */
export const BRANCH_HOPS: Readonly<Record<Branch, { fromR1: string; fromR3: string }>> = {
  r2a: { fromR1: ADDRESSES.r2a.r1, fromR3: ADDRESSES.r2a.core },
  r2b: { fromR1: ADDRESSES.r2b.r1, fromR3: ADDRESSES.r2b.core },
};

/** The whole network: the end nodes route only it, so nothing they send can leave the island. */
export const NETWORK_PREFIX = "10.214.0.0/16";

/** `ip route` commands (for `ip -batch`) of each node; multipath where the plan says so. */
export const ROUTES: Readonly<Record<NodeName, readonly string[]>> = {
  C: [`route add ${NETWORK_PREFIX} via ${ADDRESSES.r1.c}`],
  r1: TARGET_PREFIXES.map((prefix) =>
    `route add ${prefix} nexthop via ${BRANCH_HOPS.r2a.fromR1} dev r2a ` +
    `nexthop via ${BRANCH_HOPS.r2b.fromR1} dev r2b`
  ),
  r2a: [
    `route add ${COLLECTOR_PREFIX} via ${ADDRESSES.r1.r2a}`,
    ...TARGET_PREFIXES.map((prefix) => `route add ${prefix} via ${ADDRESSES.r3.core}`),
  ],
  r2b: [
    `route add ${COLLECTOR_PREFIX} via ${ADDRESSES.r1.r2b}`,
    ...TARGET_PREFIXES.map((prefix) => `route add ${prefix} via ${ADDRESSES.r3.core}`),
  ],
  r3: [
    `route add ${COLLECTOR_PREFIX} nexthop via ${BRANCH_HOPS.r2a.fromR3} dev core ` +
    `nexthop via ${BRANCH_HOPS.r2b.fromR3} dev core`,
  ],
  T1: [`route add ${NETWORK_PREFIX} via ${ADDRESSES.r3.t1}`],
  T2: [`route add ${NETWORK_PREFIX} via ${ADDRESSES.r3.t2}`],
};

/** Where a link's forward packets are counted and dropped. */
export interface LinkTap {
  /** The namespace whose nftables rules see the link's forward packets. */
  node: NodeName;
  /**
   * `prerouting` at the far node's ingress (before its TTL check, so probes expiring there are
   * affected); `forward` at the near node's egress where the far side is the shared core
   * segment, on which the far node cannot tell the branches apart by interface.
   */
  hook: "prerouting" | "forward";
  /** The interface: the far node's inbound one, or the near node's outbound one. */
  interface: string;
}

/** A directed link: its name, where it is tapped, and the address pair a trace shows for it. */
export interface LinkPlan {
  /** The link's name, `near>far`. */
  name: LinkName;
  /** The address the near hop answers from (C's own source address for `C>r1`). */
  from: string;
  /** The far node's answering address (the target's own address for the last links). */
  to: string;
  /** Where its forward packets are counted and dropped. */
  tap: LinkTap;
}

/** Every link's plan. */
export const LINKS: Readonly<Record<LinkName, LinkPlan>> = {
  "C>r1": {
    name: "C>r1",
    from: ADDRESSES.C.r1,
    to: ADDRESSES.r1.c,
    tap: { node: "r1", hook: "prerouting", interface: "c" },
  },
  "r1>r2a": {
    name: "r1>r2a",
    from: ADDRESSES.r1.c,
    to: ADDRESSES.r2a.r1,
    tap: { node: "r2a", hook: "prerouting", interface: "r1" },
  },
  "r1>r2b": {
    name: "r1>r2b",
    from: ADDRESSES.r1.c,
    to: ADDRESSES.r2b.r1,
    tap: { node: "r2b", hook: "prerouting", interface: "r1" },
  },
  "r2a>r3": {
    name: "r2a>r3",
    from: ADDRESSES.r2a.r1,
    to: ADDRESSES.r3.core,
    tap: { node: "r2a", hook: "forward", interface: "core" },
  },
  "r2b>r3": {
    name: "r2b>r3",
    from: ADDRESSES.r2b.r1,
    to: ADDRESSES.r3.core,
    tap: { node: "r2b", hook: "forward", interface: "core" },
  },
  "r3>T1": {
    name: "r3>T1",
    from: ADDRESSES.r3.core,
    to: ADDRESSES.T1.r3,
    tap: { node: "T1", hook: "prerouting", interface: "r3" },
  },
  "r3>T2": {
    name: "r3>T2",
    from: ADDRESSES.r3.core,
    to: ADDRESSES.T2.r3,
    tap: { node: "T2", hook: "prerouting", interface: "r3" },
  },
};

/** The sysctls of every namespace: IPv4 only, no reverse-path filter, unlimited ICMP errors. */
export const COMMON_SYSCTLS: readonly string[] = [
  "net.ipv6.conf.all.disable_ipv6=1",
  "net.ipv6.conf.default.disable_ipv6=1",
  "net.ipv4.conf.all.rp_filter=0",
  "net.ipv4.conf.default.rp_filter=0",
  "net.ipv4.icmp_ratelimit=0",
  // icmp_ratelimit only spaces errors to one peer; the ratemask also exempts them from the
  // namespace-wide token bucket (1,000/s, bursts of 50), which a traced burst would exceed.
  "net.ipv4.icmp_ratemask=0",
];

/** The routers' further sysctls. */
export const ROUTER_SYSCTLS: readonly string[] = [
  "net.ipv4.ip_forward=1",
  "net.ipv4.icmp_errors_use_inbound_ifaddr=1",
  // L4 hash: each 5-tuple keeps one branch, different source ports spread over both.
  "net.ipv4.fib_multipath_hash_policy=1",
];

/** The addresses a trace from C to `target` shows when it crosses `via`, router by router. */
export function expectedHops(target: TargetName, via: Branch): string[] {
  return [ADDRESSES.r1.c, BRANCH_HOPS[via].fromR1, ADDRESSES.r3.core, ADDRESSES[target].r3];
}

/** The links a trace from C to `target` crosses via `via`, in order. */
export function pathLinks(target: TargetName, via: Branch): LinkName[] {
  return ["C>r1", `r1>${via}`, `${via}>r3`, `r3>${target}`];
}

/** Routers between a target and C on the way back (each decrements the reply's TTL once). */
export const REVERSE_HOPS = 3;
