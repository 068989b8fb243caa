// A plain clone runs every test: no test reads a folder beside the checkout (../shared).
import assert from "node:assert/strict";
import { ROOT } from "./_process.ts";

function* testFiles(directory: URL): Generator<URL> {
  for (const entry of Deno.readDirSync(directory)) {
    if (entry.name.startsWith(".") || entry.name === "node_modules") continue;
    const url = new URL(entry.isDirectory ? `${entry.name}/` : entry.name, directory);
    if (entry.isDirectory) yield* testFiles(url);
    else if (/(^_|_test)\.tsx?$|^_.*\.ts$/.test(entry.name)) yield url;
  }
}

Deno.test("no test or test helper reads the ../shared folder outside the repository", () => {
  const offenders: string[] = [];
  let checked = 0;
  for (const directory of ["core", "reflector", "collector", "plugins", "scraper", "ui", "tests"]) {
    for (const file of testFiles(new URL(`${directory}/`, ROOT))) {
      checked++;
      const text = Deno.readTextFileSync(file);
      // A path or URL climbing out of the checkout to shared/ (comments may name it).
      const code = text.split("\n").filter((line) => !line.trim().startsWith("//")).join("\n");
      if (/["'`](\.\.\/)+shared\//.test(code)) offenders.push(file.pathname);
    }
  }
  assert.ok(checked > 50, `only ${checked} files looked at`);
  assert.deepEqual(offenders, []);
});
