// The docs index links every doc, and no relative link in the docs or the README is broken.
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const DOCS = join(ROOT, "docs");

function docs(): string[] {
  return [...Deno.readDirSync(DOCS)].map((entry) => entry.name)
    .filter((name) => name.endsWith(".md") && name !== "README.md").sort();
}

/** Every `[text](target)` whose target is a relative path (no scheme, not only `#anchor`). */
function relativeLinks(markdown: string): string[] {
  const outside = markdown.replace(/```[\s\S]*?```/g, "").replace(/`[^`\n]*`/g, "");
  return [...outside.matchAll(/\]\(([^)\s]+)\)/g)].map((match) => match[1])
    .filter((target) => !/^[a-z]+:/i.test(target) && !target.startsWith("#"))
    .map((target) => target.split("#")[0]);
}

Deno.test("docs/README.md links every doc in docs/", () => {
  const index = new Set(relativeLinks(Deno.readTextFileSync(join(DOCS, "README.md"))));
  assert.deepEqual(docs().filter((name) => !index.has(name)), []);
});

Deno.test("the README links the docs index, operations and migration guides", () => {
  const links = new Set(relativeLinks(Deno.readTextFileSync(join(ROOT, "README.md"))));
  for (const doc of ["docs/README.md", "docs/operations.md", "docs/migration.md"]) {
    assert.ok(links.has(doc), doc);
  }
});

Deno.test("every relative link of the README and the docs names a file that exists", () => {
  const files = [
    join(ROOT, "README.md"),
    join(DOCS, "README.md"),
    ...docs().map((d) => join(DOCS, d)),
  ];
  const broken = files.flatMap((file) =>
    relativeLinks(Deno.readTextFileSync(file))
      .filter((target) => !existsSync(join(dirname(file), target)))
      .map((target) => `${file.slice(ROOT.length)}: ${target}`)
  );
  assert.deepEqual(broken, []);
});

Deno.test("the link reader skips code, URLs and anchors, and drops a link's anchor", () => {
  assert.deepEqual(
    relativeLinks("[a](x.md#y) [b](https://e.x) [c](#z) `[d](no.md)`\n```\n[e](no.md)\n```"),
    ["x.md"],
  );
});
