import assert from "node:assert/strict";
import { resolve } from "node:path";
import { ConfigError } from "@llama/core";
import { type CollectorConfig, defaultCollectorConfig, parseCollectorConfig } from "./config.ts";
import { loadCollectorConfig, type LoadConfigOptions } from "./load.ts";
import { DEFAULT_TRACING } from "./_tracing_config.ts";
import type { ResolvedConfig, ResolvedTarget } from "./resolve.ts";

const root = resolve(import.meta.dirname!, "..");
const badConfigs = resolve(root, "tests/fixtures/bad-configs");
const originalConfigs = resolve(root, "tests/fixtures/original/original-configs");
const sampleConfigs = resolve(root, "configs");

/** Resolves only the names the tests choose, and fails the rest the way getaddrinfo does. */
function fakeLookup(names: Record<string, string> = {
  "localhost.test": "127.0.0.1",
  "group.test": "239.255.0.1",
}): LoadConfigOptions["lookup"] & { calls: string[] } {
  const calls: string[] = [];
  return Object.assign((hostname: string) => {
    calls.push(hostname);
    return hostname in names
      ? Promise.resolve(names[hostname])
      : Promise.reject(new Error(`getaddrinfo ENOTFOUND ${hostname}`));
  }, { calls });
}

/** Loads `yaml` from a temporary file, as the collector would load it from disk. */
async function loadYaml(yaml: string, options: LoadConfigOptions = {}): Promise<ResolvedConfig> {
  const file = await Deno.makeTempFile({ prefix: "llama-config-", suffix: ".yaml" });
  try {
    await Deno.writeTextFile(file, yaml);
    return await loadCollectorConfig(file, options);
  } finally {
    await Deno.remove(file);
  }
}

/** What a target list says, without where it was written. */
function targetsOf(
  list: ResolvedTarget[],
): Pick<ResolvedTarget, "host" | "ip" | "port" | "tags">[] {
  return list.map(({ host, ip, port, tags }) => ({ host, ip, port, tags }));
}

/** Every section but the targets and where the config came from. */
function settingsOf(config: CollectorConfig | ResolvedConfig): Record<string, unknown> {
  const { file: _file, format: _format, targets: _targets, ...settings } = config;
  return settings;
}

