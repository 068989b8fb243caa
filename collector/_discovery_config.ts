/**
 * The config of a discovered target list: `targets: { web: { file_sd: web.json } }` and its
 * `http_sd`, `dns_srv` and `dns` siblings, parsed and validated (no file, network or DNS access).
 *
 * @module
 */
import { dirname, isAbsolute, join } from "node:path";
import { isIP } from "node:net";
import type { ConfigNode } from "@llama/core";
import { isHostname, readTags } from "./_config_fields.ts";

/** A kind of discovery source: a Prometheus file_sd file, an HTTP SD URL, SRV or A/AAAA records. */
export type DiscoveryKind = "file_sd" | "http_sd" | "dns_srv" | "dns";

/** The kinds of discovery source, as the config names them. */
export const DISCOVERY_KINDS: readonly DiscoveryKind[] = ["file_sd", "http_sd", "dns_srv", "dns"];

/** Where a target list's targets come from, instead of a list in the config. */
export interface DiscoverySource {
  /** Which kind of source. */
  kind: DiscoveryKind;
  /** The file (relative paths resolved against the config's folder), the URL or the DNS name. */
  source: string;
  /**
   * Seconds between reads: the poll of `http_sd`, the re-read behind `file_sd`'s watch, and the
   * longest a DNS answer is kept (a shorter TTL re-queries sooner).
   */
  refreshSeconds: number;
  /** Seconds a read may take before it counts as failed (HTTP and DNS). */
  timeoutSeconds: number;
  /** Port of targets that name none (`file_sd`, `http_sd`) and of every address (`dns`). */
  port: number;
  /** Tags given to every target of the list, under the labels a source gives. */
  tags: Record<string, string>;
  /** The DNS server to ask (`host:port`) instead of the system's (`dns`, `dns_srv`). */
  nameServer: string | undefined;
  /** Where the list is in the config (a `ConfigLocation`). */
  location: { path: string; line?: number; column?: number };
}

const KEYS = [...DISCOVERY_KINDS, "refresh", "timeout", "port", "tags", "name_server"];

/**
 * Whether `node` (a value of `targets:`) is a discovery source rather than a list of targets.
 */
export function isDiscoveryNode(node: ConfigNode): boolean {
  return node.describe() === "a map";
}

/**
 * Parses a discovered target list's settings. `file` is the config's own file, against whose
 * folder a relative `file_sd` path is resolved; `dstPort` the port of targets that name none.
 */
export function parseDiscoverySource(
  node: ConfigNode,
  file: string | undefined,
  dstPort: number,
): DiscoverySource {
  const fields = node.fields(
    KEYS,
    `a list of targets, or a map with one of ${
      DISCOVERY_KINDS.join(", ")
    } (and refresh, timeout, port, tags, name_server)`,
  );
  const given = DISCOVERY_KINDS.filter((kind) => fields.has(kind));
  if (given.length !== 1) {
    throw node.error(
      given.length === 0
        ? `a discovered target list needs one of ${DISCOVERY_KINDS.join(", ")}`
        : `a target list has one source, got ${given.join(" and ")}: make one list of each`,
    );
  }
  const kind = given[0];
  const sourceNode = fields.get(kind)!;
  let source = sourceNode.text(
    kind === "file_sd" ? "a file path" : kind === "http_sd" ? "an http(s) URL" : "a DNS name",
  );
  if (kind === "file_sd") {
    if (!isAbsolute(source) && file !== undefined) source = join(dirname(file), source);
  } else if (kind === "http_sd") {
    let url: URL | undefined;
    try {
      url = new URL(source);
    } catch {
      url = undefined;
    }
    if (url === undefined || (url.protocol !== "http:" && url.protocol !== "https:")) {
      throw sourceNode.error(`expected an http:// or https:// URL, got ${sourceNode.describe()}`);
    }
  } else if (!isHostname(source.replace(/^_/, "x").replace(/\._/g, ".x"))) {
    throw sourceNode.error(`expected a DNS name, got ${sourceNode.describe()}`);
  }
  const only = (key: string, kinds: DiscoveryKind[]) => {
    const value = fields.get(key);
    if (value !== undefined && !kinds.includes(kind)) {
      throw value.error(`"${key}" applies to ${kinds.join(" and ")} only, not ${kind}`);
    }
    return value;
  };
  const nameServerNode = only("name_server", ["dns", "dns_srv"]);
  const nameServer = nameServerNode?.text("host:port of a DNS server");
  if (nameServer !== undefined && !validNameServer(nameServer)) {
    throw nameServerNode!.error(
      `expected the IP address of a DNS server, with an optional port (127.0.0.1:53, [::1]:53), ` +
        `got ${nameServerNode!.describe()}`,
    );
  }
  const portNode = only("port", ["file_sd", "http_sd", "dns"]);
  const timeoutNode = only("timeout", ["http_sd", "dns", "dns_srv"]);
  return {
    kind,
    source,
    refreshSeconds: fields.get("refresh")?.number({ min: 0.1, max: 86400, unit: "seconds" }) ??
      30,
    timeoutSeconds: timeoutNode?.number({ min: 0.1, max: 600, unit: "seconds" }) ?? 10,
    port: portNode?.number({ min: 1, max: 65535, integer: true }) ?? dstPort,
    tags: fields.has("tags") ? readTags(fields.get("tags")!) : {},
    nameServer,
    location: sourceNode.location(),
  };
}

/** `127.0.0.1`, `127.0.0.1:5353`, `::1` or `[::1]:5353`. */
function validNameServer(text: string): boolean {
  if (isIP(text) !== 0) return true;
  const match = /^\[?([^\[\]]+?)\]?:(\d{1,5})$/.exec(text);
  return match !== null && isIP(match[1]) !== 0 && Number(match[2]) >= 1 &&
    Number(match[2]) <= 65535;
}
