// The README's reload recipe for one collector among several: --pid-file, then
// kill -HUP "$(cat FILE)".
import assert from "node:assert/strict";
import { collectorYaml } from "./_collector.ts";
import { startProgram } from "./_process.ts";

async function waitFor(condition: () => boolean | Promise<boolean>, what: string): Promise<void> {
  for (let tries = 0; tries < 200; tries++) {
    if (await condition()) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`timed out waiting for ${what}`);
}

const exists = (path: string) => Deno.stat(path).then(() => true, () => false);

Deno.test("kill -HUP of a collector's --pid-file reloads that collector only; the file goes at exit", async () => {
  const directory = await Deno.makeTempDir({ prefix: "llama-pid-file-" });
  try {
    const yaml = collectorYaml({ targets: [["127.0.0.1", 9, {}]], api: "127.0.0.1:0" });
    const started = [];
    for (const name of ["a", "b"]) {
      await Deno.writeTextFile(`${directory}/${name}.yaml`, yaml);
      started.push(
        await startProgram("collector/main.ts", [
          "--config",
          `${directory}/${name}.yaml`,
          "--pid-file",
          `${directory}/${name}.pid`,
        ], { readyPattern: /Serving the API on/ }),
      );
    }
    await using a = started[0];
    await using b = started[1];
    for (const name of ["a", "b"]) {
      await waitFor(() => exists(`${directory}/${name}.pid`), `${name}.pid`);
    }
    assert.equal((await Deno.readTextFile(`${directory}/a.pid`)).trim(), String(a.child.pid));
    assert.equal((await Deno.readTextFile(`${directory}/b.pid`)).trim(), String(b.child.pid));
    const recipe = await new Deno.Command("sh", {
      args: ["-c", `kill -HUP "$(cat ${directory}/a.pid)"`],
    }).output();
    assert.equal(recipe.code, 0, new TextDecoder().decode(recipe.stderr));
    await waitFor(() => /Reloaded /.test(a.stderr()), "collector a's reload");
    assert.doesNotMatch(b.stderr(), /Reloaded /);
    assert.equal((await a.stop("SIGTERM")).code, 0, a.stderr());
    assert.equal(await exists(`${directory}/a.pid`), false, "a's pid file is removed at exit");
    assert.equal(await exists(`${directory}/b.pid`), true, "b still runs");
    assert.equal((await b.stop("SIGTERM")).code, 0, b.stderr());
  } finally {
    await Deno.remove(directory, { recursive: true });
  }
});

Deno.test("a collector that cannot write its --pid-file says which file and exits 1", async () => {
  const directory = await Deno.makeTempDir({ prefix: "llama-pid-file-" });
  try {
    const config = `${directory}/collector.yaml`;
    await Deno.writeTextFile(
      config,
      collectorYaml({ targets: [["127.0.0.1", 9, {}]], api: "127.0.0.1:0" }),
    );
    await using collector = await startProgram(
      "collector/main.ts",
      ["--config", config, "--pid-file", `${directory}/missing/collector.pid`],
      { readyPattern: /Serving the API on/ },
    );
    const status = await collector.child.status;
    assert.equal(status.code, 1, collector.stderr());
    assert.match(collector.stderr(), /--pid-file: cannot write .*missing\/collector\.pid/);
  } finally {
    await Deno.remove(directory, { recursive: true });
  }
});
