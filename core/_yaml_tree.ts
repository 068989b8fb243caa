/**
 * YAML text to a light tree of nodes with their offsets, read with js-yaml's event listener.
 *
 * Why two YAML packages (this is the one place that says it): js-yaml parses every config and
 * tag file; the `yaml` package is imported only to word a syntax error, after js-yaml has
 * refused the text (`syntaxError` in config_node.ts). Measured with Deno 2.9.6 on a 1.2 MB
 * collector config of 10,000 targets, one parse in a fresh process (`--expose-gc`, peak heap from
 * `--trace-gc`): `yaml`'s parseDocument peaked at 98 MB of heap (136 MB reserved, 188 MiB RSS)
 * and took 390 ms, its plain parse() the same 98 MB and 510 ms; this tree peaked at 46 MB
 * (63 MB reserved, 113 MiB RSS) in 56 ms, js-yaml's plain load at 19 MB in 25 ms. V8 keeps the
 * peak as the collector's heap. But js-yaml's messages mislead where `yaml`'s name the mistake:
 * an unquoted `ip: ::` is "bad indentation of a mapping entry" to js-yaml and "Nested mappings
 * are not allowed in compact mappings" to `yaml` (whose error codes also let us add a hint), so
 * for the error path alone, where the text is already known to be wrong, `yaml` parses it again.
 *
 * @module
 */
// @ts-types="@types/js-yaml"
import jsYaml from "js-yaml";

/** A node of the tree. */
export interface YamlNode {
  /** What it is; an alias to a map or list is `alias`. */
  kind: "map" | "seq" | "scalar" | "alias";
  /** Offset of its first character in the text (of where it would be, when `empty`). */
  start: number;
  /** Whether nothing was written (a key with no value). */
  empty: boolean;
  /** The plain JavaScript value js-yaml made of it. */
  value: unknown;
  /** A map's entries, in order, repeated keys included. */
  entries: [key: YamlNode, value: YamlNode | null][];
  /** A list's items. */
  items: YamlNode[];
}

interface Frame {
  open: number;
  children: { node: YamlNode; end: number }[];
}

/**
 * Parses `text`; throws js-yaml's `YAMLException` on a syntax error (the caller words it).
 * Repeated keys are kept in `entries` (js-yaml's JSON mode lets the last one win in `value`),
 * for the caller to report with their path.
 */
export function parseYamlTree(text: string): YamlNode | null {
  const stack: Frame[] = [];
  let root: YamlNode | null = null;
  jsYaml.load(text, {
    schema: jsYaml.CORE_SCHEMA,
    json: true,
    listener(
      event: "open" | "close",
      state: { position: number; kind: string | null; result: unknown },
    ) {
      if (event === "open") {
        stack.push({ open: state.position, children: [] });
        return;
      }
      const frame = stack.pop()!;
      const end = state.position;
      const start = skipBlank(text, frame.open, end);
      const kind = state.kind === "mapping"
        ? "map"
        : state.kind === "sequence"
        ? "seq"
        : state.kind === null && typeof state.result === "object" && state.result !== null
        ? "alias"
        : "scalar";
      let node: YamlNode;
      const only = frame.children.length === 1 ? frame.children[0].node : undefined;
      if (only !== undefined && only.start === start && only.kind === kind && kind !== "scalar") {
        // js-yaml composed the collection as a would-be mapping key first, then kept it.
        node = only;
      } else {
        node = { kind, start, empty: start >= end, value: state.result, entries: [], items: [] };
        if (kind === "map") node.entries = mapEntries(text, node, frame.children);
        else if (kind === "seq") node.items = listItems(node, frame.children);
      }
      const parent = stack.at(-1);
      if (parent === undefined) root = node;
      else parent.children.push({ node, end });
    },
  });
  return root;
}

/**
 * A map's children as key and value: a child followed by `:` is a key; a key whose next child
 * is a key too (`name:` with nothing after it, `{a, b: 1}`) has no value. Where that reading
 * disagrees with the map js-yaml made (explicit `? key` entries), the map's entries are made from
 * its value instead, all located at the map.
 */
function mapEntries(
  text: string,
  map: YamlNode,
  children: readonly { node: YamlNode; end: number }[],
): [YamlNode, YamlNode | null][] {
  const entries: [YamlNode, YamlNode | null][] = [];
  for (let index = 0; index < children.length; index++) {
    const key = children[index].node;
    // A key js-yaml looked for and did not find (before a `...` document end, say).
    if (key.empty) continue;
    const next = children[index + 1];
    if (next !== undefined && !isKey(text, next.end)) {
      entries.push([key, next.node]);
      index++;
    } else entries.push([key, null]);
  }
  const value = map.value as Record<string, unknown>;
  const last = new Map<string, YamlNode | null>();
  for (const [key, item] of entries) last.set(keyOf(key), item);
  const agrees = last.size === Object.keys(value).length &&
    [...last].every(([key, item]) =>
      Object.hasOwn(value, key) && sameValue(item === null ? null : item.value, value[key])
    );
  if (agrees) return entries;
  return Object.entries(value).map(([key, item]) => [
    synthetic(key, map.start),
    synthetic(item, map.start),
  ]);
}

/**
 * A list's children as its items, lined up with the list js-yaml made: an item written as a bare
 * `-` has no node of its own (it gets one at the list's place); where the children cannot be
 * lined up (a `key: value` pair inside a flow list), the items are made from the value.
 */
function listItems(list: YamlNode, children: readonly { node: YamlNode }[]): YamlNode[] {
  const values = list.value as unknown[];
  const present = children.map((child) => child.node).filter((node) => !node.empty);
  if (present.length === values.length) return present;
  const items: YamlNode[] = [];
  let next = 0;
  for (const value of values) {
    if (next < present.length && sameValue(present[next].value, value)) items.push(present[next++]);
    else if (value === null) items.push(synthetic(null, list.start));
    else return values.map((item) => synthetic(item, list.start));
  }
  return next === present.length ? items : values.map((item) => synthetic(item, list.start));
}

/** A node for a value that has no position of its own, located at `start`. */
function synthetic(value: unknown, start: number): YamlNode {
  const node: YamlNode = { kind: "scalar", start, empty: false, value, entries: [], items: [] };
  if (Array.isArray(value)) {
    node.kind = "seq";
    node.items = value.map((item) => synthetic(item, start));
  } else if (value !== null && typeof value === "object") {
    node.kind = "map";
    node.entries = Object.entries(value).map(([key, item]) => [
      synthetic(key, start),
      synthetic(item, start),
    ]);
  }
  return node;
}

function keyOf(key: YamlNode): string {
  return key.kind === "scalar" ? String(key.value) : JSON.stringify(key.value);
}

function sameValue(a: unknown, b: unknown): boolean {
  return a === b || (Number.isNaN(a) && Number.isNaN(b));
}

function isKey(text: string, end: number): boolean {
  let at = end;
  while (text[at] === " " || text[at] === "\t") at++;
  return text[at] === ":";
}

/** The first offset from `from` (before `to`) that is not a space, line break or comment. */
function skipBlank(text: string, from: number, to: number): number {
  let at = from;
  while (at < to) {
    const char = text[at];
    if (char === " " || char === "\t" || char === "\r" || char === "\n") at++;
    else if (char === "#") {
      while (at < to && text[at] !== "\n") at++;
    } else break;
  }
  return at;
}
