import assert from "node:assert/strict";
import { formatUsage, parseFlags } from "./flags.ts";

const SPEC = {
  allow: { type: "string", repeatable: true, placeholder: "CIDR", description: "Allowed" },
  port: { type: "number", default: 8100, description: "UDP port" },
} as const;

Deno.test("a repeatable flag keeps every value given, in order, with any spelling", () => {
  const { values } = parseFlags(
    ["--allow", "10.0.0.0/8", "-allow=192.0.2.0/24", "--port", "1", "--allow", "::1"],
    SPEC,
  );
  assert.deepEqual(values.allow, ["10.0.0.0/8", "192.0.2.0/24", "::1"]);
  assert.equal(values.port, 1);
});

Deno.test("a repeatable flag not given is an empty list, fresh for every parse", () => {
  const first = parseFlags([], SPEC).values.allow;
  first.push("mutated");
  assert.deepEqual(parseFlags([], SPEC).values.allow, []);
});

Deno.test("a plain string flag given twice keeps the last, as Go's flag package does", () => {
  const spec = { host: { type: "string", description: "Host" } } as const;
  assert.equal(parseFlags(["--host", "a", "--host", "b"], spec).values.host, "b");
});

Deno.test("usage marks a repeatable flag as repeatable", () => {
  assert.match(formatUsage("demo", SPEC), /--allow CIDR\n {6}Allowed \(repeatable\)/);
});

Deno.test("flag errors all name the flag as --name, whichever spelling was given", () => {
  const spec = {
    port: { type: "number", description: "Port", aliases: ["llama.port"] },
    once: { type: "boolean", description: "Once" },
  } as const;
  const cases: [string[], string][] = [
    [["-port", "x"], '--port takes a number, got "x"'],
    [["-llama.port"], "--llama.port needs a value"],
    [["-once=maybe"], '--once takes true or false, got "maybe"'],
  ];
  for (const [args, message] of cases) {
    assert.throws(() => parseFlags(args, spec), { name: "UsageError", message });
  }
});

Deno.test("a number flag takes Go's float spellings: fractions, exponents and +Inf, not NaN", () => {
  const spec = { rate: { type: "number", description: "Rate" } } as const;
  assert.equal(parseFlags(["-rate", "0.5"], spec).values.rate, 0.5);
  assert.equal(parseFlags(["-rate", "1e9"], spec).values.rate, 1e9);
  assert.equal(parseFlags(["-rate", "+Inf"], spec).values.rate, Infinity);
  assert.equal(parseFlags(["-rate=inf"], spec).values.rate, Infinity);
  assert.throws(() => parseFlags(["-rate", "NaN"], spec), /--rate takes a number, got "NaN"/);
  assert.throws(() => parseFlags(["-rate", "-Inf"], spec), /--rate takes a number/);
});

Deno.test("--version is seen like --help, unless the spec has a flag of that name", () => {
  assert.equal(parseFlags(["--version"], SPEC).version, true);
  assert.equal(parseFlags(["-port", "1"], SPEC).version, false);
  const own = { version: { type: "string", description: "Schema version" } } as const;
  const parsed = parseFlags(["-version", "2"], own);
  assert.equal(parsed.version, false);
  assert.equal(parsed.values.version, "2");
  assert.match(formatUsage("demo", SPEC), /--version\n {6}Print the program's version and exit/);
  assert.doesNotMatch(formatUsage("demo", own), /Print the program's version/);
});
