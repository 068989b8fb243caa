/**
 * Prometheus target groups (`[{ "targets": ["host:port"], "labels": { … } }]`), the shape of
 * file_sd files and HTTP SD answers, read into targets with tags.
 *
 * @module
 */
import { isIP } from "node:net";
import { isHostname, type TagInterner } from "./_config_fields.ts";

/** A target a source found: an address or hostname, a port and the tags its results carry. */
export interface DiscoveredTarget {
  /** IP address, or a hostname still to resolve. */
  host: string;
  /** UDP port of the reflector. */
  port: number;
  /** Tags: the list's own, then the source's labels. */
  tags: Readonly<Record<string, string>>;
  /** Where the source gave it, for error messages: `[2].targets[0]`. */
  where: string;
}

/** A source that could not be read or whose content is not valid. */
export class DiscoveryError extends Error {
  /** Creates an error; `cause` is the error beneath, if any. */
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "DiscoveryError";
  }
}

/** `error` (from `readTargetGroups`) prefixed with the file or URL it was read from. */
export function inSource(where: string, error: unknown): DiscoveryError {
  const message = (error as Error).message;
  return new DiscoveryError(`${where}${message.startsWith("[") ? "" : ": "}${message}`, {
    cause: error,
  });
}

/** What a group's targets get when they do not say. */
export interface GroupDefaults {
  /** Port of targets written without one. */
  port: number;
  /** Tags of every target, under the group's labels. */
  tags: Record<string, string>;
}

/** One read of a source. */
export interface SourceRead {
  /** The targets found, or undefined when the source has not changed since the last read. */
  targets: DiscoveredTarget[] | undefined;
  /** Seconds until the source should be read again, when the source says (a DNS TTL). */
  nextSeconds?: number;
}

/** Reads one discovery source; throws `DiscoveryError` when it cannot. */
export interface SourceReader {
  /** Reads the source. */
  read(): Promise<SourceRead>;
  /** Forgets what the last read saw, so the next one returns the targets even if unchanged. */
  reset(): void;
  /** Calls `changed` whenever the source may have changed (a watched file); returns its stop. */
  watch?(changed: () => void): () => void;
}

const LABEL_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * The targets of a list of Prometheus target groups. Labels become tags, except those starting
 * with `__` (`__address__`, `__meta_*`, `__param_*`: Prometheus's own, which name no property of
 * a path). Throws `DiscoveryError` naming the first entry that is not valid.
 */
export function readTargetGroups(
  value: unknown,
  defaults: GroupDefaults,
  interner: TagInterner,
): DiscoveredTarget[] {
  if (!Array.isArray(value)) {
    throw new DiscoveryError(
      `expected a list of target groups ([{"targets": [...], "labels": {...}}]), got ${
        describe(value)
      }`,
    );
  }
  const targets: DiscoveredTarget[] = [];
  for (const [index, group] of value.entries()) {
    if (group === null || typeof group !== "object" || Array.isArray(group)) {
      throw new DiscoveryError(
        `[${index}]: expected a target group (a map), got ${describe(group)}`,
      );
    }
    const record = group as Record<string, unknown>;
    for (const key of Object.keys(record)) {
      if (key !== "targets" && key !== "labels") {
        throw new DiscoveryError(`[${index}]: unknown key "${key}"; expected targets and labels`);
      }
    }
    const tags = interner.intern({ ...defaults.tags, ...readLabels(record.labels, index) });
    const list = record.targets;
    if (!Array.isArray(list)) {
      throw new DiscoveryError(
        `[${index}].targets: expected a list of "host:port", got ${describe(list)}`,
      );
    }
    for (const [position, entry] of list.entries()) {
      const where = `[${index}].targets[${position}]`;
      if (typeof entry !== "string") {
        throw new DiscoveryError(`${where}: expected "host:port", got ${describe(entry)}`);
      }
      const { host, port } = splitHostPort(entry, defaults.port, where);
      targets.push({ host, port, tags, where });
    }
  }
  return targets;
}

function readLabels(labels: unknown, index: number): Record<string, string> {
  if (labels === undefined || labels === null) return {};
  if (typeof labels !== "object" || Array.isArray(labels)) {
    throw new DiscoveryError(
      `[${index}].labels: expected a map of label name to value, got ${describe(labels)}`,
    );
  }
  const tags: Record<string, string> = {};
  for (const [name, value] of Object.entries(labels as Record<string, unknown>)) {
    if (!LABEL_NAME.test(name)) {
      throw new DiscoveryError(
        `[${index}].labels: label names are letters, digits and "_", not starting with a ` +
          `digit, got ${JSON.stringify(name)}`,
      );
    }
    if (typeof value !== "string") {
      throw new DiscoveryError(
        `[${index}].labels.${name}: expected a string, got ${describe(value)}`,
      );
    }
    if (!name.startsWith("__")) tags[name] = value;
  }
  return tags;
}

/** `10.0.0.1:8100`, `[2001:db8::1]:8100`, `host.example:8100`, or any of them without a port. */
export function splitHostPort(
  text: string,
  defaultPort: number,
  where: string,
): { host: string; port: number } {
  let host = text;
  let port = defaultPort;
  const bracketed = /^\[([^\]]+)\](?::(\d+))?$/.exec(text);
  if (bracketed !== null) {
    host = bracketed[1];
    if (bracketed[2] !== undefined) port = Number(bracketed[2]);
  } else if (isIP(text) === 0) {
    const colon = text.lastIndexOf(":");
    if (colon !== -1) {
      host = text.slice(0, colon);
      port = /^\d+$/.test(text.slice(colon + 1)) ? Number(text.slice(colon + 1)) : NaN;
    }
  }
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw new DiscoveryError(
      `${where}: expected a port from 1 to 65535 in ${JSON.stringify(text)}`,
    );
  }
  if (isIP(host) === 0 && !isHostname(host)) {
    throw new DiscoveryError(
      `${where}: expected an IP address or a hostname, with an optional port, got ${
        JSON.stringify(text)
      }`,
    );
  }
  if (bracketed !== null && isIP(host) !== 6) {
    throw new DiscoveryError(`${where}: only an IPv6 address goes in brackets, got ${text}`);
  }
  return { host, port };
}

function describe(value: unknown): string {
  if (value === undefined) return "nothing";
  if (Array.isArray(value)) return "a list";
  if (value !== null && typeof value === "object") return "a map";
  return JSON.stringify(value);
}
