// What a plain clone holds besides code: the license every deno.json names, and a changelog.
import assert from "node:assert/strict";
import { ROOT } from "./_process.ts";

const MEMBERS = ["core", "reflector", "collector", "plugins", "scraper", "ui"];

Deno.test("LICENSE is the Apache License 2.0 that every member's deno.json names", async () => {
  const license = await Deno.readTextFile(new URL("LICENSE", ROOT));
  assert.match(license, /^\s+Apache License\n\s+Version 2\.0, January 2004\n/);
  assert.match(license, /TERMS AND CONDITIONS FOR USE, REPRODUCTION, AND DISTRIBUTION/);
  assert.match(license, /END OF TERMS AND CONDITIONS/);
  // The standard text, unchanged: 9 sections of terms and the appendix.
  assert.equal(license.match(/^\s+\d\. [A-Z]/gm)?.length, 9);
  for (const member of MEMBERS) {
    const manifest = JSON.parse(await Deno.readTextFile(new URL(`${member}/deno.json`, ROOT)));
    assert.equal(manifest.license, "Apache-2.0", member);
  }
});

Deno.test("CHANGELOG.md has a section for the version every member's deno.json has", async () => {
  const changelog = await Deno.readTextFile(new URL("CHANGELOG.md", ROOT));
  const versions = new Set<string>();
  for (const member of MEMBERS) {
    const manifest = JSON.parse(await Deno.readTextFile(new URL(`${member}/deno.json`, ROOT)));
    versions.add(manifest.version);
  }
  assert.equal(versions.size, 1, `one version for the workspace, got ${[...versions]}`);
  const [version] = versions;
  assert.match(
    changelog,
    new RegExp(`^## \\[${version.replaceAll(".", "\\.")}\\] - \\d{4}-\\d{2}-\\d{2}$`, "m"),
  );
  assert.match(changelog, /^## \[Unreleased\]$/m);
});
