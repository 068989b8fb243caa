// The sample config loads: its plugins import and their options pass (as `--check` does), and
// the static resolver's file parses.
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { loadScraperPlugins, parseScraperConfig } from "@llama/scraper";
import { readTable } from "../../plugins/tags/static.ts";

const FILE = fileURLToPath(new URL("./scraper.yaml", import.meta.url));

Deno.test("the example scraper config and its plugins are valid", async () => {
  const text = await Deno.readTextFile(FILE);
  const config = parseScraperConfig(text, { file: FILE });
  const plugins = await loadScraperPlugins(config, text);
  assert.deepEqual(plugins.outputs.map((output) => [output.name, output.plugin.name]), [
    ["hook", "webhook"],
    ["stdout", "stdout"],
  ]);
  assert.deepEqual(plugins.tags.map((tags) => tags.name), ["static", "rack"]);
  const hosts = await readTable(fileURLToPath(new URL("./hosts.yaml", import.meta.url)));
  assert.deepEqual(hosts.lookup("10.1.2.3"), { hostname: "db-1", role: "database" });
  assert.deepEqual(hosts.lookup("10.1.9.9"), { site: "main", floor: "1" });
});
