import { isIP } from "node:net";
import { type ConfigNode, parseYamlConfig } from "@llama/core";
import {
  checkHost,
  isHostname,
  readTags,
  required,
  requiredEntries,
  requiredField,
  TagInterner,
  unknownName,
} from "./_config_fields.ts";
import { DEFAULT_TRACING, parseTracing, type TracingConfig } from "./_tracing_config.ts";
import { type FleetConfig, parseFleet } from "./_fleet_config.ts";
import {
  type DiscoverySource,
  isDiscoveryNode,
  parseDiscoverySource,
} from "./_discovery_config.ts";
import {
  isStamp,
  readStampOptions,
  STAMP_KEYS,
  STAMP_PORT,
  type StampOptions,
} from "./_stamp_config.ts";
import { type CollectorApiConfig, parseApi } from "./_api_config.ts";
import { type ProbeAuthConfig, readProbeAuth } from "./_probe_auth_config.ts";

export type { CollectorApiConfig } from "./_api_config.ts";

export type { TracingConfig } from "./_tracing_config.ts";
export type { ProbeAuthConfig } from "./_probe_auth_config.ts";
export type {
  FleetConfig,
  MemberSource,
  MeshConfig,
  MeshLevel,
  ShardingConfig,
} from "./_fleet_config.ts";

/** A port definition: what each socket of a port group binds and how its probes behave. */
export interface PortConfig {
  /** Address to bind; `0.0.0.0` or `::` for any. */
  ip: string;
  /** Port to bind; 0 lets the kernel choose. */
  port: number;
  /** IP TOS byte carried in the probe (and set on the socket where the engine can). */
  tos: number;
  /** Milliseconds after which an unanswered probe is lost. */
  timeoutMs: number;
}

/** One entry of a port group: `count` sockets of port `port`. */
export interface PortGroupMember {
  /** Name of a port in `ports`. */
  port: string;
  /** How many sockets of it. */
  count: number;
}

/** Where a value sits in the config file, for errors found after parsing (DNS). */
export interface ConfigLocation {
  /** Path inside the config. */
  path: string;
  /** 1-based line. */
  line?: number;
  /** 1-based column. */
  column?: number;
}

/** A target: where a reflector listens, and the tags its results carry. */
export interface TargetConfig {
  /** IP address, or a hostname resolved when the config is loaded. */
  host: string;
  /** UDP port of the reflector. */
  port: number;
  /** Tags attached to this target's summaries. */
  tags: Record<string, string>;
  /** Where the target is in the config. */
  location: ConfigLocation;
  /** Its STAMP keys (a llama extension), if it has any. */
  stamp?: StampOptions;
  /** True when `port` was not written: a STAMP test probes such a target on port 862. */
  portDefaulted?: boolean;
}

/** A test: probe these targets from this port group at this rate. */
export interface TestConfig {
  /** Name of a target list. */
  targets: string;
  /** Name of a port group. */
  portGroup: string;
  /** Name of a rate limit. */
  rateLimit: string;
  /** STAMP keys for all its targets (a llama extension), if it has any. */
  stamp?: StampOptions;
}

/** A collector's whole configuration, validated. */
export interface CollectorConfig {
  /** The file it came from, if any. */
  file: string | undefined;
  /** Which of the original's formats it was written in. */
  format: "full" | "legacy" | "default";
  /** Summaries: every `intervalSeconds`, aligned to wall-clock multiples. */
  summarization: { intervalSeconds: number; handlers: number };
  /** Where the HTTP API listens, and how it is locked down (paths resolved against the file's). */
  api: CollectorApiConfig;
  /** Tags describing this collector (the source), added to every summary. */
  sourceTags: Record<string, string>;
  /** Port definitions by name. */
  ports: Record<string, PortConfig>;
  /** Port groups by name. */
  portGroups: Record<string, PortGroupMember[]>;
  /** Rate limits by name, in cycles per second. */
  rateLimits: Record<string, { cps: number }>;
  /** The tests. */
  tests: TestConfig[];
  /** Target lists by name; a discovered list is empty here (see `discovery`). */
  targets: Record<string, TargetConfig[]>;
  /**
   * Target lists discovered at run time (`{ file_sd: PATH }`, `{ http_sd: URL }`,
   * `{ dns_srv: NAME }`, `{ dns: NAME, port: N }`), by name; absent when there are none.
   */
  discovery?: Record<string, DiscoverySource>;
  /** Hop-by-hop tracing of the flows (a llama extension). */
  tracing: TracingConfig;
  /**
   * Authenticated probes (`auth_key_file`, a llama extension): sign every probe and believe only
   * replies signed with a key of this file. Absent: probes are unsigned, as the original's.
   */
  auth?: ProbeAuthConfig;
  /**
   * Identity, mesh levels and sharding (a llama extension; see `planFleet`); undefined: every
   * target is probed.
   */
  fleet?: FleetConfig;
}

