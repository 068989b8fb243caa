import assert from "node:assert/strict";
import { assertRequirement, requirement } from "./_requirements.ts";

// CI is passed in rather than set with Deno.env.set: the environment is shared with test files
// running in parallel, which would then fail instead of skipping.

Deno.test("requirement skips, with one notice, when a command is missing outside CI", () => {
  const notices: string[] = [];
  const warn = (message: string) => notices.push(message);
  const needs = requirement({ commands: ["no-such-command-xyz"] }, { ci: undefined, warn });
  assert.equal(needs.ignore, true);
  assert.match(needs.reason, /no-such-command-xyz/);
  requirement({ commands: ["no-such-command-xyz"] }, { ci: undefined, warn });
  assert.deepEqual(notices, [
    "skipping tests that need no-such-command-xyz: install Debian's no-such-command-xyz",
  ]);
});

Deno.test("requirement runs the test in CI, where assertRequirement fails it", () => {
  const needs = requirement({ commands: ["no-such-command-xyz"] }, { ci: "true" });
  assert.equal(needs.ignore, false);
  assert.throws(() => assertRequirement(needs), /needs no-such-command-xyz/);
});

Deno.test("requirement is met by commands on PATH and by a full path", () => {
  const deno = Deno.execPath();
  const needs = requirement({ commands: ["sh", deno] }, { ci: "true" });
  assert.deepEqual(needs, { ignore: false, reason: "" });
  assertRequirement(needs);
});
