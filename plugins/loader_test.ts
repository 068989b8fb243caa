import assert from "node:assert/strict";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { PluginLoadError } from "@llama/core";
import { BUILTIN_PLUGINS } from "./builtin.ts";
import { loadPlugin } from "./loader.ts";

// A plugin module with no imports, so that it loads from any folder.
const OUTPUT_MODULE = `
const plugin = {
  kind: "output",
  name: "recording",
  contract: 1,
  parseOptions: (raw) => raw,
  create: () => ({ write: () => Promise.resolve() }),
};
export default plugin;
export const second = { ...plugin, name: "second" };
export const notAnObject = 42;
export const aFunction = () => plugin;
export const withoutCreate = { kind: "output", name: "partial", contract: 1, parseOptions: (raw) => raw };
export const empty = {};
export const tagsPlugin = { ...plugin, kind: "tags", name: "tagger", create: () => ({ resolve: () => ({}) }) };
export const future = { ...plugin, name: "future", contract: 2 };
`;

/** A temp folder holding `plugin.ts` and `broken.ts` (a syntax error). */
async function pluginFolder(): Promise<{ path: string } & AsyncDisposable> {
  const folder = await Deno.makeTempDir({ prefix: "llama_loader_" });
  await Deno.writeTextFile(join(folder, "plugin.ts"), OUTPUT_MODULE);
  await Deno.writeTextFile(join(folder, "broken.ts"), "export default {\n  kind: 'output',\n");
  await Deno.mkdir(join(folder, "nested"));
  await Deno.writeTextFile(join(folder, "nested", "deep.ts"), OUTPUT_MODULE);
  return { path: folder, [Symbol.asyncDispose]: () => Deno.remove(folder, { recursive: true }) };
}

/** Asserts that loading rejects with a `PluginLoadError` naming `use` and matching `detail`. */
async function assertLoadError(
  use: string,
  kind: "output" | "tags",
  baseDirectory: string,
  detail: RegExp,
  options: { allowRemote?: boolean } = {},
): Promise<PluginLoadError> {
  const error = await loadPlugin(use, kind, { baseDirectory, ...options }).then(
    () => assert.fail(`loading ${use} should fail`),
    (error: unknown) => error,
  );
  assert.ok(error instanceof PluginLoadError, `expected a PluginLoadError, got ${error}`);
  assert.equal(error.specifier, use);
  assert.ok(
    error.message.startsWith(`Cannot load plugin "${use}": `),
    `the message should name the specifier: ${error.message}`,
  );
  assert.match(error.message, detail);
  return error;
}

Deno.test("loadPlugin returns each built-in output by name, without importing anything", async () => {
  for (const name of ["influxdb", "stdout", "csv", "remote_write"]) {
    const plugin = await loadPlugin(name, "output", { baseDirectory: "/nonexistent" });
    assert.equal(plugin, BUILTIN_PLUGINS.output[name]);
    assert.equal(plugin.kind, "output");
    assert.equal(plugin.name, name);
  }
});

Deno.test("loadPlugin returns each built-in tag resolver by name", async () => {
  for (const name of ["static", "dns"]) {
    const plugin = await loadPlugin(name, "tags", { baseDirectory: "/nonexistent" });
    assert.equal(plugin, BUILTIN_PLUGINS.tags[name]);
    assert.equal(plugin.kind, "tags");
    assert.equal(plugin.name, name);
  }
});

Deno.test("loadPlugin resolves a relative path against baseDirectory, not the working directory", async () => {
  await using temp = await pluginFolder();
  const folder = temp.path;
  const plugin = await loadPlugin("./plugin.ts", "output", { baseDirectory: folder });
  assert.equal(plugin.name, "recording");
  const nested = await loadPlugin("./nested/../nested/deep.ts", "output", {
    baseDirectory: folder,
  });
  assert.equal(nested.name, "recording");
  const up = await loadPlugin("../plugin.ts", "output", { baseDirectory: join(folder, "nested") });
  assert.equal(up.name, "recording");
});

Deno.test("loadPlugin loads an absolute path and a file: URL", async () => {
  await using temp = await pluginFolder();
  const folder = temp.path;
  const absolute = await loadPlugin(join(folder, "plugin.ts"), "output", {
    baseDirectory: "/nonexistent",
  });
  assert.equal(absolute.name, "recording");
  const url = await loadPlugin(pathToFileURL(join(folder, "plugin.ts")).href, "output", {
    baseDirectory: "/nonexistent",
  });
  assert.equal(url.name, "recording");
});

Deno.test("loadPlugin takes the export named after #", async () => {
  await using temp = await pluginFolder();
  const folder = temp.path;
  const second = await loadPlugin("./plugin.ts#second", "output", { baseDirectory: folder });
  assert.equal(second.name, "second");
  const viaUrl = await loadPlugin(
    `${pathToFileURL(join(folder, "plugin.ts")).href}#tagsPlugin`,
    "tags",
    {
      baseDirectory: "/nonexistent",
    },
  );
  assert.equal(viaUrl.name, "tagger");
});

Deno.test("loadPlugin reports a module that does not exist with its resolved URL", async () => {
  await using temp = await pluginFolder();
  const folder = temp.path;
  const error = await assertLoadError(
    "./missing_plugin.ts",
    "output",
    folder,
    /importing file:\/\/.*\/missing_plugin\.ts failed: .*not found/i,
  );
  assert.ok(error.cause instanceof Error);
});