/** Options for reading a config. */
export interface ParseConfigOptions {
  /** File name for error messages. */
  file?: string;
  /** Reflector port for targets of the legacy format (`-llama.dst-port`). Default 8100. */
  dstPort?: number;
}

const FULL_KEYS = [
  "summarization",
  "api",
  "ports",
  "port_groups",
  "rate_limits",
  "tests",
  "targets",
  "source_tags",
  "tracing",
  "auth_key_file",
  "identity",
  "mesh",
  "sharding",
] as const;

/**
 * The original LLAMA's built-in config, used when no file is given: one target,
 * `127.0.0.1:<dstPort>`, probed from 4 ports at 4 cycles per second, summarized every 30 s,
 * API on `0.0.0.0:5000`.
 *
 * @example
 * ```ts
 * import { defaultCollectorConfig } from "@llama/collector";
 * const config = defaultCollectorConfig();
 * console.assert(config.portGroups.default[0].count === 4);
 * ```
 */
export function defaultCollectorConfig(dstPort = 8100): CollectorConfig {
  return {
    file: undefined,
    format: "default",
    summarization: { intervalSeconds: 30, handlers: 2 },
    api: { bind: { hostname: "0.0.0.0", port: 5000 } },
    sourceTags: {},
    ports: { default: { ip: "0.0.0.0", port: 0, tos: 0, timeoutMs: 1000 } },
    portGroups: { default: [{ port: "default", count: 4 }] },
    rateLimits: { default: { cps: 4 } },
    tests: [{ targets: "default", portGroup: "default", rateLimit: "default" }],
    targets: {
      default: [{
        host: "127.0.0.1",
        port: dstPort,
        tags: {},
        location: { path: "targets.default[0]" },
      }],
    },
    tracing: { ...DEFAULT_TRACING },
  };
}

/**
 * Parses and validates a collector config in either of the original's YAML formats: the full
 * one, or the legacy map of target address to tags. Pure: no file, network or DNS access.
 * Throws `ConfigError` naming the file, line, column and path of the first problem.
 *
 * @example
 * ```ts
 * import { parseCollectorConfig } from "@llama/collector";
 * const config = parseCollectorConfig("127.0.0.1:\n  dst_region: west\n", { dstPort: 9000 });
 * console.assert(config.format === "legacy" && config.targets.default[0].port === 9000);
 * ```
 */
export function parseCollectorConfig(
  text: string,
  options: ParseConfigOptions = {},
): CollectorConfig {
  const root = parseYamlConfig(text, options.file);
  if (root.isMissing) {
    throw root.error("the config is empty: expected the full format or a map of target to tags");
  }
  const keys = root.entries("a map (the full format, or target address to tags)").map(([key]) =>
    key
  );
  const dstPort = options.dstPort ?? 8100;
  return keys.some((key) => (FULL_KEYS as readonly string[]).includes(key))
    ? parseFull(root, options.file, dstPort)
    : parseLegacy(root, options.file, dstPort);
}

