// Flags every program shares: --version from its deno.json, one wording for bad flags.
import assert from "node:assert/strict";
import { runProgram } from "./_process.ts";

for (const program of ["reflector", "collector", "scraper"]) {
  Deno.test(`llama-${program} --version prints the version of its deno.json and exits 0`, async () => {
    const manifest = JSON.parse(
      await Deno.readTextFile(new URL(`../${program}/deno.json`, import.meta.url)),
    );
    assert.match(manifest.version, /^\d+\.\d+\.\d+/);
    for (const flag of ["--version", "-version"]) {
      const { code, stdout, stderr } = await runProgram(`${program}/main.ts`, [flag]);
      assert.equal(code, 0, stderr);
      assert.equal((stdout + stderr).trim(), `llama-${program} ${manifest.version}`);
    }
  });
}

Deno.test("every program words a bad flag the same way and exits 2", async () => {
  const cases: [string, string, string][] = [
    ["reflector", "--port", "llama-reflector"],
    ["collector", "--history", "llama-collector"],
    ["scraper", "-llama.interval", "llama-scraper"],
  ];
  for (const [program, flag, name] of cases) {
    const bad = await runProgram(`${program}/main.ts`, [flag, "abc"]);
    assert.equal(bad.code, 2, bad.stderr);
    const shown = flag.replace(/^-+/, "--");
    assert.match(bad.stderr, new RegExp(`^${name}: ${shown} takes a number, got "abc"\\n`));
    const missing = await runProgram(`${program}/main.ts`, [flag]);
    assert.equal(missing.code, 2, missing.stderr);
    assert.match(missing.stderr, new RegExp(`^${name}: ${shown} needs a value\\n`));
  }
});

Deno.test("the scraper's --help says points go to stdout unless an output or influxdb flag is given", async () => {
  const { code, stderr } = await runProgram("scraper/main.ts", ["--help"]);
  assert.equal(code, 0, stderr);
  assert.doesNotMatch(stderr, /default 127\.0\.0\.1/);
  assert.match(stderr, /With none, points go to stdout/);
  assert.match(stderr, /add -llama.influxdb-host 127\.0\.0\.1/);
});
