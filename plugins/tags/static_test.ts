import assert from "node:assert/strict";
import { join } from "node:path";
import { ConfigError } from "@llama/core";
import type { TagResolver } from "../contract.ts";
import { recordLogs, renderRecord, testContext, waitFor } from "../_test_util.ts";
import { readTable, staticTags } from "./static.ts";

const signal = new AbortController().signal;

async function tempFolder(): Promise<{ path: string } & AsyncDisposable> {
  const path = await Deno.makeTempDir({ prefix: "llama_static_" });
  return { path, [Symbol.asyncDispose]: () => Deno.remove(path, { recursive: true }) };
}

/** A static resolver reading `file` (relative to `folder`), checking it every `checkEveryMs`. */
async function staticIn(
  folder: string,
  file: string,
  checkEveryMs = 5000,
): Promise<TagResolver & AsyncDisposable> {
  const options = staticTags.parseOptions(
    { file, check_every_ms: checkEveryMs },
    "tags[0].options",
  );
  const resolver = await staticTags.create(
    options,
    testContext("static", { configDirectory: folder }),
  );
  return resolver as TagResolver & AsyncDisposable;
}

const YAML = `
# Longest prefix wins; an exact address is a /32 (IPv4) or /128 (IPv6).
"10.0.0.0/8": { region: central }
10.1.0.0/16: { region: west, site: sfo }
10.1.2.3: { region: west, hostname: db-1 }
"2001:db8::/32": { region: v6land }
"2001:db8::53": { hostname: ns-1, rack: 7 }
`;

Deno.test("static reads YAML: exact addresses, CIDR prefixes, the longest prefix winning", async () => {
  await using folder = await tempFolder();
  await Deno.writeTextFile(join(folder.path, "hosts.yaml"), YAML);
  await using resolver = await staticIn(folder.path, "hosts.yaml");
  assert.deepEqual(await resolver.resolve("10.1.2.3", signal), {
    region: "west",
    hostname: "db-1",
  });
  assert.deepEqual(await resolver.resolve("10.1.2.4", signal), { region: "west", site: "sfo" });
  assert.deepEqual(await resolver.resolve("10.200.0.1", signal), { region: "central" });
  assert.deepEqual(await resolver.resolve("11.0.0.1", signal), {});
  assert.deepEqual(await resolver.resolve("not-an-address", signal), {});
});

Deno.test("static matches IPv6 and IPv4-mapped IPv6 addresses", async () => {
  await using folder = await tempFolder();
  await Deno.writeTextFile(join(folder.path, "hosts.yml"), YAML);
  await using resolver = await staticIn(folder.path, "hosts.yml");
  assert.deepEqual(await resolver.resolve("2001:db8::53", signal), {
    hostname: "ns-1",
    rack: "7",
  });
  assert.deepEqual(await resolver.resolve("2001:0db8:0000::0053", signal), {
    hostname: "ns-1",
    rack: "7",
  });
  assert.deepEqual(await resolver.resolve("2001:db8:1::1", signal), { region: "v6land" });
  assert.deepEqual(await resolver.resolve("2001:db9::1", signal), {});
  assert.deepEqual(await resolver.resolve("::ffff:10.1.2.3", signal), {
    region: "west",
    hostname: "db-1",
  });
  assert.deepEqual(await resolver.resolve("::ffff:10.1.9.9", signal), {
    region: "west",
    site: "sfo",
  });
});

Deno.test("static reads JSON", async () => {
  await using folder = await tempFolder();
  await Deno.writeTextFile(
    join(folder.path, "hosts.json"),
    JSON.stringify({ "10.1.0.0/16": { region: "west" }, "10.1.2.3": { hostname: "db-1" } }),
  );
  await using resolver = await staticIn(folder.path, "hosts.json");
  assert.deepEqual(await resolver.resolve("10.1.2.3", signal), { hostname: "db-1" });
  assert.deepEqual(await resolver.resolve("10.1.2.4", signal), { region: "west" });
});

Deno.test("static reads CSV: a header of tag names, quoted values, empty cells left out", async () => {
  await using folder = await tempFolder();
  await Deno.writeTextFile(
    join(folder.path, "hosts.csv"),
    'address,region,hostname\r\n10.1.0.0/16,west,\r\n\r\n10.1.2.3,"west, upstairs","db ""1"""\r\n' +
      "2001:db8::/32,v6land\n",
  );
  await using resolver = await staticIn(folder.path, "hosts.csv");
  assert.deepEqual(await resolver.resolve("10.1.2.3", signal), {
    region: "west, upstairs",
    hostname: 'db "1"',
  });
  assert.deepEqual(await resolver.resolve("10.1.7.7", signal), { region: "west" });
  assert.deepEqual(await resolver.resolve("2001:db8::9", signal), { region: "v6land" });
});

