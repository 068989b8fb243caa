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
