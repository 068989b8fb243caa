/**
 * The fleet plan: which of its configured (or discovered) targets this collector probes, by
 * mesh levels (a Pingmesh-style sample chosen by tags and rendezvous hashing) or by sharding (a
 * share of a target list split among collectors, each target probed by `replicas` of them).
 *
 * @module
 */
import { rendezvousHash, RendezvousMembers, rendezvousTop } from "@llama/core";
import type { TargetConfig } from "./config.ts";
import {
  fillTemplate,
  type FleetConfig,
  type MeshLevel,
  type ShardingConfig,
  targetTagOf,
} from "./_fleet_config.ts";

/** What one mesh level gave, over every list the mesh samples. */
export interface MeshLevelReport {
  /** The level's name. */
  name: string;
  /** Groups of targets the level found (distinct values of its `differ` tags). */
  groups: number;
  /** Targets the level chose that no earlier level had: paths from this collector. */
  paths: number;
}

/** How one target list was cut down. */
export interface TargetListReport {
  /** Sampled by the mesh, split by sharding, or kept whole. */
  mode: "mesh" | "sharded" | "whole";
  /** Targets in the list. */
  of: number;
  /** Targets this collector probes. */
  kept: number;
}

/** What the plan did, for `--check` and the logs. */
export interface FleetReport {
  /** This collector's identity. */
  identity: string;
  /** Each target list, by name. */
  lists: Record<string, TargetListReport>;
  /** The mesh levels, in order; empty without a mesh. */
  levels: MeshLevelReport[];
  /** The member list, with sharding. */
  sharding: {
    /** Distinct members. */
    members: number;
    /** Whether this collector is one of them (if not, it probes none of the sharded lists). */
    isMember: boolean;
    /** Collectors per target. */
    replicas: number;
    /** Entries of a member target list that have no identity (their tags lack one), left out. */
    withoutIdentity: number;
  } | undefined;
}

/** A config's parts that the plan reads, over any kind of target (configured or resolved). */
export interface PlannableConfig<T extends TargetConfig> {
  /** Tags of this collector. */
  sourceTags: Record<string, string>;
  /** Target lists by name. */
  targets: Record<string, T[]>;
  /** The fleet settings; undefined: every target is probed. */
  fleet?: FleetConfig;
}

/** The targets this collector probes, and the report of how they were chosen. */
export interface FleetPlan<T extends TargetConfig> {
  /** Target lists by name, each cut down to this collector's part, in the original order. */
  targets: Record<string, T[]>;
  /** Undefined when the config has no fleet settings. */
  report: FleetReport | undefined;
}

/**
 * Cuts every target list down to what this collector probes: a list the mesh samples to the
 * union of its levels' choices, a sharded list to this collector's share, any other list whole.
 * Pure and deterministic: every collector computes its own part from the same lists, and a host
 * joining or leaving changes few choices (see `RendezvousMembers`, `rendezvousTop`).
 *
 * @example
 * ```ts
 * import { parseCollectorConfig, planFleet } from "@llama/collector";
 * const config = parseCollectorConfig(`
 * source_tags: { src_hostname: c1 }
 * sharding: { members: [c1, c2], replicas: 1 }
 * ports: { p: {} }
 * port_groups: { g: [{ port: p }] }
 * rate_limits: { r: { cps: 1 } }
 * tests: [{ targets: all, port_group: g, rate_limit: r }]
 * targets: { all: [{ ip: 10.0.0.1 }, { ip: 10.0.0.2 }, { ip: 10.0.0.3 }, { ip: 10.0.0.4 }] }
 * `);
 * const plan = planFleet(config);
 * console.assert(plan.report?.lists.all.of === 4 && plan.targets.all.length < 4);
 * ```
 */
export function planFleet<T extends TargetConfig>(config: PlannableConfig<T>): FleetPlan<T> {
  const fleet = config.fleet;
  if (fleet === undefined) return { targets: config.targets, report: undefined };
  const report: FleetReport = {
    identity: fleet.identity,
    lists: {},
    levels: (fleet.mesh?.levels ?? []).map(({ name }) => ({ name, groups: 0, paths: 0 })),
    sharding: undefined,
  };
  const sharded = fleet.sharding === undefined ? new Set<string>() : new Set(
    fleet.sharding.targetLists ??
      Object.keys(config.targets).filter((list) => !(fleet.mesh?.targetLists ?? []).includes(list)),
  );
  const meshed = fleet.mesh === undefined ? new Set<string>() : new Set(
    fleet.mesh.targetLists ?? Object.keys(config.targets).filter((list) => !sharded.has(list)),
  );
  const members = fleet.sharding === undefined
    ? undefined
    : memberList(fleet.sharding, fleet, config.targets);
  if (members !== undefined) {
    report.sharding = {
      members: members.list.size,
      isMember: members.list.names().includes(fleet.identity),
      replicas: fleet.sharding!.replicas,
      withoutIdentity: members.withoutIdentity,
    };
  }
  const targets: Record<string, T[]> = {};
  for (const [name, list] of Object.entries(config.targets)) {
    let kept = list;
    let mode: TargetListReport["mode"] = "whole";
    if (meshed.has(name)) {
      mode = "mesh";
      kept = sampleMesh(list, fleet, config.sourceTags, report.levels);
    } else if (members !== undefined && sharded.has(name)) {
      mode = "sharded";
      kept = members.list.share(fleet.identity, list, fleet.sharding!.replicas, targetKey);
    }
    targets[name] = kept;
    report.lists[name] = { mode, of: list.length, kept: kept.length };
  }
  return { targets, report };
}