// Each bad config, the message after its `file:line:col: ` prefix, and that line and column.
const BAD_CONFIGS: [file: string, message: string, line: number, column: number][] = [
  [
    "yaml_syntax_error.yaml",
    "invalid YAML: Tabs are not allowed as indentation; indent with spaces",
    4,
    1,
  ],
  [
    "unquoted_ipv6_any.yaml",
    'invalid YAML: Nested mappings are not allowed in compact mappings; quote IPv6 addresses that start with ":", like "::"',
    4,
    9,
  ],
  [
    "duplicate_key.yaml",
    'ports.default: duplicate key "default", first given at line 3, column 3; a key may appear only once in a map',
    6,
    3,
  ],
  [
    "empty.yaml",
    "the config is empty: expected the full format or a map of target to tags",
    1,
    1,
  ],
  [
    "top_level_list.yaml",
    "expected a map (the full format, or target address to tags), got a list",
    2,
    1,
  ],
  [
    "unknown_rate_limit.yaml",
    'tests[0].rate_limit: no rate limit named "fast"; defined: default',
    15,
    17,
  ],
  [
    "unknown_port_group.yaml",
    'tests[0].port_group: no port group named "ecmp"; defined: default',
    14,
    17,
  ],
  [
    "unknown_target_list.yaml",
    'tests[0].targets: no target list named "west"; defined: default',
    13,
    14,
  ],
  [
    "missing_ports.yaml",
    'missing "ports": expected a map of port name to settings (the full format needs ports, port_groups, rate_limits, tests and targets)',
    2,
    1,
  ],
  [
    "missing_tests.yaml",
    'missing "tests": expected a list of tests (the full format needs ports, port_groups, rate_limits, tests and targets)',
    2,
    1,
  ],
  [
    "empty_tests.yaml",
    "tests: expected at least one test (targets, port_group and rate_limit), got an empty list: nothing would be probed",
    12,
    8,
  ],
  [
    "negative_timeout.yaml",
    "ports.default.timeout: expected a whole number (milliseconds) from 1 to 600000, got -500",
    5,
    14,
  ],
  [
    "port_out_of_range.yaml",
    "ports.default.port: expected a whole number from 0 to 65535, got 70000",
    5,
    11,
  ],
  [
    "target_port_out_of_range.yaml",
    "targets.default[0].port: expected a whole number from 1 to 65535, got 70000",
    19,
    13,
  ],
  [
    "tos_256.yaml",
    "ports.default.tos: expected a whole number from 0 to 255, got 256",
    5,
    10,
  ],
  [
    "cps_zero.yaml",
    "rate_limits.default.cps: expected a number (cycles per second) from 0.001 to 100000, got 0",
    11,
    10,
  ],
  [
    "cps_text.yaml",
    'rate_limits.default.cps: expected a number (cycles per second) from 0.001 to 100000, got "fast"',
    11,
    10,
  ],
  [
    "interval_zero.yaml",
    "summarization.interval: expected a whole number (seconds) from 1 to 86400, got 0",
    3,
    13,
  ],
  [
    "bad_api_bind.yaml",
    'api.bind: expected host:port (like 0.0.0.0:5000), got "0.0.0.0"',
    3,
    9,
  ],
  [
    "ip_holds_hostname.yaml",
    'targets.default[0].ip: expected an IP address, got "reflector-1.example.net" (for a hostname, write "host:" instead of "ip:")',
    18,
    11,
  ],
  [
    "ip_octet_out_of_range.yaml",
    'targets.default[0].ip: expected an IP address, got "10.20.30.256" (an IPv4 address is four numbers from 0 to 255)',
    18,
    11,
  ],
  [
    "ip_and_host.yaml",
    'targets.default[0]: expected either "ip" (an IP address) or "host" (a hostname), got both',
    18,
    7,
  ],
  [
    "unresolvable_host.yaml",
    'targets.default[1].host: cannot resolve "reflector-9.example.invalid": getaddrinfo ENOTFOUND reflector-9.example.invalid',
    20,
    13,
  ],
  [
    "typo_key.yaml",
    'ports.default.timout: unknown key "timout" (did you mean "timeout"?); expected one of ip, port, tos, timeout',
    5,
    5,
  ],
  [
    "tags_list.yaml",
    "targets.default[0].tags: expected a map of tag name to value, got a list",
    21,
    9,
  ],
  [
    "tag_name_space.yaml",
    'targets.default[0].tags."dst service": tag names may not be empty or hold spaces, commas, quotes or "=", got "dst service"',
    22,
    9,
  ],
  [
    "legacy_bad_key.yaml",
    '"127.0.0.2:8100": expected an IP address or hostname without a port, got "127.0.0.2:8100"; every legacy target uses the --dst-port port (8100), so for a port per target use the full format',
    4,
    1,
  ],
  [
    "ipv6_from_ipv4_port.yaml",
    'targets.default[1].ip: target ::1 is IPv6, but tests[0] sends from port "default" bound to 0.0.0.0 (IPv4); bind that port to "::" to reach it',
    20,
    11,
  ],
  [
    "target_broadcast.yaml",
    'targets.default[1].ip: expected the unicast address of one reflector, got "255.255.255.255", the broadcast address (255.255.255.255): probes sent there reach no reflector, many, or this host',
    20,
    11,
  ],
  [
    "target_multicast.yaml",
    'targets.default[1].ip: expected the unicast address of one reflector, got "224.0.0.1", a multicast address (224.0.0.0/4): probes sent there reach no reflector, many, or this host',
    20,
    11,
  ],
  [
    "target_unspecified.yaml",
    'targets.default[1].ip: expected the unicast address of one reflector, got "0.0.0.0", the unspecified address (0.0.0.0): probes sent there reach no reflector, many, or this host',
    20,
    11,
  ],
  [
    "target_ipv6_multicast.yaml",
    'targets.default[1].ip: expected the unicast address of one reflector, got "ff02::1", a multicast address (ff00::/8): probes sent there reach no reflector, many, or this host',
    20,
    11,
  ],
  [
    "target_ipv6_unspecified.yaml",
    'targets.default[1].ip: expected the unicast address of one reflector, got "::", the unspecified address (::): probes sent there reach no reflector, many, or this host',
    20,
    11,
  ],
  [
    "target_mapped_broadcast.yaml",
    'targets.default[1].ip: expected the unicast address of one reflector, got "::ffff:255.255.255.255", the broadcast address (255.255.255.255): probes sent there reach no reflector, many, or this host',
    20,
    11,
  ],
  [
    "host_resolves_to_multicast.yaml",
    'targets.default[1].host: expected the unicast address of one reflector, got "group.test", which resolves to 239.255.0.1, a multicast address (224.0.0.0/4): probes sent there reach no reflector, many, or this host',
    20,
    13,
  ],
  [
    "legacy_multicast.yaml",
    '"239.1.2.3": expected the unicast address of one reflector, got "239.1.2.3", a multicast address (224.0.0.0/4): probes sent there reach no reflector, many, or this host',
    3,
    1,
  ],
  [
    "cps_inf.yaml",
    "rate_limits.default.cps: expected a number (cycles per second) from 0.001 to 100000, got .inf",
    11,
    10,
  ],
  [
    "cps_nan.yaml",
    "rate_limits.default.cps: expected a number (cycles per second) from 0.001 to 100000, got .NaN",
    11,
    10,
  ],
  [
    "count_fixed_port.yaml",
    'port_groups.default[0].count: port "default" binds the fixed port 9000, which only one socket can hold; use count 1, or port 0 to let the system choose',
    9,
    14,
  ],
];

