// The programs' --auth-key-file and the collector's auth_key_file: read and validated before
// anything opens, a relative path taken from the config file's folder.
import assert from "node:assert/strict";
import { collectorYaml } from "./_collector.ts";
import { runProgram } from "./_process.ts";

const KEY = "lab 000102030405060708090a0b0c0d0e0f\n";

Deno.test("collector --check loads auth_key_file from the config's folder and names a bad one", async () => {
  const directory = await Deno.makeTempDir({ prefix: "llama-auth-" });
  try {
    const file = `${directory}/collector.yaml`;
    await Deno.mkdir(`${directory}/keys`);
    await Deno.writeTextFile(`${directory}/keys/probes.keys`, `# rotated monthly\n${KEY}`);
    const yaml = collectorYaml({ targets: [["127.0.0.1", 8100, {}]] });
    await Deno.writeTextFile(file, `auth_key_file: keys/probes.keys\n${yaml}`);
    // Run from elsewhere: the path is the config folder's, not the working directory's.
    const passed = await runProgram("collector/main.ts", ["--check", "--config", file]);
    assert.equal(passed.code, 0, passed.stderr);
    assert.match(passed.stderr, /probes signed with key "lab" of 1/);

    await Deno.writeTextFile(`${directory}/keys/probes.keys`, "lab 0001\n");
    const short = await runProgram("collector/main.ts", ["--check", "--config", file]);
    assert.equal(short.code, 2, short.stderr);
    assert.match(
      short.stderr,
      /collector\.yaml:1:16: auth_key_file: auth_key_file ".*keys\/probes\.keys": .*probes\.keys:1:5: the secret of key "lab" is 2 bytes/,
    );

    await Deno.writeTextFile(file, `auth_key_file: missing.keys\n${yaml}`);
    const missing = await runProgram("collector/main.ts", ["--check", "--config", file]);
    assert.equal(missing.code, 2, missing.stderr);
    assert.match(missing.stderr, /collector\.yaml:1:16: .*missing\.keys.*cannot read the key file/);

    // The flag replaces the config's key file.
    await Deno.writeTextFile(`${directory}/flag.keys`, KEY.replace("lab", "flag"));
    const flag = await runProgram("collector/main.ts", [
      "--check",
      "--config",
      file,
      "--auth-key-file",
      `${directory}/flag.keys`,
    ]);
    assert.equal(flag.code, 0, flag.stderr);
    assert.match(flag.stderr, /probes signed with key "flag"/);
  } finally {
    await Deno.remove(directory, { recursive: true });
  }
});

Deno.test("reflector --auth-key-file refuses a bad key file with exit code 2, and --help shows it", async () => {
  const directory = await Deno.makeTempDir({ prefix: "llama-auth-" });
  try {
    await Deno.writeTextFile(`${directory}/bad.keys`, "lab zz\n");
    const bad = await runProgram("reflector/main.ts", [
      "--port",
      "0",
      "--auth-key-file",
      `${directory}/bad.keys`,
    ]);
    assert.equal(bad.code, 2, bad.stderr);
    assert.match(bad.stderr, /bad\.keys:1:5: the secret of key "lab" is not hexadecimal/);
    const help = await runProgram("reflector/main.ts", ["--help"]);
    assert.match(help.stdout + help.stderr, /--auth-key-file FILE/);
    const collectorHelp = await runProgram("collector/main.ts", ["--help"]);
    assert.match(collectorHelp.stdout + collectorHelp.stderr, /--auth-key-file FILE/);
  } finally {
    await Deno.remove(directory, { recursive: true });
  }
});
