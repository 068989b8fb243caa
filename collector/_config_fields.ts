/**
 * Field helpers of the collector's config parser: required fields, names that must exist,
 * addresses, hostnames and tags, each with an error naming the place in the file.
 *
 * @module
 */
import { isIP } from "node:net";
import { type ConfigError, type ConfigNode, whyNotUnicast } from "@llama/core";

/** The field `key` of `parent`; a config error saying what the full format needs when missing. */
export function required(
  fields: Map<string, ConfigNode>,
  key: string,
  parent: ConfigNode,
  expected: string,
): ConfigNode {
  const node = fields.get(key);
  if (node === undefined || node.isMissing) {
    throw parent.error(
      `missing "${key}": expected ${expected} (the full format needs ports, port_groups, ` +
        `rate_limits, tests and targets)`,
    );
  }
  return node;
}

/** The entries of the required field `key` of `parent`. */
export function requiredEntries(
  fields: Map<string, ConfigNode>,
  key: string,
  parent: ConfigNode,
  expected: string,
): [string, ConfigNode, ConfigNode][] {
  return required(fields, key, parent, expected).entries(expected);
}

/** The field `key` of `parent`; a config error naming `expected` when missing. */
export function requiredField(
  fields: Map<string, ConfigNode>,
  key: string,
  parent: ConfigNode,
  expected: string,
): ConfigNode {
  const node = fields.get(key);
  if (node === undefined || node.isMissing) {
    throw parent.error(`missing "${key}": expected ${expected}`);
  }
  return node;
}

/** A config error at `node`: no `kind` named `name`, with the names `table` defines. */
export function unknownName(
  node: ConfigNode,
  kind: string,
  name: string,
  table: Record<string, unknown>,
): ConfigError {
  const known = Object.keys(table);
  return node.error(
    `no ${kind} named "${name}"; ` +
      (known.length === 0 ? `none is defined` : `defined: ${known.join(", ")}`),
  );
}

const HOSTNAME =
  /^(?=.{1,253}$)([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?$/;

/** A hostname, not a mistyped IPv4 address: its last label is not all digits (RFC 3696 §2). */
export function isHostname(host: string): boolean {
  return HOSTNAME.test(host) && !/(^|\.)\d+\.?$/.test(host);
}

/**
 * Throws a config error at `node` unless `host` is a unicast IP address (or, unless `ipOnly`, a
 * hostname).
 */
export function checkHost(host: string, node: ConfigNode, what: string, ipOnly = false): void {
  if (isIP(host) !== 0) {
    const problem = whyNotUnicast(host);
    if (problem !== undefined) throw node.error(notUnicastMessage(JSON.stringify(host), problem));
    return;
  }
  if (ipOnly) {
    throw node.error(
      `expected an IP address, got ${JSON.stringify(host)}` +
        (isHostname(host)
          ? ' (for a hostname, write "host:" instead of "ip:")'
          : /^[\d.]+$/.test(host)
          ? " (an IPv4 address is four numbers from 0 to 255)"
          : ""),
    );
  }
  if (!isHostname(host)) {
    throw node.error(`${what} must be an IP address or a hostname, got ${JSON.stringify(host)}`);
  }
}

/**
 * What a config error says of a target written as `got` whose address is `problem` (from
 * `whyNotUnicast`).
 */
export function notUnicastMessage(got: string, problem: string): string {
  return `expected the unicast address of one reflector, got ${got}, ${problem}: probes ` +
    "sent there reach no reflector, many, or this host";
}

/**
 * Makes targets with equal tags share one frozen object, and equal tag values one string: a
 * collector keeps every target's tags for as long as it runs, and 10,000 targets of `tags: {}`
 * were 10,000 objects (56 bytes each) where one does.
 */
export class TagInterner {
  readonly #sets = new Map<string, Readonly<Record<string, string>>>();
  readonly #texts = new Map<string, string>();

  /** The shared frozen object of tags equal to `tags`. */
  intern(tags: Record<string, string>): Readonly<Record<string, string>> {
    const key = JSON.stringify(Object.entries(tags));
    let shared = this.#sets.get(key);
    if (shared === undefined) {
      const copy: Record<string, string> = {};
      for (const [name, value] of Object.entries(tags)) copy[name] = this.#text(value);
      shared = Object.freeze(copy);
      this.#sets.set(key, shared);
    }
    return shared;
  }

  #text(text: string): string {
    const known = this.#texts.get(text);
    if (known !== undefined) return known;
    this.#texts.set(text, text);
    return text;
  }
}

/** The tags of a `tags:` map, names checked; none when the node is missing. */
export function readTags(node: ConfigNode): Record<string, string> {
  if (node.isMissing) return {};
  const tags: Record<string, string> = {};
  for (const [key, value, keyNode] of node.entries("a map of tag name to value")) {
    if (key === "" || /[\s,="]/.test(key)) {
      throw keyNode.error(
        `tag names may not be empty or hold spaces, commas, quotes or "=", got ${
          JSON.stringify(key)
        }`,
      );
    }
    tags[key] = value.text("a tag value (text)");
  }
  return tags;
}