Deno.test("a bad config is refused with its file, line, column, path and what was expected", async (t) => {
  const fixtures = [...Deno.readDirSync(badConfigs)].map((entry) => entry.name).sort();
  assert.deepEqual(fixtures, BAD_CONFIGS.map(([file]) => file).sort());
  for (const [name, message, line, column] of BAD_CONFIGS) {
    await t.step(name, async () => {
      const file = resolve(badConfigs, name);
      const error = await loadCollectorConfig(file, { lookup: fakeLookup() }).then(
        () => assert.fail(`${name} loaded`),
        (error: unknown) => error,
      );
      assert.ok(error instanceof ConfigError, `${name}: ${error}`);
      assert.equal(error.message, `${file}:${line}:${column}: ${message}`);
      assert.equal(error.file, file);
      assert.equal(error.line, line);
      assert.equal(error.column, column);
      assert.equal(
        error.path ? `${error.path}: ${error.detail}` : error.detail,
        message,
      );
    });
  }
});

Deno.test("a hostname that does not resolve keeps the resolver's error as the cause", async () => {
  const error = await loadCollectorConfig(resolve(badConfigs, "unresolvable_host.yaml"), {
    lookup: fakeLookup(),
  }).catch((error: unknown) => error);
  assert.ok(error instanceof ConfigError);
  assert.ok(error.cause instanceof Error);
  assert.equal(error.cause.message, "getaddrinfo ENOTFOUND reflector-9.example.invalid");
});

const ORIGINAL_TARGETS = [
  {
    host: "127.0.0.1",
    ip: "127.0.0.1",
    port: 8100,
    tags: {
      dst_hostname: "localhost",
      dst_region: "west",
      dst_service: "my-service",
      my_tag: "foobar",
      src_hostname: "localhost",
      src_region: "west",
    },
  },
  {
    host: "127.0.0.2",
    ip: "127.0.0.2",
    port: 8100,
    tags: {
      dst_hostname: "localhost",
      dst_region: "west",
      dst_service: "my-service",
      my_tag: "foo",
      src_hostname: "other-host",
      src_region: "east",
    },
  },
  { host: "127.0.0.3", ip: "127.0.0.3", port: 8100, tags: { foo: "bar" } },
];