/** The name a target is hashed by: `host:port` as configured (`[v6]:port` for IPv6). */
export function targetKey(target: TargetConfig): string {
  return target.host.includes(":")
    ? `[${target.host}]:${target.port}`
    : `${target.host}:${target.port}`;
}

/**
 * A target's identity in the fleet: the collector identity's template with each `{src_x}` read
 * from the target's `dst_x` tag (other names from the tag of that name). Undefined when a tag is
 * missing, or the template names no tag at all.
 */
export function targetIdentity(target: TargetConfig, identityTemplate: string): string | undefined {
  if (!/\{[^{}]+\}/.test(identityTemplate)) return undefined;
  return fillTemplate(identityTemplate, (name) => target.tags[targetTagOf(name)]);
}

function memberList<T extends TargetConfig>(
  sharding: ShardingConfig,
  fleet: FleetConfig,
  targets: Record<string, T[]>,
): { list: RendezvousMembers; withoutIdentity: number } {
  if (sharding.members.kind === "static") {
    return { list: new RendezvousMembers(sharding.members.names), withoutIdentity: 0 };
  }
  const names: string[] = [];
  let withoutIdentity = 0;
  for (const entry of targets[sharding.members.list] ?? []) {
    const identity = targetIdentity(entry, fleet.identityTemplate);
    if (identity === undefined) withoutIdentity++;
    else names.push(identity);
  }
  return { list: new RendezvousMembers(names), withoutIdentity };
}

interface Candidate<T> {
  readonly name: string;
  readonly hash: number;
  readonly target: T;
}

/** The union of the levels' choices from `list`, in list order; counts into `levels`. */
function sampleMesh<T extends TargetConfig>(
  list: readonly T[],
  fleet: FleetConfig,
  sourceTags: Record<string, string>,
  levels: MeshLevelReport[],
): T[] {
  const chooser = rendezvousHash(fleet.identity);
  const candidates: Candidate<T>[] = [];
  for (const target of list) {
    // A collector does not probe itself (its own reflector, when its identity says so).
    if (targetIdentity(target, fleet.identityTemplate) === fleet.identity) continue;
    const name = targetKey(target);
    candidates.push({ name, hash: rendezvousHash(name), target });
  }
  const chosen = new Set<T>();
  fleet.mesh!.levels.forEach((level, index) => {
    const groups = groupsOf(candidates, level, sourceTags);
    levels[index].groups += groups.size;
    for (const group of groups.values()) {
      const picks = level.perGroup === "all"
        ? group
        : rendezvousTop(chooser, group, level.perGroup);
      for (const { target } of picks) {
        if (chosen.has(target)) continue;
        chosen.add(target);
        levels[index].paths++;
      }
    }
  });
  return list.filter((target) => chosen.has(target));
}

/** The candidates that `level` admits, grouped by the values of its `differ` tags. */
function groupsOf<T extends TargetConfig>(
  candidates: readonly Candidate<T>[],
  level: MeshLevel,
  sourceTags: Record<string, string>,
): Map<string, Candidate<T>[]> {
  const groups = new Map<string, Candidate<T>[]>();
  next: for (const candidate of candidates) {
    const tags = candidate.target.tags;
    for (const tag of level.same) {
      if (tags[targetTagOf(tag)] !== sourceTags[tag]) continue next;
    }
    let key = "";
    for (const tag of level.differ) {
      const value = tags[targetTagOf(tag)];
      if (value === undefined || value === sourceTags[tag]) continue next;
      key += `${value}\u0000`;
    }
    let group = groups.get(key);
    if (group === undefined) groups.set(key, group = []);
    group.push(candidate);
  }
  return groups;
}

/**
 * The report as lines of text, as `--check` prints them: each cut-down list, each mesh level's
 * paths, and the member list.
 *
 * @example
 * ```ts
 * import { formatFleetReport } from "@llama/collector";
 * const lines = formatFleetReport({
 *   identity: "c1",
 *   lists: { hosts: { mode: "sharded", of: 9, kept: 3 } },
 *   levels: [],
 *   sharding: { members: 3, isMember: true, replicas: 1, withoutIdentity: 0 },
 * });
 * console.assert(lines[1] === 'target list "hosts": sharded, 3 of 9 targets');
 * ```
 */
export function formatFleetReport(report: FleetReport): string[] {
  const lines = [`identity ${JSON.stringify(report.identity)}`];
  for (const [name, list] of Object.entries(report.lists)) {
    lines.push(
      `target list ${JSON.stringify(name)}: ${list.mode}, ${list.kept} of ${list.of} targets`,
    );
  }
  for (const level of report.levels) {
    lines.push(
      `mesh level ${JSON.stringify(level.name)}: ${level.paths} paths from ${level.groups} ` +
        (level.groups === 1 ? "group" : "groups"),
    );
  }
  const sharding = report.sharding;
  if (sharding !== undefined) {
    lines.push(
      `sharding: ${sharding.members} members, ${sharding.replicas} per target; ` +
        (sharding.isMember
          ? "this collector is one"
          : "this collector is NOT one, so it probes none of the sharded targets") +
        (sharding.withoutIdentity > 0
          ? ` (${sharding.withoutIdentity} member entries without an identity left out)`
          : ""),
    );
  }
  return lines;
}
