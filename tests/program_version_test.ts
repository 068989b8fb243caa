// Every program answers --version with its package's version (from its deno.json), exit 0.
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