Deno.test("loadPlugin reports a module with a syntax error", async () => {
  await using temp = await pluginFolder();
  const folder = temp.path;
  await assertLoadError("./broken.ts", "output", folder, /importing file:\/\/.*broken\.ts failed/);
  await assertLoadError("./broken.ts", "output", folder, /SyntaxError|parse/i);
});

Deno.test("loadPlugin reports a missing export and lists those the module has", async () => {
  await using temp = await pluginFolder();
  const folder = temp.path;
  await assertLoadError(
    "./plugin.ts#nope",
    "output",
    folder,
    /the module has no export "nope"; it exports .*default.*second/,
  );
});

Deno.test("loadPlugin reports an export that is not an object", async () => {
  await using temp = await pluginFolder();
  const folder = temp.path;
  await assertLoadError(
    "./plugin.ts#notAnObject",
    "output",
    folder,
    /the export is number, not a plugin definition object/,
  );
  await assertLoadError(
    "./plugin.ts#aFunction",
    "output",
    folder,
    /the export is function, not a plugin definition object/,
  );
});

Deno.test("loadPlugin lists what a plugin definition is missing", async () => {
  await using temp = await pluginFolder();
  const folder = temp.path;
  const partial = await assertLoadError(
    "./plugin.ts#withoutCreate",
    "output",
    folder,
    /the export is missing create\(options, context\)$/,
  );
  assert.doesNotMatch(partial.message, /parseOptions|kind|contract \(/);
  await assertLoadError(
    "./plugin.ts#empty",
    "output",
    folder,
    /missing name \(a non-empty string\), kind \("output" or "tags"\), contract \(the number 1\), parseOptions\(raw, path\), create\(options, context\)/,
  );
});

Deno.test("loadPlugin refuses a plugin of the wrong kind", async () => {
  await using temp = await pluginFolder();
  const folder = temp.path;
  await assertLoadError(
    "./plugin.ts",
    "tags",
    folder,
    /it is a "output" plugin, but a "tags" plugin is needed here/,
  );
  await assertLoadError(
    "./plugin.ts#tagsPlugin",
    "output",
    folder,
    /it is a "tags" plugin, but a "output" plugin is needed here/,
  );
  // A built-in name of the other kind says so, rather than asking for a path.
  await assertLoadError(
    "stdout",
    "tags",
    folder,
    /"stdout" is a built-in output plugin, but a tags plugin is needed here \(static, dns\)/,
  );
  await assertLoadError(
    "dns",
    "output",
    folder,
    /"dns" is a built-in tags plugin, but an output plugin is needed here \(influxdb, stdout, csv, remote_write\)/,
  );
});

Deno.test("loadPlugin refuses a plugin written for another contract version", async () => {
  await using temp = await pluginFolder();
  const folder = temp.path;
  await assertLoadError(
    "./plugin.ts#future",
    "output",
    folder,
    /written for plugin contract 2; this llama implements contract 1/,
  );
});

Deno.test("loadPlugin refuses https: without allowRemote and says how to re-export locally", async () => {
  const error = await assertLoadError(
    "https://example.com/plugins/webhook.ts",
    "output",
    "/nonexistent",
    /cannot import http\(s\) modules/,
  );
  assert.ok(
    error.message.includes('export { default } from "https://example.com/plugins/webhook.ts";'),
    error.message,
  );
  const named = await assertLoadError(
    "http://example.com/plugins/all.ts#webhook",
    "output",
    "/nonexistent",
    /write a local file that re-exports it/,
  );
  assert.ok(
    named.message.includes('export { webhook } from "http://example.com/plugins/all.ts";'),
    named.message,
  );
});

Deno.test("loadPlugin imports an http: module when allowRemote is set (served on loopback)", async () => {
  const requests: string[] = [];
  await using server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (request) => {
    requests.push(new URL(request.url).pathname);
    return new Response(OUTPUT_MODULE, {
      headers: { "content-type": "application/typescript" },
    });
  });
  // A query of its own: Deno caches remote modules by URL, and an earlier run may have had the port.
  const use =
    `http://127.0.0.1:${server.addr.port}/remote_plugin.ts?run=${crypto.randomUUID()}#second`;
  const plugin = await loadPlugin(use, "output", {
    baseDirectory: "/nonexistent",
    allowRemote: true,
  });
  assert.equal(plugin.name, "second");
  assert.deepEqual(requests, ["/remote_plugin.ts"]);
});

Deno.test("loadPlugin refuses a bare name that is not built-in and lists the built-ins", async () => {
  await assertLoadError(
    "influx",
    "output",
    "/nonexistent",
    /not a built-in output plugin \(influxdb, stdout, csv, remote_write\) nor a module: write a path \(\.\/plugin\.ts\)/,
  );
  await assertLoadError(
    "plugins/my_tags.ts",
    "tags",
    "/nonexistent",
    /not a built-in tags plugin \(static, dns\) nor a module/,
  );
});

Deno.test("loadPlugin treats names inherited from Object.prototype as unknown plugins", async () => {
  for (const name of ["constructor", "toString", "__proto__", "hasOwnProperty", "valueOf"]) {
    await assertLoadError(
      name,
      "output",
      "/nonexistent",
      /not a built-in output plugin \(influxdb, stdout, csv, remote_write\) nor a module/,
    );
    await assertLoadError(name, "tags", "/nonexistent", /not a built-in tags plugin/);
  }
});
