// A private network namespace joined to the root namespace by a veth pair, for tests that need
// a real network path they can degrade (nftables rules inside the namespace). Needs root, ip, nft.
import { deleteNamespace, deleteStaleNamespaces, runCommand } from "./_commands.ts";

/** Options of `createTestNetwork`. */
export interface TestNetworkOptions {
  /** Also give both ends a ULA IPv6 address. Default false. */
  ipv6?: boolean;
}

/** Which inbound datagrams `dropInbound` applies to; all inbound packets when empty. */
export interface DropMatch {
  /** Only UDP datagrams to this port. */
  udpDestinationPort?: number;
  /** Only UDP datagrams from this port. */
  udpSourcePort?: number;
}

/** A network namespace with a veth pair to the root namespace; dispose it to delete both. */
export interface TestNetwork extends AsyncDisposable {
  /** The namespace's name, `llama-test-<pid>-<slot>`. */
  readonly name: string;
  /** The root namespace's end of the veth pair (IPv4). */
  readonly hostAddress: string;
  /** The namespace's end of the veth pair (IPv4). */
  readonly remoteAddress: string;
  /** The root namespace's IPv6 address, with `{ ipv6: true }`. */
  readonly hostAddress6?: string;
  /** The namespace's IPv6 address, with `{ ipv6: true }`. */
  readonly remoteAddress6?: string;
  /** The prefix that runs a program inside the namespace: `["ip", "netns", "exec", name]`. */
  readonly execPrefix: readonly string[];
  /** A command that runs `args` inside the namespace (`ip netns exec NAME ...args`). */
  command(args: string[], options?: Omit<Deno.CommandOptions, "args">): Deno.Command;
  /** Drops `percent` (0–100, steps of 0.01) of matching packets arriving in the namespace. */
  dropInbound(percent: number, match?: DropMatch): Promise<void>;
  /**
   * Drops `percent` of matching packets leaving the namespace (the other direction), at its veth
   * end's egress hook: a drop there is silent to the sender (UDP ignores ENOBUFS), where one in
   * the output hook would fail its send with EPERM.
   */
  dropOutbound(percent: number, match?: DropMatch): Promise<void>;
  /** Removes every rule `dropInbound` and `dropOutbound` added. */
  clearRules(): Promise<void>;
  /** The namespace's nftables table with its counters, for debugging; "" without rules. */
  nftCounters(): Promise<string>;
}

const NAME_PREFIX = "llama-test-";
const TABLE = ["inet", "llama_test"];
const EGRESS_TABLE = ["netdev", "llama_test_egress"];
// 10.213.0.0/16 cut into /30s: 16,384 networks; the slot also names the veth ends.
const SLOTS = 16384;
const ULA_PREFIX = "fd6c:6c61:6d61"; // not fd00::/64, which eth0 of our CI hosts already uses

const run = (command: string[]) => runCommand(command);
/** Deletes `llama-test-<pid>-*` namespaces whose process has died, with their veth pairs. */
const deleteStale = () => deleteStaleNamespaces(/^(llama-test-(\d+)-\d+)\b/);

function ipv4(slot: number, host: number): string {
  const value = (10 << 24 | 213 << 16) + slot * 4 + host;
  return [24, 16, 8, 0].map((shift) => (value >>> shift) & 255).join(".");
}

/**
 * Claims a free slot and creates its namespace and veth pair. The root end's name
 * (`lt<slot>h`) is host-wide, so `ip link add` failing with "File exists" is an atomic claim
 * that works across test workers and processes; the pair is created with its peer already in
 * the namespace, so deleting the namespace always removes it.
 */
async function claimSlot(): Promise<{ slot: number; name: string }> {
  const start = crypto.getRandomValues(new Uint16Array(1))[0] % SLOTS;
  for (let attempt = 0; attempt < 64; attempt++) {
    const slot = (start + attempt) % SLOTS;
    const name = `${NAME_PREFIX}${Deno.pid}-${slot}`;
    try {
      await run(["ip", "netns", "add", name]);
    } catch (error) {
      if (/File exists/.test((error as Error).message)) continue;
      throw error;
    }
    try {
      await run([
        "ip",
        "link",
        "add",
        `lt${slot}h`,
        "type",
        "veth",
        "peer",
        "name",
        `lt${slot}r`,
        "netns",
        name,
      ]);
      return { slot, name };
    } catch (error) {
      await deleteNamespace(name);
      if (!/File exists/.test((error as Error).message)) throw error;
    }
  }
  throw new Error("Cannot create a test network: no free slot after 64 attempts");
}

/**
 * Creates a network namespace joined to ours by a veth pair with /30 IPv4 addresses (and /64
 * ULA IPv6 ones with `ipv6: true`), both ends up, `lo` up inside.
 *
 * @example
 * ```ts
 * await using network = await createTestNetwork();
 * await network.dropInbound(20, { udpDestinationPort: 8100 });
 * ```
 */
