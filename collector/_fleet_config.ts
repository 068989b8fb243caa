/**
 * The collector config's fleet settings (a llama extension): `identity`, `mesh` (levels of the
 * Pingmesh-style sample) and `sharding` (a target list split among collectors, with replicas).
 *
 * @module
 */
import type { ConfigNode } from "@llama/core";
import { requiredField, unknownName } from "./_config_fields.ts";

/** One mesh level: the targets it may take, relative to this collector's tags, and how many. */
export interface MeshLevel {
  /** Name shown by `--check` and in logs. */
  name: string;
  /** Source tags (`src_rack`) whose target counterpart (`dst_rack`) must be equal. */
  same: string[];
  /** Source tags whose target counterpart must differ; the targets are grouped by them. */
  differ: string[];
  /** Targets taken from each group (rendezvous-hashed per collector), or every one. */
  perGroup: number | "all";
}

/** The mesh: which target lists it samples, by which levels. */
export interface MeshConfig {
  /** Target lists sampled; undefined: every list that is not sharded. */
  targetLists: string[] | undefined;
  /** The levels, in order; a target two levels take counts in the first. */
  levels: MeshLevel[];
}

/** Where the sharding member list comes from. */
export type MemberSource =
  /** Member identities written in the config. */
  | { kind: "static"; names: string[] }
  /** The identities of a target list's entries (discovered, or written). */
  | { kind: "targets"; list: string };

/** Sharding: a target list shared by the members, each target probed by `replicas` of them. */
export interface ShardingConfig {
  /** Target lists split; undefined: every list that the mesh does not sample. */
  targetLists: string[] | undefined;
  /** The member list. */
  members: MemberSource;
  /** Collectors that probe each target (1 to 100). */
  replicas: number;
}

/** The fleet settings of a collector. */
export interface FleetConfig {
  /** This collector's identity, the template filled from `source_tags`. */
  identity: string;
  /** The identity as written: `{src_x}` in it reads a target's `dst_x` for its identity. */
  identityTemplate: string;
  /** Mesh levels, if any. */
  mesh: MeshConfig | undefined;
  /** Sharding, if any. */
  sharding: ShardingConfig | undefined;
}

/** The identity used when `identity` is left out. */
export const DEFAULT_IDENTITY = "{src_hostname}";

/**
 * The target tag that a level's source tag is compared with: `src_x` ↔ `dst_x`, any other name
 * with itself.
 */
export function targetTagOf(sourceTag: string): string {
  return sourceTag.startsWith("src_") ? `dst_${sourceTag.slice(4)}` : sourceTag;
}

/**
 * `template` with each `{name}` replaced by `lookup(name)`; undefined when a name has no value.
 */
export function fillTemplate(
  template: string,
  lookup: (name: string) => string | undefined,
): string | undefined {
  let missing = false;
  const filled = template.replace(/\{([^{}]+)\}/g, (_, name: string) => {
    const value = lookup(name);
    if (value === undefined) missing = true;
    return value ?? "";
  });
  return missing ? undefined : filled;
}

/**
 * Reads `identity`, `mesh` and `sharding` (any may be missing); undefined when neither mesh nor
 * sharding is set. Target list names are checked against `targetLists`.
 */
export function parseFleet(
  fields: Map<string, ConfigNode>,
  sourceTags: Record<string, string>,
  targetLists: Record<string, unknown>,
): FleetConfig | undefined {
  const identityNode = fields.get("identity");
  const meshNode = fields.get("mesh");
  const shardingNode = fields.get("sharding");
  const template = identityNode?.text("an identity (text, {src_tag} filled from source_tags)") ??
    DEFAULT_IDENTITY;
  const identity = fillTemplate(template, (name) => sourceTags[name]);
  const mesh = meshNode === undefined || meshNode.isMissing
    ? undefined
    : parseMesh(meshNode, sourceTags, targetLists);
  const sharding = shardingNode === undefined || shardingNode.isMissing
    ? undefined
    : parseSharding(shardingNode, targetLists);
  if (mesh === undefined && sharding === undefined) return undefined;
  if (identity === undefined) {
    throw (identityNode ?? meshNode ?? shardingNode)!.error(
      `the identity ${JSON.stringify(template)} names a tag that source_tags does not have ` +
        `(source_tags: ${Object.keys(sourceTags).join(", ") || "none"}); mesh and sharding ` +
        'need this collector\'s identity: set "identity", or the tags it names',
    );
  }
  if (mesh !== undefined && sharding !== undefined) {
    const meshed = new Set(mesh.targetLists ?? []);
    const shared = (sharding.targetLists ?? []).filter((list) => meshed.has(list));
    if ((mesh.targetLists === undefined && sharding.targetLists === undefined) || shared.length) {
      throw shardingNode!.error(
        "a target list is either sampled by the mesh or split by sharding, not both: with " +
          "both set, give either (or each) its target_lists" +
          (shared.length > 0 ? ` (both take ${shared.join(", ")})` : ""),
      );
    }
  }
  return { identity, identityTemplate: template, mesh, sharding };
}