Deno.test("static reloads the file after it changes, checking every check_every_ms", async () => {
  await using folder = await tempFolder();
  await using logs = await recordLogs();
  const file = join(folder.path, "hosts.yaml");
  await Deno.writeTextFile(file, "10.1.2.3: { hostname: old }\n");
  await using resolver = await staticIn(folder.path, "hosts.yaml", 100);
  assert.deepEqual(await resolver.resolve("10.1.2.3", signal), { hostname: "old" });
  await Deno.writeTextFile(file, "10.1.2.3: { hostname: new }\n10.9.0.0/16: { region: east }\n");
  const started = Date.now();
  await waitFor(
    async () => (await resolver.resolve("10.1.2.3", signal)).hostname === "new",
    "the new tags",
  );
  assert.ok(Date.now() - started < 2000, "reloaded within a few check intervals");
  assert.deepEqual(await resolver.resolve("10.9.1.1", signal), { region: "east" });
  assert.ok(
    logs.some((record) => record.level === "info" && renderRecord(record).startsWith("Reloaded")),
  );
});

/**
 * Replaces `file` in one step, as editors and config managers do: a reload that caught a plain
 * write half-done would see an empty file (and rightly keep the old tags), not the edit tested.
 */
async function writeAtomically(file: string, text: string): Promise<void> {
  await Deno.writeTextFile(`${file}.new`, text);
  await Deno.rename(`${file}.new`, file);
}

Deno.test("static keeps the tags it had when an edit breaks the file, and logs it once", async () => {
  await using folder = await tempFolder();
  await using logs = await recordLogs();
  const file = join(folder.path, "hosts.yaml");
  await Deno.writeTextFile(file, "10.1.2.3: { hostname: good }\n");
  await using resolver = await staticIn(folder.path, "hosts.yaml", 100);
  await writeAtomically(file, "10.1.2.3: { hostname: broken\n");
  const errors = () => logs.filter((record) => record.level === "error");
  await waitFor(async () => {
    await resolver.resolve("10.1.2.3", signal);
    return errors().length > 0;
  }, "an error logged");
  assert.deepEqual(await resolver.resolve("10.1.2.3", signal), { hostname: "good" });
  const message = renderRecord(errors()[0]);
  assert.ok(message.startsWith(`Cannot reload ${file}, keeping the tags read before: `), message);
  assert.match(message, /cannot parse/);
  // Later checks see the same broken version: no more lines.
  for (let index = 0; index < 10; index++) {
    await new Promise((resolve) => setTimeout(resolve, 40));
    assert.deepEqual(await resolver.resolve("10.1.2.3", signal), { hostname: "good" });
  }
  assert.equal(errors().length, 1);
  // A bad entry, rather than bad syntax, is kept out the same way.
  await writeAtomically(file, "10.1.2.3: { hostname: fixed }\n10.1.2.300: { hostname: x }\n");
  await waitFor(async () => {
    await resolver.resolve("10.1.2.3", signal);
    return errors().length > 1;
  }, "a second error logged");
  assert.match(renderRecord(errors()[1]), /10\.1\.2\.300: expected an IP address or CIDR prefix/);
  assert.deepEqual(await resolver.resolve("10.1.2.3", signal), { hostname: "good" });
  // Fixing the file is picked up.
  await writeAtomically(file, "10.1.2.3: { hostname: fixed }\n");
  await waitFor(
    async () => (await resolver.resolve("10.1.2.3", signal)).hostname === "fixed",
    "the fixed tags",
  );
});

/** Asserts that reading `text` as `name` fails with a ConfigError naming the file and `where`. */
async function assertBadFile(name: string, text: string, where: RegExp): Promise<void> {
  await using folder = await tempFolder();
  const file = join(folder.path, name);
  await Deno.writeTextFile(file, text);
  const error = await readTable(file).then(() => undefined, (error: unknown) => error);
  assert.ok(error instanceof ConfigError, `expected a ConfigError for ${name}, got ${error}`);
  assert.equal(error.file, file);
  assert.ok(error.message.startsWith(file), error.message);
  assert.match(error.message, where);
  // create() refuses the same file, before the scraper starts.
  await assert.rejects(staticIn(folder.path, name), ConfigError);
}

