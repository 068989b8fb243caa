// A strict reader of the Prometheus text format for tests: every line must be a comment,
// HELP/TYPE metadata or a well-formed sample, or it throws naming the line.

const SAMPLE =
  /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\[\\"n])*"(?:,[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\[\\"n])*")*,?)?\})? (-?[0-9.eE+-]+|NaN|[+-]Inf)( -?\d+)?$/;

/** Parses Prometheus text into `name{labels}` → value. */
export function parsePrometheusText(text: string): Map<string, number> {
  const samples = new Map<string, number>();
  const typed = new Set<string>();
  for (const [index, line] of text.split("\n").entries()) {
    if (line === "") continue;
    if (line.startsWith("# TYPE ")) {
      const [, , name, type] = line.split(" ");
      if (!["counter", "gauge", "summary", "histogram", "untyped"].includes(type)) {
        throw new Error(`line ${index + 1}: bad type in "${line}"`);
      }
      if (typed.has(name)) throw new Error(`line ${index + 1}: second TYPE for ${name}`);
      typed.add(name);
      continue;
    }
    if (line.startsWith("#")) continue;
    const match = SAMPLE.exec(line);
    if (match === null) throw new Error(`line ${index + 1} is not a Prometheus sample: "${line}"`);
    const key = `${match[1]}${match[2] ?? ""}`;
    if (samples.has(key)) throw new Error(`line ${index + 1}: duplicate sample ${key}`);
    samples.set(key, Number(match[3].replace("Inf", "Infinity")));
  }
  return samples;
}
