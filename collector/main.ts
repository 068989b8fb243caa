/**
 * The collector program: `deno run -A --unstable-net jsr:@llama/collector --config FILE`.
 *
 * Exit codes: 0 after SIGINT/SIGTERM (or a config that passes `--check`), 1 when it cannot run
 * (a port or the API address in use), 2 for bad flags, a bad config, or a Deno started without
 * `--unstable-net`. SIGHUP re-reads the config and the API token file.
 *
 * @module
 */
import { getLogger } from "@logtape/logtape";
import {
  type ApiSecurity,
  type ApiSecurityFiles,
  type ApiTokens,
  capMallocMmapThreshold,
  checkWholeNumber,
  ConfigError,
  ENGINE_CHOICES,
  type EngineChoice,
  formatAddress,
  fullGarbageCollector,
  hasDenoDatagramApi,
  loadApiSecurity,
  loadTokenFile,
  nativeEngineStatus,
  readProgramFlags,
  setupLogging,
  UsageError,
  waitForSignal,
  writePidFile,
} from "@llama/core";
import { startCollector } from "./collector.ts";
import { loadCollectorConfig } from "./load.ts";
import { formatFleetReport } from "./mesh.ts";
import { planResolvedFleet } from "./fleet_plan.ts";
import type { ResolvedConfig } from "./resolve.ts";
import { TargetDiscovery } from "./discovery.ts";
import { printDiscoveryCheck } from "./_discovery_check.ts";
import type { CollectorApiConfig } from "./config.ts";
import packageManifest from "./deno.json" with { type: "json" };

const FLAGS = {
  config: {
    type: "string",
    placeholder: "FILE",
    aliases: ["llama.config"],
    description:
      "Collector config (YAML, full or legacy format); without it, the original's default config",
  },
  "dst-port": {
    type: "number",
    default: 8100,
    aliases: ["llama.dst-port"],
    description: "Reflector port of targets in the legacy format and the default config",
  },
  check: {
    type: "boolean",
    description:
      "Validate the config (resolve its hostnames, read its discovery sources once and print the targets found), then exit",
  },
  engine: {
    type: "string",
    default: "auto",
    description:
      "UDP engine: native (libc: TOS marking, kernel timestamps, batches), deno, or auto",
  },
  "auth-key-file": {
    type: "string",
    placeholder: "FILE",
    description:
      "Authenticated probes: sign every probe with the first key of FILE (lines of ID HEX_SECRET, " +
      "# comments) and believe only replies signed with one of its keys (overrides the config's " +
      "auth_key_file); every reflector probed needs the keys",
  },
  history: {
    type: "number",
    default: 30,
    placeholder: "N",
    description:
      "Intervals kept for the matrix page's charts (1 to 1000; each older one costs 4-8 bytes a path)",
  },
  // API security (issue 19): the same as api.token_file, api.tls_cert, api.tls_key; flags win.
  "api-token-file": {
    type: "string",
    placeholder: "FILE",
    description:
      "Bearer tokens, one a line: every API route but /status needs one (401 without); re-read on SIGHUP",
  },
  "tls-cert": {
    type: "string",
    placeholder: "FILE",
    description: "Serve the API over HTTPS with this PEM certificate chain (with --tls-key)",
  },
  "tls-key": {
    type: "string",
    placeholder: "FILE",
    description: "The PEM private key of --tls-cert",
  },
  "pid-file": {
    type: "string",
    placeholder: "FILE",
    description:
      'Write this process\'s id to FILE once running (removed at exit): kill -HUP "$(cat FILE)" ' +
      "reloads this collector only",
  },
} as const;