Deno.test("static names the file and the entry at fault", async () => {
  await assertBadFile(
    "a.yaml",
    "10.1.0.0/16: { region: west }\n10.1.2.300: { hostname: x }\n",
    /: 10\.1\.2\.300: expected an IP address or CIDR prefix, got "10\.1\.2\.300"$/,
  );
  await assertBadFile(
    "b.yaml",
    "10.1.0.0/33: { region: west }\n",
    /: 10\.1\.0\.0\/33: expected an IP address or CIDR prefix/,
  );
  await assertBadFile("c.yaml", "10.1.0.0/16: west\n", /: 10\.1\.0\.0\/16: expected a map of tags/);
  await assertBadFile(
    "d.yaml",
    "10.1.0.0/16: { region: { name: west } }\n",
    /: 10\.1\.0\.0\/16: expected text for tag "region", got a map/,
  );
  await assertBadFile(
    "e.yaml",
    "10.1.0.0/16: { region: }\n",
    /: 10\.1\.0\.0\/16: expected text for tag "region", got nothing/,
  );
  await assertBadFile("f.yaml", "- 10.1.0.0/16\n", /expected a map of address or prefix to tags/);
  await assertBadFile("g.yaml", "a: [\n", /cannot parse/);
  await assertBadFile("h.json", '{"10.0.0.1": {"a": "b"},}', /cannot parse/);
  await assertBadFile(
    "i.json",
    '{"10.0.0.1": {"a": "b"}, "nope": {"a": "c"}}',
    /: nope: expected an IP address or CIDR prefix, got "nope"/,
  );
  await assertBadFile(
    "j.csv",
    "address,region\n10.1.0.0/16,west\n\nnot-an-ip,east\n",
    /:4:1: expected an IP address or CIDR prefix, got "not-an-ip"/,
  );
  await assertBadFile("k.csv", "address\n10.1.0.0/16\n", /:1:1: expected a header row/);
});

Deno.test("static refuses a file that is missing, with a ConfigError naming it", async () => {
  await using folder = await tempFolder();
  await assert.rejects(
    staticIn(folder.path, "missing.yaml"),
    (error: unknown) =>
      error instanceof ConfigError && error.file === join(folder.path, "missing.yaml") &&
      /cannot read/.test(error.message),
  );
});

Deno.test("static checks its options", () => {
  assert.throws(
    () => staticTags.parseOptions({}, "tags[0].options"),
    (error: unknown) =>
      error instanceof ConfigError && error.path === "tags[0].options.file" &&
      error.message.includes("static: missing: expected a YAML, JSON or CSV file"),
  );
  assert.throws(
    () => staticTags.parseOptions({ file: "hosts.txt" }, "tags[0].options"),
    /tags\[0\]\.options\.file: static: expected a \.yaml, \.yml, \.json or \.csv file, got "hosts\.txt"/,
  );
  assert.throws(
    () => staticTags.parseOptions({ file: "a.yaml", check_every_ms: 10 }, "tags[0].options"),
    /tags\[0\]\.options\.check_every_ms: static: expected a number from 100 to 3600000, got 10/,
  );
  assert.deepEqual(staticTags.parseOptions({ file: "a.YAML" }, "tags[0].options"), {
    file: "a.YAML",
    checkEveryMs: 5000,
  });
});

Deno.test("static reads YAML as configs are read: the line of a bad entry, a repeated address refused", async () => {
  await using folder = await tempFolder();
  const file = join(folder.path, "hosts.yaml");
  const errorOf = async (text: string) => {
    await Deno.writeTextFile(file, text);
    const error = await readTable(file).then(() => undefined, (error: unknown) => error);
    assert.ok(error instanceof ConfigError, `expected a ConfigError, got ${error}`);
    return error;
  };
  const bad = await errorOf("10.1.0.0/16: { region: west }\n10.1.2.300: { hostname: x }\n");
  assert.equal(
    bad.message,
    `${file}:2:1: 10.1.2.300: expected an IP address or CIDR prefix, got "10.1.2.300"`,
  );
  const repeated = await errorOf("10.1.2.3: { a: b }\n10.1.2.3: { a: c }\n");
  assert.equal(repeated.line, 2);
  assert.match(repeated.detail, /duplicate key "10\.1\.2\.3", first given at line 1, column 1/);
  const tag = await errorOf("10.1.2.3: { a: b, a: c }\n");
  assert.match(tag.detail, /duplicate key "a", first given at line 1, column 13/);
  const syntax = await errorOf("a: [\n");
  assert.match(syntax.message, /^.*hosts\.yaml:\d+:\d+: cannot parse: invalid YAML: /);
});
