// Tests the example as the scraper uses it: named in a config in configs/, loaded by the real loader.
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { getLogger } from "@logtape/logtape";
import { ConfigError } from "@llama/core";
import { loadPlugin, type TagResolver } from "@llama/plugins";

const CONFIGS = fileURLToPath(new URL("../", import.meta.url));
const signal = new AbortController().signal;

async function rackTags(options: unknown): Promise<TagResolver> {
  const plugin = await loadPlugin("./examples/rack_tags.ts", "tags", { baseDirectory: CONFIGS });
  assert.equal(plugin.name, "rack");
  return await plugin.create(plugin.parseOptions(options, "tags[0].options"), {
    name: "rack",
    logger: getLogger(["llama", "plugin", "rack"]),
    configDirectory: CONFIGS,
    dataDirectory: undefined,
    signal,
  });
}

Deno.test("rack example derives region and rack from 10.R.K.H", async () => {
  const resolver = await rackTags(undefined);
  assert.deepEqual(await resolver.resolve("10.3.14.7", signal), { region: "r3", rack: "r3-k14" });
  assert.deepEqual(await resolver.resolve("::ffff:10.1.2.3", signal), {
    region: "r1",
    rack: "r1-k2",
  });
  assert.deepEqual(await resolver.resolve("192.168.1.1", signal), {});
  assert.deepEqual(await resolver.resolve("2001:db8::1", signal), {});
});

Deno.test("rack example takes its network and prefix from the options", async () => {
  const resolver = await rackTags({ first_octet: 172, prefix: "dc" });
  assert.deepEqual(await resolver.resolve("172.16.4.1", signal), {
    region: "dc16",
    rack: "dc16-k4",
  });
  assert.deepEqual(await resolver.resolve("10.3.14.7", signal), {});
});

Deno.test("rack example checks its options", async () => {
  await assert.rejects(
    rackTags({ first_octet: 300 }),
    (error: unknown) =>
      error instanceof ConfigError && error.path === "tags[0].options.first_octet" &&
      error.message.includes("rack: expected a whole number from 0 to 255, got 300"),
  );
  await assert.rejects(
    rackTags({ octet: 10 }),
    /unknown option "octet"; known: first_octet, prefix/,
  );
});
