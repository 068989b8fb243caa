// A small reader of systemd unit files, enough to check our units' keys where
// `systemd-analyze verify` is not installed.

/** One unit file: section name → key → every value given, in order (a key may repeat). */
export type UnitFile = Map<string, Map<string, string[]>>;

/**
 * Parses a unit file's text: `[Section]` headers, `Key=value` lines, `#`/`;` comments and lines
 * continued with a trailing backslash. Throws, naming `name` and the line, on anything else.
 */
export function parseUnitFile(text: string, name: string): UnitFile {
  const unit: UnitFile = new Map();
  let section: Map<string, string[]> | undefined;
  const lines = text.split("\n");
  for (let index = 0; index < lines.length; index++) {
    const number = index + 1;
    let line = lines[index].trim();
    while (line.endsWith("\\") && index + 1 < lines.length) {
      line = `${line.slice(0, -1).trimEnd()} ${lines[++index].trim()}`;
    }
    if (line === "" || line.startsWith("#") || line.startsWith(";")) continue;
    const header = /^\[([A-Za-z]+)\]$/.exec(line);
    if (header) {
      if (unit.has(header[1])) throw new Error(`${name}:${number}: section [${header[1]}] twice`);
      section = new Map();
      unit.set(header[1], section);
      continue;
    }
    const pair = /^([A-Za-z][A-Za-z0-9]*)\s*=\s*(.*)$/.exec(line);
    if (!pair) throw new Error(`${name}:${number}: not a Key=value line: ${line}`);
    if (!section) throw new Error(`${name}:${number}: ${pair[1]} before any [Section]`);
    const values = section.get(pair[1]) ?? [];
    values.push(pair[2]);
    section.set(pair[1], values);
  }
  return unit;
}

/** The last value of `section`'s `key` (the one systemd applies), or undefined. */
export function unitValue(unit: UnitFile, section: string, key: string): string | undefined {
  return unit.get(section)?.get(key)?.at(-1);
}