function parseTargetLists(
  node: ConfigNode | undefined,
  targetLists: Record<string, unknown>,
): string[] | undefined {
  if (node === undefined) return undefined;
  return node.items("a list of target list names").map((item) => {
    const name = item.text("the name of a target list");
    if (!(name in targetLists)) throw unknownName(item, "target list", name, targetLists);
    return name;
  });
}

function parseMesh(
  node: ConfigNode,
  sourceTags: Record<string, string>,
  targetLists: Record<string, unknown>,
): MeshConfig {
  const fields = node.fields(["target_lists", "levels"], "a map with target_lists and levels");
  const levelsNode = requiredField(fields, "levels", node, "a list of mesh levels");
  const names = new Set<string>();
  const levels = levelsNode.items("a list of mesh levels").map((item): MeshLevel => {
    const values = item.fields(
      ["name", "same", "differ", "per_group"],
      "a map with name, same, differ and per_group",
    );
    const nameNode = requiredField(values, "name", item, "the level's name");
    const name = nameNode.text("the level's name");
    if (names.has(name)) throw nameNode.error(`mesh level "${name}" is defined twice`);
    names.add(name);
    const tags = (key: string) => {
      const list = values.get(key);
      if (list === undefined || list.isMissing) return [];
      return list.items("a list of source tag names").map((tagNode) => {
        const tag = tagNode.text("a source tag name");
        if (!(tag in sourceTags)) {
          throw tagNode.error(
            `the level compares source tag "${tag}" (with the targets' "${targetTagOf(tag)}"), ` +
              `but source_tags does not have it (source_tags: ${
                Object.keys(sourceTags).join(", ") || "none"
              })`,
          );
        }
        return tag;
      });
    };
    const perGroupNode = values.get("per_group");
    let perGroup: number | "all" = "all";
    if (perGroupNode !== undefined && perGroupNode.scalar() !== "all") {
      perGroup = perGroupNode.number({ min: 1, max: 100_000, integer: true, unit: "or all" });
    }
    return { name, same: tags("same"), differ: tags("differ"), perGroup };
  });
  if (levels.length === 0) throw levelsNode.error("expected at least one mesh level");
  return { targetLists: parseTargetLists(fields.get("target_lists"), targetLists), levels };
}

function parseSharding(node: ConfigNode, targetLists: Record<string, unknown>): ShardingConfig {
  const fields = node.fields(
    ["target_lists", "members", "replicas"],
    "a map with target_lists, members and replicas",
  );
  const membersNode = requiredField(
    fields,
    "members",
    node,
    "a list of member identities, or {targets: NAME}",
  );
  let members: MemberSource;
  if (membersNode.describe() === "a list") {
    const names = membersNode.items("a list of member identities").map((item) =>
      item.text("a member identity")
    );
    if (names.length === 0) {
      throw membersNode.error("expected at least one member: nothing would be probed");
    }
    members = { kind: "static", names };
  } else {
    const values = membersNode.fields(["targets"], "a list of member identities, or {targets}");
    const listNode = requiredField(values, "targets", membersNode, "the name of a target list");
    const list = listNode.text("the name of a target list");
    if (!(list in targetLists)) throw unknownName(listNode, "target list", list, targetLists);
    members = { kind: "targets", list };
  }
  return {
    targetLists: parseTargetLists(fields.get("target_lists"), targetLists),
    members,
    replicas: fields.get("replicas")?.number({ min: 1, max: 100, integer: true }) ?? 1,
  };
}
