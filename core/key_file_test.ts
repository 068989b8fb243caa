import assert from "node:assert/strict";
import { ConfigError, loadKeyFile, parseKeyFile } from "./mod.ts";

const SECRET = "000102030405060708090a0b0c0d0e0f";

function configError(text: string): ConfigError {
  try {
    parseKeyFile(text, "keys.txt");
  } catch (error) {
    assert.ok(error instanceof ConfigError, `expected a ConfigError, got ${error}`);
    return error;
  }
  assert.fail(`expected ${JSON.stringify(text)} to be refused`);
}

Deno.test("a key file gives its keys in order, the first signing, skipping comments and blank lines", () => {
  const keyring = parseKeyFile(
    `# routers\n\nr1 ${SECRET}   # core\n  r2\t${SECRET.toUpperCase()}ff\n`,
    "keys.txt",
  );
  assert.equal(keyring.size, 2);
  assert.equal(keyring.signingKey.id, "r1");
  assert.deepEqual([...keyring.signingKey.secret], [...Array(16).keys()]);
  assert.equal(keyring.key("r2")?.secret.length, 17);
  assert.equal(keyring.key("r2")?.secret[16], 0xff);
  assert.equal(keyring.key("r3"), undefined);
  assert.deepEqual(keyring.keys.map((key) => key.id), ["r1", "r2"]);
});

Deno.test("key file errors name the file, line and column of the field at fault", () => {
  const cases: [string, RegExp][] = [
    [`# a\n\n  lab\n`, /^keys\.txt:3:3: expected "ID HEX_SECRET", got 1 field$/],
    [`a ${SECRET} extra\n`, /^keys\.txt:1:1: expected "ID HEX_SECRET", got 3 fields$/],
    [`a ${SECRET}\nb ${SECRET}\na ${SECRET}\n`, /^keys\.txt:3:1: key id "a" is used twice$/],
    [`a ${SECRET}0\n`, /^keys\.txt:1:3: .*odd number of hex digits \(33\)$/],
    [
      `a ${SECRET.replace("0a", "zz")}\n`,
      /^keys\.txt:1:3: the secret of key "a" is not hexadecimal$/,
    ],
    [`a   00010203\n`, /^keys\.txt:1:5: the secret of key "a" is 4 bytes; at least 16/],
    [`a/b ${SECRET}\n`, /^keys\.txt:1:1: key id "a\/b" must be/],
    [`# nothing\n`, /^keys\.txt: no keys/],
  ];
  for (const [text, pattern] of cases) {
    const error = configError(text);
    assert.match(error.message, pattern);
    assert.equal(error.file, "keys.txt");
  }
  assert.equal(configError(`# a\n\nlab\n`).line, 3);
});

Deno.test("loadKeyFile reads a file and names it when it cannot", async () => {
  const path = await Deno.makeTempFile({ suffix: ".keys" });
  try {
    await Deno.writeTextFile(path, `k ${SECRET}\n`);
    assert.equal((await loadKeyFile(path)).signingKey.id, "k");
    await Deno.writeTextFile(path, `k ${SECRET}\nk ${SECRET}\n`);
    await assert.rejects(() => loadKeyFile(path), new RegExp(`^ConfigError: ${path}:2:1: `));
  } finally {
    await Deno.remove(path);
  }
  await assert.rejects(() => loadKeyFile(path), (error: unknown) => {
    assert.ok(error instanceof ConfigError);
    assert.match(error.message, new RegExp(`^${path}: cannot read the key file`));
    return true;
  });
});
