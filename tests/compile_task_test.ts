// `deno task compile` cannot run here (deno compile downloads its runtime), so these tests check
// what decides whether its binaries work: each program's command line, and that every file a
// program finds through `import.meta` at run time is one the binary embeds.
import assert from "node:assert/strict";
import { relative, resolve } from "node:path";
import { fileURLToPath as fromFileUrl } from "node:url";
import { ROOT } from "./_process.ts";

const PROGRAMS = ["reflector", "collector", "scraper"] as const;
const rootPath = fromFileUrl(ROOT);
const tasks: Record<string, string> = JSON.parse(
  await Deno.readTextFile(new URL("deno.json", ROOT)),
).tasks;

/** The `--allow-*` flags of a command line, by name, with their value ("" for none). */
function permissions(command: string): Map<string, string> {
  const found = new Map<string, string>();
  for (const word of command.split(/\s+/)) {
    const match = /^--allow-([a-z]+)(?:=(.*))?$/.exec(word);
    if (match) found.set(match[1], match[2] ?? "");
  }
  return found;
}

/** The values of every `--include` of a command line, as absolute paths. */
function includes(command: string): string[] {
  const words = command.split(/\s+/);
  return words.flatMap((word, index) =>
    word === "--include" ? [resolve(rootPath, words[index + 1])] : []
  );
}

/**
 * Files that the program's own modules reach through `new URL("./…", import.meta.url)`: read at
 * run time (a worker, the matrix page's browser files), so not in the module graph.
 */
async function importMetaAssets(program: string): Promise<string[]> {
  const info = await new Deno.Command(Deno.execPath(), {
    args: ["info", "--json", `${program}/main.ts`],
    cwd: ROOT,
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(info.code, 0, new TextDecoder().decode(info.stderr));
  const graph = JSON.parse(new TextDecoder().decode(info.stdout));
  const assets: string[] = [];
  for (const module of graph.modules as { specifier: string }[]) {
    if (!module.specifier.startsWith(ROOT.href)) continue;
    const text = await Deno.readTextFile(new URL(module.specifier));
    // The literal part of the first argument: "./x.ts", or `./browser/${name}` up to the ${.
    for (
      const match of text.matchAll(/new URL\(\s*["'`](\.{1,2}\/[^"'`$]*)[^)]*import\.meta\.url/g)
    ) {
      assets.push(fromFileUrl(new URL(match[1], module.specifier)));
    }
  }
  return assets;
}

Deno.test("deno task compile builds the three programs, each into dist/ at the repository root", () => {
  assert.equal(
    tasks.compile,
    PROGRAMS.map((program) => `deno task compile:${program}`).join(" && "),
  );
  for (const program of PROGRAMS) {
    const command = tasks[`compile:${program}`];
    assert.match(command, /^deno compile /, program);
    assert.match(command, new RegExp(` --output dist/llama-${program} ${program}/main\\.ts$`));
  }
  // One home for the command lines: no member has a compile task of its own.
  for (const program of PROGRAMS) {
    const member = JSON.parse(Deno.readTextFileSync(new URL(`${program}/deno.json`, ROOT)));
    assert.equal(member.tasks?.compile, undefined, `${program}/deno.json`);
  }
});

Deno.test("each compiled program gets every permission its deno task has, and --unstable-net if it probes", () => {
  for (const program of PROGRAMS) {
    const run = tasks[program];
    const compile = tasks[`compile:${program}`];
    const granted = permissions(compile);
    for (const [name, value] of permissions(run)) {
      assert.ok(granted.has(name), `compile:${program} lacks --allow-${name}`);
      const given = granted.get(name)!;
      // Unscoped in the binary where the task scopes it to checkout folders, which a binary has not.
      if (given !== "") {
        assert.deepEqual(given.split(",").sort(), value.split(",").sort(), `--allow-${name}`);
      }
    }
    assert.equal(/--v8-flags=\S+/.exec(compile)?.[0], /--v8-flags=\S+/.exec(run)?.[0], program);
    if (program !== "scraper") assert.match(compile, / --unstable-net /, program);
  }
});

Deno.test("every file a program reads through import.meta exists and is embedded with --include", async () => {
  for (const program of PROGRAMS) {
    const embedded = includes(tasks[`compile:${program}`]);
    for (const asset of await importMetaAssets(program)) {
      await Deno.stat(asset);
      assert.ok(
        embedded.some((include) => asset === include || asset.startsWith(`${include}/`)),
        `${program} reads ${
          relative(rootPath, asset)
        }, which compile:${program} does not --include`,
      );
    }
    for (const include of embedded) await Deno.stat(include);
  }
  // What the check above looks for, so that it cannot pass by finding nothing.
  const reflectorAssets = (await importMetaAssets("reflector")).map((path) =>
    relative(rootPath, path)
  );
  assert.ok(reflectorAssets.includes("reflector/reflect_worker.ts"), reflectorAssets.join(", "));
  const scraperAssets = (await importMetaAssets("scraper")).map((path) => relative(rootPath, path));
  assert.ok(scraperAssets.includes("ui/browser"), scraperAssets.join(", "));
});

Deno.test("the matrix page's browser files are found from import.meta, whatever the working directory", async () => {
  const script = `
    import { createMatrixUi } from ${JSON.stringify(new URL("ui/mod.ts", ROOT).href)};
    const ui = createMatrixUi({ history: () => [] });
    for (const path of ["/ui/matrix.js", "/ui/matrix.css"]) {
      const response = await ui.request(path);
      console.log(path, response.status, (await response.text()).length);
    }`;
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["eval", "--config", fromFileUrl(new URL("deno.json", ROOT)), script],
    cwd: "/",
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).output();
  const text = new TextDecoder().decode(output.stdout) + new TextDecoder().decode(output.stderr);
  assert.equal(output.code, 0, text);
  assert.match(text, /^\/ui\/matrix\.js 200 [1-9]\d*$/m);
  assert.match(text, /^\/ui\/matrix\.css 200 [1-9]\d*$/m);
});
