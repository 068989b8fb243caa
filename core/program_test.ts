import assert from "node:assert/strict";
import { readProgramFlags } from "./program.ts";

const SPEC = { port: { type: "number", default: 8100, description: "UDP port" } } as const;

Deno.test("--version prints the program's name and version and gives exit code 0", () => {
  const printed: string[] = [];
  const flags = readProgramFlags("llama-demo", ["--version"], SPEC, {
    print: (text) => printed.push(text),
    version: "1.2.3",
  });
  assert.equal(flags.exitCode, 0);
  assert.deepEqual(printed, ["llama-demo 1.2.3"]);
});

Deno.test("a bad flag prints the program's name, the message and the usage, with exit code 2", () => {
  const printed: string[] = [];
  const flags = readProgramFlags("llama-demo", ["-port", "x"], SPEC, {
    print: (text) => printed.push(text),
  });
  assert.equal(flags.exitCode, 2);
  assert.match(printed[0], /^llama-demo: --port takes a number, got "x"\n\nUsage: llama-demo/);
});