function parseLegacy(root: ConfigNode, file: string | undefined, dstPort: number): CollectorConfig {
  const config = defaultCollectorConfig(dstPort);
  config.file = file;
  config.format = "legacy";
  const tagSets = new TagInterner();
  config.targets.default = root.entries("a map of target address to tags").map(
    ([host, value, keyNode]) => {
      const withPort = /^\[?([^\[\]]+?)\]?:\d+$/.exec(host);
      if (
        isIP(host) === 0 && withPort !== null &&
        (isIP(withPort[1]) !== 0 || isHostname(withPort[1]))
      ) {
        throw keyNode.error(
          `expected an IP address or hostname without a port, got ${JSON.stringify(host)}; ` +
            `every legacy target uses the --dst-port port (${dstPort}), so for a port per ` +
            `target use the full format`,
        );
      }
      if (isIP(host) === 0 && !value.isMissing && value.scalar() !== undefined) {
        // `timeout_ms: 500` beside the targets: the original has no such legacy setting either.
        throw keyNode.error(
          `expected a target address mapped to tags, got ${JSON.stringify(host)}: ` +
            `${value.describe()}; the legacy format has no settings (every target takes the ` +
            "default config's, a 1000 ms probe timeout among them): for a port's timeout, " +
            "use the full format's ports.<name>.timeout (milliseconds)",
        );
      }
      checkHost(host, keyNode, "the key");
      return {
        host,
        port: dstPort,
        tags: tagSets.intern(readTags(value)),
        location: keyNode.location(),
      };
    },
  );
  return config;
}

