/**
 * Scrapers sharing one collector list: each scrapes its share, chosen by rendezvous hashing of
 * the collectors' names over the scrapers' member list, each collector by `replicas` scrapers.
 *
 * @module
 */
import { type ConfigNode, RendezvousMembers } from "@llama/core";

/** A scraper's sharding settings, and what they left it. */
export interface ScraperSharding {
  /** This scraper's identity, one of `members` (else it scrapes nothing). */
  identity: string;
  /** Identities of every scraper that shares the collector list. */
  members: string[];
  /** Scrapers that scrape each collector (1 to 100). */
  replicas: number;
  /** Collectors in the config, before sharding. */
  of: number;
}

/**
 * The collectors (`CollectorTarget`s, or anything named) that the scraper `identity` scrapes: those whose `replicas`
 * heaviest members (rendezvous weight of member and collector name) include it. A scraper
 * joining or leaving moves only its own share.
 *
 * @example
 * ```ts
 * import { collectorTarget, shardCollectors } from "@llama/scraper";
 * const all = ["c1:5000", "c2:5000", "c3:5000", "c4:5000"].map((text) => collectorTarget(text)!);
 * const mine = shardCollectors(all, { identity: "s1", members: ["s1", "s2"], replicas: 1 });
 * const theirs = shardCollectors(all, { identity: "s2", members: ["s1", "s2"], replicas: 1 });
 * console.assert(mine.length + theirs.length === 4);
 * ```
 */
export function shardCollectors<T extends { readonly name: string }>(
  collectors: readonly T[],
  sharding: Pick<ScraperSharding, "identity" | "members" | "replicas">,
): T[] {
  return new RendezvousMembers(sharding.members).share(
    sharding.identity,
    collectors,
    sharding.replicas,
    (collector) => collector.name,
  );
}

/** Reads `sharding: { identity, members, replicas }`; `of` is filled in by the caller. */
export function parseScraperSharding(node: ConfigNode): Omit<ScraperSharding, "of"> {
  const fields = node.fields(
    ["identity", "members", "replicas"],
    "a map with identity, members and replicas",
  );
  const identityNode = fields.get("identity");
  if (identityNode === undefined) {
    throw node.error('missing "identity": this scraper\'s name in the member list');
  }
  const membersNode = fields.get("members");
  if (membersNode === undefined) {
    throw node.error('missing "members": a list of the identities of every scraper sharing');
  }
  const members = membersNode.items("a list of scraper identities").map((item) =>
    item.text("a scraper identity")
  );
  const identity = identityNode.text("this scraper's identity");
  if (!members.includes(identity)) {
    throw identityNode.error(
      `this scraper's identity ${JSON.stringify(identity)} is not in members (${
        members.join(", ") || "none"
      }): it would scrape no collector`,
    );
  }
  return {
    identity,
    members,
    replicas: fields.get("replicas")?.number({ min: 1, max: 100, integer: true }) ?? 1,
  };
}