Deno.test("the original's legacy example loads unchanged, with the default settings", async () => {
  const file = resolve(originalConfigs, "simple_example.yaml");
  const config = await loadCollectorConfig(file, { lookup: fakeLookup() });
  assert.equal(config.file, file);
  assert.equal(config.format, "legacy");
  assert.deepEqual(Object.keys(config.targets), ["default"]);
  assert.deepEqual(targetsOf(config.targets.default), ORIGINAL_TARGETS);
  assert.deepEqual(config.targets.default[2].location, {
    path: '"127.0.0.3"',
    line: 22,
    column: 1,
  });
  assert.deepEqual(settingsOf(config), settingsOf(defaultCollectorConfig()));
});

Deno.test("the original's full example loads unchanged, with the same targets as the legacy one", async () => {
  const file = resolve(originalConfigs, "complex_example.yaml");
  const config = await loadCollectorConfig(file, { lookup: fakeLookup() });
  assert.equal(config.file, file);
  assert.equal(config.format, "full");
  assert.deepEqual(Object.keys(config.targets), ["default"]);
  assert.deepEqual(targetsOf(config.targets.default), ORIGINAL_TARGETS);
  assert.deepEqual(config.targets.default[1].location, {
    path: "targets.default[1].ip",
    line: 72,
    column: 17,
  });
  // The example spells out the default settings.
  assert.deepEqual(settingsOf(config), settingsOf(defaultCollectorConfig()));
});

Deno.test("the default config is the original's built-in one", async () => {
  const expected: CollectorConfig = {
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
        port: 8100,
        tags: {},
        location: { path: "targets.default[0]" },
      }],
    },
    tracing: { ...DEFAULT_TRACING },
  };
  assert.deepEqual(defaultCollectorConfig(), expected);
  const loaded = await loadCollectorConfig(undefined, { dstPort: 9100, lookup: fakeLookup() });
  assert.deepEqual(loaded, {
    ...expected,
    targets: { default: [{ ...expected.targets.default[0], ip: "127.0.0.1", port: 9100 }] },
  });
});

Deno.test("--dst-port sets the port of legacy targets and of full-format targets without one", async () => {
  const legacy = await loadCollectorConfig(resolve(originalConfigs, "simple_example.yaml"), {
    dstPort: 9100,
    lookup: fakeLookup(),
  });
  assert.deepEqual(legacy.targets.default.map((target) => target.port), [9100, 9100, 9100]);

  const full = await loadYaml(
    `ports: {default: {ip: 0.0.0.0}}
port_groups: {default: [{port: default, count: 2}]}
rate_limits: {default: {cps: 1}}
tests: [{targets: default, port_group: default, rate_limit: default}]
targets:
  default:
    - ip: 127.0.0.1
    - ip: 127.0.0.2
      port: 8200
`,
    { dstPort: 9100, lookup: fakeLookup() },
  );
  assert.deepEqual(full.targets.default.map((target) => target.port), [9100, 8200]);
});

const HOSTNAME_CONFIG = `source_tags:
  src_hostname: collector-1
  src_region: west
ports:
  v4: {ip: 0.0.0.0}
  any: {ip: "::"}
port_groups:
  v4: [{port: v4, count: 2}]
  any: [{port: any, count: 2}]
rate_limits:
  default: {cps: 2}
tests:
  - {targets: v4, port_group: v4, rate_limit: default}
  - {targets: mixed, port_group: any, rate_limit: default}
targets:
  v4:
    - host: localhost.test
      port: 8100
      tags: {dst_hostname: reflector-1}
    - ip: 127.0.0.2
  mixed:
    - host: localhost.test
    - ip: ::1
      tags: {dst_hostname: localhost-v6}
    - ip: "2001:db8::7"
    - ip: 127.0.0.3
`;

Deno.test("hostname targets resolve through the injected lookup, once per name", async () => {
  const lookup = fakeLookup();
  const config = await loadYaml(HOSTNAME_CONFIG, { lookup });
  assert.deepEqual(lookup.calls, ["localhost.test"]);
  assert.deepEqual(targetsOf(config.targets.v4), [
    { host: "localhost.test", ip: "127.0.0.1", port: 8100, tags: { dst_hostname: "reflector-1" } },
    { host: "127.0.0.2", ip: "127.0.0.2", port: 8100, tags: {} },
  ]);
});