function parseFull(root: ConfigNode, file: string | undefined, dstPort: number): CollectorConfig {
  const defaults = defaultCollectorConfig(dstPort);
  const fields = root.fields(FULL_KEYS, "a map");
  const config: CollectorConfig = {
    ...defaults,
    file,
    format: "full",
    ports: {},
    portGroups: {},
    rateLimits: {},
    tests: [],
    targets: {},
  };

  const summarization = fields.get("summarization");
  if (summarization !== undefined && !summarization.isMissing) {
    const values = summarization.fields(
      ["interval", "handlers"],
      "a map with interval and handlers",
    );
    config.summarization = {
      intervalSeconds:
        values.get("interval")?.number({ min: 1, max: 86400, integer: true, unit: "seconds" }) ??
          defaults.summarization.intervalSeconds,
      handlers: values.get("handlers")?.number({ min: 1, max: 1024, integer: true }) ??
        defaults.summarization.handlers,
    };
  }

  const api = fields.get("api");
  if (api !== undefined && !api.isMissing) {
    config.api = parseApi(api, config.api, file);
  }

  config.tracing = parseTracing(fields.get("tracing"));
  const auth = readProbeAuth(fields.get("auth_key_file"), file);
  if (auth !== undefined) config.auth = auth;

  const sourceTags = fields.get("source_tags");
  if (sourceTags !== undefined) config.sourceTags = readTags(sourceTags);

  for (
    const [name, node] of requiredEntries(fields, "ports", root, "a map of port name to settings")
  ) {
    const values = node.fields(
      ["ip", "port", "tos", "timeout"],
      "a map with ip, port, tos and timeout",
    );
    const ip = values.get("ip");
    const address = ip === undefined ? "0.0.0.0" : ip.text("an IP address");
    if (ip !== undefined && isIP(address) === 0) {
      throw ip.error(`expected an IP address to bind, got ${ip.describe()}`);
    }
    config.ports[name] = {
      ip: address,
      port: values.get("port")?.number({ min: 0, max: 65535, integer: true }) ?? 0,
      tos: values.get("tos")?.number({ min: 0, max: 255, integer: true }) ?? 0,
      timeoutMs: values.get("timeout")?.number({
        min: 1,
        max: 600_000,
        integer: true,
        unit: "milliseconds",
      }) ??
        1000,
    };
  }

  for (
    const [name, node] of requiredEntries(
      fields,
      "port_groups",
      root,
      "a map of port group name to ports",
    )
  ) {
    const members = node.items("a list of {port, count}").map((item) => {
      const values = item.fields(["port", "count"], "a map with port and count");
      const port = requiredField(values, "port", item, "the name of a port");
      const portName = port.text("the name of a port");
      if (!(portName in config.ports)) throw unknownName(port, "port", portName, config.ports);
      const count = values.get("count")?.number({ min: 1, max: 1024, integer: true }) ?? 1;
      if (count > 1 && config.ports[portName].port !== 0) {
        throw (values.get("count") ?? item).error(
          `port "${portName}" binds the fixed port ${
            config.ports[portName].port
          }, which only one socket can hold; ` +
            `use count 1, or port 0 to let the system choose`,
        );
      }
      return { port: portName, count };
    });
    if (members.length === 0) throw node.error("a port group needs at least one port");
    config.portGroups[name] = members;
  }

  for (
    const [name, node] of requiredEntries(
      fields,
      "rate_limits",
      root,
      "a map of rate limit name to cps",
    )
  ) {
    const values = node.fields(["cps"], "a map with cps");
    config.rateLimits[name] = {
      cps: requiredField(values, "cps", node, "cycles per second").number({
        min: 0.001,
        max: 100_000,
        unit: "cycles per second",
      }),
    };
  }

  const tagSets = new TagInterner();
  for (
    const [name, node] of requiredEntries(
      fields,
      "targets",
      root,
      "a map of target list name to targets",
    )
  ) {
    if (isDiscoveryNode(node)) {
      config.discovery ??= {};
      config.discovery[name] = parseDiscoverySource(node, file, dstPort);
      config.targets[name] = [];
      continue;
    }
    config.targets[name] = node.items("a list of targets").map((item) => {
      const values = item.fields(
        ["ip", "host", "port", "tags", ...STAMP_KEYS],
        "a map with ip (or host), port, tags and the STAMP keys",
      );
      const ip = values.get("ip");
      const host = values.get("host");
      if ((ip === undefined) === (host === undefined)) {
        throw item.error(
          ip === undefined
            ? 'a target needs "ip" (or "host" for a hostname)'
            : 'expected either "ip" (an IP address) or "host" (a hostname), got both',
        );
      }
      const address = (ip ?? host)!.text("an address");
      if (ip !== undefined) checkHost(address, ip, "ip", true);
      else checkHost(address, host!, "host");
      const stamp = readStampOptions(values, file);
      const port = values.get("port")?.number({ min: 1, max: 65535, integer: true });
      return {
        host: address,
        port: port ?? (isStamp(stamp) ? STAMP_PORT : dstPort),
        tags: tagSets.intern(values.has("tags") ? readTags(values.get("tags")!) : {}),
        location: (ip ?? host!).location(),
        ...(stamp === undefined ? {} : { stamp }),
        ...(port === undefined ? { portDefaulted: true } : {}),
      };
    });
  }

  const tests = required(fields, "tests", root, "a list of tests");
  config.tests = tests.items("a list of tests").map((item) => {
    const values = item.fields(
      ["targets", "port_group", "rate_limit", ...STAMP_KEYS],
      "a map with targets, port_group, rate_limit and the STAMP keys",
    );
    const reference = (key: string, kind: string, table: Record<string, unknown>) => {
      const node = requiredField(values, key, item, `the name of a ${kind}`);
      const name = node.text(`the name of a ${kind}`);
      if (!(name in table)) throw unknownName(node, kind, name, table);
      return name;
    };
    const stamp = readStampOptions(values, file);
    return {
      targets: reference("targets", "target list", config.targets),
      portGroup: reference("port_group", "port group", config.portGroups),
      rateLimit: reference("rate_limit", "rate limit", config.rateLimits),
      ...(stamp === undefined ? {} : { stamp }),
    };
  });
  const fleet = parseFleet(fields, config.sourceTags, config.targets);
  if (fleet !== undefined) config.fleet = fleet;
  if (config.tests.length === 0) {
    throw tests.error(
      "expected at least one test (targets, port_group and rate_limit), got an empty list: " +
        "nothing would be probed",
    );
  }
  return config;
}