/** What `--help` says of the config keys llama adds to the original's format. */
const CONFIG_NOTES = `Config keys llama adds (see configs/collector.full.yaml, docs/):
  tracing: {mode: auto|on|off, budget, probes_per_hop, max_hops, gap_limit, timeout, refresh,
            loss_threshold, concurrency}   hop-by-hop traces of every flow (docs/tracing.md)
  targets/tests: protocol: llama|stamp, stamp_mode: stateless|stateful, stamp_key_file: FILE
            probe STAMP (RFC 8762/8972) reflectors, such as routers' (docs/stamp.md)
  identity: "{src_hostname}"   this collector's name in rendezvous hashing (docs/fleet.md)
  mesh: {target_lists, levels: [{name, same, differ, per_group}]}   a sample by tags
  sharding: {members: [..] | {targets: LIST}, replicas, target_lists}   a shared target list`;

/** Runs the collector until SIGINT or SIGTERM; returns the exit code. */
export async function main(args: readonly string[]): Promise<number> {
  const flags = readProgramFlags("llama-collector", args, FLAGS, {
    print: (text) => console.error(text),
    version: packageManifest.version,
    notes: CONFIG_NOTES,
    validate: (values) => {
      checkWholeNumber("dst-port", values["dst-port"], 1, 65535);
      checkWholeNumber("history", values.history, 1, 1000);
      if (!(ENGINE_CHOICES as readonly string[]).includes(values.engine)) {
        throw new UsageError(`--engine takes ${ENGINE_CHOICES.join(", ")}, got "${values.engine}"`);
      }
    },
  });
  if (flags.exitCode !== undefined) return flags.exitCode;
  const { values } = flags;
  // First thing, before the config is read: a large one's parse and flows are the first big
  // allocations. Blocks of 32 KiB or more that glibc's arenas cannot serve get mappings of their
  // own, given back when freed, where the arenas would keep them (with 10,000 targets, 5-7 MiB of
  // RSS: see capMallocMmapThreshold).
  capMallocMmapThreshold(32 * 1024);
  const load = () =>
    loadCollectorConfig(values.config, {
      dstPort: values["dst-port"],
      authKeyFile: values["auth-key-file"],
    });

  // Owns the config's discovered target lists (file_sd, http_sd, dns_srv, dns), if any.
  await using discovery = new TargetDiscovery();
  // Flags win over the config's api section, file by file.
  const securityFiles = (api: CollectorApiConfig): ApiSecurityFiles => ({
    tokenFile: values["api-token-file"] ?? api.tokenFile,
    tlsCert: values["tls-cert"] ?? (values["tls-key"] === undefined ? api.tlsCert : undefined),
    tlsKey: values["tls-key"] ?? (values["tls-cert"] === undefined ? api.tlsKey : undefined),
  });

  let config: ResolvedConfig | undefined;
  let security: ApiSecurity;
  try {
    config = planResolvedFleet(await discovery.resolve(await load()));
    security = await loadApiSecurity(securityFiles(config.api));
  } catch (error) {
    if (!(error instanceof ConfigError) && !(error instanceof UsageError)) throw error;
    console.error(`llama-collector: ${error.message}`);
    return 2;
  }
  // Swapped by a reload: every request reads the current tokens.
  let tokens: ApiTokens | undefined = security.tokens;
  if (values.check) {
    const targets = Object.values(config.targets).reduce((sum, list) => sum + list.length, 0);
    console.error(
      `llama-collector: ${
        values.config ?? "the default config"
      } is valid (${config.format} format, ${targets} targets${
        config.fleetReport === undefined ? "" : " probed by this collector"
      }${
        config.authKeyring === undefined
          ? ""
          : `, probes signed with key "${config.authKeyring.signingKey.id}" of ${config.authKeyring.size}`
      })`,
    );
    if (config.fleetReport !== undefined) {
      for (const line of formatFleetReport(config.fleetReport)) {
        console.error(`llama-collector:   ${line}`);
      }
    }
    const failed = printDiscoveryCheck(config, discovery.status(), {
      out: (line) => console.log(line),
      error: (line) => console.error(`llama-collector: ${line}`),
    });
    return failed ? 2 : 0;
  }
  if (
    !hasDenoDatagramApi() &&
    (values.engine === "deno" || (values.engine === "auto" && !nativeEngineStatus().available))
  ) {
    console.error(
      "llama-collector: Deno's UDP API is disabled. Add --unstable-net, for example:\n" +
        "  deno run -A --unstable-net jsr:@llama/collector --config collector.yaml",
    );
    return 2;
  }

  await using _logging = await setupLogging(flags.logging);
  const log = getLogger(["llama", "collector"]);
  let collector;
  try {
    collector = await startCollector(config, {
      engine: values.engine as EngineChoice,
      historyIntervals: values.history,
      discovery,
      apiSecurity: { tokens: () => tokens, tls: security.tls },
    });
  } catch (error) {
    if (error instanceof UsageError) {
      console.error(`llama-collector: ${error.message}`);
      return 2;
    }
    log.fatal("Cannot start: {error}", { error });
    return 1;
  }
  await using _collector = collector;
  const running = collector;
  discovery.follow((changed) => running.reload(planResolvedFleet(changed)));
  const format = config.format;
  logFleet(log, config);
  // The collector keeps what it needs of the config; its targets' objects can go.
  config = undefined;
  // Parsing a large config (and setting up its flows) leaves garbage in V8's old generation, which
  // this program's steady allocations never fill: collect it once, so the heap does not stay as
  // large as the start made it (at 10,000 targets, RSS 220 MB without this, 150 MB with it). It
  // pauses the first probes for ~30 ms there; a reload is not followed by one, as probes of
  // a running collector are in flight then, and V8 collects that garbage in its own time.
  fullGarbageCollector()?.();
  log.info("Collector running: {format} config {file}, API on {scheme}://{api} ({tokens})", {
    format,
    file: values.config ?? "(built-in default)",
    scheme: security.tls === undefined ? "http" : "https",
    api: collector.apiAddress === undefined ? "-" : formatAddress(collector.apiAddress),
    tokens: tokens === undefined
      ? "open: no API token file"
      : `${tokens.size} API token${tokens.size === 1 ? "" : "s"}`,
  });

  let reloading = Promise.resolve();
  const reload = () => {
    reloading = reloading.then(async () => {
      try {
        const next = await load();
        const tokenFile = securityFiles(next.api).tokenFile;
        // A token file cannot be dropped by a reload: that would open the API (restart for it).
        const nextTokens = tokenFile === undefined ? tokens : await loadTokenFile(tokenFile);
        await discovery.reconfigure(next);
        tokens = nextTokens;
        logFleet(log, next);
        log.info("Reloaded {file}", { file: values.config ?? "(built-in default)" });
      } catch (error) {
        log.error("Reload failed, keeping the running config: {error}", { error });
      }
    });
  };
  const signals = waitForSignal(["SIGINT", "SIGTERM"], { SIGHUP: reload });
  // Written once SIGHUP reloads (not before: the default action of SIGHUP ends a process).
  let pidFile;
  try {
    pidFile = values["pid-file"] === undefined ? undefined : await writePidFile(values["pid-file"]);
  } catch (error) {
    signals.dispose();
    log.fatal("Cannot start: {error}", { error });
    return 1;
  }
  await using _pidFile = pidFile;
  try {
    const signal = await signals.stopped;
    log.info("Stopping ({signal})", { signal });
  } finally {
    signals.dispose();
    await reloading;
    await discovery.close();
    await collector.close();
  }
  return 0;
}

/** One line of what mesh levels and sharding chose, when the config has them. */
function logFleet(log: ReturnType<typeof getLogger>, config: ResolvedConfig): void {
  if (config.fleetReport === undefined) return;
  log.info("Fleet plan: {plan}", {
    plan: formatFleetReport(config.fleetReport).join("; "),
    fleet: config.fleetReport,
  });
}

if (import.meta.main) {
  Deno.exit(await main(Deno.args));
}
