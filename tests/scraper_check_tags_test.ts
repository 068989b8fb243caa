// `--check` reads a static resolver's tag file exactly as the start does: a file the start
// would refuse (it does not parse, or holds tags line protocol cannot carry) fails the check,
// naming the file and line.
import assert from "node:assert/strict";
import { runProgram } from "./_process.ts";

const CASES: { name: string; file: string; text: string; expected: RegExp }[] = [
  {
    name: "a YAML syntax error",
    file: "hosts.yaml",
    text: '"10.1.2.3": {hostname: db-1\n"10.1.2.4": {hostname: db-2}\n',
    expected: /hosts\.yaml:\d+:\d+: cannot parse/,
  },
  {
    name: "a tag value ending in a backslash",
    file: "hosts.yaml",
    text: '"10.1.2.3": {hostname: db-1}\n"10.1.2.4": {hostname: "db-2\\\\"}\n',
    expected:
      /hosts\.yaml:2:1: 10\.1\.2\.4: tag hostname: the value "db-2\\\\" ends with a backslash/,
  },
  {
    name: "a NUL byte in a tag value",
    file: "hosts.json",
    text: '{"10.1.2.3": {"hostname": "db\\u00001"}}',
    expected:
      /hosts\.json: 10\.1\.2\.3: tag hostname: the value "db\\u00001" holds the control character U\+0000/,
  },
  {
    name: "an empty tag name",
    file: "hosts.csv",
    text: "address,,rack\n10.1.2.3,db-1,r1\n",
    expected: /hosts\.csv:2:1: tag name "" of "10\.1\.2\.3" is empty/,
  },
  {
    name: "a missing file",
    file: "missing.yaml",
    text: "",
    expected: /missing\.yaml: cannot read/,
  },
];

Deno.test("scraper --check refuses a static tag file the start cannot use, naming the file and line", async () => {
  const directory = await Deno.makeTempDir({ prefix: "llama-scraper-check-" });
  try {
    for (const { name, file, text, expected } of CASES) {
      if (file !== "missing.yaml") await Deno.writeTextFile(`${directory}/${file}`, text);
      const config = `${directory}/scraper.yaml`;
      await Deno.writeTextFile(
        config,
        `collectors: ["127.0.0.1:9"]\ntags:\n  - use: static\n    options: { file: ${file} }\n`,
      );
      const check = await runProgram("scraper/main.ts", ["--config", config, "--check"]);
      assert.equal(check.code, 2, `${name}: ${check.stderr}`);
      assert.match(check.stderr, expected, name);
      // And the start refuses it the same way.
      const start = await runProgram("scraper/main.ts", [
        "--config",
        config,
        "--once",
        "--data-dir",
        `${directory}/data`,
      ]);
      assert.equal(start.code, 1, `${name}: ${start.stderr}`);
      assert.match(start.stderr, expected, name);
    }
    // A good file passes both.
    await Deno.writeTextFile(`${directory}/hosts.yaml`, '"10.1.2.3": {hostname: db-1}\n');
    const config = `${directory}/scraper.yaml`;
    await Deno.writeTextFile(
      config,
      `collectors: ["127.0.0.1:9"]\ntags:\n  - use: static\n    options: { file: hosts.yaml }\n`,
    );
    const check = await runProgram("scraper/main.ts", ["--config", config, "--check"]);
    assert.equal(check.code, 0, check.stderr);
  } finally {
    await Deno.remove(directory, { recursive: true });
  }
});