export async function createTestNetwork(options: TestNetworkOptions = {}): Promise<TestNetwork> {
  await deleteStale();
  const { slot, name } = await claimSlot();
  const hostLink = `lt${slot}h`;
  const remoteLink = `lt${slot}r`;
  const inside = ["ip", "netns", "exec", name];
  const hostAddress = ipv4(slot, 1);
  const remoteAddress = ipv4(slot, 2);
  const ipv6 = options.ipv6 === true;
  const hostAddress6 = ipv6 ? `${ULA_PREFIX}:${slot.toString(16)}::1` : undefined;
  const remoteAddress6 = ipv6 ? `${ULA_PREFIX}:${slot.toString(16)}::2` : undefined;
  let hasTable = false;
  try {
    await run(["ip", "addr", "add", `${hostAddress}/30`, "dev", hostLink]);
    await run([...inside, "ip", "addr", "add", `${remoteAddress}/30`, "dev", remoteLink]);
    if (ipv6) {
      // nodad: duplicate address detection would leave the addresses unusable for a second.
      await run(["ip", "-6", "addr", "add", `${hostAddress6}/64`, "dev", hostLink, "nodad"]);
      await run([
        ...inside,
        ...["ip", "-6", "addr", "add", `${remoteAddress6}/64`, "dev", remoteLink, "nodad"],
      ]);
    }
    await run(["ip", "link", "set", hostLink, "up"]);
    await run([...inside, "ip", "link", "set", remoteLink, "up"]);
    await run([...inside, "ip", "link", "set", "lo", "up"]);
  } catch (error) {
    await deleteNamespace(name);
    throw error;
  }
  const nft = (...args: string[]) => run([...inside, "nft", ...args]);
  let hasEgress = false;
  const addDrop = async (chain: "input" | "egress", percent: number, match: DropMatch) => {
    if (!(percent >= 0 && percent <= 100)) {
      throw new RangeError(`Cannot drop packets: percent must be 0..100, got ${percent}`);
    }
    if (chain === "input" && !hasTable) {
      await nft("add", "table", ...TABLE);
      await nft(
        ...["add", "chain", ...TABLE, "input"],
        "{ type filter hook input priority 0 ; policy accept ; }",
      );
      hasTable = true;
    }
    if (chain === "egress" && !hasEgress) {
      await nft("add", "table", ...EGRESS_TABLE);
      await nft(
        ...["add", "chain", ...EGRESS_TABLE, "egress"],
        `{ type filter hook egress device "${remoteLink}" priority 0 ; policy accept ; }`,
      );
      hasEgress = true;
    }
    const selector = [
      ...(chain === "egress" ? ["meta", "l4proto", "udp"] : []),
      ...(match.udpDestinationPort === undefined
        ? []
        : ["udp", "dport", `${match.udpDestinationPort}`]),
      ...(match.udpSourcePort === undefined ? [] : ["udp", "sport", `${match.udpSourcePort}`]),
    ];
    // numgen gives a fresh random number per packet; mod 10000 allows hundredths of a percent.
    const chance = percent >= 100
      ? []
      : ["numgen", "random", "mod", "10000", "<", `${Math.round(percent * 100)}`];
    const table = chain === "input" ? TABLE : EGRESS_TABLE;
    await nft("add", "rule", ...table, chain, ...selector, ...chance, "counter", "drop");
  };
  return {
    name,
    execPrefix: inside,
    hostAddress,
    remoteAddress,
    ...(ipv6 ? { hostAddress6, remoteAddress6 } : {}),
    command: (args, commandOptions = {}) =>
      new Deno.Command("ip", { ...commandOptions, args: ["netns", "exec", name, ...args] }),
    dropInbound: (percent, match = {}) => addDrop("input", percent, match),
    dropOutbound: (percent, match = {}) => addDrop("egress", percent, match),
    async clearRules() {
      if (hasTable) await nft("delete", "table", ...TABLE);
      if (hasEgress) await nft("delete", "table", ...EGRESS_TABLE);
      hasTable = hasEgress = false;
    },
    nftCounters: async () =>
      (hasTable ? await nft("list", "table", ...TABLE) : "") +
      (hasEgress ? await nft("list", "table", ...EGRESS_TABLE) : ""),
    async [Symbol.asyncDispose]() {
      // The kernel tears a namespace down asynchronously; deleting the veth pair first frees
      // its name and addresses before dispose returns.
      try {
        await run(["ip", "link", "delete", hostLink]);
      } catch (error) {
        if (!/Cannot find device|does not exist/.test((error as Error).message)) throw error;
      }
      await deleteNamespace(name);
    },
  };
}