Deno.test("IPv6 and IPv4 targets load together when probed from a port bound to ::", async () => {
  const config = await loadYaml(HOSTNAME_CONFIG, { lookup: fakeLookup() });
  assert.equal(config.ports.any.ip, "::");
  assert.deepEqual(targetsOf(config.targets.mixed), [
    { host: "localhost.test", ip: "127.0.0.1", port: 8100, tags: {} },
    { host: "::1", ip: "::1", port: 8100, tags: { dst_hostname: "localhost-v6" } },
    { host: "2001:db8::7", ip: "2001:db8::7", port: 8100, tags: {} },
    { host: "127.0.0.3", ip: "127.0.0.3", port: 8100, tags: {} },
  ]);
});

Deno.test("targets with equal tags share one frozen object, in both formats", async () => {
  const full = await loadYaml(
    [
      "ports: {p: {ip: 0.0.0.0}}",
      "port_groups: {g: [{port: p, count: 1}]}",
      "rate_limits: {r: {cps: 1}}",
      "tests: [{targets: a, port_group: g, rate_limit: r}, {targets: b, port_group: g, rate_limit: r}]",
      "targets:",
      "  a:",
      "    - {ip: 127.0.0.1, tags: {rack: r1, dc: west}}",
      "    - {ip: 127.0.0.2, tags: {rack: r1, dc: west}}",
      "    - {ip: 127.0.0.3}",
      "  b:",
      "    - {ip: 127.0.0.4, tags: {}}",
      "    - {ip: 127.0.0.5, tags: {dc: west, rack: r1}}",
      "",
    ].join("\n"),
  );
  const [first, second, untagged] = full.targets.a;
  const [empty, reordered] = full.targets.b;
  assert.equal(first.tags, second.tags);
  assert.deepEqual(first.tags, { rack: "r1", dc: "west" });
  assert.equal(untagged.tags, empty.tags);
  assert.deepEqual(empty.tags, {});
  // Another order of the same tags is another object, with equal content.
  assert.notEqual(reordered.tags, first.tags);
  assert.deepEqual(reordered.tags, first.tags);
  for (const target of [...full.targets.a, ...full.targets.b]) {
    assert.ok(Object.isFrozen(target.tags), `${target.host}'s tags are frozen`);
  }
  const legacy = await loadYaml(
    "127.0.0.1: {rack: r1}\n127.0.0.2: {rack: r1}\n127.0.0.3: {rack: r2}\n",
  );
  const [one, two, three] = legacy.targets.default;
  assert.equal(one.tags, two.tags);
  assert.notEqual(one.tags, three.tags);
  assert.deepEqual(three.tags, { rack: "r2" });
});

Deno.test("source_tags describe the collector", async () => {
  const config = await loadYaml(HOSTNAME_CONFIG, { lookup: fakeLookup() });
  assert.deepEqual(config.sourceTags, { src_hostname: "collector-1", src_region: "west" });
});

Deno.test("localhost resolves with the system lookup", async () => {
  const config = await loadYaml(
    `ports: {any: {ip: "::"}}
port_groups: {any: [{port: any, count: 1}]}
rate_limits: {default: {cps: 1}}
tests: [{targets: local, port_group: any, rate_limit: default}]
targets: {local: [{host: localhost, port: 8100}]}
`,
  );
  const [target] = config.targets.local;
  assert.equal(target.host, "localhost");
  assert.ok(["127.0.0.1", "::1"].includes(target.ip), target.ip);
});

Deno.test("every sample collector config in configs/ loads with the system lookup", async () => {
  const names = [...Deno.readDirSync(sampleConfigs)]
    .map((entry) => entry.name)
    .filter((name) => name.startsWith("collector.") && name.endsWith(".yaml"))
    .sort();
  assert.deepEqual(names, ["collector.demo.yaml", "collector.full.yaml", "collector.legacy.yaml"]);
  const loaded: Record<string, ResolvedConfig> = {};
  for (const name of names) loaded[name] = await loadCollectorConfig(resolve(sampleConfigs, name));

  const full = loaded["collector.full.yaml"];
  assert.equal(full.format, "full");
  assert.deepEqual(full.sourceTags, { src_hostname: "collector-1", src_region: "west" });
  assert.equal(full.ports.dual_stack.ip, "::");
  assert.deepEqual(full.targets.dual_stack.map((target) => target.host), ["::1", "localhost"]);
  assert.deepEqual(
    full.targets.routers.map(({ port, stamp }) => [port, stamp?.protocol, stamp?.mode]),
    [[862, "stamp", "stateful"]],
  );
  assert.equal(full.tests[3].stamp?.protocol, "stamp");

  assert.equal(loaded["collector.legacy.yaml"].format, "legacy");
  assert.deepEqual(
    loaded["collector.legacy.yaml"].targets.default.map((target) => target.ip),
    ["127.0.0.1", "127.0.0.2", "127.0.0.3"],
  );

  const demo = loaded["collector.demo.yaml"];
  assert.equal(demo.summarization.intervalSeconds, 5);
  assert.deepEqual(demo.api.bind, { hostname: "127.0.0.1", port: 5000 });
  assert.deepEqual(demo.portGroups.default, [{ port: "default", count: 4 }]);
  assert.deepEqual(demo.rateLimits.default, { cps: 10 });
  assert.deepEqual(
    demo.targets.default.map(({ ip, port, tags }) => [ip, port, tags.dst_hostname]),
    [["127.0.0.1", 8100, "localhost"], ["127.0.0.3", 8100, "nobody-home"]],
  );
});

Deno.test("a legacy config refuses a setting such as timeout_ms, pointing at the full format's ports.<name>.timeout", () => {
  assert.throws(
    () => parseCollectorConfig("127.0.0.1: {}\ntimeout_ms: 500\n", { file: "legacy.yaml" }),
    (error: unknown) => {
      assert.ok(error instanceof ConfigError, `expected a ConfigError, got ${error}`);
      assert.equal(error.line, 2);
      assert.equal(error.column, 1);
      assert.match(
        error.message,
        /timeout_ms: expected a target address mapped to tags, got "timeout_ms": 500/,
      );
      assert.match(error.message, /the legacy format has no settings/);
      assert.match(error.message, /ports\.<name>\.timeout \(milliseconds\)/);
      return true;
    },
  );
  // Under a target, a key is a tag, as in the original: it sets no timeout.
  const config = parseCollectorConfig("127.0.0.1:\n  timeout_ms: 500\n");
  assert.deepEqual(config.targets.default[0].tags, { timeout_ms: "500" });
  assert.equal(config.ports.default.timeoutMs, 1000);
});

const SMALL_FULL_CONFIG = `ports: {p: {ip: "0.0.0.0", port: 0, tos: 0, timeout: 300}}
port_groups: {g: [{port: p, count: 1}]}
rate_limits: {r: {cps: 2}}
tests: [{targets: t, port_group: g, rate_limit: r}]
targets: {t: [{ip: 127.0.0.1, port: 9}]}
`;

Deno.test("api: token_file, tls_cert and tls_key resolve against the config's folder", () => {
  const config = parseCollectorConfig(
    `api: {bind: "127.0.0.1:5000", token_file: tokens.txt, tls_cert: /etc/c.pem, tls_key: k.pem}\n` +
      SMALL_FULL_CONFIG,
    { file: "/srv/llama/collector.yaml" },
  );
  assert.deepEqual(config.api, {
    bind: { hostname: "127.0.0.1", port: 5000 },
    tokenFile: "/srv/llama/tokens.txt",
    tlsCert: "/etc/c.pem",
    tlsKey: "/srv/llama/k.pem",
  });
  assert.throws(
    () => parseCollectorConfig(`api: {tls_cert: c.pem}\n${SMALL_FULL_CONFIG}`, { file: "c.yaml" }),
    (error: Error) =>
      error instanceof ConfigError &&
      error.message === "c.yaml:1:6: api: tls_cert and tls_key go together: give both, or neither",
  );
  assert.throws(
    () => parseCollectorConfig(`api: {token: x}\n${SMALL_FULL_CONFIG}`, { file: "c.yaml" }),
    (error: Error) => error.message.includes("token"),
  );
});
